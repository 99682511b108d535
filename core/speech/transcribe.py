"""Words from speech with Whisper's decoder, for the aligner to time: tiny.en for English, base for
the 98 other languages Whisper knows.

Why: pocketsphinx's word recognition mishears about one word in three on real speech, and a
misheard word takes its p/b/m with it ("ill disposed" heard as "oldest those" lost every closure
of a sentence); outside English it has no words at all, only a phone loop. Whisper (MIT, OpenAI;
680k hours of real voices) hears far better; its words are then force-aligned like a user's
transcript (recognise.align, in the clip's language), so the timing stays pocketsphinx's
phone-accurate one. Runs in Blender with onnxruntime only: each decoder is two ONNX files made by
tools/convert_whisper.py --part decoder (greedy decoding with a key/value cache). A window holding
pauses is decoded with Whisper's timestamps and split at the pauses where its segments break, so
its pieces are aligned in parallel and a misheard piece costs only itself.

    pieces = transcribe(audio, "fr")   # [(0, 35200, "Vous entrez dans la conférence.")]
"""
from __future__ import annotations

import functools
import importlib.util
import math
import os
import zlib
from collections.abc import Iterator
from itertools import pairwise
from typing import NamedTuple

import numpy as np

from ..paths import MODELS_HINT, asset
from ..progress import Progress
from .audio import SAMPLE_RATE, Audio
from .languages import is_english
from .recognise import kept_pieces, speech_ranges
from .whisper import DEFAULT_MODEL, WINDOW_FRAMES, WINDOW_SECONDS, Encoder, log_mel, session

ENGLISH_MODEL = "tiny.en"  # shipped: English words
MULTILINGUAL_MODEL = "base"  # every other language's words (left out of zips built --english-only)
PIECE_SECONDS = 19.0  # pieces are cut at pauses within 0.8-1.5× this: never over Whisper's 30 s window
WINDOW_FILL = 29.0  # s of speech packed into one window (pauses of 0.5 s or more between them left out)
MAX_SPAN = 45.0  # s of the clip one window may span: its words are force-aligned over it (memory grows with it)
NO_SPEECH = 0.6  # Whisper's no_speech_threshold: a window this sure of silence...
LOW_LOGPROB = -1.0  # ...whose words are this unsure (mean log-probability per token) is left empty
WHISPER_CODES = {"nb": "no", "cmn": "zh"}  # espeak-ng's first part → Whisper's where they differ
MAX_COMPRESSION = 2.4  # Whisper's compression_ratio_threshold: text repeating itself is a hallucination
TIMESTAMP_STEP = 0.02  # s between Whisper's timestamp tokens <|0.00|>, <|0.02|>, ...
MAX_INITIAL_TIMESTAMP = 1.0  # s: the first segment starts by then (Whisper's max_initial_timestamp)
# hypotheses each model's beam search keeps on a clip it hears in one window (1: greedy). base hears other
# languages less surely than tiny.en hears English: Whisper's own default of 5 gained closures on the
# non-English clips (0.834 -> 0.846 of 607) at 2-3x the decoding time; on clips joined into >= 60 s, several
# windows each full of context, it gained ~nothing (0.897 -> 0.901 of 1159), so those stay greedy (and fast).
# For tiny.en it changed ~nothing on English and would have cost 4x. docs/benchmarks.md, *Whisper's words*
BEAM = {ENGLISH_MODEL: 1, MULTILINGUAL_MODEL: 5}
# windows decoded together in one batched step (`decode_windows`): a step of Whisper base on 2 cores took 9.8 ms
# for one window, 15 ms for two, 20 ms for four; each window adds its cross-attention keys and values (37 MB)
BATCH_WINDOWS = 4
CUT_TOLERANCE = 0.3  # s: a pause within this of the gap between two of Whisper's segments splits a window there


def _windows(ranges: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Consecutive speech ranges packed into windows of at most WINDOW_FILL of speech: each window costs a
    whole 30 s encoder pass however little it holds, and the pauses between ranges were cut out anyway. The
    fewest windows are filled about evenly, as each is then aligned in its own worker process (one per core:
    the longest sets the wait). A window spans at most MAX_SPAN of the clip, pauses included: its words are
    aligned over that span."""
    limit = WINDOW_FILL * SAMPLE_RATE
    speech = sum(b - a for a, b in ranges)
    even = speech / max(1, math.ceil(speech / limit))  # speech per window when the fewest share it evenly
    windows: list[list[tuple[int, int]]] = []
    filled = 0
    for a, b in ranges:
        if (windows and filled < even and filled + (b - a) <= limit
                and b - windows[-1][0][0] <= MAX_SPAN * SAMPLE_RATE):
            windows[-1].append((a, b))
            filled += b - a
        else:
            windows.append([(a, b)])
            filled = b - a
    return windows


def speech_windows(audio: Audio) -> list[list[tuple[int, int]]]:
    """The sample ranges of `audio` that each Whisper window holds, in order (see `_windows`)."""
    return _windows(speech_ranges(audio, PIECE_SECONDS))


def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level BPE alphabet: printable stand-ins for the 256 byte values, reversed."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[chr(b)] = b
        else:
            chars[chr(256 + extra)] = b
            extra += 1
    return chars


def files(model: str) -> tuple[str, str, str]:
    """(decoder step, decoder cross, encoder) ONNX paths of a Whisper model by name ("tiny.en", "base")."""
    return tuple(asset(f"whisper_{model}_{part}.onnx") for part in ("decoder", "cross", "encoder"))


class Transcriber:
    """Whisper's decoder (two ONNX sessions) and its tokenizer; the encoder is shared with the caller's."""

    def __init__(self, step: str, cross: str, encoder: Encoder | str = DEFAULT_MODEL, beam: int = 1):
        for path in (step, cross):
            if not os.path.exists(path):
                raise FileNotFoundError(f"{path} not found: {MODELS_HINT} (in a source checkout, run "
                                        "tools/convert_whisper.py --part decoder)")
        self.step, self.cross = session(step), session(cross)
        self.cross_names = [o.name for o in self.cross.get_outputs()]
        if [len(i.shape) for i in self.step.get_inputs() if i.name == "mask"] != [2]:  # a row per sequence
            raise FileNotFoundError(f"{step} is of an older export: rerun tools/convert_whisper.py --part decoder")
        meta = self.step.get_modelmeta().custom_metadata_map
        self.vocabulary = meta["vocabulary"].split("\n")
        self.sot, self.eot = int(meta["sot"]), int(meta["eot"])
        self.no_timestamps, self.no_speech = int(meta["no_timestamps"]), int(meta["no_speech"])
        self.multilingual = meta.get("multilingual") == "1"
        self.transcribe_task = int(meta["transcribe"])
        ids = {t: i for i, t in enumerate(self.vocabulary)}
        self.languages = {code: ids[f"<|{code}|>"] for code in meta.get("languages", "en").split(",")}
        self.layers, self.heads = int(meta["layers"]), int(meta["heads"])
        self.dim, self.max_tokens = int(meta["d_model"]), int(meta["max_tokens"])
        self.mask = np.zeros(len(self.vocabulary), np.float32)  # added to the logits of every step
        self.mask[[int(i) for i in meta["suppress"].split(",")]] = -np.inf
        self.mask[self.eot + 1:] = -np.inf  # special tokens and timestamps (decode may allow the latter)
        self.first_timestamp = self.no_timestamps + 1  # <|0.00|>: every token from here on is a timestamp
        self.begin_mask = self.mask.copy()
        self.begin_mask[[int(i) for i in meta["suppress_begin"].split(",")]] = -np.inf
        self.encoder = encoder if isinstance(encoder, Encoder) else Encoder(encoder, pad=True)
        self._bytes = _byte_decoder()
        self.beam = beam  # `hear` decodes a clip of one window with this many hypotheses

    def prompt(self, language: str, timestamps: bool = False) -> list[int]:
        """Whisper's start of transcript for `language` (a Whisper code: en, fr, ...), asking for timestamps
        or not."""
        end = [] if timestamps else [self.no_timestamps]
        if not self.multilingual:
            return [self.sot, *end]
        if language not in self.languages:
            raise ValueError(f"Whisper does not know the language '{language}'")
        return [self.sot, self.languages[language], self.transcribe_task, *end]

    def decode(self, features: np.ndarray, language: str = "en", timestamps: bool = False, beam: int = 1
               ) -> tuple[list[int], float, float]:
        """Tokens for one window of encoder features (T ≤ 1500, D): (tokens, probability of no speech, mean
        log-probability of the text's tokens and its end). With `timestamps` the tokens also hold Whisper's
        segment times (`segments` reads them), decoded by Whisper's own rules (`_timestamp_mask`). `beam` > 1
        searches that many hypotheses at once (`_beam_search`); 1 is greedy (`decode_windows`)."""
        if beam > 1:
            return self._beam_search(self._cross([features]), language, timestamps, beam)
        *_, heard = self.decode_windows([features], language, timestamps)
        return heard.tokens, heard.no_speech, heard.logprob

    def _cross(self, features: list[np.ndarray]) -> dict[str, np.ndarray]:
        """The decoder's cross-attention keys and values of each window's features, one tensor per layer
        ((B, ...), B = len(features)), read in place by every step; computed a window at a time, so the
        session's intermediate buffers are one window's (10 min of French peaked 35 MB lower)."""
        each = [self.cross.run(None, {"features": np.ascontiguousarray(f[None], np.float32)}) for f in features]
        return {name: np.concatenate(layer) for name, *layer in zip(self.cross_names, *each)}

    def decode_windows(self, features: list[np.ndarray], language: str = "en", timestamps: bool = False,
                       progress: Progress | None = None) -> Iterator[Heard]:
        """Greedy decoding of several windows (each (T ≤ 1500, D)) together: one batched step advances every
        window still going, and a window leaves the batch when it ends. Yields a `Heard` as each window ends,
        and with timestamps also each time one of its segments ends (logprob None: it goes on). Why: a step's
        cost is mostly reading the weights and running the graph's nodes, which a batch shares (Whisper base
        on 2 cores: one window 9.8 ms a step, two 15 ms, four 20 ms). Each window keeps its own timestamp
        rules (the step's `mask` has one row per window). `progress` is checked at every step (a cancel stops
        it there)."""
        progress = progress or Progress()
        cross = self._cross(features)
        live = list(range(len(features)))
        outs: list[list[int]] = [[] for _ in live]
        logprobs: list[list[float]] = [[] for _ in live]
        self_kv = np.zeros((self.layers, 2, len(live), self.heads, 0, self.dim // self.heads), np.float32)
        tokens = np.array([self.prompt(language, timestamps)] * len(live), np.int64)
        no_speech = [0.0] * len(live)
        stamp = self.first_timestamp
        for i in range(self.max_tokens // 2):
            progress.check()
            base = self.begin_mask if i == 0 else self.mask
            masks = np.stack([self._timestamp_mask(base, outs[w]) if timestamps else base for w in live])
            logits, top_tokens, top_logits, self_kv = self.step.run(
                ["logits", "top_tokens", "top_logits", "new_self_kv"],
                {"tokens": tokens, "self_kv": self_kv, "mask": masks, **cross})
            if i == 0:
                no_speech = [self._no_speech(logits[r:r + 1]) for r in range(len(live))]
            going, chosen = [], []
            for r, w in enumerate(live):
                token, logprob = self._greedy(logits[r, -1], masks[r], top_tokens[r], top_logits[r], timestamps)
                if token < stamp:  # the text's certainty, as without timestamps
                    logprobs[w].append(logprob)
                if token == self.eot:
                    yield Heard(w, outs[w], no_speech[r], float(np.mean(logprobs[w])))
                    continue
                outs[w].append(token)
                going.append(r)
                chosen.append(token)
                if token >= stamp and len(outs[w]) > 1 and outs[w][-2] < stamp:  # a segment's end
                    yield Heard(w, list(outs[w]), no_speech[r], None)
            if not going:
                return
            if len(going) < len(live):  # the windows that ended leave the batch
                self_kv = np.ascontiguousarray(self_kv[:, :, going])
                cross = {name: np.ascontiguousarray(value[going]) for name, value in cross.items()}
                live, no_speech = [live[r] for r in going], [no_speech[r] for r in going]
            tokens = np.array(chosen, np.int64)[:, None]
        for r, w in enumerate(live):  # Whisper's length limit reached
            yield Heard(w, outs[w], no_speech[r], float(np.mean(logprobs[w])))

    def _greedy(self, logits: np.ndarray, mask: np.ndarray, candidates: np.ndarray, values: np.ndarray,
                timestamps: bool) -> tuple[int, float]:
        """One window's next token and its log-probability, from its step's approximate `logits` (V,), its
        `mask` and the best few tokens under it, rescored exactly (`candidates`, `values`): the best of those;
        with timestamps, a timestamp when all of them together outweigh the likeliest text token (Whisper's
        rule)."""
        scores = logits + mask
        total = float(_logsumexp(scores[None])[0])
        stamp = self.first_timestamp
        if timestamps and np.logaddexp.reduce(scores[stamp:]) > scores[:stamp].max():
            values = np.where(candidates >= stamp, values, -np.inf)
            if not np.isfinite(values).any():
                candidates, values = np.arange(stamp, len(scores)), scores[stamp:]
        best = int(np.argmax(values))
        return int(candidates[best]), float(values[best]) - total

    def _no_speech(self, logits: np.ndarray) -> float:
        """Whisper's probability that a window holds no speech: its no-speech token's after the first prompt
        token, from the first step's `logits` (1, prompt, V)."""
        first = logits[0, 0] - logits[0, 0].max()
        return float(np.exp(first[self.no_speech]) / np.exp(first).sum())

    def _log_probs(self, logits: np.ndarray, top_tokens: np.ndarray, top_logits: np.ndarray, masks: np.ndarray,
                   timestamps: bool) -> np.ndarray:
        """(B, V) log-probabilities of each hypothesis's next token: the step's approximate `logits` under each
        hypothesis's own `masks` (B, V), its best few recomputed exactly (`top_tokens`, `top_logits`, found
        under the same masks), and with timestamps Whisper's rule that a timestamp comes when all of them
        together outweigh the likeliest text token."""
        scores = logits + masks
        rows = np.broadcast_to(np.arange(len(scores))[:, None], top_tokens.shape)
        scores[rows, top_tokens] = top_logits
        stamp = self.first_timestamp
        if timestamps:
            stamps_win = _logsumexp(scores[:, stamp:]) > scores[:, :stamp].max(axis=1)
            scores[stamps_win, :stamp] = -np.inf
        return scores - _logsumexp(scores)[:, None]

    def _beam_search(self, cross: dict[str, np.ndarray], language: str, timestamps: bool, beam: int
                     ) -> tuple[list[int], float, float]:
        """Beam search as Whisper's source package (CTranslate2) runs it: `beam` hypotheses go on together in
        one batched step. Each step ranks every continuation of every hypothesis by its summed log-probability
        and keeps the best `beam`; one of those that ends is set aside and its place goes to the next best that
        does not; once `beam` have ended, the one with the best log-probability per token wins. Why: greedy
        decoding commits to a misheard word at once, and a misheard word takes its p/b/m with it (bench/
        lipsync_languages.py, docs/benchmarks.md). Each hypothesis has its own row of the step's mask, so its
        own timestamp rules choose the tokens rescored exactly (`_log_probs`)."""
        outs, totals, texts = [[]], np.zeros(1), [[]]  # each hypothesis: tokens, summed log-prob, text's
        finished: list[tuple[list[int], float, list[float]]] = []
        self_kv = np.zeros((self.layers, 2, 1, self.heads, 0, self.dim // self.heads), np.float32)
        tokens, no_speech = np.array([self.prompt(language, timestamps)], np.int64), 0.0
        for i in range(self.max_tokens // 2):
            base = self.begin_mask if i == 0 else self.mask
            masks = np.stack([self._timestamp_mask(base, out) if timestamps else base for out in outs])
            logits, top_tokens, top_logits, self_kv = self.step.run(
                ["logits", "top_tokens", "top_logits", "new_self_kv"],
                {"tokens": tokens, "self_kv": self_kv, "mask": masks, **cross})
            no_speech = self._no_speech(logits) if i == 0 else no_speech
            log_probs = self._log_probs(logits[:, -1], top_tokens, top_logits, masks, timestamps)
            flat, vocab = (totals[:, None] + log_probs).ravel(), log_probs.shape[1]
            best = np.argpartition(-flat, 2 * beam)[:2 * beam]
            best = [int(j) for j in best[np.argsort(-flat[best], kind="stable")] if np.isfinite(flat[j])]
            # the best `beam` that end are set aside; the first `beam` that do not go on (CTranslate2's way)
            finished += [(outs[j // vocab], float(flat[j]), texts[j // vocab] + [float(log_probs.flat[j])])
                         for j in best[:beam] if j % vocab == self.eot]
            keep = [j for j in best if j % vocab != self.eot][:beam]
            if len(finished) >= beam or not keep:
                break
            sources, new = [j // vocab for j in keep], [j % vocab for j in keep]
            texts = [texts[b] + [float(log_probs[b, t])] if t < self.first_timestamp else texts[b]
                     for b, t in zip(sources, new)]
            outs = [outs[b] + [t] for b, t in zip(sources, new)]
            totals = flat[keep]
            self_kv = np.ascontiguousarray(self_kv[:, :, sources])
            tokens = np.array(new, np.int64)[:, None]
        else:
            finished += list(zip(outs, totals.tolist(), texts))
        out, _, text = max(finished or zip(outs, totals.tolist(), texts), key=lambda h: h[1] / max(1, len(h[0])))
        return out, no_speech, float(np.mean(text)) if text else 0.0

    def _timestamp_mask(self, mask: np.ndarray, tokens: list[int]) -> np.ndarray:
        """A copy of `mask` for the token after `tokens` under Whisper's timestamp rules: the first is a
        timestamp of at most MAX_INITIAL_TIMESTAMP; text comes between a segment's start and end timestamps,
        and an end is followed by the next start or the end of text; time never goes back."""
        stamp = self.first_timestamp
        mask = mask.copy()
        mask[stamp:] = 0.0
        if not tokens:
            mask[:stamp] = -np.inf
            mask[stamp + round(MAX_INITIAL_TIMESTAMP / TIMESTAMP_STEP) + 1:] = -np.inf
            return mask
        last, before = tokens[-1] >= stamp, len(tokens) < 2 or tokens[-2] >= stamp
        if last and before:  # a segment has just started: its text
            mask[stamp:] = -np.inf
        elif last:  # a segment has just ended: the next one's start, or the end of text
            mask[:self.eot] = -np.inf
        stamps = [t for t in tokens if t >= stamp]
        if stamps:  # a start may repeat the end before it; otherwise time moves on
            mask[stamp:stamps[-1] + (0 if last and not before else 1)] = -np.inf
        return mask

    def segments(self, tokens: list[int]) -> list[tuple[float, float | None, str]]:
        """(start s, end s, text) of each segment of timestamped `tokens`; a last segment left open ends at
        None."""
        out, start, text = [], None, []
        for t in tokens:
            if t < self.first_timestamp:
                text.append(t)
            elif start is None:
                start = (t - self.first_timestamp) * TIMESTAMP_STEP
            else:
                out.append((start, (t - self.first_timestamp) * TIMESTAMP_STEP, self.text(text)))
                start, text = None, []
        if text:  # text always follows a start (`_timestamp_mask`)
            out.append((start, None, self.text(text)))
        return out

    def features(self, samples: np.ndarray) -> np.ndarray:
        """(N ≤ 30 s,) → (1500, D): the whole padded window, silence included, as Whisper decodes it
        (shown only the speech's frames, the decoder does not see the end and repeats itself)."""
        mel = log_mel(samples, self.encoder.n_mels, pad_seconds=WINDOW_SECONDS, frames=WINDOW_FRAMES)
        return self.encoder.encode_mel(mel)

    def text(self, tokens: list[int]) -> str:
        """Tokens → text (byte-level BPE strings back to UTF-8; timestamps left out)."""
        raw = bytes(self._bytes[c] for t in tokens if t < self.eot for c in self.vocabulary[t])
        return raw.decode("utf-8", errors="replace").strip()

    def hear(self, audio: Audio, language: str = "en", windows: list[list[tuple[int, int]]] | None = None,
             progress: Progress | None = None) -> Iterator[tuple[int, int, str]]:
        """The words of `audio` as they are decoded: (first sample, end sample, text) of each of `windows`
        (default `speech_windows`: its speech, pauses cut out, packed into ≤ 30 s), or of each piece of a window
        split at its pauses (`split_at_pauses`); a window Whisper judges silent has "". Consecutive windows are
        decoded together (`_batches`, `decode_windows`), and a piece is yielded as soon as later words cannot
        change it, so it is aligned while Whisper hears on: pieces of windows decoded together come interleaved,
        not in the clip's order. A window whose text turns out to repeat itself (a hallucination) is then yielded
        whole with "", over the pieces of it already yielded (`recognise.Aligner` lets it replace them). A clip
        of one window is searched with `beam` hypotheses (see BEAM). `progress` hears how far Whisper's
        segments have gone into each window, and is checked at every decoder step (a cancel stops it there)."""
        progress = progress or Progress()
        windows = speech_windows(audio) if windows is None else windows
        done = 0
        for batch in _batches(windows):
            pauses = bool(_pauses(batch[0]))  # the same for every window of the batch
            features = [self.features(np.concatenate([audio.samples[a:b] for a, b in ranges])) for ranges in batch]
            if len(windows) == 1 and self.beam > 1:
                results = iter([Heard(0, *self.decode(features[0], language, pauses, self.beam))])
            else:
                results = self.decode_windows(features, language, pauses, progress)
            used = [0] * len(batch)  # each window's ranges already yielded in settled pieces
            heard_to = [0.0] * len(batch)  # how far into each window its segments have ended, 0..1
            for heard in results:
                ranges = batch[heard.window]
                if heard.logprob is None:  # a segment ended: the pieces it settled (a window sure of silence waits)
                    segments = self.segments(heard.tokens)
                    heard_to[heard.window] = min(1.0, segments[-1][1] * SAMPLE_RATE / sum(b - a for a, b in ranges))
                    progress.step((done + sum(heard_to)) / len(windows))
                    if heard.no_speech <= NO_SPEECH:
                        settled = split_at_pauses(ranges, segments, settled=True)
                        for piece, text in _after(settled, used[heard.window]) or []:
                            yield piece[0][0], piece[-1][1], text
                        used[heard.window] = sum(len(piece) for piece, _ in settled)
                    continue
                pieces = self._pieces(ranges, pauses, heard.tokens, heard.no_speech, heard.logprob)
                rest = _after(pieces, used[heard.window])
                for piece, text in pieces if rest is None else rest:  # None: its text repeats itself, now ""
                    yield piece[0][0], piece[-1][1], text
                done, heard_to[heard.window] = done + 1, 0.0
                progress.step((done + sum(heard_to)) / len(windows))

    def _pieces(self, ranges: list[tuple[int, int]], pauses: bool, tokens: list[int], no_speech: float,
                logprob: float) -> list[tuple[list[tuple[int, int]], str]]:
        """A decoded window's (ranges, text): one, "" where Whisper judges it silent or its text repeats
        itself; with `pauses` (decoded with timestamps), its pieces (`split_at_pauses`)."""
        words = self.text(tokens)
        silent = no_speech > NO_SPEECH and logprob < LOW_LOGPROB
        looping = len(words) > 0 and len(words.encode()) / len(zlib.compress(words.encode())) > MAX_COMPRESSION
        if silent or looping or not pauses:
            return [(ranges, "" if silent or looping else words)]
        return split_at_pauses(ranges, self.segments(tokens))


class Heard(NamedTuple):
    """What `Transcriber.decode_windows` heard in one window of its batch."""

    window: int  # its index in the batch
    tokens: list[int]
    no_speech: float  # Whisper's probability that it holds no speech
    logprob: float | None  # the mean log-probability of its text's tokens; None while it is still decoded


def _after(pieces: list[tuple[list[tuple[int, int]], str]], used: int
           ) -> list[tuple[list[tuple[int, int]], str]] | None:
    """The pieces after a window's first `used` ranges, or None where no piece starts there."""
    covered = 0
    for k, (piece, _) in enumerate(pieces):
        if covered == used:
            return pieces[k:]
        covered += len(piece)
    return [] if covered == used else None


def _batches(windows: list[list[tuple[int, int]]]) -> list[list[list[tuple[int, int]]]]:
    """`windows` in batches decoded together: up to BATCH_WINDOWS consecutive ones that all hold pauses or all
    do not (those with pauses are decoded with timestamps, whose prompt is a token shorter)."""
    batches: list[list[list[tuple[int, int]]]] = []
    for window in windows:
        if batches and len(batches[-1]) < BATCH_WINDOWS and bool(_pauses(batches[-1][0])) == bool(_pauses(window)):
            batches[-1].append(window)
        else:
            batches.append([window])
    return batches


def _logsumexp(x: np.ndarray) -> np.ndarray:
    """log Σ exp over the last axis of (B, V), by its maximum (np.logaddexp.reduce took a third of a beam step)."""
    top = x.max(axis=1)
    with np.errstate(invalid="ignore"):  # a row all -inf (every timestamp masked) stays -inf
        out = top + np.log(np.exp(x - top[:, None]).sum(axis=1))
    return np.where(np.isfinite(top), out, -np.inf)


def _pauses(ranges: list[tuple[int, int]]) -> list[int]:
    """Each j where a pause (quiet left out of the window) lies between ranges j and j + 1; ranges that touch
    are one stretch of speech cut for length."""
    return [j for j, ((_, end), (start, _)) in enumerate(pairwise(ranges)) if end < start]


def split_at_pauses(ranges: list[tuple[int, int]], segments: list[tuple[float, float | None, str]],
                    settled: bool = False) -> list[tuple[list[tuple[int, int]], str]]:
    """A window's sample `ranges` in pieces, each with the text of its `segments` (Whisper's, timed in the
    window's own time: the ranges one after another). A piece ends at a pause (a gap between two ranges)
    that lies within CUT_TOLERANCE of a gap between two segments. Speech after the first pause at or past
    the last segment's end is one piece without text (its phones then come from the phone loop): Whisper
    ends a window early where it expects the next window to carry on. (Made to carry on, it heard those
    words on some sets but made up others over a noise, and a piece with one made-up word fits nothing.)

    Why: each piece is then aligned on its own, in parallel on every core, and a piece whose words do not fit
    loses only itself to the phone loop, not the whole window.

    `settled`: only the pieces cut at a gap between two of `segments`, all ended: more segments after them
    change neither those cuts nor their text (the pauses they may add to the search all lie later), so a
    window's settled pieces are the first of its final ones, and can be aligned while Whisper hears on."""
    ends = np.cumsum([b - a for a, b in ranges]) / SAMPLE_RATE  # each range's end in the window's time
    heard = segments[-1][1] if segments else 0.0  # None: the text runs to the window's end
    pauses = _pauses(ranges)
    unheard = next((j + 1 for j in pauses if heard is not None and ends[j] >= heard - CUT_TOLERANCE), len(ranges))
    ranges, tail, pauses = ranges[:unheard], ranges[unheard:], [j for j in pauses if j + 1 < unheard]
    pieces, first_range, first_segment = [], 0, 0
    for k, ((_, end, _), (start, _, _)) in enumerate(pairwise(segments)):
        if end is None:
            break
        for j in pauses:
            if j >= first_range and end - CUT_TOLERANCE <= ends[j] <= start + CUT_TOLERANCE:
                pieces.append((ranges[first_range:j + 1], segments[first_segment:k + 1]))
                first_range, first_segment = j + 1, k + 1
                break
    if not settled:
        pieces.append((ranges[first_range:], segments[first_segment:]))
        if tail:
            pieces.append((tail, []))
    return [(piece, " ".join(text for _, _, text in held).strip()) for piece, held in pieces]


def model_for(language: str) -> str | None:
    """The Whisper model that hears `language` (an espeak-ng code) here, or None: tiny.en for English,
    the multilingual model for the others where it is installed."""
    model = ENGLISH_MODEL if is_english(language) else MULTILINGUAL_MODEL
    if importlib.util.find_spec("onnxruntime") is None or not all(os.path.exists(p) for p in files(model)):
        return None
    return model if is_english(language) or whisper_code(language) in load(model).languages else None


def whisper_code(language: str) -> str:
    """espeak-ng code → Whisper's: its first part ("es-419" → "es", "pt-br" → "pt"), with Whisper's own
    names for the few that differ."""
    code = language.lower().split("-")[0]
    return WHISPER_CODES.get(code, code)


def available(language: str = "en") -> bool:
    """Whether Whisper's words in `language` can be heard here (onnxruntime and the model's files)."""
    return model_for(language) is not None


@functools.lru_cache(maxsize=2)
def load(model: str = ENGLISH_MODEL) -> Transcriber:
    step, cross, encoder = files(model)
    return Transcriber(step, cross, encoder, BEAM.get(model, 1))


def hear(audio: Audio, language: str = "en", windows: list[list[tuple[int, int]]] | None = None,
         progress: Progress | None = None) -> Iterator[tuple[int, int, str]]:
    """The words Whisper hears in `audio`, spoken in `language` (an espeak-ng code), piece by piece as each
    window is decoded: (first sample, end sample, text; "" where it hears none). See Transcriber.hear."""
    model = model_for(language)
    if model is None:
        raise ValueError(f"no Whisper model here hears '{language}'")
    if len(audio.samples) < SAMPLE_RATE // 10:
        return iter(())
    return load(model).hear(audio, whisper_code(language), windows, progress)


def transcribe(audio: Audio, language: str = "en", progress: Progress | None = None
               ) -> list[tuple[int, int, str]]:
    """`hear`'s pieces, in the clip's order, without those a later one replaced."""
    pieces = list(hear(audio, language, None, progress))
    return [pieces[k] for k in kept_pieces(pieces)]

"""Phone timing from speech with pocketsphinx (offline, its bundled en-us model).

Three ways, all giving `Phone` lists at 10 ms resolution:
- `align(audio, text)`: forced alignment of a known transcript (most accurate);
- `recognise_words(audio)`: word decoding with the bundled language model and
  dictionary (what Rhubarb does), then phone alignment of the decoded words;
- `recognise_phones(audio)`: a phone loop with the bundled phone language model
  (language-free and fastest, weaker on real speech).
Decoders are built once per process: building one takes ~0.3 s. Clips of LONG_SECONDS
or more are decoded without their pauses, in pieces shared out to every core.
"""
from __future__ import annotations

import functools
import os
import re

import numpy as np
from pocketsphinx import Decoder, get_model_path

from . import workers
from .audio import SAMPLE_RATE, Audio
from .errors import InputError
from .phones import Phone, merge, normalise

FRAME = 0.01  # pocketsphinx frame shift (s)
MODEL = get_model_path()
PHONE_LM = os.path.join(MODEL, "en-us", "en-us-phone.lm.bin")
# Long audio is decoded in pieces cut at quiet points, so memory stays flat.
PIECE_SECONDS = 30.0
LONG_SECONDS = 20.0  # clips this long have their pauses cut out and are decoded on every core
MIN_PAUSE = 0.5  # s: quiet this long is left out of decoding (see speech_ranges)
PAD = 0.2  # s of quiet kept around speech


def _quiet(**kw):
    return dict(samprate=SAMPLE_RATE, loglevel="FATAL", **kw)


@functools.lru_cache(maxsize=None)
def _decoder(kind: str) -> Decoder:
    if kind == "phones":
        return Decoder(**_quiet(allphone=PHONE_LM, lm=None, lw=2.0, pip=0.5, beam=1e-20, pbeam=1e-20))
    if kind == "words":
        # at most 2000 HMMs and 5 word exits per frame, no second (flat-lexicon) pass, 3 Gaussians
        # per frame, narrower last-phone beams: about 2x faster than the defaults; bench/lipsync.py
        # scores the same bilabial closure and open vowels, and correlation 0.93 instead of 0.97
        return Decoder(**_quiet(maxhmmpf=2000, maxwpf=5, fwdflat=False, topn=3, lpbeam=1e-30, lponlybeam=1e-20))
    if kind == "align":
        # wide beams: a narrow one loses the path on long clips and unusual voices (synthetic speech)
        return Decoder(**_quiet(bestpath=False, beam=1e-120, pbeam=1e-120, wbeam=1e-100))
    raise ValueError(kind)


def _pieces(samples: np.ndarray, seconds: float = PIECE_SECONDS) -> list[tuple[int, int]]:
    """Sample ranges of about `seconds` each, cut at the quietest 100 ms near each boundary."""
    n, step = len(samples), int(seconds * SAMPLE_RATE)
    if n <= step * 1.5:
        return [(0, n)]
    hop = SAMPLE_RATE // 100
    cuts, pos = [0], 0
    while n - pos > step * 1.5:
        lo, hi = pos + int(step * 0.8), pos + int(step * 1.2)
        seg = samples[lo:hi]
        energy = (seg[: len(seg) // hop * hop].reshape(-1, hop) ** 2).mean(1)
        smooth = np.convolve(energy, np.ones(10) / 10, mode="valid")
        pos = lo + (int(np.argmin(smooth)) + 5) * hop
        cuts.append(pos)
    cuts.append(n)
    return list(zip(cuts[:-1], cuts[1:]))


def speech_ranges(audio: Audio, seconds: float = PIECE_SECONDS) -> list[tuple[int, int]]:
    """Sample ranges to decode, in pieces of at most ~`seconds` (see `_speech_spans`)."""
    return _cut(audio.samples, _speech_spans(audio), seconds)


def _speech_spans(audio: Audio) -> list[tuple[int, int]]:
    """The stretches of a clip worth decoding.

    A clip shorter than LONG_SECONDS is decoded whole. In a longer one, pauses of MIN_PAUSE or
    more are left out: decoding them costs as much as speech and only yields silence, and
    utterances cut at pauses decode better than blind pieces (bench/lipsync.py, joined clip:
    bilabial closure 0.96 instead of 0.75). Quiet = 10 ms frames below both the noise floor
    + 12 dB and the loudest speech − 45 dB; PAD of it stays around each span for soft word edges.
    """
    x, hop = audio.samples, SAMPLE_RATE // 100
    if audio.duration < LONG_SECONDS:
        return [(0, len(x))]
    level = 10 * np.log10((x[: len(x) // hop * hop].reshape(-1, hop).astype(np.float64) ** 2).mean(1) + 1e-10)
    loud = np.flatnonzero(level > max(np.percentile(level, 10) + 12, np.percentile(level, 99) - 45))
    if len(loud) == 0:
        return [(0, len(x))]
    breaks = np.flatnonzero(np.diff(loud) > MIN_PAUSE * 100)
    firsts, lasts = loud[np.r_[0, breaks + 1]], loud[np.r_[breaks, len(loud) - 1]]
    pad = int(PAD * 100)
    return [(max(0, (f - pad) * hop), min(len(x), (e + 1 + pad) * hop)) for f, e in zip(firsts, lasts)]


def _cut(samples: np.ndarray, spans: list[tuple[int, int]], seconds: float) -> list[tuple[int, int]]:
    """Each span in pieces of about `seconds`, cut at quiet points."""
    return [(a + p, a + q) for a, b in spans for p, q in _pieces(samples[a:b], seconds)]


def _with_pauses(phones: list[Phone], duration: float) -> list[Phone]:
    """Silence over the stretches that were not decoded, so the phones cover the whole clip."""
    out, t = [], 0.0
    for p in phones:
        if p.start > t + 1e-6:
            out.append(Phone("SIL", t, p.start))
        out.append(p)
        t = max(t, p.end)
    if duration > t + 1e-6:
        out.append(Phone("SIL", t, duration))
    return merge(out)


def _decode(dec: Decoder, pcm: bytes) -> None:
    """One utterance through a fresh front end: pocketsphinx's noise removal carries its noise estimate
    over from the previous utterance, so a clip's phones would otherwise depend on what its process (or
    recognition worker) decoded before it."""
    dec.reinit_feat()
    dec.start_utt()
    dec.process_raw(pcm, full_utt=True)
    dec.end_utt()


def decode_phones(pcm: bytes, t0: float) -> tuple[list[Phone], str]:
    """One piece through the phone loop (starting at t0 seconds); no text."""
    dec = _decoder("phones")
    _decode(dec, pcm)
    return [Phone(normalise(s.word), t0 + s.start_frame * FRAME, t0 + (s.end_frame + 1) * FRAME)
            for s in dec.seg()], ""


def recognise_phones(audio: Audio, parallel: bool = True) -> list[Phone]:
    """Phones from the phone loop (see `recognise_words` for how long clips are shared out)."""
    return _recognise(audio, "phones", parallel)[0]


def _pcm(audio: Audio, a: int, b: int) -> bytes:
    return Audio(audio.samples[a:b]).pcm16()


def _words_of(dec: Decoder) -> list[str]:
    """The decoded words (none when the search found no complete path)."""
    if dec.hyp() is None:
        return []
    return [re.sub(r"\(\d+\)$", "", s.word) for s in dec.seg()
            if not s.word.startswith(("<", "[", "+")) and s.word != "<sil>"]


def decode_words(pcm: bytes, t0: float) -> tuple[list[Phone], str]:
    """One piece: decode its words, then align them to get phones (starting at t0 seconds).

    The phones come from a second, state-level pass over the hypothesis just decoded, so they
    keep its pronunciation variants; a separate word alignment first is only the fallback.
    """
    dec = _decoder("words")
    _decode(dec, pcm)
    words = _words_of(dec)
    if not words:
        return [Phone("SIL", t0, t0 + len(pcm) / 2 / SAMPLE_RATE)], ""
    try:
        dec.set_alignment()
        _decode(dec, pcm)
        phones = [Phone(normalise(ph.name), t0 + ph.start * FRAME, t0 + (ph.start + ph.duration) * FRAME)
                  for word in dec.get_alignment() for ph in word]
    except RuntimeError:
        phones = []
    finally:
        dec.activate_search()
    return phones or _align_pcm(pcm, words, t0), " ".join(words)


def recognise_words(audio: Audio, parallel: bool = True) -> tuple[list[Phone], str]:
    """Decode words, then align them: returns phones and the decoded text."""
    return _recognise(audio, "words", parallel)


def _recognise(audio: Audio, kind: str, parallel: bool) -> tuple[list[Phone], str]:
    """Long clips (`speech_ranges`) go to worker processes (`core.workers`) in pieces, about two
    per core; short ones are decoded here."""
    cores = workers.cpu_count()
    spans = _speech_spans(audio)
    if parallel and cores > 1 and audio.duration >= LONG_SECONDS:
        speech = sum(b - a for a, b in spans) / SAMPLE_RATE
        small = _cut(audio.samples, spans, min(PIECE_SECONDS, max(5.0, speech / (2 * cores))))
        try:
            results = workers.map_pieces([(_pcm(audio, a, b), a / SAMPLE_RATE) for a, b in small], kind)
            phones = [Phone(n, s, e) for rows, _ in results for n, s, e in rows]
            return _with_pauses(phones, audio.duration), " ".join(t for _, t in results if t)
        except (OSError, RuntimeError):
            pass  # no worker could run here: decode in this process
    decode = decode_words if kind == "words" else decode_phones
    phones: list[Phone] = []
    texts = []
    for a, b in _cut(audio.samples, spans, PIECE_SECONDS):
        p, t = decode(_pcm(audio, a, b), a / SAMPLE_RATE)
        phones += p
        texts += [t] if t else []
    return _with_pauses(phones, audio.duration), " ".join(texts)


def normalise_text(text: str) -> list[str]:
    """Transcript → dictionary words: lower case, no punctuation, digits spelt out by the user."""
    text = text.lower().replace("’", "'")
    return [w for w in re.sub(r"[^a-z' ]+", " ", text).split() if w.strip("'")]


def _align_pcm(pcm: bytes, words: list[str], t0: float) -> list[Phone]:
    dur = len(pcm) / 2 / SAMPLE_RATE
    if not words:
        return [Phone("SIL", t0, t0 + dur)]
    dec = _decoder("align")
    try:
        dec.set_align_text(" ".join(words))
        _decode(dec, pcm)
        dec.set_alignment()
        _decode(dec, pcm)
        alignment = dec.get_alignment()
    except RuntimeError:
        return [Phone("SIL", t0, t0 + dur)]
    out = []
    for word in alignment:
        for ph in word:
            out.append(Phone(normalise(ph.name), t0 + ph.start * FRAME, t0 + (ph.start + ph.duration) * FRAME))
    return out or [Phone("SIL", t0, t0 + dur)]


class AlignmentFailed(RuntimeError):
    """The aligner found no path through the audio for the transcript."""


def _add_word(dec: Decoder, word: str) -> bool:
    """Teach the aligner a word it lacks, pronounced by espeak-ng's rules."""
    from .pronounce import arpabet

    phones = arpabet(word)
    if not phones:
        return False
    dec.add_word(word, " ".join(phones), True)
    return True


def align(audio: Audio, text: str) -> tuple[list[Phone], list[str]]:
    """Force-align `text`; returns phones and the words that could not be pronounced (skipped)."""
    dec = _decoder("align")
    words = normalise_text(text)
    if not words:
        raise InputError("The transcript has no words: leave it empty to recognise the speech instead.")
    unknown = [w for w in words if dec.lookup_word(w) is None and not _add_word(dec, w)]
    known = [w for w in words if w not in unknown]
    if not known:
        raise InputError("None of the transcript's words could be pronounced: "
                         "leave the transcript empty to recognise the speech instead.")
    phones = _align_pcm(audio.pcm16(), known, 0.0)
    if len(phones) == 1 and phones[0].name == "SIL":
        raise AlignmentFailed("The transcript could not be fitted to the audio (does it match what is said?).")
    return merge(phones), unknown

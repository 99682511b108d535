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

import re
import unicodedata
from typing import Self

import numpy as np
from pocketsphinx import Decoder

from ..errors import InputError
from ..progress import Progress
from . import languages, pool, sphinx
from .audio import SAMPLE_RATE, Audio
from .languages import ENGLISH
from .phones import Phone, merge
from .pronounce import arpabet

PSEUDO_WORD = "ml-"  # prefix of another language's words in the align-any dictionary

# Long audio is decoded in pieces cut at quiet points, so memory stays flat.
PIECE_SECONDS = 30.0
LONG_SECONDS = 20.0  # clips this long have their pauses cut out and are decoded on every core
MIN_PAUSE = 0.5  # s: quiet this long is left out of decoding (see speech_ranges)
PAD = 0.2  # s of quiet kept around speech




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




def recognise_phones(audio: Audio, parallel: bool = True, progress: Progress | None = None) -> list[Phone]:
    """Phones from the phone loop (see `recognise_words` for how long clips are shared out)."""
    return _recognise(audio, "phones", parallel, progress)[0]


def _pcm(audio: Audio, a: int, b: int) -> bytes:
    return Audio(audio.samples[a:b]).pcm16()


def phone_loop_pcm(pcm: bytes) -> list[Phone]:
    """The phone loop's phones of one piece of 16-bit PCM (timed from its start), its pauses left out where it is
    long, in parts of at most PIECE_SECONDS, as `recognise_phones` decodes in one process: the phones an
    Aligner's piece gets where its words do not fit, alike in a worker and here (both decode these bytes)."""
    samples = np.frombuffer(pcm, "<i2").astype(np.float32) / 32767
    return _decode_here(samples, pcm, _speech_spans(Audio(samples)), "phones", Progress())[0]


def _decode_here(samples: np.ndarray, pcm: bytes, spans: list[tuple[int, int]], kind: str, progress: Progress
                 ) -> tuple[list[Phone], str]:
    """`spans` of a clip (its `samples` and their 16-bit `pcm`) decoded in this process in parts of at most
    PIECE_SECONDS: phones, pauses as SIL, and the words heard. `progress` hears of each part."""
    decode = sphinx.decode_words if kind == "words" else sphinx.decode_phones
    phones: list[Phone] = []
    texts = []
    pieces = _cut(samples, spans, PIECE_SECONDS)
    for k, (a, b) in enumerate(pieces):
        progress.step(k / len(pieces))
        p, t = decode(pcm[2 * a:2 * b], a / SAMPLE_RATE)
        phones += p
        texts += [t] if t else []
    return _with_pauses(phones, len(samples) / SAMPLE_RATE), " ".join(texts)




def recognise_words(audio: Audio, parallel: bool = True, progress: Progress | None = None
                    ) -> tuple[list[Phone], str]:
    """Decode words, then align them: returns phones and the decoded text."""
    return _recognise(audio, "words", parallel, progress)


def _recognise(audio: Audio, kind: str, parallel: bool, progress: Progress | None) -> tuple[list[Phone], str]:
    """Long clips (`speech_ranges`) go to worker processes (pool.py) in pieces, about two
    per core; short ones are decoded here, unless `progress` is cancellable: then in a worker too, which a
    cancel stops at once (a decoder here cannot be stopped, and holds the GIL the caller's UI needs).
    `progress` hears of each piece decoded."""
    progress = progress or Progress()
    cores = pool.cpu_count()
    spans = _speech_spans(audio)
    shared = cores > 1 and audio.duration >= LONG_SECONDS
    if parallel and (shared or progress.cancellable):
        speech = sum(b - a for a, b in spans) / SAMPLE_RATE
        small = _cut(audio.samples, spans, min(PIECE_SECONDS, max(5.0, speech / (2 * cores))) if shared
                     else PIECE_SECONDS)
        try:
            results = pool.map_pieces([(_pcm(audio, a, b), a / SAMPLE_RATE) for a, b in small], kind, progress)
            phones = [Phone(n, s, e) for rows, _ in results for n, s, e in rows]
            return _with_pauses(phones, audio.duration), " ".join(t for _, t in results if t)
        except (OSError, RuntimeError):
            pass  # no worker could run here: decode in this process
    return _decode_here(audio.samples, audio.pcm16(), spans, kind, progress)


# letters and apostrophes, numbers with their own point or comma ("1,000", "1980s"), a percent sign after a number,
# a currency symbol
_ENGLISH_WORD = re.compile(rf"(?:[a-z']|\d+(?:[.,]\d+)*)+|(?<=\d)%|(?<=\d )%|[{languages.CURRENCY}]")


def normalise_text(text: str) -> list[str]:
    """Transcript → dictionary words: lower case, no punctuation. Numbers stay, whole ("25", "1,000", "3.5",
    "1980s", "3rd"), and a percent sign after one: the aligner gets their pronunciation from espeak-ng
    (`_add_word`); so does a currency symbol, put after its amount ("$5" → "5", "$": `languages.spoken_amounts`).
    Why: Whisper writes the numbers it hears in digits ("Press 1 to mute"), and a number dropped leaves its sounds
    to the words around it. Accents go ("café" was cut to "caf"). Unlike `languages.words`,
    a word's leading apostrophe stays: the dictionary knows "'em" and "'cause"."""
    text = languages.spoken_amounts(text).lower().replace("’", "'")
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(ch))  # "café" → "cafe", the dictionary's spelling
    return [w for w in _ENGLISH_WORD.findall(text) if w.strip("'")]



class AlignmentFailed(RuntimeError):
    """The aligner found no path through the audio for the transcript."""


def _add_word(dec: Decoder, word: str) -> bool:
    """Teach the aligner a word it lacks, pronounced by espeak-ng's rules."""
    phones = arpabet(word)
    if not phones:
        return False
    dec.add_word(word, " ".join(phones), True)
    return True


def _pronounced(word: str, voice: str, dec: Decoder) -> str | None:
    """The align-any dictionary's entry for `word` in another language: a pseudo-word named after its
    espeak pronunciation ('ml-b-ow-n-zh-uw-r'), so an English word spelt the same ("pain", "bus") never
    lends its English sounds; None when espeak has no pronunciation."""
    phones = arpabet(word.lower(), voice)
    if not phones:
        return None
    name = PSEUDO_WORD + "-".join(phones).lower()
    if dec.lookup_word(name) is None:
        dec.add_word(name, " ".join(phones), True)
    return name


def align(audio: Audio, text: str, language: str = ENGLISH) -> tuple[list[Phone], list[str]]:
    """Force-align `text`, spoken in `language` (an espeak-ng code); returns phones and the words that
    could not be pronounced (skipped). English words come from the recogniser's dictionary (espeak-ng for
    those it lacks); another language's from espeak-ng's rules for it, through the same English model."""
    return align_pcm(audio.pcm16(), text, language)


def align_pcm(pcm: bytes, text: str, language: str = ENGLISH) -> tuple[list[Phone], list[str]]:
    """`align` on 16-bit PCM at SAMPLE_RATE (what a worker process is sent)."""
    voice = languages.voice_of(language)
    languages.check_transcript(text, language)
    english = languages.is_english(language)
    kind = "align" if english else "align-any"
    dec = sphinx.decoder(kind)
    words = normalise_text(text) if english else languages.words(text)
    if not words:
        raise InputError("The transcript has no words: leave it empty to recognise the speech instead.")
    if english:
        unknown = [w for w in words if dec.lookup_word(w) is None and not _add_word(dec, w)]
        known = [w for w in words if w not in unknown]
    else:
        entries = {w: _pronounced(w, voice, dec) for w in dict.fromkeys(words)}
        unknown = [w for w in words if entries[w] is None]
        known = [entries[w] for w in words if entries[w] is not None]
    if not known:
        raise InputError("None of the transcript's words could be pronounced: "
                         "leave the transcript empty to recognise the speech instead.")
    phones = sphinx.align_pcm(pcm, known, 0.0, kind)
    if len(phones) == 1 and phones[0].name == "SIL":
        raise AlignmentFailed("The transcript could not be fitted to the audio (does it match what is said?).")
    return merge(phones), unknown


def aligned_or_none(pcm: bytes, text: str, language: str) -> list[Phone] | None:
    """`align_pcm`'s phones, or None where there is no text or it does not fit."""
    try:
        return align_pcm(pcm, text, language)[0] if text.strip() else None
    except (AlignmentFailed, InputError):
        return None


def kept_pieces(pieces: list[tuple[int, int, str]]) -> list[int]:
    """The indexes of (first sample, end sample, text) `pieces` that no later piece replaces (one whose stretch
    holds theirs: see `Aligner`), by their place in the clip."""
    kept: list[int] = []
    for i, (a, b, _) in enumerate(pieces):
        kept = [k for k in kept if not a <= pieces[k][0] <= pieces[k][1] <= b]
        kept.append(i)
    return sorted(kept, key=lambda k: pieces[k][0])


class Aligner:
    """Pieces of a clip force-aligned to their words as they come, in any order: each (first sample, end sample,
    text) over its own stretch of the audio, silence between, so memory stays that of one piece however long the
    clip (one alignment of ten minutes took 9 GB). A piece without text, or whose text does not fit, gets the
    phone loop's phones (`phone_loop_pcm`), from the same worker straight after, so the pieces Whisper left
    without words are decoded on every core while it hears on, not one after another at the end. A piece added
    over earlier ones (its stretch holds theirs) replaces them: Whisper takes back the words of a window it
    finds, at the window's end, to have repeated itself.

    With several pieces (`count`) on several cores, or a cancellable `progress`, each piece goes to a worker
    process (pool.py) as soon as it is added, so the caller keeps working meanwhile (Whisper hears the next
    window while the last one is aligned: alignment costs about as much). Else they are aligned here, in
    `phones`. Use it as a context manager, so an exception (a cancel) stops the workers."""

    def __init__(self, audio: Audio, language: str = ENGLISH, progress: Progress | None = None, count: int = 1):
        self.audio, self.language, self.progress = audio, language, progress or Progress()
        self.pieces: list[tuple[int, int, str]] = []
        self.jobs: pool.Jobs | None = None
        if (count > 1 and pool.cpu_count() > 1) or self.progress.cancellable:
            try:
                self.jobs = pool.Jobs("align", self.progress, count)
            except OSError:  # no worker can run here: align in this process
                pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        if self.jobs is not None:
            self.jobs.__exit__(*exc)

    def add(self, first: int, end: int, text: str) -> None:
        self.pieces.append((first, end, text))
        if self.jobs is not None:
            self.jobs.put(_pcm(self.audio, first, end), 0.0,
                          {"text": text, "language": self.language, "fallback": True})

    def text(self) -> str:
        """The words of the pieces kept, in the clip's order."""
        return " ".join(self.pieces[k][2] for k in kept_pieces(self.pieces) if self.pieces[k][2])

    def phones(self) -> list[Phone]:
        """Every piece's phones, in the clip's time, pauses as SIL. AlignmentFailed when no piece's words fit
        (before any phone loop runs: the caller then decodes the whole clip its own way)."""
        found: dict[int, tuple[list[Phone] | None, bool]] | None = None  # each piece's phones, whether its words fit
        if self.jobs is not None:
            try:  # a worker answers a piece whose words do not fit with the phone loop's phones and no text
                found = {k: (None if rows is None else [Phone(*row) for row in rows], text is not None)
                         for k, (rows, text) in enumerate(self.jobs.wait())}
            except (OSError, RuntimeError):  # the workers failed: align here
                pass
        kept = kept_pieces(self.pieces)
        if found is None:
            aligned = {k: aligned_or_none(_pcm(self.audio, *self.pieces[k][:2]), self.pieces[k][2], self.language)
                       for k in kept}  # a replaced piece is not aligned here
            found = {k: (phones, phones is not None) for k, phones in aligned.items()}
        if not any(found[k][1] for k in kept):
            raise AlignmentFailed("Whisper's words could not be fitted to the audio.")
        phones = []
        for k in kept:
            (a, b, _), piece = self.pieces[k], found[k][0]
            if piece is None:
                piece = phone_loop_pcm(_pcm(self.audio, a, b))
            phones += [Phone(p.name, p.start + a / SAMPLE_RATE, p.end + a / SAMPLE_RATE)
                       for p in piece if p.name != "SIL"]
        return _with_pauses(phones, self.audio.duration)


def align_pieces(audio: Audio, pieces: list[tuple[int, int, str]], language: str = ENGLISH,
                 progress: Progress | None = None) -> list[Phone]:
    """Each (first sample, end sample, text) of `pieces` force-aligned (see `Aligner`)."""
    with Aligner(audio, language, progress, len(pieces)) as aligner:
        for piece in pieces:
            aligner.add(*piece)
        return aligner.phones()

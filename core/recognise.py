"""Phone timing from speech with pocketsphinx (offline, its bundled en-us model).

Three ways, all giving `Phone` lists at 10 ms resolution:
- `align(audio, text)`: forced alignment of a known transcript (most accurate);
- `recognise_words(audio)`: word decoding with the bundled language model and
  dictionary, then forced alignment of the decoded words (what Rhubarb does);
- `recognise_phones(audio)`: a phone loop with the bundled phone language model
  (language-free and fastest, weaker on real speech).
Decoders are built once per process: building one takes ~0.3 s.
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
PARALLEL_SECONDS = 20.0  # clips at least this long are decoded on every core


def _quiet(**kw):
    return dict(samprate=SAMPLE_RATE, loglevel="FATAL", **kw)


@functools.lru_cache(maxsize=None)
def _decoder(kind: str) -> Decoder:
    if kind == "phones":
        return Decoder(**_quiet(allphone=PHONE_LM, lm=None, lw=2.0, pip=0.5, beam=1e-20, pbeam=1e-20))
    if kind == "words":
        # at most 2000 HMMs and 5 word exits per frame, no second (flat-lexicon) pass, 3 Gaussians
        # per frame: about 2x faster than the defaults; bench/lipsync.py scores the same bilabial closure
        # and open vowels, and correlation 0.93 instead of 0.97
        return Decoder(**_quiet(maxhmmpf=2000, maxwpf=5, fwdflat=False, topn=3))
    if kind == "align":
        # wide beams: a narrow one loses the path on long clips and unusual voices (synthetic speech)
        return Decoder(**_quiet(bestpath=False, beam=1e-120, pbeam=1e-120, wbeam=1e-100))
    raise ValueError(kind)


def _pieces(audio: Audio, seconds: float = PIECE_SECONDS) -> list[tuple[int, int]]:
    """Sample ranges of about `seconds` each, cut at the quietest 100 ms near each boundary."""
    n, step = len(audio.samples), int(seconds * SAMPLE_RATE)
    if n <= step * 1.5:
        return [(0, n)]
    hop = SAMPLE_RATE // 100
    cuts, pos = [0], 0
    while n - pos > step * 1.5:
        lo, hi = pos + int(step * 0.8), pos + int(step * 1.2)
        seg = audio.samples[lo:hi]
        energy = (seg[: len(seg) // hop * hop].reshape(-1, hop) ** 2).mean(1)
        smooth = np.convolve(energy, np.ones(10) / 10, mode="valid")
        pos = lo + (int(np.argmin(smooth)) + 5) * hop
        cuts.append(pos)
    cuts.append(n)
    return list(zip(cuts[:-1], cuts[1:]))


def _decode(dec: Decoder, pcm: bytes) -> None:
    dec.start_utt()
    dec.process_raw(pcm, full_utt=True)
    dec.end_utt()


def recognise_phones(audio: Audio) -> list[Phone]:
    dec = _decoder("phones")
    phones: list[Phone] = []
    for a, b in _pieces(audio):
        _decode(dec, _pcm(audio, a, b))
        t0 = a / SAMPLE_RATE
        phones += [Phone(normalise(s.word), t0 + s.start_frame * FRAME, t0 + (s.end_frame + 1) * FRAME)
                   for s in dec.seg()]
    return merge(phones)


def _pcm(audio: Audio, a: int, b: int) -> bytes:
    return Audio(audio.samples[a:b]).pcm16()


def _words_of(dec: Decoder) -> list[str]:
    """The decoded words (none when the search found no complete path)."""
    if dec.hyp() is None:
        return []
    return [re.sub(r"\(\d+\)$", "", s.word) for s in dec.seg()
            if not s.word.startswith(("<", "[", "+")) and s.word != "<sil>"]


def decode_words(pcm: bytes, t0: float) -> tuple[list[Phone], str]:
    """One piece: decode its words, then align them to get phones (starting at t0 seconds)."""
    dec = _decoder("words")
    _decode(dec, pcm)
    words = _words_of(dec)
    return _align_pcm(pcm, words, t0), " ".join(words)


def recognise_words(audio: Audio, parallel: bool = True) -> tuple[list[Phone], str]:
    """Decode words, then align them: returns phones and the decoded text.

    Clips of PARALLEL_SECONDS or more are cut at pauses into one piece per core and
    decoded in worker processes (`core.workers`); shorter ones here.
    """
    cores = workers.cpu_count()
    if parallel and cores > 1 and audio.duration >= PARALLEL_SECONDS:
        ranges = _pieces(audio, min(PIECE_SECONDS, max(10.0, audio.duration / cores)))
        try:
            results = workers.map_words([(_pcm(audio, a, b), a / SAMPLE_RATE) for a, b in ranges])
            phones = [Phone(n, s, e) for rows, _ in results for n, s, e in rows]
            return merge(phones), " ".join(t for _, t in results)
        except (OSError, RuntimeError):
            pass  # no worker could run here: decode in this process
    phones: list[Phone] = []
    texts = []
    for a, b in _pieces(audio):
        p, t = decode_words(_pcm(audio, a, b), a / SAMPLE_RATE)
        phones += p
        texts.append(t)
    return merge(phones), " ".join(texts)


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

"""pocketsphinx decoders (offline, its bundled en-us model): one piece of 16 kHz speech → timed phones.

- the phone loop with the bundled phone language model (language-free, fastest);
- word decoding with the bundled language model and dictionary, then a state-level
  alignment of the decoded words for their phones;
- forced alignment of known words.
Decoders are built once per process (building one takes ~0.3 s); the recognition
workers (worker.py) run these same functions on pieces of long clips.
"""
from __future__ import annotations

import functools
import os
import re

from pocketsphinx import Decoder, get_model_path

from .audio import SAMPLE_RATE
from .phones import Phone, normalise

FRAME = 0.01  # pocketsphinx frame shift (s)
MODEL = get_model_path()
PHONE_LM = os.path.join(MODEL, "en-us", "en-us-phone.lm.bin")
WIDE_BEAM = 1e-300  # the "align-any" decoder's beams


def _quiet(**kw):
    return dict(samprate=SAMPLE_RATE, loglevel="FATAL", **kw)


@functools.lru_cache(maxsize=None)
def decoder(kind: str) -> Decoder:
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
    if kind == "align-any":
        # another language's words through the English model: its short stops score so low that 1e-120
        # beams lose every path on French or Spanish read at 160 words/min; the dictionary grows with
        # the pronunciations of every language aligned in this process
        return Decoder(**_quiet(lm=None, bestpath=False, beam=WIDE_BEAM, pbeam=WIDE_BEAM, wbeam=WIDE_BEAM,
                                lpbeam=WIDE_BEAM, lponlybeam=WIDE_BEAM))
    raise ValueError(kind)


def decode(dec: Decoder, pcm: bytes) -> None:
    """One utterance through a fresh front end: pocketsphinx's noise removal carries its noise estimate
    over from the previous utterance, so a clip's phones would otherwise depend on what its process (or
    recognition worker) decoded before it."""
    dec.reinit_feat()
    dec.start_utt()
    dec.process_raw(pcm, full_utt=True)
    dec.end_utt()


def decode_phones(pcm: bytes, t0: float) -> tuple[list[Phone], str]:
    """One piece through the phone loop (starting at t0 seconds); no text."""
    dec = decoder("phones")
    decode(dec, pcm)
    return [Phone(normalise(s.word), t0 + s.start_frame * FRAME, t0 + (s.end_frame + 1) * FRAME)
            for s in dec.seg()], ""


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
    dec = decoder("words")
    decode(dec, pcm)
    words = _words_of(dec)
    if not words:
        return [Phone("SIL", t0, t0 + len(pcm) / 2 / SAMPLE_RATE)], ""
    try:
        dec.set_alignment()
        decode(dec, pcm)
        phones = [Phone(normalise(ph.name), t0 + ph.start * FRAME, t0 + (ph.start + ph.duration) * FRAME)
                  for word in dec.get_alignment() for ph in word]
    except RuntimeError:
        phones = []
    finally:
        dec.activate_search()
    return phones or align_pcm(pcm, words, t0), " ".join(words)


def align_pcm(pcm: bytes, words: list[str], t0: float, kind: str = "align") -> list[Phone]:
    """Force-align dictionary `words` (of the `kind` decoder) to one piece starting at t0 seconds;
    a single SIL when no path fits."""
    dur = len(pcm) / 2 / SAMPLE_RATE
    if not words:
        return [Phone("SIL", t0, t0 + dur)]
    dec = decoder(kind)
    try:
        dec.set_align_text(" ".join(words))
        decode(dec, pcm)
        dec.set_alignment()
        decode(dec, pcm)
        alignment = dec.get_alignment()
    except RuntimeError:
        return [Phone("SIL", t0, t0 + dur)]
    out = []
    for word in alignment:
        for ph in word:
            out.append(Phone(normalise(ph.name), t0 + ph.start * FRAME, t0 + (ph.start + ph.duration) * FRAME))
    return out or [Phone("SIL", t0, t0 + dur)]

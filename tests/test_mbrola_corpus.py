"""MBROLA's human-recorded voices in the closure detector's training corpus (training/mbrola.py): their phone
times meet their audio, and the corpus without them (the S2L networks') is drawn as before. Real espeak-ng,
MBROLA and pocketsphinx; the MBROLA tests skip where its Debian packages are not installed (training only)."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import soxr

from core.speech.audio import SAMPLE_RATE, Audio
from core.speech.recognise import align
from core.training import corpus, mbrola

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
needs_mbrola = pytest.mark.skipif(bool(mbrola.missing()), reason="MBROLA is not installed (training only): apt "
                                  "install " + " ".join(mbrola.missing()) + " (contrib and non-free)")
SPOKEN = (("mb-fr1", "fr", "Le bateau passe sous le pont, merci beaucoup pour le beau melon."),
          ("mb-us1", "en-us", "My brother bought a big boat by the pier in May."),
          ("mb-de2", "de", "Mein Bruder baut ein blaues Boot am Meer."))


@needs_mbrola
@pytest.mark.parametrize(("voice", "language", "text"), SPOKEN)
def test_mbrola_phone_times_meet_the_audio(voice, language, text):
    """Each phone's time, moved back by LAG_SAMPLES, is where the forced aligner finds it in the audio, as it finds
    espeak-ng's own voices' (median onset within 30 ms; measured -8 to -11 ms, and about -60 ms uncorrected)."""
    speech = mbrola.synthesise(text, voice)
    audio = Audio(soxr.resample(speech.samples, speech.sample_rate, SAMPLE_RATE).astype(np.float32))
    exact = [p for p in speech.phones() if p.name != "SIL"]
    aligned = [p for p in align(audio, text, language)[0] if p.name != "SIL"]
    assert len(aligned) == len(exact), (voice, [p.name for p in exact], [p.name for p in aligned])
    offsets = [a.start - e.start for a, e in zip(aligned, exact)]
    assert abs(float(np.median(offsets))) < 0.03, (voice, np.round(offsets, 3))


@needs_mbrola
def test_a_quarter_of_the_corpus_speaks_with_mbrola_voices():
    """With MBROLA, index 2 mod 4 is an MBROLA voice's (of VOICES, in its own language's pseudo-words), with timed
    phones inside its audio."""
    for index in (2, 6, 10):
        u = corpus.utterance_audio(0, index, with_mbrola=True)
        assert u["voice"] in {v for v, _ in mbrola.VOICES}
        assert len(u["phones"]) > 5 and u["phones"][:, 2].max() <= len(u["samples"]) / SAMPLE_RATE


def test_the_corpus_without_mbrola_is_drawn_as_before():
    """The option leaves espeak-ng's other indices as they were (flite's, the odd ones, are drawn by the same code
    either way): the same voice, text, audio and phone times, so the S2L networks' corpus, built without it, is
    unchanged. Each way in a fresh process, as the corpus builds its shards (espeak-ng's audio and times depend
    on what the process spoke before)."""
    plain, mixed = (_drawn_in_a_fresh_process((0, 4, 8), flag) for flag in (False, True))
    assert plain == mixed


def _drawn_in_a_fresh_process(indices: tuple[int, ...], with_mbrola: bool) -> list[str]:
    code = ("import hashlib, sys; from core.training import corpus\n"
            f"for i in {indices!r}:\n"
            f"    u = corpus.utterance_audio(0, i, {with_mbrola!r})\n"
            "    print(u['voice'], u['text'], hashlib.sha1(u['samples'].tobytes() + u['phones'].tobytes()).hexdigest())")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return run.stdout.splitlines()

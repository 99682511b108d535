"""MBROLA speech with espeak-ng's phoneme timing: voices made from recordings of people, in many languages,
for the training corpus.

espeak-ng's formant voices are far from a human voice, and flite's human-recorded voices speak only
English: a network trained on them hears other languages' bilabials in synthetic speech better than in
people's. MBROLA's voices are diphones cut from recordings of real speakers (men and women, fourteen
languages here), and espeak-ng drives them with its own phonemes and their times. Used only to build the
corpus, never shipped: Debian's `espeak-ng` (whose build speaks MBROLA; the bundled wheel's does not),
`mbrola` and one package per voice (contrib and non-free: `apt install mbrola espeak-ng mbrola-fr1 ...`, see
`VOICES`). Each voice's licence lets it synthesise speech with the MBROLA program; none is copied.
"""
from __future__ import annotations

import functools
import glob
import os
import shutil

import numpy as np

from ..speech.espeak import Speech, open_library, speak

# (espeak-ng voice, the language of its text): every MBROLA voice of a language the corpus writes
# pseudo-words in, as Debian packages them (mbrola-us1, ...): men and women, two or three per language
VOICES = (("mb-us1", "en-us"), ("mb-us2", "en-us"), ("mb-en1", "en"), ("mb-de1", "de"), ("mb-de2", "de"),
          ("mb-fr1", "fr"), ("mb-fr4", "fr"), ("mb-es1", "es"), ("mb-es3", "es"), ("mb-mx2", "es"),
          ("mb-it3", "it"), ("mb-it4", "it"), ("mb-pt1", "pt"), ("mb-br3", "pt"), ("mb-br4", "pt"),
          ("mb-nl2", "nl"), ("mb-nl3", "nl"), ("mb-pl1", "pl"), ("mb-sw1", "sv"), ("mb-sw2", "sv"),
          ("mb-cz2", "cs"), ("mb-gr1", "el"), ("mb-gr2", "el"), ("mb-ro1", "ro"), ("mb-hu1", "hu"),
          ("mb-tr1", "tr"), ("mb-tr2", "tr"))
DATABASES = "/usr/share/mbrola"  # where Debian installs each voice's database (mbrola-fr1 → fr1/fr1)
# espeak-ng's phoneme events trail the audio MBROLA returns by about this many samples (at the voice's own
# rate: 48 ms at 16 kHz, 35 at 22.05): measured by force-aligning pseudo-sentences of 15 voices, each
# voice's median phone onset against espeak-ng's formant voices' (whose events the aligner meets within
# ~12 ms), 40-240 phones per voice
LAG_SAMPLES = 768


def _database(voice: str) -> str:
    name = voice.removeprefix("mb-")
    return os.path.join(DATABASES, name, name)


def missing() -> list[str]:
    """The Debian packages that building the corpus with MBROLA voices still needs."""
    programs = [] if _system_library() else ["espeak-ng"]
    programs += [] if shutil.which("mbrola") else ["mbrola"]
    return programs + [f"mbrola-{v.removeprefix('mb-')}" for v, _ in VOICES if not os.path.exists(_database(v))]


def _system_library() -> str | None:
    """The path of Debian's libespeak-ng (by path: by its name, the wheel's copy already loaded would answer)."""
    return next(iter(sorted(glob.glob("/usr/lib/*/libespeak-ng.so.1") + glob.glob("/usr/lib/libespeak-ng.so.1"))),
                None)


@functools.lru_cache(maxsize=1)
def _library():
    """Debian's espeak-ng (its build speaks MBROLA voices), beside the wheel's in the same process."""
    path = _system_library()
    return open_library(path, os.path.dirname(path))[0]


def synthesise(text: str, voice: str, rate_wpm: int = 160, pitch: int = 50, pitch_range: int = 50,
               word_gap: int = 0) -> Speech:
    """Speak `text` with the MBROLA `voice` (one of VOICES): the audio at its database's rate, each phoneme's
    start time moved back by LAG_SAMPLES. ValueError where MBROLA made no sound of it."""
    speech = speak(_library(), text, voice, rate_wpm, pitch, word_gap, pitch_range)
    if not speech.phonemes or not np.any(speech.samples):
        raise ValueError(f"MBROLA voice {voice} made no sound of {text!r}")
    lag = LAG_SAMPLES / speech.sample_rate
    speech.phonemes = [(ipa, max(0.0, t - lag)) for ipa, t in speech.phonemes]
    return speech

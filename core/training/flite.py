"""Flite speech with exact segment timing: human-recorded English voices for the training corpus.

espeak-ng's formant voices alone leave a gap: a network trained on them finds
bilabials in espeak-ng speech but not in human voices. Flite's voices are made
from recordings of people (CMU ARCTIC: awb, rms, slt as statistical voices;
kal as diphones), and the network trained on espeak-ng alone misses their
bilabials just as it misses real speakers'. Flite is a Debian/Ubuntu package
(`apt install flite`), used only to build the corpus; it prints each segment's
end time (`-psdur`).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import wave

import numpy as np

from ..speech.phones import Phone, merge, normalise

VOICES = ("awb", "rms", "slt", "kal16", "kal")
# flite's US English segments that are not plain ARPAbet
_SEGMENTS = {"ax": "AH", "axr": "ER", "dx": "D", "el": "L", "em": "M", "en": "N", "nx": "N", "hv": "HH",
             "pau": "SIL"}


def available() -> bool:
    return shutil.which("flite") is not None


def synthesise(text: str, voice: str = "slt", stretch: float = 1.0, pitch: float = 1.0
               ) -> tuple[np.ndarray, int, list[Phone]]:
    """Speak `text`: (float32 samples, sample rate, timed ARPAbet phones).

    `stretch` scales durations; `pitch` scales the voice's pitch (statistical
    voices take it as a factor, diphone voices as a mean of 105 Hz × pitch)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "speech.wav")
        run = subprocess.run(["flite", "-voice", voice, "--setf", f"duration_stretch={stretch:.4f}",
                              "--setf", f"f0_shift={pitch:.4f}", "--setf", f"int_f0_target_mean={105 * pitch:.2f}",
                              "-psdur", "-t", text, "-o", path], capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"flite failed on voice '{voice}': {run.stderr.strip()}")
        with wave.open(path) as w:
            rate = w.getframerate()
            samples = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0
    phones, start = [], 0.0
    for token in run.stdout.split():
        name, end = token.rsplit(":", 1)
        phones.append(Phone(normalise(_SEGMENTS.get(name, name)), start, float(end)))
        start = float(end)
    return samples, rate, merge([p for p in phones if p.end > p.start])

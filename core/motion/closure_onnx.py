"""Lip closures heard in Whisper base's encoder features: the detector of training/train_closure.py, run by
onnxruntime (no torch in Blender).

Why: outside English, Phonetic + Whisper hears the words with Whisper base; the closures now come from the
very features base encoded for that (speech/whisper.py keeps a window's features), where they took a second
encoder, tiny.en's, over the whole clip.

    p = closure_probability(features)   # (T,) at 50 Hz, for base's (T, 512) features of one window
"""
from __future__ import annotations

import functools
import importlib.util
import os

import numpy as np

from ..paths import MODELS_HINT, asset, installed
from ..speech import whisper

MODEL = asset("closure_base.onnx")
FRAME_RATE = float(whisper.FEATURE_RATE)  # one probability per encoder frame (20 ms)


def available() -> bool:
    """Whether the detector can run here: onnxruntime and its ONNX file."""
    return importlib.util.find_spec("onnxruntime") is not None and os.path.exists(installed(MODEL))


@functools.lru_cache(maxsize=1)
def _session():
    path = installed(MODEL)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: {MODELS_HINT} (in a source checkout, make it with "
                                "`python tools/export_closure_onnx.py`).")
    return whisper.session(path)


def closure_probability(features: np.ndarray) -> np.ndarray:
    """(T, D) Whisper base encoder features of one window → (T,) probability that the lips are shut."""
    logit = _session().run(None, {"features": np.ascontiguousarray(features[None], np.float32)})[0][0]
    return 1.0 / (1.0 + np.exp(-logit))

"""Whisper-S2L without torch: Whisper tiny.en features (speech/whisper.py) → the S2L network exported to ONNX.

Why: the log-mel S2L learned from synthetic voices; on Whisper's encoder features (trained on real
speech) the same network is meant to carry over to people and other languages. Both networks run
in onnxruntime, so Blender needs neither PyTorch nor librosa. Long audio: Whisper encodes 30 s
windows (padded, as trained) one at a time, and S2L runs on each window's features with 1 s of the
neighbouring windows' features either side, so memory stays flat for an hour of audio.

    for first, disp, closed in predict(audio, {"happy": 0.5}): ...   # 50 Hz chunks
"""
from __future__ import annotations

import functools
import os
from collections.abc import Iterator

import numpy as np

from ..face.emotions import EMOTION_NAMES
from ..paths import MODELS_HINT, asset, installed
from ..speech import whisper
from ..speech.audio import Audio

MODEL = asset("s2l_whisper.onnx")
FRAME_RATE = float(whisper.FEATURE_RATE)  # 50 model frames per second (frame j at j × 20 ms)
FEATURE_HOP = whisper.SAMPLE_RATE // whisper.FEATURE_RATE  # 320 samples per frame
WINDOW = whisper.WINDOW_FRAMES // 2  # 1500 feature frames: one 30 s Whisper window
CONTEXT = 50  # feature frames (1 s) of the neighbouring windows fed either side (receptive field ±0.66 s)


def n_frames(n_samples: int) -> int:
    """Model frames for `n_samples` of 16 kHz audio: ceil((n // 160) / 2), as the encoder makes."""
    return (n_samples // whisper.HOP + 1) // 2


def emotion_vector(emotions: dict[str, float] | None) -> np.ndarray:
    """(1, 6) float32 intensities in EMOTION_NAMES order."""
    return np.array([[float((emotions or {}).get(n, 0.0)) for n in EMOTION_NAMES]], np.float32)


class WhisperS2L:
    """The two ONNX sessions: Whisper's encoder and the S2L network trained on its features."""

    def __init__(self, model: str = MODEL, encoder: str = whisper.DEFAULT_MODEL):
        model, encoder = installed(model), installed(encoder)
        for path, how in ((model, "python -m core train s2l --features whisper (or tools/export_s2l_onnx.py)"),
                          (encoder, "python tools/convert_whisper.py --model tiny.en")):
            if not os.path.exists(path):
                raise FileNotFoundError(f"{path} not found: {MODELS_HINT} (in a source checkout, make it with "
                                        f"`{how}`).")
        self.encoder = whisper.Encoder(encoder, pad=True)
        self.session = whisper.session(model)
        meta = self.session.get_modelmeta().custom_metadata_map
        self.frame_rate = float(meta.get("frame_rate", FRAME_RATE))
        self.scale = float(meta.get("scale", 100.0))
        if meta.get("emotions", ",".join(EMOTION_NAMES)) != ",".join(EMOTION_NAMES):
            raise ValueError(f"{model} was trained with other emotions: {meta['emotions']}")

    def run(self, features: np.ndarray, emotion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """features T×384, emotion 1×6 → (displacement T×68×3 in metres, lip-closure probability T)."""
        disp, logit = self.session.run(None, {"features": np.ascontiguousarray(features[None], np.float32),
                                              "emotion": emotion})
        return disp[0].reshape(len(features), -1, 3) / self.scale, 1.0 / (1.0 + np.exp(-logit[0]))

    def windows(self, samples: np.ndarray) -> Iterator[np.ndarray]:
        """The audio's features, one 30 s window (≤ 1500 frames) at a time."""
        step = WINDOW * FEATURE_HOP
        for a in range(0, max(1, len(samples)), step):
            yield self.encoder.encode(samples[a:a + step])


def closure_probability(samples: np.ndarray, model: WhisperS2L | None = None) -> np.ndarray:
    """Lip-closure probability at 50 Hz, n_frames(len(samples)), for one stretch of ≤ 30 s seen as one
    window: the stretch Whisper's words were just heard in costs no second encoder pass (Encoder's cache)."""
    model = model or load()
    return model.run(model.encoder.encode(samples), emotion_vector(None))[1]


@functools.lru_cache(maxsize=2)
def load(model: str = MODEL, encoder: str = whisper.DEFAULT_MODEL) -> WhisperS2L:
    return WhisperS2L(model, encoder)


def predict(audio: Audio, emotions: dict[str, float] | None = None, model: WhisperS2L | None = None
            ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """At 50 Hz, window by window: (first frame, landmark displacement T×68×3 in metres, lip-closure
    probability T); the chunks cover n_frames(len(audio.samples)) frames."""
    model = model or load()
    emo = emotion_vector(emotions)
    total = n_frames(len(audio.samples))
    first, prev_tail = 0, np.zeros((0, 0), np.float32)
    windows = model.windows(audio.samples)
    current = next(windows)
    while True:
        following = next(windows, None)
        head = following[:CONTEXT] if following is not None else current[:0]
        parts = [p for p in (prev_tail, current, head) if len(p)]
        disp, closed = model.run(np.concatenate(parts), emo)
        lo = len(prev_tail)
        keep = min(len(current), total - first)
        yield first, disp[lo:lo + keep], closed[lo:lo + keep]
        first += keep
        if following is None or first >= total:
            return
        prev_tail, current = current[-CONTEXT:], following

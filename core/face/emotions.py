"""Emotion layers as ARKit combinations.

Designed to sit on top of speech: none of them opens the lips vertically
(no jawOpen, mouthLowerDown or mouthUpperUp beyond a trace), so a bilabial still
closes the mouth while a smile widens it or a frown pulls the corners down.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from .arkit import INDEX

EMOTIONS: dict[str, dict[str, float]] = {
    "happy": {"mouthSmileLeft": 0.75, "mouthSmileRight": 0.75, "cheekSquintLeft": 0.45,
              "cheekSquintRight": 0.45, "eyeSquintLeft": 0.3, "eyeSquintRight": 0.3,
              "mouthDimpleLeft": 0.2, "mouthDimpleRight": 0.2},
    "sad": {"mouthFrownLeft": 0.65, "mouthFrownRight": 0.65, "browInnerUp": 0.75,
            "mouthShrugLower": 0.3, "eyeSquintLeft": 0.1, "eyeSquintRight": 0.1},
    "angry": {"browDownLeft": 0.85, "browDownRight": 0.85, "noseSneerLeft": 0.35,
              "noseSneerRight": 0.35, "eyeSquintLeft": 0.35, "eyeSquintRight": 0.35,
              "mouthPressLeft": 0.3, "mouthPressRight": 0.3, "mouthFrownLeft": 0.2,
              "mouthFrownRight": 0.2},
    "surprised": {"browInnerUp": 0.85, "browOuterUpLeft": 0.8, "browOuterUpRight": 0.8,
                  "eyeWideLeft": 0.7, "eyeWideRight": 0.7, "mouthFunnel": 0.1},
    "disgusted": {"noseSneerLeft": 0.75, "noseSneerRight": 0.75, "browDownLeft": 0.4,
                  "browDownRight": 0.4, "mouthFrownLeft": 0.3, "mouthFrownRight": 0.3,
                  "cheekSquintLeft": 0.3, "cheekSquintRight": 0.3, "mouthShrugUpper": 0.3},
    "afraid": {"browInnerUp": 0.8, "browOuterUpLeft": 0.3, "browOuterUpRight": 0.3,
               "eyeWideLeft": 0.75, "eyeWideRight": 0.75, "mouthStretchLeft": 0.5,
               "mouthStretchRight": 0.5},
}
EMOTION_NAMES = tuple(EMOTIONS)


def emotion_pose(name: str) -> np.ndarray:
    """The emotion's ARKit weight vector (52,) at intensity 1."""
    w = np.zeros(len(INDEX), np.float32)
    for k, v in EMOTIONS[name].items():
        w[INDEX[k]] = v
    return w


def parse_emotions(items: list[str] | None) -> dict[str, float]:
    """['happy=0.5', 'sad'] → {'happy': 0.5, 'sad': 1.0}, with clear errors."""
    out: dict[str, float] = {}
    for item in items or []:
        name, _, value = item.partition("=")
        name = name.strip().lower()
        if name not in EMOTIONS:
            raise InputError(f"Unknown emotion '{name}': choose from {', '.join(EMOTION_NAMES)}.")
        try:
            v = float(value) if value else 1.0
        except ValueError:
            raise InputError(f"Emotion intensity must be a number in 0..1, got '{value}'.") from None
        if not 0.0 <= v <= 1.0:
            raise InputError(f"Emotion intensity must be in 0..1, got {v}.")
        out[name] = v
    return out


def emotion_weights(emotions: dict[str, float]) -> np.ndarray:
    """Sum of the emotion poses at their intensities (52,)."""
    w = np.zeros(len(INDEX), np.float32)
    for name, v in emotions.items():
        w += v * emotion_pose(name)
    return w

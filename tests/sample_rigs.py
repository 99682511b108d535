"""Characters with their own face keys, made from the built-in head's ARKit targets (tests and bench/rigs.py).

(a) the 52 ARKit keys under another naming (`Face.MouthSmile_L`), (b) a VRM-style face with five vowels
and Blink, (c) the 15 Oculus visemes. The vowel and viseme shapes are the usual ARKit recipes for them.
"""
from __future__ import annotations

import numpy as np

from core.face.arkit import ARKIT_NAMES, INDEX

BOTH = ("Left", "Right")
VRM_RECIPES: dict[str, dict[str, float]] = {
    "A": {"jawOpen": 0.7, "mouthLowerDown": 0.3},
    "I": {"jawOpen": 0.15, "mouthStretch": 0.5, "mouthSmile": 0.2},
    "U": {"mouthPucker": 0.8, "jawOpen": 0.1},
    "E": {"jawOpen": 0.35, "mouthStretch": 0.3},
    "O": {"mouthFunnel": 0.7, "jawOpen": 0.35},
    "Blink": {"eyeBlink": 1.0},
}
OCULUS_RECIPES: dict[str, dict[str, float]] = {
    "sil": {},
    "PP": {"mouthPress": 0.6, "mouthRollLower": 0.2, "mouthRollUpper": 0.2},
    "FF": {"mouthRollLower": 0.6, "mouthUpperUp": 0.2, "jawOpen": 0.05},
    "TH": {"jawOpen": 0.15, "tongueOut": 0.4},
    "DD": {"jawOpen": 0.2, "mouthStretch": 0.15},
    "kk": {"jawOpen": 0.25, "mouthStretch": 0.1},
    "CH": {"mouthFunnel": 0.5, "jawOpen": 0.15, "mouthShrugUpper": 0.2},
    "SS": {"mouthStretch": 0.4, "jawOpen": 0.08, "mouthSmile": 0.15},
    "nn": {"jawOpen": 0.15, "mouthStretch": 0.1},
    "RR": {"mouthFunnel": 0.3, "mouthPucker": 0.3, "jawOpen": 0.15},
    "aa": {"jawOpen": 0.7, "mouthLowerDown": 0.2},
    "E": {"jawOpen": 0.35, "mouthStretch": 0.35},
    "I": {"jawOpen": 0.2, "mouthStretch": 0.5, "mouthSmile": 0.2},
    "O": {"jawOpen": 0.4, "mouthFunnel": 0.7},
    "U": {"mouthPucker": 0.9, "jawOpen": 0.1},
}


def arkit_style(name: str) -> str:
    """`mouthSmileLeft` → `Face.MouthSmile_L`: another studio's naming of the same key."""
    for side, short in (("Left", "_L"), ("Right", "_R")):
        if name.endswith(side):
            name = name[: -len(side)] + short
    return "Face." + name[0].upper() + name[1:]


def recipe_delta(recipe: dict[str, float], deltas: np.ndarray) -> np.ndarray:
    """N×3: the ARKit targets mixed by `recipe` (a name without side means both sides)."""
    w = np.zeros(len(ARKIT_NAMES), np.float32)
    for name, value in recipe.items():
        for n in ([name] if name in INDEX else [name + s for s in BOTH]):
            w[INDEX[n]] = value
    return np.tensordot(w, deltas, 1)


def rig_keys(kind: str, deltas: np.ndarray) -> dict[str, np.ndarray]:
    """Key name → N×3 delta of a sample rig: 'arkit' (renamed), 'vrm' or 'oculus' (names as those kits write)."""
    if kind == "arkit":
        return {arkit_style(n): deltas[i] for i, n in enumerate(ARKIT_NAMES)}
    if kind == "vrm":
        return {n: recipe_delta(r, deltas) for n, r in VRM_RECIPES.items()}
    return {f"viseme_{n}": recipe_delta(r, deltas) for n, r in OCULUS_RECIPES.items()}


RIG_KINDS = ("arkit", "vrm", "oculus")

"""Landmark motion → ARKit weights (bounded 0..1), so a neural engine's output drives the editable rig.

Per frame: min ‖w·A − d‖² + λ‖w‖² with 0 ≤ w ≤ 1, A the built-in head's
ARKit → landmark basis, solved for every frame at once by accelerated projected
gradient (FISTA). Only the channels speech and emotions use are solved; the ones
the landmarks cannot see (eye and cheek squint) follow the emotion directly.
"""
from __future__ import annotations

import functools

import numpy as np

from ..face.arkit import ARKIT_NAMES, INDEX
from ..face.emotions import EMOTION_NAMES, emotion_pose, emotion_weights
from ..face.head import load_head
from .articulation import VISEME_WEIGHTS

RIDGE = 1e-3  # relative to the largest eigenvalue: keeps unseen channels at 0
ITERATIONS = 50  # from the clipped unconstrained start: the landmarks match to 0.03 mm as with 150


@functools.lru_cache(maxsize=1)
def _system() -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray, np.ndarray]:
    """(A of the solved channels, G = AAᵀ + λI, G⁻¹, gradient step, solved mask, hidden mask)."""
    A = load_head().landmark_basis().astype(np.float64)
    used = np.zeros(len(ARKIT_NAMES), bool)
    for w in list(VISEME_WEIGHTS.values()) + [emotion_pose(e) for e in EMOTION_NAMES]:
        used |= w > 0
    used[INDEX["mouthClose"]] = True
    norms = np.linalg.norm(A, axis=1)
    visible = used & (norms > 0.1 * np.median(norms[used]))
    Av = A[visible]
    G = Av @ Av.T
    lam = RIDGE * np.linalg.eigvalsh(G).max()
    G += lam * np.eye(len(G))
    return Av, G, np.linalg.inv(G), 1.0 / np.linalg.eigvalsh(G).max(), visible, used & ~visible


def weights_from_landmarks(displacement: np.ndarray, emotions: dict[str, float] | None = None) -> np.ndarray:
    """T×68×3 displacement (metres, built-in head) → T×52 weights in 0..1."""
    Av, G, G_inv, step, visible, hidden = _system()
    b = displacement.reshape(len(displacement), -1).astype(np.float64) @ Av.T
    x = np.clip(b @ G_inv, 0.0, 1.0)  # unconstrained solution, clipped: a good start
    y, t = x.copy(), 1.0
    for _ in range(ITERATIONS):
        x_new = np.clip(y - step * (y @ G - b), 0.0, 1.0)
        t_new = (1 + np.sqrt(1 + 4 * t * t)) / 2
        y = x_new + ((t - 1) / t_new) * (x_new - x)
        x, t = x_new, t_new
    out = np.zeros((len(displacement), len(ARKIT_NAMES)), np.float32)
    out[:, visible] = x
    out[:, hidden] = np.clip(emotion_weights(emotions or {}), 0, 1)[hidden]
    return out

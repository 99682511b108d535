"""Baked mode: per-frame dense motion compressed into K basis shapes (SVD) and K curves.

The motion of a rig is weights (T×52) times targets (52×N×3), so its SVD is taken in
weight space: a QR of the targets turns the T×3N problem into a T×52 one. Exact
for any clip length and mesh size, and cheap; K = 52 reproduces the motion exactly.
A landmark engine's motion on the built-in head goes through Sparse2Dense instead
(`bake_landmarks`): its output is coefficients times a fixed basis, the same form.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..face.arkit import INDEX


@dataclass
class Baked:
    basis: np.ndarray  # K×N×3 shapes (displacements)
    curves: np.ndarray  # T×K coefficients
    mean_error_mm: float  # mean over frames and vertices of |reconstruction - motion|
    max_error_mm: float


def bake(weights: np.ndarray, deltas: np.ndarray, k: int) -> Baked:
    """Best rank-`k` approximation of the motion `weights @ deltas` (T×52, 52×N×3)."""
    T, c = weights.shape
    n = deltas.shape[1]
    q, r = np.linalg.qr(deltas.reshape(c, -1).T.astype(np.float64))  # 3N×c, c×c
    u, s, vt = np.linalg.svd(weights.astype(np.float64) @ r.T, full_matrices=False)
    k = int(np.clip(k, 1, len(s)))
    curves = u[:, :k] * s[:k]
    basis = (q @ vt[:k].T).T.reshape(k, n, 3)
    # the error, a few hundred frames at a time so a long clip on a big mesh never sits in memory whole
    total, worst = 0.0, 0.0
    if k < len(s):
        rest = q @ vt[k:].T  # 3N×(c-k)
        for a in range(0, T, 256):
            residual = ((u[a:a + 256, k:] * s[k:]) @ rest.T).reshape(-1, n, 3)
            err = np.linalg.norm(residual, axis=2) * 1000
            total, worst = total + err.sum(), max(worst, float(err.max()))
    return Baked(basis.astype(np.float32), curves.astype(np.float32), total / (T * n), worst)


def bake_landmarks(landmark_motion: np.ndarray, weights: np.ndarray, deltas: np.ndarray, k: int) -> Baked:
    """Baked mode from landmark motion (T×68×3, built-in head): Sparse2Dense gives the dense speech and
    emotion motion; the blinks (not landmark motion) come from `weights` on the ARKit `deltas`."""
    from ..motion import s2d  # needs PyTorch

    model, neutral = s2d.load()
    coeff, basis = s2d.decode(model, neutral, landmark_motion)
    blink = [INDEX["eyeBlinkLeft"], INDEX["eyeBlinkRight"]]
    return bake(np.hstack([coeff, weights[:, blink]]), np.concatenate([basis, deltas[blink]]), k)

"""Lip-sync quality metrics of DESIGN.md §5, on landmark motion.

Lip gap = |landmark 62 - landmark 66|, mouth width = |48 - 54|. The reference is
a phone timing (forced alignment of a transcript); the prediction is any
T×68×3 landmark track at a known frame rate.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..face.head import load_head
from ..face.ibug import LIP_GAP, MOUTH_CORNERS
from ..motion.articulation import articulate, frame_times
from ..speech.phones import BILABIALS, OPEN_VOWELS, ROUNDED, Phone


def lip_gap(landmarks: np.ndarray) -> np.ndarray:
    return np.linalg.norm(landmarks[:, LIP_GAP[0]] - landmarks[:, LIP_GAP[1]], axis=-1)


def mouth_width(landmarks: np.ndarray) -> np.ndarray:
    return np.linalg.norm(landmarks[:, MOUTH_CORNERS[0]] - landmarks[:, MOUTH_CORNERS[1]], axis=-1)


def _frames_of(p: Phone, t: np.ndarray) -> np.ndarray:
    idx = np.nonzero((t >= p.start) & (t <= p.end))[0]
    if len(idx) == 0:  # shorter than a frame: the nearest one
        idx = np.array([int(np.clip(np.argmin(np.abs(t - (p.start + p.end) / 2)), 0, len(t) - 1))])
    return idx


@dataclass
class LipSyncScore:
    bilabial_closure: float
    open_vowel: float
    rounding: float
    correlation: float
    lag_ms: float
    n_bilabial: int
    n_open: int
    n_rounded: int


def reference_landmarks(reference: list[Phone], fps: float, n_frames: int) -> np.ndarray:
    """What the articulation model does with the reference timing (no blinks)."""
    return load_head().landmark_positions(articulate(reference, fps, n_frames))


def score(landmarks: np.ndarray, fps: float, reference: list[Phone], max_lag_s: float = 0.2) -> LipSyncScore:
    head = load_head()
    t = frame_times(len(landmarks), fps)
    gap, width = lip_gap(landmarks), mouth_width(landmarks)
    p95 = np.percentile(gap, 95)
    neutral_width = mouth_width(head.vertices[head.landmarks][None])[0]
    bil = [gap[_frames_of(p, t)].min() <= 0.15 * p95 for p in reference if p.name in BILABIALS]
    opn = [gap[_frames_of(p, t)].max() >= 0.40 * p95 for p in reference
           if p.name in OPEN_VOWELS and p.duration >= 0.06]
    rnd = [width[_frames_of(p, t)].min() < neutral_width - 1e-5 for p in reference if p.name in ROUNDED]
    ref_gap = lip_gap(reference_landmarks(reference, fps, len(landmarks)))
    corr, lag = _xcorr(gap, ref_gap, int(round(max_lag_s * fps)))
    mean = lambda xs: float(np.mean(xs)) if xs else float("nan")  # noqa: E731
    return LipSyncScore(mean(bil), mean(opn), mean(rnd), corr, 1000.0 * lag / fps, len(bil), len(opn), len(rnd))


def _xcorr(a: np.ndarray, b: np.ndarray, max_lag: int) -> tuple[float, int]:
    """Pearson correlation at zero lag, and the lag (frames, + = a late) that maximises it."""
    def pearson(x, y):
        if len(x) < 3 or x.std() < 1e-12 or y.std() < 1e-12:
            return 0.0
        return float(np.corrcoef(x, y)[0, 1])

    best, best_lag = -2.0, 0
    for k in range(-max_lag, max_lag + 1):
        x, y = (a[k:], b[: len(b) - k]) if k >= 0 else (a[:k], b[-k:])
        c = pearson(x, y)
        if c > best:
            best, best_lag = c, k
    return pearson(a, b), best_lag

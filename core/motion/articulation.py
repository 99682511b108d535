"""Phones → per-frame ARKit weights: visemes, coarticulation, lip closure, blinks.

Coarticulation follows the dominance model of Cohen & Massaro: every phone pulls
each ARKit channel towards its own target with a strength (dominance) that is
full inside the phone and decays as a Gaussian outside it, so neighbours blend
smoothly and weak consonants (t, k, h) take the lip shape of the vowels around
them. Bilabials (p, b, m) then override the lip channels so the lips really
meet, whatever vowel surrounds them; this is what viewers notice first.
"""
from __future__ import annotations

import functools

import numpy as np

from ..face.arkit import ARKIT_NAMES, INDEX
from ..face.emotions import emotion_weights
from ..face.head import load_head
from ..face.ibug import INNER_LIP_PAIRS
from ..speech.phones import BILABIALS, Phone

# Viseme targets in ARKit weights (both sides of symmetric pairs given once as "*").
_VISEMES: dict[str, dict[str, float]] = {
    "SIL": {},
    "AA": {"jawOpen": 0.6, "mouthLowerDown*": 0.25},
    "AE": {"jawOpen": 0.5, "mouthStretch*": 0.2, "mouthLowerDown*": 0.2, "mouthUpperUp*": 0.1},
    "AH": {"jawOpen": 0.45, "mouthLowerDown*": 0.15},
    "AO": {"jawOpen": 0.5, "mouthFunnel": 0.3, "mouthPucker": 0.15},
    "AW": {"jawOpen": 0.5, "mouthFunnel": 0.25, "mouthPucker": 0.15},
    "AY": {"jawOpen": 0.5, "mouthStretch*": 0.15},
    "EH": {"jawOpen": 0.32, "mouthStretch*": 0.25},
    "ER": {"jawOpen": 0.18, "mouthFunnel": 0.35, "mouthPucker": 0.2},
    "EY": {"jawOpen": 0.28, "mouthStretch*": 0.3, "mouthSmile*": 0.1},
    "IH": {"jawOpen": 0.22, "mouthStretch*": 0.3},
    "IY": {"jawOpen": 0.14, "mouthStretch*": 0.4, "mouthSmile*": 0.2},
    "OW": {"jawOpen": 0.3, "mouthFunnel": 0.4, "mouthPucker": 0.5},
    "OY": {"jawOpen": 0.3, "mouthFunnel": 0.3, "mouthPucker": 0.4},
    "UH": {"jawOpen": 0.2, "mouthFunnel": 0.3, "mouthPucker": 0.45},
    "UW": {"jawOpen": 0.12, "mouthFunnel": 0.3, "mouthPucker": 0.85},
    "W": {"jawOpen": 0.08, "mouthFunnel": 0.2, "mouthPucker": 0.9},
    "B": {"jawOpen": 0.04, "mouthPress*": 0.3},
    "P": {"jawOpen": 0.04, "mouthPress*": 0.35},
    "M": {"jawOpen": 0.04, "mouthPress*": 0.25},
    "F": {"jawOpen": 0.06, "mouthRollLower": 0.55, "mouthUpperUp*": 0.15},
    "V": {"jawOpen": 0.06, "mouthRollLower": 0.5, "mouthUpperUp*": 0.15},
    "TH": {"jawOpen": 0.14, "tongueOut": 0.25},
    "DH": {"jawOpen": 0.12, "tongueOut": 0.2},
    "T": {"jawOpen": 0.14}, "D": {"jawOpen": 0.14}, "N": {"jawOpen": 0.14}, "L": {"jawOpen": 0.2},
    "S": {"jawOpen": 0.06, "mouthStretch*": 0.3, "mouthSmile*": 0.1},
    "Z": {"jawOpen": 0.06, "mouthStretch*": 0.3, "mouthSmile*": 0.1},
    "SH": {"jawOpen": 0.1, "mouthFunnel": 0.5, "mouthPucker": 0.25},
    "ZH": {"jawOpen": 0.1, "mouthFunnel": 0.5, "mouthPucker": 0.25},
    "CH": {"jawOpen": 0.1, "mouthFunnel": 0.45, "mouthPucker": 0.25},
    "JH": {"jawOpen": 0.1, "mouthFunnel": 0.45, "mouthPucker": 0.25},
    "K": {"jawOpen": 0.2}, "G": {"jawOpen": 0.2}, "NG": {"jawOpen": 0.16},
    "HH": {"jawOpen": 0.3},
    "R": {"jawOpen": 0.14, "mouthFunnel": 0.3, "mouthPucker": 0.3},
    "Y": {"jawOpen": 0.12, "mouthStretch*": 0.3},
}
# How firmly each phone holds its shape against its neighbours (0..1).
_DOMINANCE = {**{p: 0.6 for p in _VISEMES}, "SIL": 0.35, "AA": 0.85, "AE": 0.85, "AH": 0.75,
              "AO": 0.85, "AW": 0.85, "AY": 0.85, "UW": 0.85, "OW": 0.8, "W": 0.85,
              "B": 1.0, "P": 1.0, "M": 1.0, "F": 0.9, "V": 0.9, "SH": 0.7, "CH": 0.7,
              "T": 0.3, "D": 0.3, "N": 0.3, "K": 0.25, "G": 0.25, "NG": 0.3, "HH": 0.15,
              "L": 0.35, "Y": 0.4, "R": 0.5}
# Lip channels a closure overrides (they would hold the lips apart).
_LIPS_APART = ("mouthFunnel", "mouthPucker", "mouthLowerDownLeft", "mouthLowerDownRight",
               "mouthUpperUpLeft", "mouthUpperUpRight", "mouthRollLower", "tongueOut")
SPREAD = 0.045  # s: Gaussian reach of a phone's dominance beyond its edges
HOLD = 0.025  # s: lips stay shut this long beyond a bilabial's edges (aligners cut them short)
RAMP = 0.04  # s: then take this long to part (and to meet, before it)


def _expand(pose: dict[str, float]) -> np.ndarray:
    w = np.zeros(len(ARKIT_NAMES), np.float32)
    for name, v in pose.items():
        for n in ([name[:-1] + "Left", name[:-1] + "Right"] if name.endswith("*") else [name]):
            w[INDEX[n]] = v
    return w


VISEME_WEIGHTS: dict[str, np.ndarray] = {p: _expand(v) for p, v in _VISEMES.items()}


def frame_times(n_frames: int, fps: float) -> np.ndarray:
    return (np.arange(n_frames) + 0.5) / fps


def articulate(phones: list[Phone], fps: float, n_frames: int, emotions: dict[str, float] | None = None,
               layered: dict[str, float] | None = None, closed: np.ndarray | None = None) -> np.ndarray:
    """Coarticulated ARKit weights, n_frames × 52 float32 in 0..1, optionally spoken with emotions
    (in the weights) or to be shown under `layered` emotions (their shape keys on top). `closed`
    (n_frames, 0..1): more lip closure heard in the audio itself, on top of the phones' p/b/m."""
    t = frame_times(n_frames, fps)
    num = np.zeros((n_frames, len(ARKIT_NAMES)), np.float64)
    den = np.full(n_frames, 1e-6)
    for p in phones:
        lo = np.searchsorted(t, p.start - 4 * SPREAD)
        hi = np.searchsorted(t, p.end + 4 * SPREAD)
        if hi <= lo:
            continue
        tt = t[lo:hi]
        dist = np.maximum(0.0, np.maximum(p.start - tt, tt - p.end))
        d = _DOMINANCE[p.name] * np.exp(-0.5 * (dist / SPREAD) ** 2)
        num[lo:hi] += d[:, None] * VISEME_WEIGHTS[p.name]
        den[lo:hi] += d
    w = num / den[:, None]
    if emotions:
        w = with_emotions(w, emotions)
    c = closure_curve(phones, t, fps)
    if closed is not None:
        c = np.maximum(c, closed)
    if c.any():
        close_lips(w, c, emotion_weights(layered) if layered else None)
    return np.clip(w, 0.0, 1.0).astype(np.float32)


# How each emotion scales the jaw's speech opening per unit intensity (sad speech is smaller).
_JAW_GAIN = {"happy": 0.05, "sad": -0.3, "angry": -0.15, "surprised": 0.2, "disgusted": -0.15, "afraid": 0.1}
_CORNERS = [INDEX[n] for n in ARKIT_NAMES if n.startswith(("mouthSmile", "mouthStretch", "mouthFrown", "mouthDimple"))]


def with_emotions(w: np.ndarray, emotions: dict[str, float]) -> np.ndarray:
    """Speech weights (T×52, before lip closure) spoken with emotions at their intensities.

    The emotion pose is added, the jaw's speech opening is scaled (sad and angry speech
    open less, surprised more), and the emotion's mouth-corner pull gives way to rounded
    vowels (a smiling "oo" still puckers). Lip closure is applied afterwards, so
    bilabials still close whatever the emotion.
    """
    out = w.copy()
    out[:, INDEX["jawOpen"]] *= max(0.0, 1.0 + sum(_JAW_GAIN[k] * v for k, v in emotions.items()))
    e = np.broadcast_to(emotion_weights(emotions), w.shape).copy()
    rounding = np.clip(w[:, INDEX["mouthPucker"]] + w[:, INDEX["mouthFunnel"]], 0.0, 1.0)
    e[:, _CORNERS] *= (1.0 - 0.7 * rounding)[:, None]
    return out + e


def closure_curve(phones: list[Phone], t: np.ndarray, fps: float) -> np.ndarray:
    """1 where the lips must be shut (p, b, m), ramping to 0 outside.

    The shut span reaches HOLD beyond the phone's edges and the ramp RAMP further,
    but never more than a third of the neighbouring phone, so a short vowel
    between two bilabials ("bob") still opens.
    """
    c = np.zeros(len(t))
    for i, p in enumerate(phones):
        if p.name not in BILABIALS:
            continue
        before = phones[i - 1].duration if i > 0 else 1.0
        after = phones[i + 1].duration if i + 1 < len(phones) else 1.0
        reach_b, reach_a = min(HOLD + RAMP, before / 3), min(HOLD + RAMP, after / 3)
        hold_b, hold_a = reach_b * HOLD / (HOLD + RAMP), reach_a * HOLD / (HOLD + RAMP)
        pre = np.clip((t - (p.start - reach_b)) / max(reach_b - hold_b, 1e-3), 0, 1)
        post = np.clip(((p.end + reach_a) - t) / max(reach_a - hold_a, 1e-3), 0, 1)
        c = np.maximum(c, np.minimum(pre, post))
        # a phone shorter than a frame still gets its closed frame
        k = min(len(t) - 1, int((p.start + p.end) / 2 * fps))
        if k >= 0:
            c[k] = 1.0
    return c


# Inner-lip landmark pairs (upper, lower) that must meet at a closure, the middle one counting double.
_PAIR_WEIGHTS = np.array([0.25, 0.5, 0.25])


@functools.lru_cache(maxsize=1)
def _lip_height() -> tuple[float, np.ndarray]:
    """Height (m) of the lower inner lip above the upper one on the built-in head: at rest, and per
    unit of each channel (52,). Positive = the lower lip is above (the lips press past each other)."""
    head = load_head()
    up, lo = (head.landmarks[[p[i] for p in INNER_LIP_PAIRS]] for i in (0, 1))
    rest = float(_PAIR_WEIGHTS @ (head.vertices[lo, 2] - head.vertices[up, 2]))
    per_unit = (head.deltas[:, lo, 2] - head.deltas[:, up, 2]).astype(np.float64) @ _PAIR_WEIGHTS
    return rest, per_unit


def close_lips(w: np.ndarray, c: np.ndarray, layer: np.ndarray | None = None) -> None:
    """Shut the lips in place where the closure curve `c` (T, 0..1) says so, whatever the other channels.

    The channels that part the lips for speech give way and the jaw half closes; then mouthClose
    is set, on the built-in head's own geometry, so the inner lips meet exactly, counting the
    `layer` (52,) that will be shown on top (the emotion shape keys). Where a pose raises the lower
    lip past the upper one even so (a sad mouth's shrug), the shrug gives way.
    """
    j, mc, shrug = INDEX["jawOpen"], INDEX["mouthClose"], INDEX["mouthShrugLower"]
    w[:, j] *= 1.0 - 0.5 * c
    for name in _LIPS_APART:
        w[:, INDEX[name]] *= 1.0 - c
    rest, per_unit = _lip_height()
    shown = w.astype(np.float64) + (0.0 if layer is None else layer)
    others = rest + shown @ per_unit - w[:, mc] * per_unit[mc]  # height without our mouthClose
    meet = np.clip(-others / per_unit[mc], 0.0, 1.0)
    w[:, mc] += c * (meet - w[:, mc])
    over = others + w[:, mc] * per_unit[mc]  # > 0: still pressed past each other
    eased = np.clip(w[:, shrug] - np.maximum(over, 0.0) / per_unit[shrug], 0.0, None)
    w[:, shrug] += c * (eased - w[:, shrug])


def blinks(n_frames: int, fps: float, seed: int = 0) -> np.ndarray:
    """eyeBlinkLeft/Right curves (n_frames × 2): every 2-6 s, 0.1-0.2 s long, fast close, slower open."""
    rng = np.random.default_rng(seed)
    t = frame_times(n_frames, fps)
    out = np.zeros(n_frames, np.float32)
    at, end = rng.uniform(0.5, 2.5), n_frames / fps
    while at < end:
        close, opening = rng.uniform(0.05, 0.08), rng.uniform(0.08, 0.14)
        rise = np.clip(1 - (at - t) / close, 0, 1) * (t <= at)
        fall = np.clip(1 - (t - at) / opening, 0, 1) * (t > at)
        out = np.maximum(out, rise + fall)
        at += rng.uniform(2.0, 6.0)
    return np.stack([out, out], axis=1)

"""Our ARKit motion played on a character's own shape keys: weights copied where names match, fitted elsewhere.

Direct keys (their ARKit keys) take our channel's weight. The motion they do not cover (our other channels,
and whatever their ARKit shapes do differently from ours) is fitted each frame with the solved keys
(visemes, VRM vowels, ...): bounded least squares, weights in [0, 1], of their key deltas against that
motion, over vertices weighted by `region_weights` plus the inner-lip gaps, with a small ridge per key.
All frames are solved at once on the K×K normal equations: accelerated projected gradient (FISTA) finds
which weights sit at a bound, active-set steps finish exactly; 1800 frames of 15 visemes take about 0.25 s
on 2 cores (tests/test_rigs.py checks the result against scipy's bounded solver).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ..face.arkit import INDEX
from ..face.ibug import GROUPS, INNER_LIP_PAIRS, MOUTH, MOUTH_CORNERS
from ..face.keysets import KeyMapping

LIP_WEIGHT = 1.0  # lips decide what a viewer reads: closure, opening, rounding
CHIN_WEIGHT = 0.5  # the chin carries the jaw's opening
EYE_WEIGHT = 0.3  # eyes and brows carry blinks and brow raises, if their keys have them
FLOOR_WEIGHT = 0.02  # elsewhere: a key's side effects (cheeks, neck) still count a little
LIP_GAP_SHARE = 1.0  # the inner-lip gaps together weigh as much as the whole region: closure is what is seen
REACH = 0.5  # Gaussian reach of a landmark's weight, in mouth widths
CHIN = range(5, 12)  # iBUG jaw-line points around the chin
RIDGE = 1e-3  # per key, relative to its own weighted squared norm: a key moving nothing useful stays at 0
RIDGE_FLOOR = 1e-6  # relative to the mean key norm: a key that moves nothing at all stays at 0 too
ROUNDS = 10  # at most this many rounds of (projected gradient, exact solve on the free weights)
ROUND_ITERATIONS = 30
TOLERANCE = 1e-5  # largest projected-gradient step (weight units) at which the fit stops
STILL = 0.05  # frames moving less than this share of the clip's largest motion get no relative fit error


@dataclass
class Retarget:
    """Their keys' weights (T×K, in `keys` order) and how well they reproduce our motion."""

    keys: tuple[str, ...]
    weights: np.ndarray  # T×K float32 in [0, 1]
    fit_error: np.ndarray  # T: |their motion - ours| / |ours| in the fit's measure; nan where the face is still

    @property
    def mean_fit_error(self) -> float:
        finite = self.fit_error[np.isfinite(self.fit_error)]
        return float(finite.mean()) if len(finite) else 0.0


def region_weights(vertices: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Per-vertex weight of the fit (N): Gaussians around the lips, chin and eyes/brows, a floor elsewhere.

    Landmarks (68×3 on the mesh, any topology) rather than vertex groups: every rig has them, and they
    scale with the face (reach in mouth widths).
    """
    sigma = REACH * np.linalg.norm(landmarks[MOUTH_CORNERS[0]] - landmarks[MOUTH_CORNERS[1]])
    weights = np.full(len(vertices), FLOOR_WEIGHT)
    eyes = [*GROUPS["brows"], *GROUPS["eyes"]]
    for ids, w in ((list(MOUTH), LIP_WEIGHT), (list(CHIN), CHIN_WEIGHT), (eyes, EYE_WEIGHT)):
        d = cKDTree(landmarks[ids]).query(vertices)[0]  # to the group's nearest landmark
        weights = np.maximum(weights, w * np.exp(-(d ** 2) / (2 * sigma ** 2)))
    return weights


def _features(deltas: np.ndarray, region: np.ndarray, lips: np.ndarray) -> np.ndarray:
    """K×N×3 deltas → K×F: the region-weighted vertex motion, then the lip gaps' change (weighted so all
    gaps together count LIP_GAP_SHARE of the region)."""
    deltas = deltas.astype(np.float64)
    gap_weight = LIP_GAP_SHARE * region.sum() / max(len(lips), 1)
    moved = deltas * np.sqrt(region)[None, :, None]
    gaps = (deltas[:, lips[:, 0]] - deltas[:, lips[:, 1]]) * np.sqrt(gap_weight)
    return np.concatenate([moved.reshape(len(deltas), -1), gaps.reshape(len(deltas), -1)], 1)


def lip_pairs(landmarks: np.ndarray) -> np.ndarray:
    """P×2 vertex ids: the inner upper/lower lip landmarks facing each other, and the mouth's middle pair."""
    return np.array([[landmarks[u], landmarks[lo]] for u, lo in INNER_LIP_PAIRS])


def retarget(mapping: KeyMapping, their_deltas: dict[str, np.ndarray], our_deltas: np.ndarray,
             weights: np.ndarray, region: np.ndarray, lips: np.ndarray) -> Retarget:
    """Weights of their keys for our T×52 `weights`. `their_deltas`: key → N×3 (every key of `mapping`),
    `our_deltas`: 52×N×3 on the same mesh, `region`: N vertex weights (region_weights), `lips`: P×2 vertex
    ids of upper/lower lip points facing each other (lip_pairs): their gap must follow ours, or lips that
    should touch stay a few millimetres apart at no cost to the vertex fit."""
    keys = mapping.keys
    ours = _features(our_deltas, region, lips)  # 52×F
    theirs = _features(np.stack([their_deltas[k] for k in keys]), region, lips)  # K×F
    gram, cross, own = theirs @ theirs.T, theirs @ ours.T, ours @ ours.T  # K×K, K×52, 52×52
    w = weights.astype(np.float64)
    x = np.zeros((len(w), len(keys)))
    for i, key in enumerate(keys[:len(set(mapping.direct.values()))]):
        x[:, i] = w[:, [INDEX[c] for c, k in mapping.direct.items() if k == key]].max(1)
    free = np.arange(len(set(mapping.direct.values())), len(keys))
    if len(free):
        fixed = np.setdiff1d(np.arange(len(keys)), free)
        target = w @ cross[free].T - x[:, fixed] @ gram[np.ix_(fixed, free)]  # T×F: their keys · (our - direct)
        x[:, free] = _bounded_fit(gram[np.ix_(free, free)], target)
    # |X·theirs - W·ours|² per frame, from the small Gram matrices (no T×3N arrays)
    err2 = (np.einsum("tk,kl,tl->t", x, gram, x) - 2 * np.einsum("tk,kc,tc->t", x, cross, w)
            + np.einsum("tc,cd,td->t", w, own, w))
    norm = np.sqrt(np.maximum(np.einsum("tc,cd,td->t", w, own, w), 0.0))
    still = norm <= STILL * (norm.max() if len(norm) else 0.0)
    rel = np.sqrt(np.maximum(err2, 0.0)) / np.where(still, 1.0, norm)
    return Retarget(keys, x.astype(np.float32), np.where(still, np.nan, rel))


def _bounded_fit(gram: np.ndarray, target: np.ndarray) -> np.ndarray:
    """argmin over x in [0,1]^K of ½ x·(G + ridge)·x - target·x for every row (frame), all rows at once.

    Rounds of accelerated projected gradient (FISTA, restarted where the momentum points uphill) find
    which weights sit at a bound; an exact solve on the free ones then finishes each frame (kept where it
    lowers the objective). Stops when the projected gradient vanishes on every frame.
    """
    diag = np.diag(gram)
    g = gram + np.diag(RIDGE * diag + RIDGE_FLOOR * max(diag.mean(), 1e-30))
    step = 1.0 / np.linalg.eigvalsh(g)[-1]
    x = np.clip(np.linalg.solve(g, target.T).T, 0.0, 1.0)  # the unbounded fit, clipped: a warm start
    objective = lambda v: 0.5 * np.einsum("tk,kl,tl->t", v, g, v) - (v * target).sum(1)
    for _ in range(ROUNDS):
        x = _fista(x, g, target, step)
        polished = _free_solve(x, g, target)
        better = objective(polished) < objective(x)
        x[better] = polished[better]
        if np.abs(x - np.clip(x - step * (x @ g - target), 0.0, 1.0)).max() < TOLERANCE:
            break
    return x


def _fista(x: np.ndarray, g: np.ndarray, target: np.ndarray, step: float) -> np.ndarray:
    y, t = x.copy(), np.ones((len(x), 1))
    for _ in range(ROUND_ITERATIONS):
        new = np.clip(y - step * (y @ g - target), 0.0, 1.0)
        t_next = (1 + np.sqrt(1 + 4 * t * t)) / 2
        uphill = ((y - new) * (new - x)).sum(1, keepdims=True) > 0  # restart (O'Donoghue & Candes 2015)
        t_next[uphill] = 1.0
        y = new + np.where(uphill, 0.0, (t - 1) / t_next) * (new - x)
        x, t = new, t_next
    return x


def _free_solve(x: np.ndarray, g: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Active-set steps from `x`: weights pressing against a bound stay there, the others go towards their exact
    solve (one batched K×K solve for all frames), as far as the box allows; a weight that reaches a bound on
    the way is held there and the rest solved again. Every step lowers the objective."""
    grad = x @ g - target
    free = ~(((x <= 0) & (grad > 0)) | ((x >= 1) & (grad < 0)))
    x = x.copy()
    eye = np.eye(len(g))
    for _ in range(len(g)):
        system = np.where(free[:, :, None] & free[:, None, :], g, 0.0) + eye * (~free)[:, :, None]
        rhs = np.where(free, target - (x * ~free) @ g, x)
        step = np.linalg.solve(system, rhs[:, :, None])[:, :, 0] - x
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(step > 0, (1 - x) / step, np.where(step < 0, -x / step, np.inf))
        room = np.where(free, np.maximum(room, 0.0), np.inf)
        alpha = np.minimum(room.min(1), 1.0)
        x = np.clip(x + alpha[:, None] * step, 0.0, 1.0)
        blocked = free & (room <= alpha[:, None]) & (alpha[:, None] < 1.0)
        if not blocked.any():
            break
        x[blocked] = np.round(x[blocked])  # exactly on the bound it reached
        free &= ~blocked
    return x

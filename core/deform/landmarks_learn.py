"""Learn a landmark convention (landmarks.py) from meshes whose 68 landmarks are known.

Each example is registered automatically, as any mesh is; its true points are read as points on
the fitted head's surface, and their mean on the rest head is the convention. Each example's
leave-one-out error says how well it carries to a new mesh.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import numpy as np

from ..errors import InputError
from ..face.head import Head, load_head
from ..face.ibug import N_LANDMARKS
from .landmarks import Convention, from_points, on_head_surface
from .registration import fit_head
from .rig import landmark_surface


def implied_points(fitted: np.ndarray, truth_in_head: np.ndarray, head: Head) -> np.ndarray:
    """Where `truth_in_head` (68×3, NaN rows unknown; head frame) lies on the rest head, read through the
    head fitted to that mesh: NaN rows stay NaN."""
    out = np.full((N_LANDMARKS, 3), np.nan)
    known = np.isfinite(truth_in_head).all(1)
    if known.any():
        ids, w = on_head_surface(truth_in_head[known], fitted, head)
        out[known] = np.einsum("nk,nkd->nd", w, head.vertices.astype(np.float64)[ids])
    return out


def learn(examples: Iterable[tuple[np.ndarray, np.ndarray | None, np.ndarray]], name: str,
          head: Head | None = None) -> tuple[Convention, np.ndarray]:
    """Learn a convention from (vertices, faces, 68×3 true landmarks with NaN rows unknown) examples.

    Returns it and each example's leave-one-out error (E×68 mm, NaN where unknown or where no other
    example knows the point): how far the convention learned from the other examples lands from the
    example's own points, on its own surface, as it would on a new mesh.
    """
    head = head or load_head()
    meshes, implied = [], []
    for V, F, truth in examples:
        V = np.asarray(V, np.float64)
        reg = fit_head(V, head, F)
        truth = np.asarray(truth, np.float64)
        if truth.shape != (N_LANDMARKS, 3):
            raise InputError(f"Landmarks must be 68 rows of x y z (got {truth.shape}).")
        implied.append(implied_points(reg.fitted, reg.similarity.apply(truth), head))
        meshes.append((V, F, truth, reg))
    if not meshes:
        raise InputError("No example meshes with landmarks were given.")
    implied = np.array(implied)
    errors = np.full((len(meshes), N_LANDMARKS), np.nan)
    for k, (V, F, truth, reg) in enumerate(meshes):
        others = _mean_known(np.delete(implied, k, axis=0))
        seen = np.isfinite(others).all(1) & np.isfinite(truth).all(1)
        if not seen.any():
            continue
        ids, w = landmark_surface(V, F, replace(reg, convention=from_points(others, name, head)), head)
        found = np.einsum("nk,nkd->nd", w, V[ids])
        errors[k, seen] = 1000 * np.linalg.norm(found[seen] - truth[seen], axis=1)
    return from_points(_mean_known(implied), name, head), errors


def _mean_known(points: np.ndarray) -> np.ndarray:
    """E×68×3 points (NaN rows unknown) → their 68×3 mean over the examples that know each; NaN where none does."""
    known = np.isfinite(points).all(2)
    count = known.sum(0)[:, None]
    total = np.where(known[..., None], points, 0.0).sum(0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)

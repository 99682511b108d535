"""Landmark conventions: where on the built-in head each of the 68 iBUG landmarks sits.

The head's own landmarks (tools/build_head.py) follow geometric rules, one vertex each.
Datasets place some points differently: FLAME's jaw contour runs 15 mm further back than
our outline rule, its eyelid points sit nearer the middle of the lid. A convention learned
from meshes whose landmarks are known (a studio's annotated heads; FLAME heads with FLAME's
embedding, which the user holds under FLAME's licence) makes the landmarks found on any
other mesh follow that dataset: each example is registered automatically, its true points
are read as points on the fitted head's surface, and their mean on the rest head, a point
on a head triangle, is the convention. The file is the user's: nothing learned from
licensed data ships with the extension.
"""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..face.head import Head, load_head
from ..face.ibug import N_LANDMARKS
from ..geometry.surface import closest_points


@dataclass(frozen=True)
class Convention:
    """68 points on the built-in head: each a triangle of head vertex ids and its barycentric weights."""

    vertices: np.ndarray  # 68×3 int
    weights: np.ndarray  # 68×3 float
    name: str = "built-in"

    def on(self, head_vertices: np.ndarray) -> np.ndarray:
        """The 68 points on the head's vertices as given (rest, fitted or posed), 68×3."""
        return np.einsum("nk,nkd->nd", self.weights, np.asarray(head_vertices, np.float64)[self.vertices])


def builtin(head: Head | None = None) -> Convention:
    """The head's own landmarks: each at its vertex."""
    head = head or load_head()
    return Convention(np.repeat(head.landmarks[:, None], 3, 1).astype(np.int64),
                      np.tile([1.0, 0.0, 0.0], (N_LANDMARKS, 1)))


def on_head_surface(points: np.ndarray, head_vertices: np.ndarray, head: Head) -> tuple[np.ndarray, np.ndarray]:
    """Closest points on the head's skin (given its current vertices): (68×3 vertex ids, 68×3 weights)."""
    skin = head.skin_triangles()
    tri, bary = closest_points(points, np.asarray(head_vertices, np.float64), skin)
    return skin[tri], bary



def from_points(rest_points: np.ndarray, name: str, head: Head | None = None) -> Convention:
    """A convention from 68 points near the rest head (NaN rows keep the head's own landmark)."""
    head = head or load_head()
    base = builtin(head)
    vertices, weights = base.vertices.copy(), base.weights.copy()
    known = np.isfinite(rest_points).all(1)
    if known.any():
        vertices[known], weights[known] = on_head_surface(rest_points[known], head.vertices, head)
    return Convention(vertices, weights, name)




def save(convention: Convention, path: str) -> None:
    np.savez(path, vertices=convention.vertices.astype(np.int32), weights=convention.weights.astype(np.float32),
             name=np.array(convention.name), n_head_vertices=np.int64(len(load_head().vertices)))


def load(path: str) -> Convention:
    """A convention saved by `save` (`python -m core landmarks learn`)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            conv = Convention(z["vertices"].astype(np.int64), z["weights"].astype(np.float64), str(z["name"]))
            n = int(z["n_head_vertices"])
    except FileNotFoundError:
        raise InputError(f"Landmark convention '{path}' not found.") from None
    except (OSError, KeyError, ValueError):
        raise InputError(f"'{path}' is not a landmark convention (make one with "
                         "`python -m core landmarks learn`).") from None
    if conv.vertices.shape != (N_LANDMARKS, 3) or n != len(load_head().vertices):
        raise InputError(f"'{path}' was learned for another version of the built-in head: learn it again.")
    return conv


def read_points(path: str) -> np.ndarray:
    """68 landmarks from a text file (68 lines of `x y z`, `nan nan nan` for unknown) or a .npy array."""
    try:
        pts = np.load(path) if path.endswith(".npy") else np.loadtxt(path, ndmin=2)
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot read landmarks from '{path}': {exc}") from None
    if pts.shape != (N_LANDMARKS, 3):
        raise InputError(f"'{path}' holds {pts.shape} values: landmarks are 68 rows of x y z.")
    return pts.astype(np.float64)


def flame_embedding(F: np.ndarray, flame_dir: str) -> tuple[np.ndarray, np.ndarray]:
    """FLAME's 68 landmarks on FLAME topology as (vertex ids 68×3, barycentric weights 68×3).

    Reads the user's `flame_static_embedding.pkl` and `flame_dynamic_embedding.npy`. The jaw contour
    is the dynamic embedding's row 0: rows go yaw 0…39° then −1…−39°, and row 0 is the one whose
    contour is left-right symmetric.
    """
    try:
        with open(os.path.join(flame_dir, "flame_static_embedding.pkl"), "rb") as fh:
            st = pickle.load(fh, encoding="latin1")
        dyn = np.load(os.path.join(flame_dir, "flame_dynamic_embedding.npy"), allow_pickle=True,
                      encoding="latin1").item()
    except (OSError, pickle.UnpicklingError, ValueError) as exc:
        raise InputError(f"No FLAME landmark embedding in '{flame_dir}': {exc}") from None
    faces = np.concatenate([np.asarray(dyn["lmk_face_idx"])[0], st["lmk_face_idx"]]).astype(int)
    bary = np.concatenate([np.asarray(dyn["lmk_b_coords"])[0], st["lmk_b_coords"]])
    F = np.asarray(F)
    if faces.max() >= len(F):
        raise InputError(f"A mesh with {len(F)} faces is not FLAME topology (FLAME has 9976).")
    return F[faces], bary


def flame_landmarks(V: np.ndarray, F: np.ndarray, flame_dir: str) -> np.ndarray:
    """FLAME's 68 landmarks on a FLAME-topology mesh (68×3, the mesh's frame)."""
    ids, bary = flame_embedding(F, flame_dir)
    return (np.asarray(V)[ids] * bary[..., None]).sum(1)

"""`Rig`: ARKit targets on a mesh's own vertices, and its 68 landmarks as points on its surface.

What every deformer returns, in the mesh's vertex order and frame: one shape per ARKit name, plus
the landmarks where the registration's convention (landmarks.py) puts them, and the vertex nearest each.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ..face.head import Head, load_head, posed
from ..face.ibug import N_LANDMARKS
from ..geometry.ops import outward_triangles, triangles, vertex_normals
from ..geometry.surface import closest_points
from .registration import Registration

LANDMARK_REACH = 0.02  # m (head scale): a landmark's surface point is sought among the triangles this near it


@dataclass
class Rig:
    """ARKit targets on a mesh: deltas (52×N×3, the mesh's frame) and its 68 landmarks.

    `landmarks` are vertex ids (the vertex nearest each landmark); `surface`, when given, places the
    landmarks between vertices: (68×3 vertex ids of a triangle, 68×3 barycentric weights).
    """

    vertices: np.ndarray
    deltas: np.ndarray
    landmarks: np.ndarray
    registration: Registration | None = None
    lips_glued: bool = False  # jawOpen does not part the lips: they are one surface (see glued_lips.py)
    surface: tuple[np.ndarray, np.ndarray] | None = None

    def landmark_positions(self, weights: np.ndarray) -> np.ndarray:
        """T×52 weights → T×68×3 landmark positions (on the surface, between vertices where placed so)."""
        if self.surface is None:
            return posed(self.vertices[self.landmarks], self.deltas[:, self.landmarks], weights)
        ids, w = self.surface
        at = posed(self.vertices[ids.ravel()], self.deltas[:, ids.ravel()], weights).reshape(len(weights), N_LANDMARKS, 3, 3)
        return np.einsum("nk,tnkd->tnd", w.astype(np.float32), at)

    def landmark_points(self) -> np.ndarray:
        """The 68 landmarks on the mesh at rest (68×3, its frame)."""
        return self.landmark_positions(np.zeros((1, len(self.deltas)), np.float32))[0]

    def vertex_positions(self, weights: np.ndarray) -> np.ndarray:
        return posed(self.vertices, self.deltas, weights)


def head_rig(head: Head | None = None) -> Rig:
    """The built-in head's own rig (exact artist targets)."""
    head = head or load_head()
    return Rig(head.vertices, head.deltas, head.landmarks)


def make_rig(V: np.ndarray, faces: np.ndarray | None, deltas: np.ndarray, reg: Registration, head: Head,
         landmarks: np.ndarray | None) -> Rig:
    """The Rig, its landmarks on the surface and, as vertex ids, the vertex of each one's triangle it lies nearest."""
    surface = landmark_surface(V, faces, reg, head, landmarks)
    nearest = surface[0][np.arange(N_LANDMARKS), surface[1].argmax(1)].astype(np.int32)
    return Rig(V.astype(np.float32), deltas.astype(np.float32), nearest, reg, surface=surface)


def landmark_surface(V: np.ndarray, faces: np.ndarray | None, reg: Registration, head: Head,
                     landmarks: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The fitted head's landmarks (the registration's convention's points; the given ones where known) as
    points on the target's surface: (68×3 target vertex ids, 68×3 barycentric weights). A found point goes on
    a triangle facing the way the head does there (an inner-lip point stays on its own lip), a given one
    (already on the surface, where the user left it) on the nearest; without faces, the nearest vertex."""
    sim, convention = reg.similarity, reg.convention
    x = sim.apply(np.asarray(V, np.float64))
    points = convention.on(reg.fitted)
    known = np.zeros(N_LANDMARKS, bool)
    if landmarks is not None:
        known = np.isfinite(landmarks).all(1)
        points[known] = sim.apply(np.asarray(landmarks, np.float64)[known])
    if faces is None or not len(faces):
        ids = cKDTree(x).query(points)[1]
        return np.repeat(ids[:, None], 3, 1), np.tile([1.0, 0.0, 0.0], (N_LANDMARKS, 1))
    tris = outward_triangles(x, triangles(faces))
    # only the triangles near the landmarks: a million-vertex scan need not be indexed whole for 68 points
    near = tris[np.isfinite(cKDTree(points).query(x[tris].mean(1), distance_upper_bound=LANDMARK_REACH)[0])]
    if len(near) and (cKDTree(x[near].mean(1)).query(points)[0] < LANDMARK_REACH).all():
        tris = near
    normals = np.einsum("nk,nkd->nd", convention.weights,
                        vertex_normals(reg.fitted, triangles(head.faces))[convention.vertices])
    tri, bary = closest_points(points, x, tris, normals)
    if known.any():
        tri[known], bary[known] = closest_points(points[known], x, tris)
    return tris[tri], bary

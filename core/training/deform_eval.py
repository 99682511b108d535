"""Deformation ground truth and quality (DESIGN.md §5): rig targets carried exactly onto a re-meshed copy, the
built-in head re-meshed finer, and how far jawOpen parts a rig's lips and moves its far region. Shared by
the deformer's training, bench/deform.py and the tests.
"""
from __future__ import annotations

import numpy as np

from ..face.arkit import INDEX
from ..face.head import load_head
from ..face.ibug import LIP_GAP
from ..geometry.ops import midpoint_subdivide, triangles


def jaw_metrics(rig, embedding: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[float, float]:
    """(lip gap opened by jawOpen in mm, largest jawOpen motion in the farthest 20 % from the mouth, mm).

    The gap is measured at the `embedding`'s landmarks (vertex ids, barycentric weights) when
    given, else at the landmarks found on the mesh.
    """
    d = rig.deltas[INDEX["jawOpen"]]
    if embedding is None:
        at = lambda i, X: X[rig.landmarks[i]]  # noqa: E731
    else:
        at = lambda i, X: (X[embedding[0][i]] * embedding[1][i][:, None]).sum(0)  # noqa: E731
    rest, moved = rig.vertices, rig.vertices + d
    gap = np.linalg.norm(at(LIP_GAP[0], moved) - at(LIP_GAP[1], moved)) - np.linalg.norm(at(LIP_GAP[0], rest) - at(LIP_GAP[1], rest))
    motion = np.linalg.norm(d, axis=1)
    far = np.linalg.norm(rig.vertices - rig.vertices[np.argmax(motion)], axis=1)
    return 1000 * gap, 1000 * motion[far > np.percentile(far, 80)].max()


def subdivided_head():
    """Midpoint subdivision of the built-in head's triangles: new topology, exact ground truth."""
    head = load_head()
    tris = triangles(head.faces)
    V, F, parents = midpoint_subdivide(head.vertices, tris)
    D = np.concatenate([head.deltas, head.deltas[:, parents].mean(2)], axis=1)
    return V, F, D, np.concatenate([head.parts, head.parts[parents].max(1)])


def surface_targets(V0: np.ndarray, tris0: np.ndarray, deltas: np.ndarray,
                    points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The targets (K×N0×3 on mesh V0) at each point's closest point on that surface (K×P×3), and
    those closest points (P×3).

    Ground truth needs the exact closest point (trimesh, a training and benchmark dependency):
    geometry.surface.closest_points only tries the triangles around a point's nearest vertices, and
    a point between the lips can land on the other lip (1.5 % of points 0.5 mm off the head's surface
    moved differently, up to 34 mm)."""
    import trimesh

    mesh = trimesh.Trimesh(V0, tris0, process=False)
    closest, _, tri = trimesh.proximity.closest_point(mesh, points)
    bary = trimesh.triangles.points_to_barycentric(mesh.triangles[tri], closest)
    return np.einsum("kntd,nt->knd", deltas[:, tris0[tri]], bary), closest

"""Glued lips: find whether a mesh's lips are one surface, and where to cut them apart.

Scans often join the upper and lower lip. Then no deformation can open the mouth
without tearing the skin, so the mesh needs a slit along the lip contact line.
This module is the geometry (bpy-free): the contact line is the fitted head's
inner-lip line, and the cut is the shortest mesh path between the mouth corners
that keeps close to it. Blender splits the mesh's edges along that path.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph  # noqa: F401  (sp.csgraph)
from scipy.spatial import cKDTree

from ..face.head import Head
from ..face.ibug import INNER_CORNERS, INNER_LIP_PAIRS
from ..geometry.ops import edges, triangles
from .registration import Registration

GLUED = 0.002  # m (head scale): lips that jawOpen parts less than this are one surface (glued)
TOUCHING = 0.002  # m: points this close across the lip contact line are where the lips meet


def contact_line(reg: Registration, head: Head) -> np.ndarray:
    """Head-space polyline from the right to the left mouth corner, between the fitted inner lips."""
    f = reg.fitted[head.landmarks]
    right, left = INNER_CORNERS
    return np.array([f[right], *((f[a] + f[b]) / 2 for a, b in INNER_LIP_PAIRS), f[left]])


def _graph(x: np.ndarray, faces: np.ndarray, cost: np.ndarray) -> sp.csr_matrix:
    e = edges(triangles(faces))
    w = (np.linalg.norm(x[e[:, 0]] - x[e[:, 1]], axis=1) + 1e-9) * (1.0 + cost[e].mean(1))
    n = len(x)
    return sp.coo_matrix((np.r_[w, w], (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])), shape=(n, n)).tocsr()


def seam_path(vertices: np.ndarray, faces: np.ndarray, reg: Registration, head: Head) -> np.ndarray:
    """Vertex indices of the cut, corner to corner along the lip contact line."""
    x = reg.similarity.apply(vertices)
    line = contact_line(reg, head)
    # distance of each vertex to the contact polyline, in mm, makes straying costly
    seg_a, seg_b = line[:-1], line[1:]
    ab = seg_b - seg_a
    t = np.clip(np.einsum("nsd,sd->ns", x[:, None] - seg_a, ab) / (ab ** 2).sum(1), 0, 1)
    closest = seg_a + t[..., None] * ab
    off = np.linalg.norm(x[:, None] - closest, axis=2).min(1)
    graph = _graph(x, faces, cost=50.0 * off / 0.001)
    tree = cKDTree(x)
    start, end = tree.query(line[0])[1], tree.query(line[-1])[1]
    _, pred = sp.csgraph.dijkstra(graph, indices=start, return_predecessors=True)
    path = [end]
    while path[-1] != start and pred[path[-1]] >= 0:
        path.append(pred[path[-1]])
    return np.array(path[::-1], dtype=np.int64)


def _line_pairs(x: np.ndarray, reg: Registration, head: Head, within: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of points (head space) closer than `within` to each other, near the lip contact line."""
    line = contact_line(reg, head)
    near = np.nonzero(cKDTree(np.linspace(line[:-1], line[1:], 10).reshape(-1, 3)).query(x)[0] < 0.004)[0]
    pairs = cKDTree(x[near]).query_pairs(within, output_type="ndarray") if len(near) > 1 else np.zeros((0, 2), int)
    return near[pairs[:, 0]], near[pairs[:, 1]]


def _across_slit(graph: sp.csr_matrix, a: int, b: int) -> bool:
    """No short way round over the surface: the two points lie one on each side of a slit."""
    return sp.csgraph.dijkstra(graph, indices=a, limit=0.01)[b] > 0.01


def lips_part(vertices: np.ndarray, faces: np.ndarray, jaw_open: np.ndarray, reg: Registration,
              head: Head) -> float:
    """How far jawOpen pulls the lips apart (m, head scale): 0 when they are glued.

    Looks at points within 2 mm of each other near the lip contact line that jawOpen
    moves apart. On separate lips some such pair lies one on each lip, and the way
    between them over the surface goes round a mouth corner; on glued lips every such
    pair is joined by a few millimetres of stretched skin.
    """
    x = reg.similarity.apply(vertices)
    a, b = _line_pairs(x, reg, head, TOUCHING)
    if len(a) == 0:
        return 0.0
    moved = x + jaw_open @ reg.similarity.rotation.T * reg.similarity.scale
    grown = np.linalg.norm(moved[a] - moved[b], axis=1) - np.linalg.norm(x[a] - x[b], axis=1)
    graph = _graph(x, faces, np.zeros(len(x)))
    for k in np.argsort(-grown)[:20]:
        if grown[k] <= 0:
            break
        if _across_slit(graph, a[k], b[k]):
            return float(grown[k])
    return 0.0


def has_cut(vertices: np.ndarray, faces: np.ndarray, normals: np.ndarray, reg: Registration, head: Head) -> bool:
    """Whether the lips were cut apart (*Cut Lips Apart*): twin vertices in one place, one on each lip,
    facing the same way (`normals`: the mesh's vertex normals, in any frame).

    Closest points cannot tell such twins apart, so they would move together. (Lips that merely touch
    have twins too, but facing each other: closest points tell those apart by their normals.)"""
    x = reg.similarity.apply(vertices)
    a, b = _line_pairs(x, reg, head, 1e-4)
    if len(a) == 0:
        return False
    same_way = np.nonzero((normals[a] * normals[b]).sum(1) > 0.5)[0][:10]
    if len(same_way) == 0:
        return False
    graph = _graph(x, faces, np.zeros(len(x)))
    return any(_across_slit(graph, a[k], b[k]) for k in same_way)

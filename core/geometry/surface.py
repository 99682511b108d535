"""Closest points on a triangle surface, as barycentric weights, for carrying values between meshes.

Plain numpy rather than trimesh: the extension ships without trimesh and rtree, and the
transfer needs a choice trimesh does not offer, the closest triangle *facing the same way*
as the query point (the underside of the upper lip must not take the lower lip's motion).
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from .ops import unit

NEAREST = 2  # the triangles around this many nearest vertices are tried per point
WIDE = 8  # … and around this many where the surface folds back nearby
CHUNK = 100_000  # points per batch: bounds the memory of the candidate arrays
FACING = 0.002  # m: a candidate triangle turned 90° from the point's own surface counts as this much farther


def closest_on_triangles(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Barycentric weights (…×3) of the closest point to p on triangle (a, b, c), all …×3 arrays.

    Ericson's region test (Real-Time Collision Detection, 5.1.5), vectorised: the closest point is
    a vertex, a point on an edge, or inside the face, decided by the signs of a few dot products
    (applied from the last test to the first, so the first that holds wins).
    """
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = (ab * ap).sum(-1), (ac * ap).sum(-1)
    bp, cp = p - b, p - c
    d3, d4 = (ab * bp).sum(-1), (ac * bp).sum(-1)
    d5, d6 = (ab * cp).sum(-1), (ac * cp).sum(-1)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    tiny = 1e-30
    # inside the face
    denom = np.maximum(va + vb + vc, tiny)
    v, w = vb / denom, vc / denom
    out = np.stack([1.0 - v - w, v, w], axis=-1)

    def put(mask: np.ndarray, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> None:
        out[mask] = np.stack([u[mask], v[mask], w[mask]], axis=-1)

    zero, one = np.zeros_like(d1), np.ones_like(d1)
    t_bc = (d4 - d3) / np.maximum((d4 - d3) + (d5 - d6), tiny)
    put((va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0), zero, 1.0 - t_bc, t_bc)     # edge bc
    t_ac = d2 / np.where(np.abs(d2 - d6) > tiny, d2 - d6, tiny)
    put((vb <= 0) & (d2 >= 0) & (d6 <= 0), 1.0 - t_ac, zero, t_ac)               # edge ac
    put((d6 >= 0) & (d5 <= d6), zero, zero, one)                                  # vertex c
    t_ab = d1 / np.where(np.abs(d1 - d3) > tiny, d1 - d3, tiny)
    put((vc <= 0) & (d1 >= 0) & (d3 <= 0), 1.0 - t_ab, t_ab, zero)               # edge ab
    put((d3 >= 0) & (d4 <= d3), zero, one, zero)                                  # vertex b
    put((d1 <= 0) & (d2 <= 0), one, zero, zero)                                   # vertex a
    return out


def incident_triangles(n: int, tris: np.ndarray) -> np.ndarray:
    """Each vertex's triangles (n×max valence), padded with its first one; -1 for a vertex in none."""
    order = np.argsort(tris.ravel(), kind="stable")
    owner = tris.ravel()[order]
    tri = order // 3
    count = np.bincount(owner, minlength=n)
    start = np.r_[0, np.cumsum(count)[:-1]]
    slot = np.arange(len(owner)) - start[owner]
    out = np.full((n, max(count.max(), 1)), -1, np.int64)
    out[owner, slot] = tri
    return np.where(out >= 0, out, out[:, :1])


def _nearest_on(points: np.ndarray, corners: np.ndarray, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                                      np.ndarray]:
    """Per point, over its candidate triangles (N×C): weights N×C×3, closest points N×C×3, distances N×C."""
    a, b, c = (corners[cand, i] for i in range(3))
    bary = closest_on_triangles(points[:, None], a, b, c)
    q = bary[..., :1] * a + bary[..., 1:2] * b + bary[..., 2:] * c
    return bary, q, np.linalg.norm(q - points[:, None], axis=-1)


def onto_rings(points: np.ndarray, ids: np.ndarray, vertices: np.ndarray, tris: np.ndarray,
               ring: np.ndarray) -> np.ndarray:
    """Each point's closest point on the triangles around vertex ids[i] (`ring` from incident_triangles);
    that vertex itself where it is in no triangle."""
    cand = ring[ids]
    lonely = cand[:, 0] < 0
    _, q, d = _nearest_on(points, vertices[tris], np.maximum(cand, 0))
    out = q[np.arange(len(points)), d.argmin(1)]
    out[lonely] = vertices[ids[lonely]]
    return out


class Surface:
    """A triangle surface (`vertices`, `tris`) indexed for closest-point queries: a fit that queries the same
    surface round after round (registration's pose settle) indexes it once."""

    def __init__(self, vertices: np.ndarray, tris: np.ndarray) -> None:
        self.corners = vertices[tris]
        self.face_n = unit(np.cross(self.corners[:, 1] - self.corners[:, 0], self.corners[:, 2] - self.corners[:, 0]))
        self.used = np.unique(tris)
        self.around = incident_triangles(len(vertices), tris)[self.used]
        self.tree = cKDTree(vertices[self.used])

    def closest(self, points: np.ndarray, normals: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """For each point (N×3), the triangle its closest surface point lies on (N) and its weights (N×3).

        Candidates are the triangles around the point's nearest vertices: NEAREST of them, or WIDE where
        the surface folds back near the point (lips, eyelids: some candidate faces the other way), so
        that the right side of a thin feature is among them. With `normals` (N×3, the points' own unit surface
        normals; zero where a point has none), triangles facing the other way are skipped, unless every candidate
        does, and a triangle counts FACING × (1 − cos) farther for the angle between it and the point's surface:
        at an eyelid's rim a candidate turned 90° away and one facing the point's way lie about as near, and a
        bare sign test picked between them by a hair's difference in pose (FLAME's blink target moved 9 mm at
        a vertex for 0.07° of pose).
        """
        corners, face_n, used, around, tree = self.corners, self.face_n, self.used, self.around, self.tree
        tri_out = np.empty(len(points), np.int64)
        bary_out = np.empty((len(points), 3))

        def solve(ids: np.ndarray, k: int) -> np.ndarray:
            """Fill the outputs at `ids`; return those whose candidates did not all face one way."""
            p = points[ids]
            k = min(k, len(used))
            cand = around[tree.query(p, k=k)[1].reshape(len(p), k)].reshape(len(p), -1)
            bary, _, d = _nearest_on(p, corners, cand)
            mixed = np.zeros(len(p), bool)
            if normals is not None:
                n = normals[ids]
                # a point without a normal (its faces cancel out or have no area) is matched by distance alone:
                # the sign of a vanishing normal would pick either side of a thin feature at random
                cos = np.where(np.linalg.norm(n, axis=1, keepdims=True) > 0.5,
                               np.einsum("nd,nkd->nk", n, face_n[cand]), 1.0)
                agree = cos > 0
                mixed = ~agree.all(1)
                d = np.where(agree.any(1, keepdims=True) & ~agree, np.inf, d + FACING * (1.0 - cos))
            best = d.argmin(1)
            rows = np.arange(len(p))
            tri_out[ids] = cand[rows, best]
            bary_out[ids] = bary[rows, best]
            return ids[mixed]

        for s in range(0, len(points), CHUNK):
            folded = solve(np.arange(s, min(s + CHUNK, len(points))), NEAREST)
            if len(folded):
                solve(folded, WIDE)
        return tri_out, bary_out


def closest_points(points: np.ndarray, vertices: np.ndarray, tris: np.ndarray,
                   normals: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`Surface(vertices, tris).closest(points, normals)`, for a surface queried once."""
    return Surface(vertices, tris).closest(points, normals)


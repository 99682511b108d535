"""Closest points on a surface (core.surface), the transfer's way of reading the fitted head."""
from __future__ import annotations

import numpy as np
import trimesh

from core.face.head import load_head
from core.geometry.surface import closest_on_triangles, closest_points


def test_closest_point_on_a_triangle_in_every_region():
    """Points over the face, beyond each edge and each corner land where brute force says."""
    a, b, c = np.array([0.0, 0, 0]), np.array([1.0, 0, 0]), np.array([0.0, 1, 0])
    rng = np.random.default_rng(0)
    p = rng.uniform(-1, 2, (2000, 3))
    w = closest_on_triangles(p, *(np.broadcast_to(v, p.shape) for v in (a, b, c)))
    q = w[:, :1] * a + w[:, 1:2] * b + w[:, 2:] * c
    # brute force over a fine grid of the triangle
    s, t = np.meshgrid(np.linspace(0, 1, 201), np.linspace(0, 1, 201))
    grid = np.stack([s.ravel(), t.ravel(), np.zeros(s.size)], 1)[(s + t).ravel() <= 1]
    best = np.sqrt(((p[:, None] - grid[None]) ** 2).sum(-1)).min(1)
    assert (w >= -1e-12).all() and np.allclose(w.sum(1), 1)
    assert np.all(np.linalg.norm(p - q, axis=1) <= best + 1e-9)
    assert np.all(np.linalg.norm(p - q, axis=1) > best - 0.01)


def test_closest_points_on_the_head_match_trimesh():
    head = load_head()
    V, tris = head.vertices.astype(np.float64), head.skin_triangles()
    rng = np.random.default_rng(1)
    skin = np.nonzero(head.parts == 0)[0]
    p = V[rng.choice(skin, 3000)] + rng.normal(0, 0.001, (3000, 3))
    tri, w = closest_points(p, V, tris)
    ours = np.linalg.norm((V[tris[tri]] * w[..., None]).sum(1) - p, axis=1)
    _, exact, _ = trimesh.proximity.closest_point(trimesh.Trimesh(V, tris, process=False), p)
    assert np.mean(ours - exact < 1e-7) > 0.99 and (ours - exact).max() < 0.002


def test_a_point_between_two_sheets_takes_the_one_facing_its_way():
    """Two lips 1 mm apart: a point of the lower lip's top (normal up) 0.3 mm under the upper lip's
    underside (normal down) must read the lower lip, the one facing its way, though it is farther."""
    xs, ys = np.meshgrid(np.linspace(0, 0.01, 6), np.linspace(0, 0.01, 6))
    grid = np.stack([xs.ravel(), ys.ravel()], 1)
    quads = np.array([[i * 6 + j, i * 6 + j + 1, (i + 1) * 6 + j + 1, (i + 1) * 6 + j]
                      for i in range(5) for j in range(5)])
    tris = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    lower = np.c_[grid, np.zeros(36)]
    upper = np.c_[grid, np.full(36, 0.001)]
    V = np.concatenate([lower, upper])
    T = np.concatenate([tris, tris[:, ::-1] + 36])      # lower faces up (+z), upper faces down
    p = np.array([[0.005, 0.005, 0.0007]])
    up = np.array([[0.0, 0, 1]])
    assert (T[closest_points(p, V, T)[0]] >= 36).all()          # plain closest: the upper sheet
    assert (T[closest_points(p, V, T, up)[0]] < 36).all()       # same-facing: the lower one

"""Iris and pupil for the built-in head's eyeballs: a texture and the UVs that put it on the front of each eye.

The eyeballs are plain spheres; without an iris the head looks blind. The texture is drawn here (no image
file to ship) and mapped by projecting each eye along its gaze (-Y), so the iris sits where the eye looks.
"""
from __future__ import annotations

import numpy as np

IRIS_RADIUS_M = 0.006  # human iris: ~12 mm across
PUPIL_RADIUS_M = 0.0022  # a pupil in indoor light: ~4-5 mm across
LIMBUS_WIDTH = 0.12  # the dark ring at the iris edge, as a fraction of the iris radius
IRIS_STREAKS = 48  # radial fibres around the iris
EDGE_SOFTNESS = 0.015  # blur of each edge, as a fraction of the texture's half-width (no aliased rims)
SCLERA = np.array((0.93, 0.9, 0.87), np.float32)  # display (sRGB) colours
SCLERA_EDGE = np.array((0.85, 0.72, 0.7), np.float32)  # the white reddens towards the sides
IRIS_INNER = np.array((0.55, 0.45, 0.25), np.float32)  # hazel around the pupil...
IRIS_OUTER = np.array((0.25, 0.42, 0.45), np.float32)  # ...blue-green towards the rim
LIMBUS = np.array((0.12, 0.16, 0.18), np.float32)
PUPIL = np.array((0.02, 0.02, 0.02), np.float32)


def _step(edge: float, x: np.ndarray) -> np.ndarray:
    """0 inside `edge`, 1 outside, with a smooth EDGE_SOFTNESS-wide blend."""
    t = np.clip((x - edge) / EDGE_SOFTNESS + 0.5, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def eye_texture(size: int, iris: float, pupil: float) -> np.ndarray:
    """size×size×4 RGBA float32 (rows bottom-up, as Blender stores pixels): sclera, iris ring, pupil.

    `iris` and `pupil` are radii as fractions of the texture's half-width (the eyeball's radius).
    """
    c = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
    x, y = np.meshgrid(c, c)
    r = np.hypot(x, y)[..., None]
    fibres = 0.85 + 0.15 * np.sin(IRIS_STREAKS * np.arctan2(y, x))[..., None]
    along = np.clip((r - pupil) / (iris - pupil), 0, 1)
    ring = (IRIS_INNER + (IRIS_OUTER - IRIS_INNER) * along) * fibres
    ring = ring + (LIMBUS - ring) * np.clip((along - 1 + LIMBUS_WIDTH) / LIMBUS_WIDTH, 0, 1) ** 2
    sclera = SCLERA + (SCLERA_EDGE - SCLERA) * np.clip(r, 0, 1) ** 3
    rgb = PUPIL + (ring - PUPIL) * _step(pupil, r)
    rgb = rgb + (sclera - rgb) * _step(iris, r)
    return np.concatenate([rgb, np.ones_like(r)], axis=-1).astype(np.float32)


def eye_uvs(vertices: np.ndarray, eyes: list[np.ndarray]) -> tuple[np.ndarray, float, float]:
    """Per-vertex UVs that project each eye (a vertex mask) along -Y onto the texture's disc.

    Returns V×2 UVs (0.5 for the other vertices) and the iris and pupil radii for `eye_texture`.
    """
    uv = np.full((len(vertices), 2), 0.5, np.float32)
    radius = 0.0
    for mask in eyes:
        v = vertices[mask]
        centre = (v.min(0) + v.max(0)) / 2
        r = float((v.max(0) - v.min(0))[[0, 2]].max() / 2)
        uv[mask] = 0.5 + 0.5 * (v[:, [0, 2]] - centre[[0, 2]]) / r
        radius = max(radius, r)
    return uv, IRIS_RADIUS_M / radius, PUPIL_RADIUS_M / radius

"""The built-in head's irises: texture rings in the right order, UVs centred on each eye's front."""
from __future__ import annotations

import numpy as np

from core.face.eyes import PUPIL, SCLERA, eye_texture, eye_uvs
from core.face.head import load_head


def test_texture_has_pupil_iris_and_sclera_from_the_centre_out():
    size = 128
    tex = eye_texture(size, iris=0.4, pupil=0.15)
    assert tex.shape == (size, size, 4) and tex.dtype == np.float32
    row = tex[size // 2, size // 2:, :3]  # centre → right edge
    assert np.allclose(row[0], PUPIL, atol=0.02)  # dark pupil in the middle
    iris = row[int(0.28 * size / 2)]
    assert np.abs(iris - SCLERA).max() > 0.3 and np.abs(iris - PUPIL).max() > 0.3  # a ring, neither white nor black
    assert np.allclose(row[int(0.6 * size / 2)], SCLERA, atol=0.05)  # white beyond the iris
    assert np.all(tex[..., 3] == 1)


def test_uvs_put_each_eyes_front_at_the_texture_centre():
    head = load_head()
    eyes = [head.parts == head.part_names.index(p) for p in ("eye_left", "eye_right")]
    uv, iris, pupil = eye_uvs(head.vertices, eyes)
    assert 0 < pupil < iris < 0.6  # radii relative to the eyeball
    for mask in eyes:
        v = head.vertices[mask]
        front = v[:, 1] < v[:, 1].min() + 1e-4  # the ring of vertices furthest along the gaze (-Y)
        assert np.allclose(uv[mask][front].mean(0), 0.5, atol=0.01)
        assert uv[mask].min() >= 0 and uv[mask].max() <= 1
    others = ~(eyes[0] | eyes[1])
    assert np.all(uv[others] == 0.5)

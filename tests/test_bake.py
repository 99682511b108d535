"""Baked mode: SVD compression of a clip's dense motion, with its error."""
from __future__ import annotations

import numpy as np

from core.engines import animate
from core.face.head import load_head
from core.output.bake import bake


def test_bake_is_exact_at_full_rank_and_errors_shrink_with_k(synth_clip):
    head = load_head()
    weights = animate(synth_clip[0], synth_clip[1]).weights
    motion = head.vertex_positions(weights) - head.vertices
    errors = []
    for k in (2, 4, 8, 52):
        b = bake(weights, head.deltas, k)
        recon = np.einsum("tk,knd->tnd", b.curves, b.basis)
        err = np.linalg.norm(recon - motion, axis=2) * 1000
        assert abs(b.mean_error_mm - err.mean()) < 1e-3
        assert abs(b.max_error_mm - err.max()) < 1e-2
        errors.append(err.max())
    assert errors == sorted(errors, reverse=True) and errors[-1] < 1e-3 and errors[0] > 0.1

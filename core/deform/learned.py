"""The learned deformer (method b): DiffusionNet predicts the ARKit targets from the mesh's own surface.

The registration only poses and scales the mesh into the head's frame and finds its landmarks;
the network (diffusionnet.py, trained by `python -m core train deform`) does the rest.
"""
from __future__ import annotations

import functools

import numpy as np
from scipy.spatial import cKDTree

from ..errors import InputError
from ..face.head import Head, load_head
from ..geometry.ops import triangles
from ..progress import Progress
from .landmarks import Convention
from .registration import Registration, fit_head
from .rig import Rig, make_rig

BEYOND_HEAD = 0.010  # m: the learned deformer's motion fades out from this far beyond the fitted head


def learned_transfer(vertices: np.ndarray, faces: np.ndarray | None = None, landmarks: np.ndarray | None = None,
                     head: Head | None = None, registration: Registration | None = None,
                     convention: Convention | None = None, progress: Progress | None = None) -> Rig:
    """Rig any mesh with the DiffusionNet deformer (method b): the registration only poses and scales the
    mesh into the head's frame and finds its landmarks; the network predicts the targets from the mesh."""
    try:
        from . import diffusionnet
    except ImportError as exc:
        raise InputError(f"The learned deformer needs PyTorch ({exc.name} is missing): choose the "
                         "correspondence deformer, or install PyTorch into Blender's Python.") from None

    V = np.asarray(vertices, np.float64)
    if len(V) > diffusionnet.MAX_VERTICES:
        raise InputError(f"The learned deformer handles meshes up to {diffusionnet.MAX_VERTICES:,} vertices "
                         f"(this one has {len(V):,}); use the correspondence deformer for it")
    head = head or load_head()
    reg = registration or fit_head(V, head, faces, landmarks, convention=convention, progress=progress)
    x = reg.similarity.apply(V)
    tris = triangles(faces) if faces is not None and len(faces) else None
    head_d = diffusionnet.predict(_deform_net(), x, tris) * _within_head(x, reg.fitted)[None, :, None]
    deltas = reg.similarity.vectors_back(head_d)
    return make_rig(V, faces, deltas, reg, head, landmarks)


def _within_head(x: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    """1 on the part of the mesh the fitted head covers, fading to 0 from 1 to 3 cm beyond it: the network
    never saw shoulders or a long neck, and what it predicts there is not motion."""
    dist = cKDTree(fitted).query(x)[0]
    return np.clip(1.0 - (dist - BEYOND_HEAD) / BEYOND_HEAD / 2, 0.0, 1.0)


@functools.lru_cache(maxsize=1)
def _deform_net():
    from . import diffusionnet

    return diffusionnet.load()

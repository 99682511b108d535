"""The deformers by name: how a mesh other than the built-in head gets its ARKit targets.

- "correspondence" (default): fit the built-in head to the mesh and carry its targets over;
- "learned": a DiffusionNet predicts them from the mesh's own surface (needs PyTorch).
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..face.arkit import INDEX
from ..face.head import load_head
from ..progress import Progress
from .correspondence import transfer
from .glued_lips import GLUED, lips_part
from .landmarks import Convention
from .learned import learned_transfer
from .rig import Rig

DEFORMERS = {"correspondence": transfer, "learned": learned_transfer}
DEFAULT_DEFORMER = "correspondence"


def rig_mesh(vertices: np.ndarray, faces: np.ndarray | None = None, landmarks: np.ndarray | None = None,
             deformer: str = DEFAULT_DEFORMER, convention: Convention | None = None,
             progress: Progress | None = None) -> Rig:
    """Rig any mesh with the named deformer (see DEFORMERS); its landmarks found by `convention`. `progress`
    hears how far the fit is, and may cancel it."""
    if deformer not in DEFORMERS:
        raise InputError(f"Unknown deformer {deformer!r}; choose one of {', '.join(DEFORMERS)}")
    rig = DEFORMERS[deformer](vertices, faces, landmarks, convention=convention, progress=progress)
    if faces is not None and len(faces):
        parted = lips_part(rig.vertices, faces, rig.deltas[INDEX["jawOpen"]], rig.registration, load_head())
        rig.lips_glued = parted < GLUED
    return rig


def rig_warnings(rig: Rig, name: str) -> list[str]:
    """What the user should know about the rig of mesh `name`: glued lips, a doubtful pose."""
    warnings = [glued_lips_message(name)] if rig.lips_glued else []
    if rig.registration is not None and rig.registration.pose_doubt:
        warnings.append(f"The pose found for '{name}' is doubtful: {rig.registration.pose_doubt}. If the face "
                        "moves wrongly, Detect Landmarks shows where we found it: move them where they belong (or "
                        "rotate the mesh upright) and animate again.")
    return warnings


def glued_lips_message(name: str) -> str:
    return (f"The lips of '{name}' do not part when the jaw opens: they are one surface, as on many scans. "
            "Cut them apart first (Cut Lips Apart in Blender's Talking Head panel), then animate again.")

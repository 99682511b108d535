"""The ARKit rig of a Blender mesh: exact on the built-in head, transferred (and cached) elsewhere.

A mesh may carry a landmarks object made by *Detect Landmarks* (`obj["talkinghead_landmarks"]`);
its 68 points, as the user left them and snapped to the face by its Shrinkwrap, steer the fit.
"""
from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from ..core.deform import landmarks as conventions
from ..core.deform.deformers import DEFAULT_DEFORMER, rig_mesh
from ..core.deform.rig import Rig, head_rig
from ..core.progress import Progress
from .add_head import is_builtin_head

LANDMARKS_PROP = "talkinghead_landmarks"
_CACHE: dict[tuple, Rig] = {}  # the last few characters' rigs: a batch alternating between them fits once each
_CACHE_SIZE = 4


def mesh_arrays(obj: bpy.types.Object) -> tuple[np.ndarray, np.ndarray | None]:
    """Rest vertices (the shape-key basis if any, N×3) and triangles of `obj`, in its local frame."""
    mesh = obj.data
    co = np.empty(len(mesh.vertices) * 3, np.float64)
    (mesh.shape_keys.reference_key.data if mesh.shape_keys else mesh.vertices).foreach_get("co", co)
    mesh.calc_loop_triangles()
    tris = np.empty(len(mesh.loop_triangles) * 3, np.int64)
    mesh.loop_triangles.foreach_get("vertices", tris)
    return co.reshape(-1, 3), (tris.reshape(-1, 3) if len(tris) else None)


def landmarks_object(obj: bpy.types.Object) -> bpy.types.Object | None:
    lm = obj.get(LANDMARKS_PROP)
    return lm if isinstance(lm, bpy.types.Object) and lm.type == "MESH" and len(lm.data.vertices) == 68 else None


def user_landmarks(obj: bpy.types.Object) -> np.ndarray | None:
    """The 68 landmark points of `obj`'s landmarks object, snapped to the surface, in `obj`'s frame."""
    lm = landmarks_object(obj)
    if lm is None:
        return None
    evaluated = lm.evaluated_get(bpy.context.evaluated_depsgraph_get())
    co = np.array([evaluated.matrix_world @ v.co for v in evaluated.data.vertices])
    to_local = np.array(obj.matrix_world.inverted())
    return co @ to_local[:3, :3].T + to_local[:3, 3]


@dataclass
class RigSource:
    """What fitting a mesh's rig needs from Blender, read on the main thread: the fit (`build_rig`) reads no
    bpy, so it can run on another thread."""

    builtin: bool
    vertices: np.ndarray | None = None
    faces: np.ndarray | None = None
    landmarks: np.ndarray | None = None
    deformer: str = DEFAULT_DEFORMER
    convention: str = ""  # absolute path of a landmark convention file, or ''
    key: tuple = ()  # what the fit depends on: the cache's key


def rig_source(obj: bpy.types.Object, deformer: str = DEFAULT_DEFORMER, convention: str = "") -> RigSource:
    """What `build_rig` needs to rig `obj` (see `rig_for`)."""
    if is_builtin_head(obj):
        return RigSource(True)
    co, tris = mesh_arrays(obj)
    landmarks = user_landmarks(obj)
    path = bpy.path.abspath(convention) if convention else ""
    key = (obj.data.name_full, len(co), hash(co.tobytes()), None if landmarks is None else landmarks.tobytes(),
           deformer, path)
    return RigSource(False, co, tris, landmarks, deformer, path, key)


def build_rig(source: RigSource, progress: Progress | None = None) -> Rig:
    """The rig `source` describes: the head's own, a cached one, or a new fit (`progress` hears how far it is)."""
    if source.builtin:
        return head_rig()
    if source.key in _CACHE:
        _CACHE[source.key] = _CACHE.pop(source.key)  # most recently used last
        return _CACHE[source.key]
    rig = rig_mesh(source.vertices, source.faces, source.landmarks, source.deformer,
                   conventions.load(source.convention) if source.convention else None, progress)
    while len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[source.key] = rig
    return rig


def rig_for(obj: bpy.types.Object, deformer: str = DEFAULT_DEFORMER, convention: str = "") -> Rig:
    """The rig of `obj`: the head's own targets, else carried over by `deformer` (see core.transfer.DEFORMERS),
    its landmarks found where the `convention` file puts them ('': the built-in head's own landmarks)."""
    return build_rig(rig_source(obj, deformer, convention))

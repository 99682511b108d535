"""The Animate from audio button: read the panel, run core, write the result."""
from __future__ import annotations

import time

import bpy
import numpy as np

from ..core.emotions import EMOTION_NAMES
from ..core.engines import animate, read_text
from ..core.errors import InputError
from ..core.head import load_head
from ..core.transfer import transfer
from .add_head import is_builtin_head
from .writer import apply_animation


def check_target(obj: bpy.types.Object | None) -> None:
    """Raise InputError unless `obj` is a mesh we can animate."""
    if obj is None:
        raise InputError("No object selected: select the face mesh to animate (or add the built-in head).")
    if obj.type != "MESH":
        raise InputError(f"'{obj.name}' is a {obj.type.lower()}, not a mesh: select the face mesh to animate.")
    if len(obj.data.vertices) < 100:
        raise InputError(f"'{obj.name}' has {len(obj.data.vertices)} vertices: too few for a face "
                         "(select the face mesh, or add the built-in head).")


# Rigs transferred onto user meshes, by mesh identity and shape: registration takes seconds, re-runs are free.
_RIGS: dict[tuple, np.ndarray] = {}


def arkit_deltas(obj: bpy.types.Object) -> np.ndarray:
    """52×N×3 ARKit targets for `obj`: the artist targets on the built-in head, transferred elsewhere."""
    if is_builtin_head(obj):
        return load_head().deltas
    mesh = obj.data
    co = np.empty(len(mesh.vertices) * 3, np.float64)
    (mesh.shape_keys.reference_key.data if mesh.shape_keys else mesh.vertices).foreach_get("co", co)
    co = co.reshape(-1, 3)
    key = (mesh.name_full, len(co), hash(co.tobytes()))
    if key not in _RIGS:
        mesh.calc_loop_triangles()
        tris = np.empty(len(mesh.loop_triangles) * 3, np.int64)
        mesh.loop_triangles.foreach_get("vertices", tris)
        _RIGS.clear()  # keep one: a rig of a big scan is large
        _RIGS[key] = transfer(co, tris.reshape(-1, 3) if len(tris) else None).deltas
    return _RIGS[key]


def scene_fps(scene: bpy.types.Scene) -> float:
    return scene.render.fps / scene.render.fps_base


def run(scene: bpy.types.Scene, obj: bpy.types.Object | None, audio: str, text: str | None, engine: str,
        start_frame: int, emotions: dict[str, float] | None = None, blink: bool = True
        ) -> tuple[float, str, list[str]]:
    """Animate `obj` from `audio`; returns (seconds taken, how the timing was found, warnings)."""
    t = time.perf_counter()
    check_target(obj)
    path = bpy.path.abspath(audio) if audio else audio
    if emotions is None:
        emotions = {n: getattr(obj.talkinghead, n) for n in EMOTION_NAMES if getattr(obj.talkinghead, n) > 0.0}
    anim = animate(path, read_text(text), engine, scene_fps(scene), emotions, start_frame, blink=blink)
    warnings = apply_animation(scene, obj, anim, arkit_deltas(obj))
    unknown = anim.metadata.get("unknown_words")
    if unknown:
        warnings.append(f"Transcript words skipped (no pronunciation): {', '.join(unknown)}")
    return time.perf_counter() - t, anim.metadata["timing"], warnings


class TALKINGHEAD_OT_animate(bpy.types.Operator):
    """Animate the selected face from the audio clip: ARKit shape keys, an Action and a sound strip"""

    bl_idname = "talkinghead.animate"
    bl_label = "Animate from Audio"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        s = context.scene.talkinghead
        prefs = context.preferences.addons.get(__package__.rpartition(".")[0])
        blink = prefs.preferences.blinks if prefs else True
        try:
            secs, timing, warnings = run(context.scene, context.active_object, s.audio_path, s.transcript or None,
                                         s.engine, s.start_frame, blink=blink)
        except InputError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        for warning in warnings:
            self.report({"WARNING"}, warning)
        self.report({"INFO"}, f"Animated '{context.active_object.name}' in {secs:.1f} s ({timing})")
        return {"FINISHED"}

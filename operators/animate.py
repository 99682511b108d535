"""The Animate from audio button: read the panel, run core, write the result."""
from __future__ import annotations

import time

import bpy

from ..core.deform.deformers import DEFAULT_DEFORMER, glued_lips_message
from ..core.engines import animate, read_text
from ..core.errors import InputError
from ..core.face.keysets import KeyMapping, detect, load_mapping
from ..core.output.bake import bake, bake_landmarks
from ..core.speech.languages import ENGLISH
from .add_head import is_builtin_head
from .bones import apply_bones, bone_rig, deforming_armature, remove_bones
from .rig import rig_for
from .sliders import get_emotions
from .writer import apply_animation, apply_own, own_key_names, remove_animation

TARGETS = ("ours", "own")  # build our 52 ARKit keys / drive the character's own face keys


def check_target(obj: bpy.types.Object | None) -> None:
    """Raise InputError unless `obj` is a mesh we can animate."""
    if obj is None:
        raise InputError("No object selected: select the face mesh to animate (or add the built-in head).")
    if obj.type != "MESH":
        raise InputError(f"'{obj.name}' is a {obj.type.lower()}, not a mesh: select the face mesh to animate.")
    if len(obj.data.vertices) < 100:
        raise InputError(f"'{obj.name}' has {len(obj.data.vertices)} vertices: too few for a face "
                         "(select the face mesh, or add the built-in head).")


def own_mapping(obj: bpy.types.Object, mapping: str = "") -> KeyMapping:
    """Which of `obj`'s own keys play our motion: the `mapping` preset file, else what their names say.

    No known key set is an error, not a quiet fall-back to our keys: the artist asked for the character's
    own keys, and ours would add 52 keys to their mesh.
    """
    names = own_key_names(obj)
    if mapping:
        return load_mapping(bpy.path.abspath(mapping), names)
    found = detect(names)
    if found.empty:
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "") if names else "no shape keys"
        raise InputError(f"'{obj.name}' has no face keys we know ({shown}): we look for ARKit names (jawOpen, "
                         "Face.JawOpen, eyeBlink_L), Oculus/VRChat visemes (viseme_PP, vrc.v_pp), VRM (A I U E O, "
                         "Blink, Fcl_MTH_A) and Character Creator visemes (V_Open). Give a mapping preset, or "
                         "use target 'ours' to add our ARKit keys (a bone face rig: give the mesh an Armature modifier).")
    return found


def is_bone_rig(obj: bpy.types.Object, mapping: str = "") -> bool:
    """Target 'own' means the bone poses for an armature, or for a mesh an armature deforms whose own keys are
    no set we know (with a `mapping` preset: that has no shape keys of its own, so the preset names markers)."""
    if obj.type == "ARMATURE":
        return True
    if deforming_armature(obj) is None:
        return False
    names = own_key_names(obj)
    return not names if mapping else detect(names).empty


def remove_all(scene: bpy.types.Scene, obj: bpy.types.Object) -> bool:
    """Everything of ours off `obj` and, for a mesh an armature deforms, off that armature too."""
    armature = obj if obj.type == "ARMATURE" else deforming_armature(obj) if obj.type == "MESH" else None
    found = remove_animation(scene, obj)
    if armature is not None:
        found |= remove_bones(armature)
        if armature is not obj:
            found |= remove_animation(scene, armature)
    return found


def scene_fps(scene: bpy.types.Scene) -> float:
    return scene.render.fps / scene.render.fps_base


def run(scene: bpy.types.Scene, obj: bpy.types.Object | None, audio: str, text: str | None, engine: str,
        start_frame: int, emotions: dict[str, float] | None = None, blink: bool = True, baked_shapes: int = 0,
        deformer: str = DEFAULT_DEFORMER, convention: str = "", language: str = ENGLISH, target: str = "ours",
        mapping: str = "") -> tuple[float, str, list[str]]:
    """Animate `obj` from `audio`; returns (seconds taken, how the timing was found, warnings).

    `baked_shapes` > 0: baked mode with that many basis shapes instead of the ARKit rig. `convention`: a
    landmark convention file (see core.landmarks) for a mesh other than the built-in head. `target` "own":
    drive the mesh's own face keys (found by name, or named by the `mapping` preset) instead of ours.
    """
    t = time.perf_counter()
    if not (target == "own" and obj is not None and obj.type == "ARMATURE"):
        check_target(obj)
    if target not in TARGETS:
        raise InputError(f"Unknown target '{target}': use {' or '.join(TARGETS)}.")
    own = bones = None
    if target == "own":  # every check before any work: a bad preset changes nothing
        if baked_shapes > 0:
            raise InputError("Baked mode makes shape keys of its own: use target 'ours' with it.")
        if is_bone_rig(obj, mapping):
            bones = bone_rig(obj, mapping)
            obj = bones.mesh
            check_target(obj)
        else:
            own = own_mapping(obj, mapping)
    path = bpy.path.abspath(audio) if audio else audio
    if emotions is None:
        emotions = get_emotions(obj)
    anim = animate(path, read_text(text), engine, scene_fps(scene), emotions, start_frame, blink=blink,
                   language=language)
    rig = rig_for(obj, deformer, convention)
    deltas = rig.deltas
    if bones is None and (armature := deforming_armature(obj)) is not None:  # our poses go: our keys play now
        remove_bones(armature)
        remove_animation(scene, armature)
    if own is not None or bones is not None:
        if bones is not None:
            fit, warnings = apply_bones(scene, bones, anim, rig)
            found = f"bone poses of {bones.source}: {bones.mapping.summary()}"
        else:
            fit, warnings = apply_own(scene, obj, anim, rig, own)
            found = f"own keys: {own.summary()}"
        if rig.lips_glued:
            warnings.append(glued_lips_message(obj.name))
        timing = f"{anim.metadata['timing']}; {found}, fit error {fit.mean_fit_error:.0%}"
        return time.perf_counter() - t, timing, warnings + _engine_warnings(anim)
    baked = None
    if baked_shapes > 0 and anim.landmark_motion is not None and is_builtin_head(obj):
        baked = bake_landmarks(anim.landmark_motion, anim.weights, deltas, baked_shapes)  # S2L → S2D
    elif baked_shapes > 0:
        baked = bake(anim.weights, deltas, baked_shapes)
    warnings = apply_animation(scene, obj, anim, deltas, baked=baked)
    if rig.lips_glued:
        warnings.append(glued_lips_message(obj.name))
    if baked is not None:
        warnings.append(f"Baked into {len(baked.basis)} shapes: reconstruction error mean "
                        f"{baked.mean_error_mm:.3f} mm, max {baked.max_error_mm:.2f} mm")
    return time.perf_counter() - t, anim.metadata["timing"], warnings + _engine_warnings(anim)


def _engine_warnings(anim) -> list[str]:
    warnings = []
    unknown = anim.metadata.get("unknown_words")
    if unknown:
        warnings.append(f"Transcript words skipped (no pronunciation): {', '.join(unknown)}")
    if anim.metadata.get("warning"):
        warnings.append(anim.metadata["warning"])
    return warnings


class TALKINGHEAD_OT_animate(bpy.types.Operator):
    """Animate the selected face from the audio clip: ARKit shape keys (or its own face keys), an Action and a sound strip"""

    bl_idname = "talkinghead.animate"
    bl_label = "Animate from Audio"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        s = context.scene.talkinghead
        prefs = context.preferences.addons.get(__package__.rpartition(".")[0])
        blink = prefs.preferences.blinks if prefs else True
        baked = s.baked_shapes if s.output == "BAKED" and s.target == "ours" else 0  # 'own' hides the choice
        try:
            secs, timing, warnings = run(context.scene, context.active_object, s.audio_path, s.transcript or None,
                                         s.engine, s.start_frame, blink=blink, baked_shapes=baked,
                                         deformer=s.deformer, convention=s.landmark_convention,
                                         language=s.language, target=s.target, mapping=s.mapping_path)
        except InputError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        for warning in warnings:
            self.report({"WARNING"}, warning)
        self.report({"INFO"}, f"Animated '{context.active_object.name}' in {secs:.1f} s ({timing})")
        return {"FINISHED"}


class TALKINGHEAD_OT_remove_animation(bpy.types.Operator):
    """Remove our animation from the selected face: our Action, keys and sound strip (its own keys and Actions stay)"""

    bl_idname = "talkinghead.remove_animation"
    bl_label = "Remove Animation"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        obj = context.active_object
        if obj is None or not remove_all(context.scene, obj):
            self.report({"INFO"}, "Nothing of ours to remove on the selected object.")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Removed our animation from '{obj.name}'.")
        return {"FINISHED"}

"""Animation → Blender data: shape keys, our Action, emotion drivers, sound strip.

Everything we create is recorded on the Key datablock (`talkinghead_keys`,
`talkinghead_action`) or the scene (`talkinghead_strip`), so a re-run replaces
exactly our own data and never a shape key, Action or strip of the user's.
"""
from __future__ import annotations

import os

import bpy
import numpy as np

from ..core.animation import Animation
from ..core.arkit import ARKIT_NAMES
from ..core.emotions import EMOTION_NAMES, emotion_pose

KEYS_PROP = "talkinghead_keys"
ACTION_PROP = "talkinghead_action"
STRIP_PROP = "talkinghead_strip"
EMOTION_PREFIX = "emotion."
NLA_TRACK = "Talking Head"
SLOTTED = bpy.app.version >= (4, 4, 0)


def _key_name(key: bpy.types.Key | None, wanted: str, ours: set[str]) -> str:
    """`wanted`, unless the user already owns a key of that name: then `wanted.th`."""
    if key is None or wanted in ours or wanted not in key.key_blocks:
        return wanted
    return wanted + ".th"


def build_shape_keys(obj: bpy.types.Object, arkit_deltas: np.ndarray) -> dict[str, str]:
    """Create/refresh our 52 ARKit keys + one per emotion from 52×N×3 deltas; returns logical → actual names."""
    mesh = obj.data
    if mesh.shape_keys is None:
        obj.shape_key_add(name="Basis", from_mix=False)
    key = mesh.shape_keys
    ours = set(key.get(KEYS_PROP, []))
    basis = np.empty(len(mesh.vertices) * 3, np.float32)
    key.reference_key.data.foreach_get("co", basis)
    deltas = arkit_deltas.reshape(len(ARKIT_NAMES), -1)
    targets = {n: deltas[i] for i, n in enumerate(ARKIT_NAMES)}
    targets.update({EMOTION_PREFIX + e: emotion_pose(e) @ deltas for e in EMOTION_NAMES})
    names: dict[str, str] = {}
    for logical, delta in targets.items():
        name = _key_name(key, logical, ours)
        kb = key.key_blocks.get(name) or obj.shape_key_add(name=name, from_mix=False)
        kb.relative_key = key.reference_key
        kb.slider_min, kb.slider_max = 0.0, 1.0
        kb.data.foreach_set("co", basis + delta)
        kb.value = 0.0
        names[logical] = name
    key[KEYS_PROP] = list(names.values())
    mesh.update()
    return names


def _new_fcurve(action: bpy.types.Action, slot, path: str) -> bpy.types.FCurve:
    if not SLOTTED:
        return action.fcurves.new(path)
    layer = action.layers[0] if action.layers else action.layers.new("Talking Head")
    strip = layer.strips[0] if layer.strips else layer.strips.new(type="KEYFRAME")
    return strip.channelbag(slot, ensure=True).fcurves.new(path)


def _fresh_action(key: bpy.types.Key) -> tuple[bpy.types.Action, object]:
    """Our Action (emptied if it exists) and, on Blender ≥ 4.4, its slot for the Key."""
    old = key.get(ACTION_PROP)
    if isinstance(old, bpy.types.Action):
        bpy.data.actions.remove(old)
    action = bpy.data.actions.new(f"TalkingHead.{key.user.name if key.user else key.name}")
    key[ACTION_PROP] = action
    slot = action.slots.new(id_type="KEY", name=key.name) if SLOTTED else None
    return action, slot


def _assign(key: bpy.types.Key, action: bpy.types.Action, slot, frame_start: int) -> str:
    """Make our Action drive the Key without unassigning a user's Action.

    Free Key (or one already playing ours): our Action becomes its active Action,
    editable in the Graph Editor. A Key with the user's own Action keeps it; ours
    plays from an NLA track of our own underneath it.
    """
    ad = key.animation_data or key.animation_data_create()
    for track in [t for t in ad.nla_tracks if t.name == NLA_TRACK]:
        ad.nla_tracks.remove(track)
    if ad.action is None:
        ad.action = action
        if SLOTTED:
            ad.action_slot = slot
        return "active action"
    track = ad.nla_tracks.new()
    track.name = NLA_TRACK
    strip = track.strips.new(action.name, frame_start, action)
    if SLOTTED:
        strip.action_slot = slot
    strip.blend_type = "REPLACE"
    return "NLA track"


def write_action(obj: bpy.types.Object, anim: Animation, names: dict[str, str]) -> str:
    key = obj.data.shape_keys
    action, slot = _fresh_action(key)
    frames = anim.start_frame + np.arange(anim.n_frames, dtype=np.float32)
    co = np.empty((anim.n_frames, 2), np.float32)
    co[:, 0] = frames
    for i, logical in enumerate(anim.names):
        fc = _new_fcurve(action, slot, f'key_blocks["{names[logical]}"].value')
        co[:, 1] = anim.weights[:, i]
        fc.keyframe_points.add(anim.n_frames)
        fc.keyframe_points.foreach_set("co", co.ravel())
        fc.keyframe_points.foreach_set("interpolation", np.ones(anim.n_frames, np.int32))  # LINEAR
        fc.update()
    return _assign(key, action, slot, anim.start_frame)


def drive_emotions(obj: bpy.types.Object, names: dict[str, str]) -> None:
    """Emotion keys follow the object's sliders (`obj.talkinghead.<emotion>`) through drivers.

    SUM drivers of a single property need no Python, so they run with auto-run off.
    """
    key = obj.data.shape_keys
    for emotion in EMOTION_NAMES:
        path = f'key_blocks["{names[EMOTION_PREFIX + emotion]}"].value'
        key.driver_remove(path)
        drv = key.driver_add(path).driver
        drv.type = "SUM"
        var = drv.variables.new()
        var.name = emotion
        var.type = "SINGLE_PROP"
        var.targets[0].id_type = "OBJECT"
        var.targets[0].id = obj
        var.targets[0].data_path = f"talkinghead.{emotion}"


def _strips(scene: bpy.types.Scene):
    se = scene.sequence_editor or scene.sequence_editor_create()
    return se.strips if hasattr(se, "strips") else se.sequences


def add_sound(scene: bpy.types.Scene, path: str, frame_start: int) -> bpy.types.Sequence:
    """Our sound strip for the clip (replacing our previous one), on a free channel."""
    strips = _strips(scene)
    old = strips.get(scene.get(STRIP_PROP, ""))
    if old is not None:
        strips.remove(old)
    used = {s.channel for s in strips}
    channel = next(c for c in range(1, 129) if c not in used)
    strip = strips.new_sound(f"TalkingHead {os.path.basename(path)}", path, channel, frame_start)
    scene[STRIP_PROP] = strip.name
    return strip


def apply_animation(scene: bpy.types.Scene, obj: bpy.types.Object, anim: Animation, arkit_deltas: np.ndarray,
                    sound: bool = True) -> list[str]:
    """Write `anim` onto `obj`, whose ARKit targets are `arkit_deltas` (52×N×3). Returns warnings for the user."""
    warnings = []
    names = build_shape_keys(obj, arkit_deltas)
    if write_action(obj, anim, names) == "NLA track":
        warnings.append("The shape keys already play your own Action: ours is on the NLA track 'Talking Head'.")
    drive_emotions(obj, names)
    for emotion in EMOTION_NAMES:
        setattr(obj.talkinghead, emotion, float(anim.emotions.get(emotion, 0.0)))
    if sound and anim.audio_path:
        try:
            add_sound(scene, anim.audio_path, anim.start_frame)
        except RuntimeError as exc:  # e.g. a Blender build without audio support
            warnings.append(f"No sound strip was added: {exc}")
    scene.frame_end = max(scene.frame_start, anim.start_frame + anim.n_frames - 1)
    return warnings

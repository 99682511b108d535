"""The emotion sliders: plain ID custom properties on the object (`obj["talkinghead_happy"]`).

Custom properties, not a PropertyGroup of ours: the drivers that read them stay valid where
the extension is not installed (a render farm node), they keyframe like any property, and a
linked character can override them (marked library-overridable).
"""
from __future__ import annotations

import bpy

from ..core.face.emotions import EMOTION_NAMES

PROP_PREFIX = "talkinghead_"
LEGACY_GROUP = "talkinghead"  # the PropertyGroup that held the sliders before: its values are carried over


def prop_name(emotion: str) -> str:
    return PROP_PREFIX + emotion


def data_path(emotion: str) -> str:
    """The RNA path of the slider: what drivers read, keyframes key and `layout.prop` draws."""
    return f'["{prop_name(emotion)}"]'


def has_sliders(obj: bpy.types.Object) -> bool:
    return all(prop_name(e) in obj for e in EMOTION_NAMES)


def _legacy_value(obj: bpy.types.Object, emotion: str) -> float:
    group = obj.get(LEGACY_GROUP)
    try:
        return float(group.get(emotion, 0.0)) if group is not None else 0.0
    except (AttributeError, TypeError, ValueError):  # a user property of that name that is no group
        return 0.0


def _repoint_legacy_drivers(obj: bpy.types.Object) -> None:
    """Drivers from before read `talkinghead.<emotion>` (the PropertyGroup): point them at the custom properties."""
    key = obj.data.shape_keys if obj.type == "MESH" else None
    if key is None or key.animation_data is None:
        return
    legacy = {f"{LEGACY_GROUP}.{e}": data_path(e) for e in EMOTION_NAMES}
    for fcurve in key.animation_data.drivers:
        for var in fcurve.driver.variables:
            target = var.targets[0]
            if target.id == obj and target.data_path in legacy:
                target.data_path = legacy[target.data_path]


def ensure_sliders(obj: bpy.types.Object) -> None:
    """Create the missing sliders (0..1, described, animatable, library-overridable); existing ones keep their value."""
    if has_sliders(obj):
        return
    _repoint_legacy_drivers(obj)
    for emotion in EMOTION_NAMES:
        name = prop_name(emotion)
        if name in obj and isinstance(obj[name], float):
            continue
        obj[name] = min(1.0, max(0.0, _legacy_value(obj, emotion)))
        obj.id_properties_ui(name).update(
            min=0.0, max=1.0, soft_min=0.0, soft_max=1.0, default=0.0, subtype="FACTOR",
            description=f"{emotion.capitalize()} expression intensity (keyframe it to change over time)")
        obj.property_overridable_library_set(data_path(emotion), True)


def get_emotion(obj: bpy.types.Object, emotion: str) -> float:
    return float(obj.get(prop_name(emotion), 0.0))


def get_emotions(obj: bpy.types.Object) -> dict[str, float]:
    """The sliders above 0, as the engines take them."""
    values = {e: get_emotion(obj, e) for e in EMOTION_NAMES}
    return {e: v for e, v in values.items() if v > 0.0}


def set_emotion(obj: bpy.types.Object, emotion: str, value: float) -> None:
    ensure_sliders(obj)
    obj[prop_name(emotion)] = float(value)


class TALKINGHEAD_OT_add_emotion_sliders(bpy.types.Operator):
    """Add the emotion sliders to the active object (Animate adds them too)"""

    bl_idname = "talkinghead.add_emotion_sliders"
    bl_label = "Add Emotion Sliders"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return context.active_object is not None

    def execute(self, context):
        ensure_sliders(context.active_object)
        return {"FINISHED"}

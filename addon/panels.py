"""The N-panel tab in the 3D View."""
from __future__ import annotations

import bpy

from ..core.errors import InputError
from ..core.face.emotions import EMOTION_NAMES
from ..core.face.keysets import KeyMapping, detect
from ..core.motion.neural import whisper_available
from ..operators.animate import editing, is_bone_rig
from ..operators.bones import bone_rig
from ..operators.sliders import data_path, has_sliders
from ..operators.writer import own_key_names
from .properties import TARGET_HINTS

WHISPER_ENGINES = ("auto", "neural-whisper", "phonetic-whisper")  # what the models extension's files serve
MODELS_MISSING = "Install Talking Head Models for Whisper (Automatic: Phonetic)"

_DETECTED: dict[tuple[str, ...], KeyMapping] = {}  # key names → what they were found to be (drawn every redraw)
MAX_SHOWN_UNCOVERED = 4
MAPPING_ROWS_SHOWN = 6  # the edited mapping's list height


def detected(names: list[str]) -> KeyMapping:
    """`detect` of these names, remembered for the last mesh drawn."""
    names_key = tuple(names)
    if names_key not in _DETECTED:
        _DETECTED.clear()
        _DETECTED[names_key] = detect(names)
    return _DETECTED[names_key]


def bone_line(obj) -> tuple[str, str]:
    """The panel's line for a bone rig: which Action's poses play what, or why none can (text, icon)."""
    try:
        rig = bone_rig(obj)
    except InputError as exc:
        return str(exc), "ERROR"
    return f"Poses of {rig.source}: {rig.mapping.summary()}", "ARMATURE_DATA"


def draw_own_keys(layout, s, obj) -> None:
    """Target 'own': the preset field; then the edited rows, or what the key names were found to be."""
    row = layout.row(align=True)
    row.prop(s, "mapping_path")
    row.operator("talkinghead.save_mapping", text="", icon="EXPORT")
    if obj is None or obj.type not in ("MESH", "ARMATURE"):
        return
    if editing(s, obj):
        layout.label(text=f"Edited mapping: {len(s.mapping_rows)} channels (Animate uses these)", icon="GREASEPENCIL")
        row = layout.row()
        row.template_list("TALKINGHEAD_UL_mapping", "", s, "mapping_rows", s, "mapping_index",
                          rows=MAPPING_ROWS_SHOWN)
        buttons = row.column(align=True)
        buttons.operator("talkinghead.mapping_add", text="", icon="ADD")
        buttons.operator("talkinghead.mapping_remove", text="", icon="REMOVE")
        buttons.separator()
        buttons.operator("talkinghead.mapping_reset", text="", icon="X")
        return
    layout.operator("talkinghead.edit_mapping", icon="GREASEPENCIL")
    if s.mapping_path:
        return
    if is_bone_rig(obj):
        text, icon = bone_line(obj)
        layout.label(text=text, icon=icon)
        return
    mapping = detected(own_key_names(obj))
    layout.label(text=mapping.summary(), icon="SHAPEKEY_DATA" if not mapping.empty else "ERROR")
    if mapping.direct and mapping.uncovered:
        more = len(mapping.uncovered) - MAX_SHOWN_UNCOVERED
        layout.label(text="Uncovered: " + ", ".join(mapping.uncovered[:MAX_SHOWN_UNCOVERED])
                     + (f" +{more}" if more > 0 else ""))


class TALKINGHEAD_UL_mapping(bpy.types.UIList):
    """The edited mapping: our channel → the character's key, picked from its shape keys where it has them."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):
        row = layout.row(align=True)
        row.prop(item, "channel", text="")
        obj = context.active_object
        keys = obj.data.shape_keys if obj is not None and obj.type == "MESH" else None
        if keys is not None and not is_bone_rig(obj):
            row.prop_search(item, "key", keys, "key_blocks", text="", icon="SHAPEKEY_DATA")
        else:  # a bone rig's pose marker or pose asset
            row.prop(item, "key", text="", icon="ARMATURE_DATA")


def own_emotion_line(obj) -> str:
    """Target 'own': the sliders that play live on the character's expression keys; the others are fitted."""
    live = detected(own_key_names(obj)).expressions()
    if not live:
        return "Own keys: sliders condition the next Animate"
    return f"Live on {', '.join(live.values())}; the others condition the next Animate"


class VIEW3D_PT_talkinghead(bpy.types.Panel):
    bl_label = "Talking Head"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Talking Head"

    def draw(self, context):
        layout = self.layout
        s = context.scene.talkinghead
        layout.operator("talkinghead.add_head", icon="MONKEY")
        col = layout.column(align=True)
        col.prop(s, "audio_path")
        col.prop(s, "transcript")
        col.prop(s, "language")
        col.prop(s, "start_frame")
        col.prop(s, "engine")
        if s.engine in WHISPER_ENGINES and not whisper_available():
            col.label(text=MODELS_MISSING, icon="ERROR")
        col.prop(s, "deformer")
        col.prop(s, "landmark_convention")
        row = col.row(align=True)
        row.prop(s, "target", expand=True)
        col.label(text=TARGET_HINTS[s.target], icon="INFO")
        obj = context.active_object
        if s.target == "own":
            draw_own_keys(col, s, obj)
        else:  # the output choice is about our keys
            row = col.row(align=True)
            row.prop(s, "output", expand=True)
            if s.output == "BAKED":
                col.prop(s, "baked_shapes")
        row = layout.row()
        row.scale_y = 1.5
        row.enabled = obj is not None and (obj.type == "MESH" or s.target == "own" and obj.type == "ARMATURE")
        row.operator("talkinghead.animate", icon="PLAY_SOUND")
        row = layout.row(align=True)
        row.operator("talkinghead.animate_all", icon="SEQUENCE")
        row.operator("talkinghead.remove_animation", icon="TRASH")
        row = layout.row(align=True)
        row.operator("talkinghead.detect_landmarks", icon="GROUP_VERTEX")
        row.operator("talkinghead.cut_lips", icon="MOD_EDGESPLIT")
        if obj is not None and obj.type == "MESH":
            box = layout.box()
            box.label(text="Emotion", icon="SHADERFX")
            if s.engine.startswith("neural"):
                box.label(text="Neural: sliders condition the next Animate", icon="INFO")
            elif s.target == "own" and not s.mapping_path and not editing(s, obj):
                box.label(text=own_emotion_line(obj), icon="INFO")
            if not has_sliders(obj):
                box.operator("talkinghead.add_emotion_sliders", icon="ADD")
                return
            for name in EMOTION_NAMES:  # the object's custom properties: what the drivers read, farm or not
                box.prop(obj, data_path(name), slider=True, text=name.capitalize())


CLASSES = (TALKINGHEAD_UL_mapping, VIEW3D_PT_talkinghead)

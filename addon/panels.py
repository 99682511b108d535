"""The N-panel tab in the 3D View."""
from __future__ import annotations

import bpy

from ..core.face.emotions import EMOTION_NAMES
from ..operators.sliders import data_path, has_sliders


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
        col.prop(s, "deformer")
        col.prop(s, "landmark_convention")
        row = col.row(align=True)
        row.prop(s, "output", expand=True)
        if s.output == "BAKED":
            col.prop(s, "baked_shapes")
        obj = context.active_object
        row = layout.row()
        row.scale_y = 1.5
        row.enabled = obj is not None and obj.type == "MESH"
        row.operator("talkinghead.animate", icon="PLAY_SOUND")
        layout.operator("talkinghead.animate_all", icon="SEQUENCE")
        row = layout.row(align=True)
        row.operator("talkinghead.detect_landmarks", icon="GROUP_VERTEX")
        row.operator("talkinghead.cut_lips", icon="MOD_EDGESPLIT")
        if obj is not None and obj.type == "MESH":
            box = layout.box()
            box.label(text="Emotion", icon="SHADERFX")
            if s.engine.startswith("neural"):
                box.label(text="Neural: sliders condition the next Animate", icon="INFO")
            if not has_sliders(obj):
                box.operator("talkinghead.add_emotion_sliders", icon="ADD")
                return
            for name in EMOTION_NAMES:  # the object's custom properties: what the drivers read, farm or not
                box.prop(obj, data_path(name), slider=True, text=name.capitalize())


CLASSES = (VIEW3D_PT_talkinghead,)

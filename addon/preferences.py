"""Add-on preferences."""
from __future__ import annotations

import bpy

ADDON_ID = __package__.rpartition(".")[0]


class TalkingHeadPreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    blinks: bpy.props.BoolProperty(name="Natural blinks", default=True,
                                   description="Add eye blinks every few seconds to the speech animation")

    def draw(self, context):
        self.layout.prop(self, "blinks")

"""Add-on preferences."""
from __future__ import annotations

import bpy

from ..core.motion.neural import whisper_available
from ..core.paths import MODELS_HINT, model_folders

ADDON_ID = __package__.rpartition(".")[0]


class TalkingHeadPreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    blinks: bpy.props.BoolProperty(name="Natural blinks", default=True,
                                   description="Add eye blinks every few seconds to the speech animation")

    def draw(self, context):
        self.layout.prop(self, "blinks")
        if not whisper_available():  # the Whisper engines' files, from the models extension
            self.layout.label(text=f"Whisper models not found: {MODELS_HINT}", icon="ERROR")
        else:
            folders = model_folders()
            self.layout.label(text=f"Whisper models: {folders[0] if folders else 'inside this extension'}",
                              icon="CHECKMARK")

"""The mapping of target 'own' in the panel: edit which of the character's keys plays which channel, save it.

Edit Mapping copies what is in use (the preset file, else what the key names were found to be) into the
scene's mapping rows for the selected object; from then on Animate uses those rows for that object until
Reset. Save Mapping writes them (or what is in use) as a preset file for other characters, the CLI and batch.
"""
from __future__ import annotations

import bpy

from ..core.errors import InputError
from ..core.face.keysets import save_mapping
from .animate import editing, is_bone_rig, own_mapping, panel_mapping
from .bones import bone_rig


class TALKINGHEAD_OT_edit_mapping(bpy.types.Operator):
    """Copy the mapping in use (the preset file, else what the key names were found to be) into rows to edit; Animate
    uses the rows for this object until Reset"""

    bl_idname = "talkinghead.edit_mapping"
    bl_label = "Edit Mapping"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        s, obj = context.scene.talkinghead, context.active_object
        try:
            if obj is None or obj.type not in ("MESH", "ARMATURE"):
                raise InputError("Select the character's face mesh (or its face armature) to edit its mapping.")
            if is_bone_rig(obj, s.mapping_path):
                preset = bone_rig(obj, s.mapping_path).mapping.as_preset()
            else:
                try:
                    preset = own_mapping(obj, s.mapping_path).as_preset()
                except InputError:
                    if s.mapping_path:
                        raise
                    preset = {}  # no key we know by name: the artist names them, row by row
        except (InputError, OSError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        s.mapping_rows.clear()
        for channel, key in preset.items():
            row = s.mapping_rows.add()
            row.channel, row.key = channel, key
        s.mapping_for, s.mapping_index = obj.name, 0
        self.report({"INFO"}, f"Editing {len(preset)} channels of '{obj.name}'" if preset else
                    f"No keys of '{obj.name}' known by name: add a row per channel")
        return {"FINISHED"}


class TALKINGHEAD_OT_mapping_add(bpy.types.Operator):
    """Add a row: one of our channels and the key (or pose) of the character that plays it"""

    bl_idname = "talkinghead.mapping_add"
    bl_label = "Add Channel"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        s = context.scene.talkinghead
        if not editing(s, context.active_object):
            self.report({"ERROR"}, "Edit Mapping first: the rows belong to the selected object.")
            return {"CANCELLED"}
        s.mapping_rows.add()
        s.mapping_index = len(s.mapping_rows) - 1
        return {"FINISHED"}


class TALKINGHEAD_OT_mapping_remove(bpy.types.Operator):
    """Remove the selected row: that channel no longer plays on the character"""

    bl_idname = "talkinghead.mapping_remove"
    bl_label = "Remove Channel"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        s = context.scene.talkinghead
        if not 0 <= s.mapping_index < len(s.mapping_rows):
            return {"CANCELLED"}
        s.mapping_rows.remove(s.mapping_index)
        s.mapping_index = min(s.mapping_index, len(s.mapping_rows) - 1)
        return {"FINISHED"}


class TALKINGHEAD_OT_mapping_reset(bpy.types.Operator):
    """Drop the edited rows: the keys are found by their names (or the preset file) again"""

    bl_idname = "talkinghead.mapping_reset"
    bl_label = "Reset Mapping"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        s = context.scene.talkinghead
        s.mapping_rows.clear()
        s.mapping_for, s.mapping_index = "", 0
        return {"FINISHED"}


class TALKINGHEAD_OT_save_mapping(bpy.types.Operator):
    """Save which of the selected mesh's own keys play which channel (the edited rows, or the mapping in use) as a
    JSON preset"""

    bl_idname = "talkinghead.save_mapping"
    bl_label = "Save Mapping"

    filepath: bpy.props.StringProperty(subtype="FILE_PATH")
    filter_glob: bpy.props.StringProperty(default="*.json", options={"HIDDEN"})

    def invoke(self, context, event):
        obj = context.active_object
        self.filepath = bpy.path.ensure_ext((obj.name if obj else "mapping") + ".mapping", ".json")
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def execute(self, context):
        obj = context.active_object
        try:
            if obj is None or obj.type != "MESH":
                raise InputError("Select the mesh whose own face keys the preset should name.")
            mapping = own_mapping(obj, panel_mapping(context.scene.talkinghead, obj))
            path = bpy.path.ensure_ext(bpy.path.abspath(self.filepath), ".json")
            save_mapping(path, mapping)
        except (InputError, OSError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Saved {len(mapping.as_preset())} channels of '{obj.name}' to {path}")
        return {"FINISHED"}


CLASSES = (TALKINGHEAD_OT_edit_mapping, TALKINGHEAD_OT_mapping_add, TALKINGHEAD_OT_mapping_remove,
           TALKINGHEAD_OT_mapping_reset, TALKINGHEAD_OT_save_mapping)

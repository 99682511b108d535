"""Save Mapping: what the selected mesh's own face keys were found to be, as a preset to edit and reuse."""
from __future__ import annotations

import bpy

from ..core.errors import InputError
from ..core.face.keysets import save_mapping
from .animate import own_mapping


class TALKINGHEAD_OT_save_mapping(bpy.types.Operator):
    """Save which of the selected mesh's own keys play which channel (or the preset in use) as a JSON preset"""

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
            mapping = own_mapping(obj, context.scene.talkinghead.mapping_path)
            path = bpy.path.ensure_ext(bpy.path.abspath(self.filepath), ".json")
            save_mapping(path, mapping)
        except (InputError, OSError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Saved {len(mapping.as_preset())} channels of '{obj.name}' to {path}")
        return {"FINISHED"}

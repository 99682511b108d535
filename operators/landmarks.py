"""Detect Landmarks: show the 68 landmarks found on a face as points the user can move."""
from __future__ import annotations

import bpy

from ..core.errors import InputError
from ..core.face.ibug import GROUPS
from .animate import check_target
from .rig import LANDMARKS_PROP, landmarks_object, rig_for


class TALKINGHEAD_OT_detect_landmarks(bpy.types.Operator):
    """Find the 68 face landmarks on the selected mesh and show them as points you can move (Edit Mode);
    Animate from Audio then fits the face to where you left them"""

    bl_idname = "talkinghead.detect_landmarks"
    bl_label = "Detect Landmarks"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        obj = context.active_object
        try:
            check_target(obj)
            settings = context.scene.talkinghead
            rig = rig_for(obj, settings.deformer, settings.landmark_convention)
        except InputError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        points = rig.landmark_points().tolist()
        lm = landmarks_object(obj)
        kept = lm is not None  # its points are the user's, given to the fit: found where they were left
        if lm is None:
            lm = bpy.data.objects.new(f"{obj.name}.landmarks", bpy.data.meshes.new(f"{obj.name}.landmarks"))
            lm.data.from_pydata(points, [], [])
            for name, ids in GROUPS.items():
                lm.vertex_groups.new(name=name.replace(" ", "_")).add(list(ids), 1.0, "REPLACE")
            for collection in obj.users_collection:
                collection.objects.link(lm)
            lm.parent = obj  # identity parent inverse: the points are in the face's own frame
            wrap = lm.modifiers.new("Snap to face", "SHRINKWRAP")
            wrap.target = obj
            wrap.wrap_method = "NEAREST_SURFACEPOINT"
            lm.show_in_front = True
            obj[LANDMARKS_PROP] = lm
        else:
            for v, p in zip(lm.data.vertices, points):
                v.co = p
            lm.data.update()
        if kept:
            self.report({"INFO"}, f"Kept the landmarks you placed on '{obj.name}' (delete '{lm.name}' to detect "
                                  "them afresh)")
        else:
            self.report({"INFO"}, f"68 landmarks on '{obj.name}': move them in Edit Mode of '{lm.name}' "
                                  "to correct the fit, then Animate from Audio")
        return {"FINISHED"}

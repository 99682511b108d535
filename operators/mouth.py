"""Cut Lips Apart: give a scan whose lips are one surface a slit along the lip contact line."""
from __future__ import annotations

import bmesh
import bpy

from ..core.deform.glued_lips import GLUED, lips_part, seam_path
from ..core.errors import InputError
from ..core.face.arkit import INDEX
from ..core.face.head import load_head
from .add_head import is_builtin_head
from .animate import check_target
from .rig import mesh_arrays, rig_for


class TALKINGHEAD_OT_cut_lips(bpy.types.Operator):
    """Split the mesh along the lip contact line so the mouth can open (changes the mesh; undoable)"""

    bl_idname = "talkinghead.cut_lips"
    bl_label = "Cut Lips Apart"
    bl_options = {"REGISTER", "UNDO"}

    force: bpy.props.BoolProperty(name="Even if the lips look open", default=False)

    def execute(self, context):
        obj = context.active_object
        try:
            check_target(obj)
            if is_builtin_head(obj):
                raise InputError("The built-in head's lips are already separate.")
            if obj.mode != "OBJECT":
                raise InputError("Switch to Object Mode to cut the lips.")
            co, tris = mesh_arrays(obj)
            if tris is None:
                raise InputError(f"'{obj.name}' has no faces to cut.")
            settings = context.scene.talkinghead
            rig, head = rig_for(obj, settings.deformer, settings.landmark_convention), load_head()
            reg = rig.registration
            parted = lips_part(co, tris, rig.deltas[INDEX["jawOpen"]], reg, head)
            if not self.force and parted >= GLUED:
                self.report({"INFO"}, f"The lips of '{obj.name}' already part ({1000 * parted:.0f} mm with the "
                                      "jaw open): nothing cut.")
                return {"CANCELLED"}
            path = seam_path(co, tris, reg, head)
        except InputError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        bm = bmesh.new()
        bm.from_mesh(obj.data)
        bm.verts.ensure_lookup_table()
        edges = [bm.edges.get((bm.verts[a], bm.verts[b])) for a, b in zip(path[:-1], path[1:])]
        edges = [e for e in edges if e is not None]
        # split the interior path vertices too (the corners stay joined): that opens the slit
        inner = [bm.verts[i] for i in path[1:-1]]
        bmesh.ops.split_edges(bm, edges=edges, verts=inner, use_verts=True)
        bm.to_mesh(obj.data)
        bm.free()
        obj.data.update()
        self.report({"INFO"}, f"Cut '{obj.name}' along {len(edges)} edges between the lips")
        return {"FINISHED"}

"""Add the built-in head (CC0 MakeHuman head with teeth, tongue and eyes) to the scene."""
from __future__ import annotations

import bpy
import numpy as np

from ..core.face.head import Head, load_head
from .sliders import ensure_sliders

HEAD_MARK = "talkinghead_builtin"
_COLOURS = {"skin": (0.8, 0.6, 0.5, 1), "upper_teeth": (0.95, 0.93, 0.88, 1), "lower_teeth": (0.95, 0.93, 0.88, 1),
            "tongue": (0.7, 0.3, 0.3, 1), "eye_left": (0.9, 0.9, 0.92, 1), "eye_right": (0.9, 0.9, 0.92, 1)}


def is_builtin_head(obj: bpy.types.Object | None) -> bool:
    """True for a mesh made by Add Built-in Head (marked, and still its topology): it gets the exact targets."""
    return (obj is not None and obj.type == "MESH" and bool(obj.data.get(HEAD_MARK))
            and len(obj.data.vertices) == len(load_head().vertices))


def new_head_object(context: bpy.types.Context, head: Head, name: str = "TalkingHead") -> bpy.types.Object:
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(head.vertices.tolist(), [], head.faces.tolist())
    mesh.shade_smooth()
    face_part = head.parts[head.faces[:, 0]]
    for part in head.part_names:
        mat = bpy.data.materials.get(f"TalkingHead.{part}") or bpy.data.materials.new(f"TalkingHead.{part}")
        mat.diffuse_color = _COLOURS[part]
        mesh.materials.append(mat)
    mesh.polygons.foreach_set("material_index", face_part.astype(np.int32))
    mesh[HEAD_MARK] = True
    obj = bpy.data.objects.new(name, mesh)
    for i, part in enumerate(head.part_names):
        vg = obj.vertex_groups.new(name=part)
        vg.add(np.nonzero(head.parts == i)[0].tolist(), 1.0, "REPLACE")
    ensure_sliders(obj)  # the panel's emotion sliders, ready before the first Animate
    context.collection.objects.link(obj)
    return obj


class TALKINGHEAD_OT_add_head(bpy.types.Operator):
    """Add the built-in talking head (ARKit-ready, CC0)"""

    bl_idname = "talkinghead.add_head"
    bl_label = "Add Built-in Head"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        obj = new_head_object(context, load_head())
        obj.location = context.scene.cursor.location
        for o in context.selected_objects:
            o.select_set(False)
        obj.select_set(True)
        context.view_layer.objects.active = obj
        return {"FINISHED"}

"""Add the built-in head (CC0 MakeHuman head with teeth, tongue and eyes) to the scene."""
from __future__ import annotations

import bpy
import numpy as np

from ..core.face.eyes import eye_texture, eye_uvs
from ..core.face.head import Head, load_head
from .sliders import ensure_sliders

HEAD_MARK = "talkinghead_builtin"
_COLOURS = {"skin": (0.72, 0.47, 0.35, 1), "upper_teeth": (0.95, 0.93, 0.88, 1), "lower_teeth": (0.95, 0.93, 0.88, 1),
            "tongue": (0.7, 0.3, 0.3, 1), "eye_left": (0.9, 0.9, 0.92, 1), "eye_right": (0.9, 0.9, 0.92, 1)}
# Principled BSDF inputs per part for Eevee/Cycles (Workbench shows _COLOURS and the eye texture)
_SURFACES = {
    "skin": {"Base Color": (0.56, 0.3, 0.2, 1), "Roughness": 0.5, "Subsurface Weight": 0.3,
             "Subsurface Radius": (1.0, 0.35, 0.2), "Subsurface Scale": 0.004},  # metres: light travels mm in skin
    "upper_teeth": {"Base Color": (0.8, 0.76, 0.66, 1), "Roughness": 0.3},
    "lower_teeth": {"Base Color": (0.8, 0.76, 0.66, 1), "Roughness": 0.3},
    "tongue": {"Base Color": (0.45, 0.12, 0.12, 1), "Roughness": 0.35, "Subsurface Weight": 0.2,
               "Subsurface Radius": (1.0, 0.3, 0.2), "Subsurface Scale": 0.003},
    "eye_left": {"Roughness": 0.08, "Coat Weight": 1.0},  # wet and glossy; colour from the eye texture
    "eye_right": {"Roughness": 0.08, "Coat Weight": 1.0},
}
EYE_TEXTURE_PX = 256  # the iris texture's width and height
EYE_IMAGE = "TalkingHead.eye"


def is_builtin_head(obj: bpy.types.Object | None) -> bool:
    """True for a mesh made by Add Built-in Head (marked, and still its topology): it gets the exact targets."""
    return (obj is not None and obj.type == "MESH" and bool(obj.data.get(HEAD_MARK))
            and len(obj.data.vertices) == len(load_head().vertices))


def _eye_image(iris: float, pupil: float) -> bpy.types.Image:
    """The iris texture, packed into the file so a render farm or another machine sees it too."""
    image = bpy.data.images.get(EYE_IMAGE)
    if image is None:
        image = bpy.data.images.new(EYE_IMAGE, EYE_TEXTURE_PX, EYE_TEXTURE_PX)
        image.pixels.foreach_set(eye_texture(EYE_TEXTURE_PX, iris, pupil).reshape(-1))
        image.pack()
    return image


def _material(part: str, iris: float, pupil: float) -> bpy.types.Material:
    """The part's material (shared by every built-in head): Workbench colour, and a Principled surface."""
    name = f"TalkingHead.{part}"
    mat = bpy.data.materials.get(name)
    if mat is not None:
        return mat
    mat = bpy.data.materials.new(name)
    mat.diffuse_color = _COLOURS[part]
    if mat.node_tree is None:  # Blender 4.x: new materials have no nodes yet
        mat.use_nodes = True
    bsdf = next(n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    for socket, value in _SURFACES[part].items():
        bsdf.inputs[socket].default_value = value
    if part.startswith("eye_"):
        tex = mat.node_tree.nodes.new("ShaderNodeTexImage")
        tex.image = _eye_image(iris, pupil)
        tex.location = (bsdf.location.x - 300, bsdf.location.y)
        mat.node_tree.links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
        mat.node_tree.nodes.active = tex  # Workbench's Texture colour shows the active image node
    return mat


def new_head_object(context: bpy.types.Context, head: Head, name: str = "TalkingHead") -> bpy.types.Object:
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(head.vertices.tolist(), [], head.faces.tolist())
    mesh.shade_smooth()
    face_part = head.parts[head.faces[:, 0]]
    eyes = [head.parts == head.part_names.index(p) for p in ("eye_left", "eye_right")]
    uv, iris, pupil = eye_uvs(head.vertices, eyes)
    mesh.uv_layers.new(name="UVMap").data.foreach_set("uv", uv[head.faces.reshape(-1)].reshape(-1))
    for part in head.part_names:
        mesh.materials.append(_material(part, iris, pupil))
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

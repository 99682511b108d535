"""Preview rendering: a framed camera and light for a head, Workbench, video with sound or PNGs."""
from __future__ import annotations

import os

import bpy
from mathutils import Vector


def frame_face(scene: bpy.types.Scene, obj: bpy.types.Object) -> None:
    """Add a camera and a light looking at the face (front is -Y) unless the scene has a camera."""
    if scene.camera is not None:
        return
    corners = [obj.matrix_world @ Vector(c) for c in obj.bound_box]
    lo = Vector([min(c[i] for c in corners) for i in range(3)])
    hi = Vector([max(c[i] for c in corners) for i in range(3)])
    size = max(hi - lo)
    centre = Vector(((lo.x + hi.x) / 2, (lo.y + hi.y) / 2, lo.z + 0.58 * (hi.z - lo.z)))  # the face, not the neck
    cam = bpy.data.objects.new("TalkingHead Camera", bpy.data.cameras.new("TalkingHead Camera"))
    cam.data.lens = 85
    cam.location = centre + Vector((0.0, -2.0 * size, 0.0))
    cam.rotation_euler = (1.5708, 0.0, 0.0)
    light = bpy.data.objects.new("TalkingHead Light", bpy.data.lights.new("TalkingHead Light", "SUN"))
    light.rotation_euler = (0.9, 0.2, -0.4)
    for o in (cam, light):
        scene.collection.objects.link(o)
    scene.camera = cam


def render_preview(scene: bpy.types.Scene, obj: bpy.types.Object, path: str, size: int = 480) -> list[str]:
    """Render the scene's frame range: `*.mp4` → H.264 video with the scene's sound, else a PNG strip.

    Returns the written file(s).
    """
    frame_face(scene, obj)
    r = scene.render
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.shading.light = "STUDIO"
    scene.display.shading.color_type = "MATERIAL"
    if scene.world is None:
        scene.world = bpy.data.worlds.new("TalkingHead World")
        scene.world.color = (0.18, 0.2, 0.23)
    r.resolution_x = r.resolution_y = size
    r.resolution_percentage = 100
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if path.lower().endswith(".mp4"):
        if hasattr(r.image_settings, "media_type"):  # Blender 5.0: choose video before FFMPEG
            r.image_settings.media_type = "VIDEO"
        r.image_settings.file_format = "FFMPEG"
        r.ffmpeg.format = "MPEG4"
        r.ffmpeg.codec = "H264"
        r.ffmpeg.audio_codec = "AAC"
        r.ffmpeg.audio_channels = "MONO"
        r.filepath = path
        bpy.ops.render.render(animation=True, scene=scene.name)
        return [path]
    r.image_settings.file_format = "PNG"
    stem = os.path.splitext(path)[0]
    out = []
    for frame in range(scene.frame_start, scene.frame_end + 1, max(1, (scene.frame_end - scene.frame_start) // 8)):
        scene.frame_set(frame)
        r.filepath = f"{stem}_{frame:04d}.png"
        bpy.ops.render.render(write_still=True, scene=scene.name)
        out.append(r.filepath)
    return out

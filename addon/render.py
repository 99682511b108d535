"""Preview rendering: a framed camera, three-point lights and a backdrop for a head; video with sound, PNGs, a still.

Videos render with Workbench: Eevee on a machine without a GPU (software OpenGL) takes ~4 s a frame at
480×480 even with one sample, ten times Workbench. A still is one frame, so it gets Eevee
(Cycles, then Workbench, where Eevee cannot run).
"""
from __future__ import annotations

import math
import os
import time

import bpy
from mathutils import Vector

VIDEO_SIZE = 480  # px, square: the preview video (bench/batch.py times it at this size)
STILL_SIZE = 1080  # px, square: a still to share
EEVEE_SAMPLES = 32  # anti-aliasing and soft shadows of an Eevee still
CYCLES_SAMPLES = 32  # with denoising: the fallback where Eevee cannot render
JPEG_QUALITY = 90  # percent: ~60 KB for a 1080² still
LENS_MM = 85  # a portrait lens
FRAME_BOTTOM = 0.18  # frame from this fraction of the head's height (the neck, not the shoulder stub)...
FRAME_TOP = 1.05  # ...to a little above the crown
# three-point lighting: direction from the face (x right, -y towards the camera, z up) in head heights,
# the light's size in head heights and its power in watts per square metre of distance (constant exposure)
LIGHTS = {"Key": ((-1.8, -1.7, 1.2), 1.2, 22.0), "Fill": ((1.8, -1.6, 0.2), 2.0, 1.2),
          "Rim": ((2.0, 1.0, 0.8), 0.8, 80.0)}
BACKDROP = (0.045, 0.05, 0.058)  # linear RGB: a neutral dark blue-grey behind the head
STILL_ENGINES = ("BLENDER_EEVEE_NEXT", "BLENDER_EEVEE", "CYCLES", "BLENDER_WORKBENCH")  # 4.2-4.x Eevee, 5.x Eevee
ENGINE_NAMES = {"BLENDER_EEVEE_NEXT": "Eevee", "BLENDER_EEVEE": "Eevee", "CYCLES": "Cycles",
                "BLENDER_WORKBENCH": "Workbench"}


def frame_face(scene: bpy.types.Scene, obj: bpy.types.Object) -> None:
    """Add a camera, key/fill/rim lights and a backdrop for the face (front is -Y) unless the scene has a camera."""
    if scene.camera is not None:
        return
    corners = [obj.matrix_world @ Vector(c) for c in obj.bound_box]
    lo = Vector([min(c[i] for c in corners) for i in range(3)])
    hi = Vector([max(c[i] for c in corners) for i in range(3)])
    height = hi.z - lo.z
    bottom, top = lo.z + FRAME_BOTTOM * height, lo.z + FRAME_TOP * height
    centre = Vector(((lo.x + hi.x) / 2, (lo.y + hi.y) / 2, (bottom + top) / 2))
    cam = bpy.data.objects.new("TalkingHead Camera", bpy.data.cameras.new("TalkingHead Camera"))
    cam.data.lens = LENS_MM
    distance = (top - bottom) * LENS_MM / cam.data.sensor_width + (hi.y - lo.y) / 2  # the span fits at the face
    cam.location = centre + Vector((0.0, -distance, 0.0))
    cam.rotation_euler = (math.pi / 2, 0.0, 0.0)
    scene.collection.objects.link(cam)
    for name, (direction, size, watts) in LIGHTS.items():
        light = bpy.data.lights.new(f"TalkingHead {name}", "AREA")
        light.size = size * height
        offset = Vector(direction) * height
        light.energy = watts * offset.length_squared
        o = bpy.data.objects.new(f"TalkingHead {name}", light)
        o.location = centre + offset
        o.rotation_euler = (-offset).to_track_quat("-Z", "Y").to_euler()
        scene.collection.objects.link(o)
    scene.camera = cam
    if scene.world is None:
        scene.world = bpy.data.worlds.new("TalkingHead World")
        scene.world.color = BACKDROP
        if scene.world.node_tree is None:  # Blender 4.x: a new world has no nodes yet
            scene.world.use_nodes = True
        background = next(n for n in scene.world.node_tree.nodes if n.type == "BACKGROUND")
        background.inputs["Color"].default_value = (*BACKDROP, 1.0)


def _workbench(scene: bpy.types.Scene) -> None:
    """Studio light, material colours and image textures (the built-in head's irises); no cavity (+60% a frame)."""
    scene.render.engine = "BLENDER_WORKBENCH"
    shading = scene.display.shading
    shading.light = "STUDIO"
    shading.color_type = "TEXTURE"


def _output(scene: bpy.types.Scene, path: str, size: int) -> str:
    """Set the resolution and the file format `path` asks for; its absolute path, with its folder made."""
    r = scene.render
    r.resolution_x = r.resolution_y = size
    r.resolution_percentage = 100
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if hasattr(r.image_settings, "media_type"):  # Blender 5.0: choose image or video before the format
        r.image_settings.media_type = "VIDEO" if path.lower().endswith(".mp4") else "IMAGE"
    if path.lower().endswith((".jpg", ".jpeg")):
        r.image_settings.file_format = "JPEG"
        r.image_settings.quality = JPEG_QUALITY
    elif not path.lower().endswith(".mp4"):
        r.image_settings.file_format = "PNG"
    return path


def render_preview(scene: bpy.types.Scene, obj: bpy.types.Object, path: str, size: int = VIDEO_SIZE) -> list[str]:
    """Render the scene's frame range with Workbench: `*.mp4` → H.264 video with the scene's sound, else a PNG strip.

    Returns the written file(s).
    """
    frame_face(scene, obj)
    _workbench(scene)
    r = scene.render
    path = _output(scene, path, size)
    if path.lower().endswith(".mp4"):
        r.image_settings.file_format = "FFMPEG"
        r.ffmpeg.format = "MPEG4"
        r.ffmpeg.codec = "H264"
        r.ffmpeg.audio_codec = "AAC"
        r.ffmpeg.audio_channels = "MONO"
        r.filepath = path
        bpy.ops.render.render(animation=True, scene=scene.name)
        return [path]
    stem = os.path.splitext(path)[0]
    out = []
    for frame in range(scene.frame_start, scene.frame_end + 1, max(1, (scene.frame_end - scene.frame_start) // 8)):
        scene.frame_set(frame)
        r.filepath = f"{stem}_{frame:04d}.png"
        bpy.ops.render.render(write_still=True, scene=scene.name)
        out.append(r.filepath)
    return out


def _use_engine(scene: bpy.types.Scene, engine: str) -> bool:
    """Switch to `engine` with its still settings; False where this Blender has no such engine."""
    try:
        scene.render.engine = engine
    except TypeError:  # not an engine of this version (Eevee's name changed in 4.2 and 5.0)
        return False
    if engine.startswith("BLENDER_EEVEE"):
        scene.eevee.taa_render_samples = EEVEE_SAMPLES
    elif engine == "CYCLES":
        scene.cycles.device = "CPU"
        scene.cycles.samples = CYCLES_SAMPLES
        scene.cycles.use_denoising = True
    else:
        _workbench(scene)
    return True


def render_still(scene: bpy.types.Scene, obj: bpy.types.Object, path: str, frame: int,
                 size: int = STILL_SIZE) -> tuple[str, str, float]:
    """Render `frame` to `path` (.png or .jpg) with Eevee, else Cycles, else Workbench.

    Returns the file, the engine's name and the seconds it took.
    """
    frame_face(scene, obj)
    scene.frame_set(frame)
    path = _output(scene, path, size)
    scene.render.filepath = path
    if os.path.exists(path):  # so that a stale file cannot pass for a render
        os.remove(path)
    for engine in STILL_ENGINES:
        if not _use_engine(scene, engine):
            continue
        t0 = time.perf_counter()
        try:
            result = bpy.ops.render.render(write_still=True, scene=scene.name)
        except RuntimeError as exc:  # e.g. no OpenGL for Eevee on this machine: try the next engine
            result = str(exc)
        if result == {"FINISHED"} and os.path.exists(path):
            return path, ENGINE_NAMES[engine], time.perf_counter() - t0
        print(f"talkinghead: {ENGINE_NAMES[engine]} could not render ({result}); trying the next engine")
    raise RuntimeError(f"No render engine could render {path}.")

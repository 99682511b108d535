"""Install a built extension zip the way a user does and animate with it: a release check per Blender.

Run it with a Python that has the bpy module of the Blender to check, and nothing else
of ours (the zip's wheels must supply scipy, pocketsphinx, ...):

    <python> tools/check_install.py --zip dist/talkinghead-0.1.0-linux_x64.zip [--audio clip.wav]
                                    [--mesh /path/FLAME_sample.ply]

It installs into a throw-away user folder (BLENDER_USER_RESOURCES), enables the
extension, adds the built-in head, animates it from a clip with the panel's default
engine (without --audio: a sentence spoken by the bundled espeak-ng) and checks that
the shape keys got an Action whose jawOpen curve moves; with --mesh it also animates
that mesh (PLY or OBJ) through the default deformer. Prints one PASS or FAIL line;
exit status 0 on PASS, 1 on FAIL.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback

MODULE = "bl_ext.user_default.talkinghead"
SENTENCE = "She had your dark suit in greasy wash water all year"
JAW = "jawOpen"
MIN_JAW_RANGE = 0.05  # jawOpen must open and close at least this much over the clip (weights are 0..1)


def log(msg: str) -> None:
    print(f"[check_install] {msg}", flush=True)


def install(zip_path: str) -> None:
    """Install and enable the zip as Install from Disk does; fail unless the add-on module is loaded."""
    import bpy

    result = bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default",
                                                      enable_on_install=True)
    if result != {"FINISHED"}:
        raise RuntimeError(f"package_install_files returned {result}")
    if MODULE not in sys.modules:
        loaded = sorted(m for m in sys.modules if m.startswith("bl_ext"))
        raise RuntimeError(f"{MODULE} not loaded after install (bl_ext modules: {loaded})")


BUNDLED = {"scipy": "scipy", "pocketsphinx": "pocketsphinx", "soundfile": "soundfile", "soxr": "soxr",
           "robust-laplacian": "robust_laplacian", "espeakng-loader": "espeakng_loader", "cffi": "cffi"}


def bundled_versions(user: str) -> str:
    """Blender's numpy and what each wheel installed; fail if a package came from outside the extension.

    A package found elsewhere (the Python's own site-packages) would hide a missing or broken wheel."""
    import importlib
    import importlib.metadata as md

    import numpy

    found = [f"numpy {numpy.__version__} (Blender's)"]
    for dist, module in BUNDLED.items():
        mod = importlib.import_module(module)
        where = os.path.realpath(getattr(mod, "__file__", None) or next(iter(mod.__path__)))
        if not where.startswith(os.path.realpath(user)):
            raise RuntimeError(f"{module} comes from {where}, not from the extension's wheels: use a Python "
                               "with only bpy and its numpy")
        found.append(f"{dist} {md.version(dist)}")
    return ", ".join(found)


def synth_clip(folder: str) -> str:
    """Speak SENTENCE with the installed extension's own espeak-ng (the bundled wheel) into a wav."""
    import importlib

    synth = importlib.import_module(MODULE + ".core.speech.espeak")
    speech = synth.synthesise(SENTENCE)
    path = os.path.join(folder, "sentence.wav")
    synth.write_wav(path, speech.samples, speech.sample_rate)
    return path


def key_curves(obj) -> dict[str, object]:
    """Our Action's F-curves on `obj`'s shape keys by shape key name, on any Blender's Action API."""
    key = obj.data.shape_keys
    if key is None or "talkinghead_action" not in key:
        raise RuntimeError(f"'{obj.name}' has no Talking Head Action on its shape keys")
    action = key["talkinghead_action"]
    if key.animation_data is None or key.animation_data.action is None:
        raise RuntimeError(f"the Action {action.name} does not drive '{obj.name}''s shape keys")
    if hasattr(action, "layers") and action.layers:
        fcurves = [fc for strip in action.layers[0].strips for bag in strip.channelbags for fc in bag.fcurves]
    else:
        fcurves = list(action.fcurves)
    return {fc.data_path.split('"')[1]: fc for fc in fcurves if fc.data_path.startswith("key_blocks[")}


def animate(obj, audio: str) -> str:
    """Press Animate on `obj` with the panel's defaults; return a line about the jawOpen curve."""
    import bpy

    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj
    settings = bpy.context.scene.talkinghead
    settings.audio_path, settings.transcript, settings.start_frame = audio, "", 1
    t = time.perf_counter()
    result = bpy.ops.talkinghead.animate()
    secs = time.perf_counter() - t
    if result != {"FINISHED"}:
        raise RuntimeError(f"animate returned {result}")
    curves = key_curves(obj)
    if JAW not in curves:
        raise RuntimeError(f"no {JAW} F-curve among {len(curves)}")
    values = [k.co[1] for k in curves[JAW].keyframe_points]
    jaw_range = max(values) - min(values)
    line = (f"'{obj.name}' ({len(obj.data.vertices)} vertices, engine {settings.engine}, deformer "
            f"{settings.deformer}): {len(curves)} F-curves, {len(values)} {JAW} keys, range {jaw_range:.3f}, "
            f"{secs:.1f} s")
    if jaw_range < MIN_JAW_RANGE:
        raise RuntimeError(f"{JAW} barely moves: {line}")
    return line


def import_mesh(path: str):
    """Import a face mesh as a user would (PLY or OBJ) and return the new object."""
    import bpy

    before = set(bpy.data.objects)
    if path.lower().endswith(".ply"):
        bpy.ops.wm.ply_import(filepath=path)
    else:
        bpy.ops.wm.obj_import(filepath=path)
    new = [o for o in bpy.data.objects if o not in before and o.type == "MESH"]
    if not new:
        raise RuntimeError(f"importing {path} made no mesh")
    return new[0]


def run(args: argparse.Namespace, user: str) -> list[str]:
    os.environ["BLENDER_USER_RESOURCES"] = user  # before bpy starts: install nowhere near the real profile
    import bpy

    log(f"Blender {bpy.app.version_string}, Python {sys.version.split()[0]}, user folder {user}")
    install(os.path.abspath(args.zip))
    log(f"installed and enabled {MODULE}")
    log(bundled_versions(user))
    audio = os.path.abspath(args.audio) if args.audio else synth_clip(user)
    log(f"clip {audio}")
    if bpy.ops.talkinghead.add_head() != {"FINISHED"}:
        raise RuntimeError("add_head did not finish")
    lines = [animate(bpy.context.active_object, audio)]
    log(lines[-1])
    if args.mesh:
        lines.append(animate(import_mesh(args.mesh), audio))
        log(lines[-1])
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zip", required=True, help="the built extension zip")
    ap.add_argument("--audio", help="speech clip (default: a sentence spoken by the bundled espeak-ng)")
    ap.add_argument("--mesh", help="also animate this mesh (.ply or .obj) with the default deformer")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="th-check-") as user:
        try:
            lines = run(args, user)
        except Exception as exc:  # noqa: BLE001 - any failure is the verdict, with its traceback
            traceback.print_exc()
            print(f"FAIL: {os.path.basename(args.zip)}: {type(exc).__name__}: {exc}", flush=True)
            return 1
    print(f"PASS: {os.path.basename(args.zip)}: {len(lines)} mesh(es) animated", flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    # skip interpreter teardown: the bpy 4.2 module can crash while freeing an add-on's classes,
    # which would turn a verdict already printed into a signal exit status
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

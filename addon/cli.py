"""Command line: `blender -b file.blend --command talkinghead animate ...`.

Registered with `bpy.utils.register_cli_command`; `scripts/talkinghead_cli.py` gives the
same commands through `blender -b file.blend --python scripts/talkinghead_cli.py -- animate ...`
for Blender builds where the extension is not installed.
"""
from __future__ import annotations

import argparse
import os
import sys

import bpy

from ..core.deform.deformers import DEFAULT_DEFORMER, DEFORMERS
from ..core.engines import DEFAULT_ENGINE, ENGINES
from ..core.errors import InputError
from ..core.face.emotions import EMOTION_NAMES, parse_emotions
from ..core.face.head import load_head
from ..operators.add_head import new_head_object
from ..operators.animate import TARGETS, run
from .render import ENGINE_NAMES, render_preview

COMMAND_PROG = "blender -b FILE --command talkinghead"


def build_parser(prog: str = COMMAND_PROG) -> argparse.ArgumentParser:
    """The commands; `prog` is how the user started them (the usage line shows it)."""
    ap = argparse.ArgumentParser(prog=prog, description="Speech-driven facial animation.")
    sub = ap.add_subparsers(dest="command", required=True)
    a = sub.add_parser("animate", help="animate a face mesh from an audio clip")
    a.add_argument("--object", help="name of the face mesh to animate")
    a.add_argument("--add-head", action="store_true", help="add the built-in head and animate it")
    a.add_argument("--audio", required=True, help="wav/flac/ogg/mp3 clip")
    a.add_argument("--text", help="transcript, or a .txt file holding it")
    a.add_argument("--engine", default=DEFAULT_ENGINE, choices=ENGINES)
    a.add_argument("--language", help="what the clip speaks: an espeak-ng code (en, fr, es, de, it, pt, ru, ...; "
                   "default: the scene's panel setting)")
    a.add_argument("--emotion", action="append", metavar="NAME=V", help=f"repeatable; {', '.join(EMOTION_NAMES)}")
    a.add_argument("--deformer", default=DEFAULT_DEFORMER, choices=DEFORMERS,
                   help="how a mesh other than the built-in head gets its shape keys")
    a.add_argument("--landmark-convention", metavar="FILE",
                   help="landmark convention (.npz from `python -m core landmarks learn`; default: the scene's)")
    a.add_argument("--target", choices=TARGETS, default="ours",
                   help="ours: add our 52 ARKit shape keys; own: animate the mesh's own face keys (ARKit, visemes, "
                        "VRM, CC), adding none, or with --object an armature (or a mesh it deforms) its face poses "
                        "(pose markers)")
    a.add_argument("--mapping", metavar="PRESET.json",
                   help="with --target own: which of its keys (or pose markers) plays which channel (JSON, channel → name)")
    a.add_argument("--start-frame", type=int, default=1)
    a.add_argument("--baked", type=int, default=0, metavar="K",
                   help="baked mode: K basis shape keys (SVD) instead of the 52 ARKit keys")
    a.add_argument("--out", help="save the animated file here (default: overwrite the opened .blend)")
    a.add_argument("--render", metavar="PATH", help="also render a preview: .mp4 (with sound) or .png strip")
    b = sub.add_parser("batch", help="animate (and render) many clips: a CSV manifest or a folder")
    b.add_argument("--jobs", required=True,
                   help="jobs.csv (audio,object,text,language,emotion,engine,deformer,target,mapping,name) or a folder")
    b.add_argument("--out", required=True, help="folder for the .blend files, renders and report.json")
    b.add_argument("--object", help="object for jobs that name none (and for a folder)")
    b.add_argument("--language", help="language of jobs whose 'language' column is empty (default: the scene's)")
    b.add_argument("--target", choices=TARGETS, help="target of jobs whose 'target' column is empty (default: ours)")
    b.add_argument("--render", choices=("mp4", "png"), help="also render each job: video with sound, or PNGs")
    b.add_argument("--workers", type=int, default=1, help="spread the jobs over this many Blender processes")
    b.add_argument("--glb", action="store_true", help="also export each face as glTF (.glb): morph targets + animation")
    b.add_argument("--only", metavar="FIRST:LAST", help="only these manifest rows (1-based, inclusive): a farm task")
    b.add_argument("--report", default="report.json", help="report file name inside --out")
    b.add_argument("--first", type=int, default=1, help=argparse.SUPPRESS)
    b.add_argument("--total", type=int, default=0, help=argparse.SUPPRESS)
    return ap


def _named_object(args) -> bpy.types.Object:
    """The --object to animate (bad names fail here, before any work)."""
    scene = bpy.context.scene
    if not args.object:
        raise InputError("Name the face mesh with --object NAME (or use --add-head).")
    obj = bpy.data.objects.get(args.object)
    if obj is None:
        names = ", ".join(o.name for o in scene.objects) or "none"
        raise InputError(f"No object named '{args.object}' in this file (objects: {names}).")
    return obj


def _out_path(args) -> str:
    """Where the animated file goes; checked before any work, so a missing --out costs nothing."""
    out = args.out or bpy.data.filepath
    if not out:
        raise InputError("This session has no .blend file: give --out FILE.blend.")
    return os.path.abspath(out)


def save_without_backup(path: str) -> None:
    """Save a copy at `path` without rotating a .blend1 backup (our second save of the same file)."""
    prefs = bpy.context.preferences.filepaths
    versions = prefs.save_version
    prefs.save_version = 0
    try:
        bpy.ops.wm.save_as_mainfile(filepath=path, copy=True)
    finally:
        prefs.save_version = versions


def animate_command(args) -> int:
    scene = bpy.context.scene
    emotions = parse_emotions(args.emotion)
    if args.mapping and args.target != "own":
        raise InputError("--mapping names the mesh's own keys: use it with --target own.")
    named = None if args.add_head else _named_object(args)
    out = _out_path(args)  # all checked before the head is added or anything animated
    obj = named or new_head_object(bpy.context, load_head())
    secs, timing, warnings = run(scene, obj, args.audio, args.text, args.engine, args.start_frame,
                                 emotions, baked_shapes=args.baked, deformer=args.deformer,
                                 convention=args.landmark_convention or scene.talkinghead.landmark_convention,
                                 language=args.language or scene.talkinghead.language, target=args.target,
                                 mapping=os.path.abspath(args.mapping) if args.mapping else "")
    for warning in warnings:
        print(f"talkinghead: warning: {warning}", file=sys.stderr)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=out)
    print(f"talkinghead: animated '{obj.name}' ({timing}) in {secs:.2f} s, "
          f"frames {scene.frame_start}-{scene.frame_end}; saved {out}")
    if args.render:
        files = render_preview(scene, obj, args.render)
        save_without_backup(out)  # the render set-up (camera, light) joins the file we just wrote
        r = scene.render
        print(f"talkinghead: rendered {files[0]}" + (f" (+{len(files) - 1} more)" if len(files) > 1 else "")
              + f" ({ENGINE_NAMES[r.engine]}, {r.resolution_x}×{r.resolution_y})")
    return 0


def main(argv: list[str], prog: str = COMMAND_PROG) -> int:
    """CLI handler: returns the process exit code; bad input → message on stderr and 2."""
    try:
        args = build_parser(prog).parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage error
        return int(exc.code or 0)
    try:
        if args.command == "batch":
            from .batch import batch_command

            return batch_command(args)
        return animate_command(args)
    except InputError as exc:
        print(f"talkinghead: error: {exc}", file=sys.stderr)
        return 2

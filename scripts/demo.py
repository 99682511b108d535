"""The newcomer demo: built-in head + synthesised speech → out/demo.blend and out/demo.mp4.

    python scripts/demo.py [--audio CLIP] [--text TRANSCRIPT] [--emotion happy=0.5] [--still FILE.jpg]

Runs with the `bpy` module (or `blender -b --python scripts/demo.py -- ...`). Without
--audio it speaks DEMO_TEXT with espeak-ng and uses that text as the transcript. --still
renders one frame, the mouth at its widest, with Eevee instead of the video (the README's picture).
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from talkinghead_cli import ROOT, load_package  # noqa: E402

DEMO_TEXT = ("Hello! I am the built-in talking head. Give me a voice, and my lips will follow it. "
             "My mouth closes when Bob puts a map on the moon, and opens wide for a happy song.")
STILL_SHAPE = "jawOpen"  # the still shows the frame where this shape key is highest: mid-speech, mouth open
STILL_SUBDIVISIONS = 1  # render-only smoothing of the built-in head's low-poly silhouette for the still


def widest_frame(scene, obj, shape: str = STILL_SHAPE) -> int:
    """The frame where `shape` (a shape key of `obj`) is highest."""
    import bpy

    values = {}
    for frame in range(scene.frame_start, scene.frame_end + 1):
        scene.frame_set(frame)
        key = obj.data.shape_keys.evaluated_get(bpy.context.evaluated_depsgraph_get())
        values[frame] = key.key_blocks[shape].value
    return max(values, key=values.get)


def main() -> int:
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--audio")
    ap.add_argument("--text")
    ap.add_argument("--emotion", action="append", default=[])
    ap.add_argument("--out", default=os.path.join(ROOT, "out"))
    ap.add_argument("--still", metavar="FILE", help="render this .jpg/.png still (Eevee) instead of the video")
    args = ap.parse_args(argv)
    import bpy

    pkg = load_package()
    from talkinghead.core.speech.espeak import synthesise, write_wav

    audio, text = args.audio, args.text
    if audio is None:
        audio = os.path.join(args.out, "demo.wav")
        speech = synthesise(DEMO_TEXT)
        write_wav(audio, speech.samples, speech.sample_rate)
        text = text or DEMO_TEXT
    bpy.ops.wm.read_factory_settings(use_empty=True)
    pkg.register()
    bpy.context.scene.render.fps = 30
    blend = os.path.join(args.out, "demo.blend")
    cli = ["animate", "--add-head", "--audio", audio, "--out", blend]
    cli += [] if args.still else ["--render", os.path.join(args.out, "demo.mp4")]
    cli += ["--text", text] if text else []
    for e in args.emotion:
        cli += ["--emotion", e]
    from talkinghead.addon.cli import main as cli_main
    from talkinghead.addon.cli import save_without_backup

    code = cli_main(cli)
    if code or not args.still:
        return code
    from talkinghead.addon.render import render_still
    from talkinghead.operators.add_head import is_builtin_head

    scene = bpy.context.scene
    obj = next(o for o in scene.objects if is_builtin_head(o))
    smooth = obj.modifiers.new("TalkingHead Still", "SUBSURF")
    smooth.levels, smooth.render_levels = 0, STILL_SUBDIVISIONS  # the viewport keeps the plain mesh
    path, engine, secs = render_still(scene, obj, args.still, widest_frame(scene, obj))
    save_without_backup(blend)  # with the still's camera and lights
    r = scene.render
    print(f"talkinghead: rendered {path} ({engine}, {r.resolution_x}×{r.resolution_y}, {secs:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The newcomer demo: built-in head + synthesised speech → out/demo.blend and out/demo.mp4.

    python scripts/demo.py [--audio CLIP] [--text TRANSCRIPT] [--emotion happy=0.5]

Runs with the `bpy` module (or `blender -b --python scripts/demo.py -- ...`). Without
--audio it speaks DEMO_TEXT with espeak-ng and uses that text as the transcript.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from talkinghead_cli import ROOT, load_package  # noqa: E402

DEMO_TEXT = ("Hello! I am the built-in talking head. Give me a voice, and my lips will follow it. "
             "My mouth closes when Bob puts a map on the moon, and opens wide for a happy song.")


def main() -> int:
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--audio")
    ap.add_argument("--text")
    ap.add_argument("--emotion", action="append", default=[])
    ap.add_argument("--out", default=os.path.join(ROOT, "out"))
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
    cli = ["animate", "--add-head", "--audio", audio, "--out", os.path.join(args.out, "demo.blend"),
           "--render", os.path.join(args.out, "demo.mp4")]
    cli += ["--text", text] if text else []
    for e in args.emotion:
        cli += ["--emotion", e]
    from talkinghead.addon.cli import main as cli_main

    return cli_main(cli)


if __name__ == "__main__":
    sys.exit(main())

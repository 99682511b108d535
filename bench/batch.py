"""Batch throughput: N jobs of 5 s speech on the built-in head, 1 and 2 workers (DESIGN.md §5, issue: studio batch).

Animation alone (jobs per minute, seconds of audio animated per second) on --jobs jobs,
and with rendering (Workbench, 480², mp4 with sound) on --render-jobs jobs. Each run is
`python scripts/talkinghead_cli.py --open rig.blend batch ...` as a studio would run
`blender -b rig.blend --command talkinghead batch ...`, start-up included.
Writes the 'batch' section of docs/benchmarks.md.

    python bench/batch.py [--jobs 100] [--render-jobs 6]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from common import ROOT, publish
from speed import make_clip

SCRIPT = os.path.join(ROOT, "scripts", "talkinghead_cli.py")


def make_rig(path: str) -> None:
    code = ("import sys; sys.path.insert(0, %r); from talkinghead_cli import load_package; import bpy; "
            "p = load_package(); p.register(); bpy.ops.wm.read_factory_settings(use_empty=True); "
            "bpy.context.scene.render.fps = 30; bpy.ops.talkinghead.add_head(); "
            "bpy.ops.wm.save_as_mainfile(filepath=%r); p.unregister()" % (os.path.dirname(SCRIPT), path))
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def run(rig: str, manifest: str, out: str, workers: int, render: bool) -> tuple[float, dict]:
    cmd = [sys.executable, SCRIPT, "--open", rig, "batch", "--jobs", manifest, "--out", out, "--object",
           "TalkingHead", "--workers", str(workers)] + (["--render", "mp4"] if render else [])
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    secs = time.perf_counter() - t
    with open(os.path.join(out, "report.json"), encoding="utf-8") as fh:
        return secs, json.load(fh)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=100)
    ap.add_argument("--render-jobs", type=int, default=6)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rig = os.path.join(tmp, "rig.blend")
        make_rig(rig)
        clip = os.path.join(tmp, "line.wav")
        make_clip(5.0, clip)
        for label, n, render in (("animation only", args.jobs, False), ("with mp4 render", args.render_jobs, True)):
            manifest = os.path.join(tmp, f"jobs_{n}.csv")
            with open(manifest, "w", encoding="utf-8") as fh:
                fh.write("audio\n" + "line.wav\n" * n)
            for workers in (1, 2):
                out = os.path.join(tmp, f"out_{n}_{workers}")
                secs, report = run(rig, manifest, out, workers, render)
                assert report["ok"] == n, report
                rows.append([label, n, workers, secs, 60 * n / secs, 5.0 * n / secs])
                print(rows[-1], flush=True)
                shutil.rmtree(out)
    header = ["mode", "jobs", "workers", "wall s", "jobs / min", "audio s / s"]
    body = ("## Studio batch (`python bench/batch.py`)\n\n"
            "Jobs of 5 s real speech on the built-in head (audio only: word recognition), one process per "
            "worker, wall time from start to report including Blender start-up; each job opens the rig, "
            "animates, saves its .blend (and renders 150 frames at 480² with sound).\n\n")
    publish("batch", body, header, rows)


if __name__ == "__main__":
    main()

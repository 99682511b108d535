"""Studio batch: many dialogue lines animated (and rendered) in one Blender process.

    blender -b rig.blend --command talkinghead batch --jobs jobs.csv|folder/ --out DIR [--render mp4|png]

A manifest is a CSV with a header: `audio` (required), and optionally `object`,
`text` (a transcript, or empty: a `.txt` beside the clip is used when present), `language`
(an espeak-ng code: en, fr, es, ...; empty: --language or the scene's),
`emotion` (`happy=0.5;sad=0.2`), `engine`, `deformer`, `target` (ours / own: the object's own face
keys; empty: --target or ours), `mapping` (a preset for target own, relative to the manifest), `name` (output stem). A folder means every
audio file in it, on the default object. Each job starts from the opened file as
saved, so jobs never see each other's data; a failing job is reported and skipped.
Writes DIR/<name>.blend (+ .mp4 or PNGs, + .glb with --glb) and DIR/report.json; exits 1
if any job failed.
"""
from __future__ import annotations

import csv
import json
import os
import sys
import time
import traceback

import bpy

from ..core.deform.deformers import DEFAULT_DEFORMER
from ..core.engines import DEFAULT_ENGINE
from ..core.errors import InputError
from ..core.face.emotions import parse_emotions
from ..operators.animate import run
from .render import render_preview

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")


def read_jobs(source: str, default_object: str | None, default_language: str | None = None,
              default_target: str | None = None) -> list[dict]:
    """Jobs from a CSV manifest or a folder of clips (paths made absolute)."""
    if os.path.isdir(source):
        clips = sorted(f for f in os.listdir(source) if f.lower().endswith(AUDIO_EXTENSIONS))
        if not clips:
            raise InputError(f"No audio files ({', '.join(AUDIO_EXTENSIONS)}) in folder {source}")
        return [{"audio": os.path.join(source, c), "object": default_object, "language": default_language,
                 "target": default_target} for c in clips]
    if not os.path.isfile(source):
        raise InputError(f"Job list not found: {source}")
    base = os.path.dirname(os.path.abspath(source))
    with open(source, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or "audio" not in rows[0]:
        raise InputError(f"{source} needs a header row with at least an 'audio' column.")
    jobs = []
    for row in rows:
        job = {k: (v or "").strip() for k, v in row.items() if k}
        job["audio"] = os.path.join(base, job["audio"]) if job["audio"] else ""
        job["object"] = job.get("object") or default_object
        job["language"] = job.get("language") or default_language
        job["target"] = job.get("target") or default_target
        job["mapping"] = os.path.join(base, job["mapping"]) if job.get("mapping") else ""
        jobs.append(job)
    return jobs


def _transcript(job: dict) -> str | None:
    if job.get("text"):
        return job["text"]
    beside = os.path.splitext(job["audio"])[0] + ".txt"
    return beside if os.path.isfile(beside) else None


def _job_name(job: dict, index: int) -> str:
    return job.get("name") or f"{index:03d}_{os.path.splitext(os.path.basename(job['audio']) or 'job')[0]}"


def export_glb(obj: bpy.types.Object, path: str) -> None:
    """The animated face alone as glTF binary: ARKit morph targets and their animation."""
    for o in bpy.context.view_layer.objects:
        o.select_set(o == obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.export_scene.gltf(filepath=path, export_format="GLB", use_selection=True, export_animations=True,
                              export_morph=True, export_apply=False)


def run_job(job: dict, index: int, rig_file: str, out_dir: str, render: str | None, glb: bool = False) -> dict:
    """Animate (and render) one job from a fresh copy of the rig file; the report entry."""
    name = _job_name(job, index)
    entry = {"job": index, "name": name, "audio": job["audio"], "object": job.get("object"),
             "target": job.get("target") or "ours"}
    t0 = time.perf_counter()
    try:
        if rig_file:
            bpy.ops.wm.open_mainfile(filepath=rig_file)
        scene = bpy.context.scene
        if not job.get("object"):
            raise InputError("No object named for this job (an 'object' column, or --object).")
        obj = bpy.data.objects.get(job["object"])
        if obj is None:
            raise InputError(f"No object named '{job['object']}' in the rig file.")
        emotions = parse_emotions(job.get("emotion", "").replace(";", " ").split())
        language = job.get("language") or scene.talkinghead.language
        secs, timing, warnings = run(scene, obj, job["audio"], _transcript(job), job.get("engine") or DEFAULT_ENGINE,
                                     scene.frame_start, emotions, deformer=job.get("deformer") or DEFAULT_DEFORMER,
                                     convention=scene.talkinghead.landmark_convention, language=language,
                                     target=job.get("target") or "ours", mapping=job.get("mapping") or "")
        blend = os.path.join(out_dir, name + ".blend")
        bpy.ops.wm.save_as_mainfile(filepath=blend, copy=True)
        entry.update(status="ok", message="; ".join(warnings), timing=timing, engine=job.get("engine") or DEFAULT_ENGINE,
                     language=language,
                     frames=scene.frame_end - scene.frame_start + 1, animate_seconds=round(secs, 3), blend=blend)
        if glb:
            entry["glb"] = os.path.join(out_dir, name + ".glb")
            export_glb(obj, entry["glb"])
        if render:
            t1 = time.perf_counter()
            files = render_preview(scene, obj, os.path.join(out_dir, name + (".mp4" if render == "mp4" else ".png")))
            entry.update(render=files[0] if render == "mp4" else files,
                         render_seconds=round(time.perf_counter() - t1, 3))
    except InputError as exc:
        entry.update(status="failed", message=str(exc))
    except Exception as exc:  # a bug or a broken file must not stop the other jobs
        entry.update(status="failed", message=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
    entry["seconds"] = round(time.perf_counter() - t0, 3)
    return entry


def batch(jobs: list[dict], out_dir: str, render: str | None, report_name: str = "report.json",
          first: int = 1, glb: bool = False, total: int = 0) -> list[dict]:
    """Run `jobs` (rows `first`… of a manifest of `total` rows) one after the other; the report entries."""
    out_dir = os.path.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    rig_file = bpy.data.filepath
    report, t0 = [], time.perf_counter()
    for i, job in enumerate(jobs, 1):
        entry = run_job(job, first + i - 1, rig_file, out_dir, render, glb)
        report.append(entry)
        done = time.perf_counter() - t0
        eta = done / i * (len(jobs) - i)
        why = "" if entry["status"] == "ok" else ": " + entry["message"]
        print(f"talkinghead batch: job {first + i - 1}/{total or len(jobs)} {entry['status']} {entry['name']} "
              f"({entry['seconds']:.1f} s; ETA {eta:.0f} s){why}", flush=True)
    write_report(os.path.join(out_dir, report_name), report, time.perf_counter() - t0)
    if rig_file:
        bpy.ops.wm.open_mainfile(filepath=rig_file)  # leave the session as it was opened
    return report


def write_report(path: str, report: list[dict], seconds: float) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"jobs": report, "ok": sum(e["status"] == "ok" for e in report),
                   "failed": sum(e["status"] != "ok" for e in report), "seconds": round(seconds, 3)}, fh, indent=2)


def _worker_command(part: str, args, report_name: str, first: int) -> list[str]:
    """How to start one more Blender (or Python + bpy) process on the same rig with part of the jobs."""
    tail = ["batch", "--jobs", part, "--out", args.out, "--report", report_name, "--first", str(first),
            "--total", str(args.total)]
    tail += ["--render", args.render] if args.render else []
    tail += ["--glb"] if args.glb else []
    if bpy.app.binary_path:  # a real Blender with this extension installed
        return [bpy.app.binary_path, "-b", bpy.data.filepath, "--command", "talkinghead", *tail]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = ("import sys, importlib.util, bpy; "
            f"spec = importlib.util.spec_from_file_location('talkinghead', {os.path.join(root, '__init__.py')!r}, "
            f"submodule_search_locations=[{root!r}]); m = importlib.util.module_from_spec(spec); "
            "sys.modules['talkinghead'] = m; spec.loader.exec_module(m); m.register(); "
            f"bpy.ops.wm.open_mainfile(filepath={bpy.data.filepath!r}); "
            "from talkinghead.addon.cli import main; code = main(sys.argv[1:]); m.unregister(); sys.exit(code)")
    return [sys.executable, "-c", code, *tail]


def _in_workers(jobs: list[dict], args) -> list[dict]:
    """Spread the jobs over args.workers processes (contiguous slices); merged report entries."""
    import subprocess

    out = os.path.abspath(args.out)
    parts_dir = os.path.join(out, "_parts")
    os.makedirs(parts_dir, exist_ok=True)
    n = min(args.workers, len(jobs))
    bounds = [round(k * len(jobs) / n) for k in range(n + 1)]
    procs = []
    for k in range(n):
        part = os.path.join(parts_dir, f"jobs_{k}.csv")
        keys = sorted({key for job in jobs for key in job})
        with open(part, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=keys)
            w.writeheader()
            w.writerows({key: job.get(key) or "" for key in keys} for job in jobs[bounds[k]:bounds[k + 1]])
        procs.append(subprocess.Popen(_worker_command(part, args, f"_parts/report_{k}.json", bounds[k] + 1)))
    for p in procs:
        p.wait()
    report = []
    for k in range(n):
        path = os.path.join(parts_dir, f"report_{k}.json")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as fh:
                report += json.load(fh)["jobs"]
        else:
            report += [{"job": i + 1, "name": _job_name(jobs[i], i + 1), "audio": jobs[i]["audio"],
                        "status": "failed", "message": f"worker {k} stopped before writing its report"}
                       for i in range(bounds[k], bounds[k + 1])]
    return report


def batch_command(args) -> int:
    if not bpy.data.filepath:
        raise InputError("Open the rig first: blender -b rig.blend --command talkinghead batch ...")
    jobs = read_jobs(args.jobs, args.object, args.language, args.target)
    args.total = args.total or len(jobs)  # a worker is told the whole manifest's count
    if args.only:
        try:
            first, last = (int(x) for x in args.only.split(":"))
        except ValueError:
            raise InputError(f"--only takes FIRST:LAST row numbers, got '{args.only}'") from None
        jobs, args.first = jobs[first - 1:last], first
    if args.workers > 1 and len(jobs) > 1:
        t0 = time.perf_counter()
        report = _in_workers(jobs, args)
        write_report(os.path.join(os.path.abspath(args.out), "report.json"), report, time.perf_counter() - t0)
    else:
        report = batch(jobs, args.out, args.render, args.report, args.first, args.glb, args.total)
    failed = [e for e in report if e["status"] != "ok"]
    print(f"talkinghead batch: {len(report) - len(failed)} ok, {len(failed)} failed; report "
          f"{os.path.join(os.path.abspath(args.out), args.report)}", file=sys.stderr if failed else sys.stdout)
    return 1 if failed else 0

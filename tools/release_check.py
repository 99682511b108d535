"""The built zip, installed the way a user does, in every Blender we support: what CI runs before the tests.

Builds the extension zip for this platform with cp311 and cp313 wheels, and the models extension's zip
(tools/build_extension.py),
makes (once; cached) one virtual environment per supported Blender holding only what that Blender
ships (its bpy module and its numpy, nothing of ours, no PyTorch), and in each runs
tools/check_install.py: install through Blender's extension machinery (the extension alone first: Automatic
animates with the Phonetic engine, Neural (Whisper) asks for the models extension; then the models extension
beside it, in the same session), animate the built-in head
with every engine that runs without PyTorch and, told French, with Automatic from a French sentence
(Whisper must hear and align its words), then a FLAME head and the scan with the correspondence
deformer (the learned one must refuse cleanly: it needs PyTorch, which no Blender ships).

    python tools/release_check.py [--envs DIR] [--zip ZIP --models-zip ZIP | --out DIR] [--only bpy-5.0.1-py3.11 ...]

An environment that cannot be made here (no Python 3.13, no network for pip) is skipped with its
reason; a zip that fails in an environment that exists is a failure (exit status 1).
"""
from __future__ import annotations

import argparse
import glob
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("TALKINGHEAD_DATA", os.path.join(ROOT, "..", "shared", "data"))
MESHES = ("meshes/flame/FLAME_sample.ply", "meshes/scans/scantalk_demo_mesh.ply")
ENGINES = ("phonetic", "neural-whisper", "phonetic-whisper")  # every engine that runs without PyTorch
DEFORMERS = ("correspondence", "learned")
CHECK_SECONDS = 900  # one environment's install and animations, at most


@dataclass(frozen=True)
class Blender:
    """One supported Blender, as a pip-installable bpy module and the numpy that Blender ships."""

    name: str
    python: str  # "3.11", "3.13"
    requirements: tuple[str, ...]
    numpy: str | None = None  # pinned after bpy (bpy 4.2 from pip pulls numpy 2; Blender 4.2 ships 1.24)


BLENDERS = (
    Blender("bpy-5.0.1-py3.11", "3.11", ("bpy==5.0.1",)),
    Blender("bpy-4.2-py3.11-numpy1.24", "3.11", ("bpy==4.2.*",), numpy="numpy==1.24.3"),
    Blender("bpy-5.2-py3.13", "3.13", ("bpy==5.2.*",)),
)


def find_python(version: str) -> str | None:
    """An interpreter of `version` (this one, one on PATH, or one pyenv installed)."""
    if sys.version.startswith(version + "."):
        return sys.executable
    found = shutil.which(f"python{version}")
    if found and subprocess.run([found, "-c", "pass"], capture_output=True).returncode == 0:
        return found
    pyenv = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")))
    return pyenv[-1] if pyenv else None


def ensure_env(blender: Blender, root: str) -> tuple[str | None, str]:
    """(the environment's python, "") once it exists with its bpy importable, else (None, why not)."""
    folder = os.path.join(root, blender.name)
    python = os.path.join(folder, "bin", "python")
    if os.path.exists(os.path.join(folder, "ready")):
        return python, ""
    base = find_python(blender.python)
    if base is None:
        return None, f"no Python {blender.python} here"
    shutil.rmtree(folder, ignore_errors=True)
    steps = [[base, "-m", "venv", folder], [python, "-m", "pip", "install", "-q", *blender.requirements]]
    if blender.numpy:
        steps.append([python, "-m", "pip", "install", "-q", blender.numpy])
    steps.append([python, "-c", "import bpy, numpy; print(bpy.app.version_string, numpy.__version__)"])
    for cmd in steps:
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            return None, f"{' '.join(cmd[2:5])} failed: {(run.stderr or run.stdout).strip().splitlines()[-1:]}"
    open(os.path.join(folder, "ready"), "w").close()
    return python, ""


def build_zips(out: str) -> tuple[str, str]:
    """The zip for this platform with both Pythons' wheels, and the models extension's (tools/build_extension.py)."""
    plat = {("Linux", "x86_64"): "linux-x64", ("Windows", "AMD64"): "windows-x64",
            ("Darwin", "arm64"): "macos-arm64", ("Darwin", "x86_64"): "macos-x64"}[(platform.system(),
                                                                                   platform.machine())]
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "build_extension.py"), "--platforms", plat,
                    "--pythons", "3.11", "3.13", "--out", out], check=True, cwd=ROOT)
    (models,) = glob.glob(os.path.join(out, "talkinghead_models-*.zip"))
    (path,) = set(glob.glob(os.path.join(out, "*.zip"))) - {models}
    return path, models


def check(python: str, zip_path: str, models_zip: str) -> tuple[bool, str]:
    """check_install.py in that environment: (passed, its last lines)."""
    meshes = [os.path.join(DATA, m) for m in MESHES if os.path.exists(os.path.join(DATA, m))]
    cmd = [python, os.path.join(ROOT, "tools", "check_install.py"), "--zip", zip_path, "--models-zip", models_zip,
           "--smoke",
           "--engines", *ENGINES, "--deformers", *DEFORMERS, "--also-language", "fr"]
    for mesh in meshes:
        cmd += ["--mesh", mesh]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=CHECK_SECONDS, env=env)
    except subprocess.TimeoutExpired:
        return False, f"no verdict within {CHECK_SECONDS} s"
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith(("[check_install]", "PASS", "FAIL"))]
    tail = "\n".join(lines[-12:]) or (run.stderr.strip().splitlines() or ["(no output)"])[-1]
    return run.returncode == 0 and any(ln.startswith("PASS") for ln in lines), tail


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--envs", default=os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")),
                                                   "talkinghead", "blender-envs"),
                    help="where the bpy-only environments are kept (made once)")
    ap.add_argument("--zip", help="a zip built already (default: build one now)")
    ap.add_argument("--models-zip", help="the models extension's zip built already (with --zip)")
    ap.add_argument("--out", help="keep the zip built here (default: a temporary folder)")
    ap.add_argument("--only", nargs="+", choices=[b.name for b in BLENDERS], help="these environments only")
    args = ap.parse_args()
    if not os.path.isdir(DATA):
        print(f"[release] {DATA} is absent: only the built-in head is animated", flush=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="th-release-") as tmp:
        if bool(args.zip) != bool(args.models_zip):
            ap.error("--zip and --models-zip go together")
        zip_path, models_zip = (args.zip, args.models_zip) if args.zip else build_zips(args.out or tmp)
        for path in (zip_path, models_zip):
            print(f"[release] {os.path.basename(path)}: {os.path.getsize(path) / 1e6:.1f} MB "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
        failed = False
        for blender in BLENDERS:
            if args.only and blender.name not in args.only:
                continue
            t = time.perf_counter()
            python, why = ensure_env(blender, args.envs)
            if python is None:
                print(f"[release] SKIP {blender.name}: {why}", flush=True)
                continue
            ok, tail = check(python, zip_path, models_zip)
            failed |= not ok
            print(f"[release] {'PASS' if ok else 'FAIL'} {blender.name} ({time.perf_counter() - t:.0f} s)\n{tail}",
                  flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Build the installable extension zip(s), with the engine's Python dependencies as bundled wheels.

Blender ships numpy but not pocketsphinx, soundfile, soxr or espeakng-loader. An
extension carries such packages as wheels listed in its manifest; Blender installs
them on `Install from Disk`, offline. This tool downloads those wheels (build time
only), writes a manifest that lists them into a clean copy of the tracked files,
and runs Blender's own `blender_ext.py build --split-platforms`. PyTorch and librosa
(the neural engine's) are not bundled: a CPU build of torch alone is about 200 MB;
without them the neural engine says so and the phonetic engines work as before.

    python tools/build_extension.py [--platforms linux-x64 windows-x64 macos-arm64 macos-x64] [--out dist]
"""
from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# what the engine imports, plus their own needs (Blender ships numpy); sounddevice, which pocketsphinx
# lists for live microphone input, is never imported by us
PACKAGES = ["pocketsphinx==5.1.1", "espeakng-loader==0.2.4", "soundfile", "soxr", "cffi", "pycparser",
            "typing-extensions", "scipy", "robust-laplacian"]
PIP_PLATFORMS = {
    "linux-x64": ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64",
                  "linux_x86_64"],
    "windows-x64": ["win_amd64"],
    "macos-arm64": ["macosx_11_0_arm64", "macosx_12_0_arm64", "macosx_14_0_arm64"],
    "macos-x64": ["macosx_10_9_x86_64", "macosx_10_13_x86_64", "macosx_11_0_x86_64"],
}


def blender_ext_cli() -> str:
    import bpy

    return os.path.join(bpy.utils.system_resource("SCRIPTS"), "addons_core", "bl_pkg", "cli", "blender_ext.py")


def download(platform: str, dest: str) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version",
           "3.11", "--implementation", "cp", "-d", dest]
    for tag in PIP_PLATFORMS[platform]:
        cmd += ["--platform", tag]
    subprocess.run(cmd + PACKAGES, check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--platforms", nargs="+", default=["linux-x64"], choices=list(PIP_PLATFORMS))
    ap.add_argument("--out", default=os.path.join(ROOT, "dist"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "talkinghead")
        files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        for rel in files.split():
            os.makedirs(os.path.join(src, os.path.dirname(rel)), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, rel), os.path.join(src, rel))
        wheels = os.path.join(src, "wheels")
        for p in args.platforms:
            download(p, wheels)
        names = sorted(os.path.basename(w) for w in glob.glob(os.path.join(wheels, "*.whl")))
        manifest = os.path.join(src, "blender_manifest.toml")
        text = open(manifest, encoding="utf-8").read()
        listing = "wheels = [\n" + "".join(f'  "./wheels/{n}",\n' for n in names) + "]\n"
        platforms = "platforms = [" + ", ".join(f'"{p}"' for p in args.platforms) + "]\n"
        text = text.replace("\n[permissions]", "\n" + platforms + listing + "\n[permissions]")
        open(manifest, "w", encoding="utf-8").write(text)
        os.makedirs(args.out, exist_ok=True)
        subprocess.run([sys.executable, blender_ext_cli(), "build", "--source-dir", src, "--output-dir",
                        os.path.abspath(args.out), "--split-platforms"], check=True)
    print("\n".join(sorted(glob.glob(os.path.join(args.out, "*.zip")))))


if __name__ == "__main__":
    main()

"""Build the installable extension zip(s), with the engine's Python dependencies as bundled wheels.

Blender ships numpy but not pocketsphinx, soundfile, soxr or espeakng-loader. An
extension carries such packages as wheels listed in its manifest; Blender installs
them on `Install from Disk`, offline. This tool downloads those wheels (build time
only), writes a manifest that lists them into a clean copy of the tracked files,
and runs Blender's own `blender_ext.py build --split-platforms`. PyTorch and librosa
(the neural engine's) are not bundled: a CPU build of torch alone is about 200 MB;
without them the neural engine says so and the phonetic engines work as before.

One zip per platform serves every supported Blender: it holds cp311 wheels (Blender
4.2-5.0) and cp313 wheels (5.1+). Blender (4.2 and 5.x alike) keeps only the wheels
whose Python tag matches its own Python before it picks one wheel per package, and
derives the manifest's Python versions from all of them, so each Blender installs its
own set. `--pythons 3.11` makes a smaller zip for one Python only.

    python tools/build_extension.py [--platforms linux-x64 windows-x64 macos-arm64 macos-x64] [--pythons 3.11 3.13]
                                    [--out dist]
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
# What the engine imports, plus their own needs (Blender ships numpy; sounddevice, which pocketsphinx lists
# for live microphone input, is never imported by us). Every version is exact: the bundled wheels run
# against the numpy of the Blender they land in, which we do not choose. Python 3.11 is Blender 4.2
# (numpy 1.24.3) to 5.0 (numpy 1.26.4); 3.13 is Blender 5.1+ (numpy 2.x; 5.2 has 2.5.5).
COMMON = ["pocketsphinx==5.1.1", "espeakng-loader==0.2.4", "soundfile==0.14.0", "soxr==1.1.0", "cffi==2.1.1",
          "pycparser==3.12", "typing-extensions==4.16.0", "robust-laplacian==1.1.0"]
PACKAGES = {
    # scipy 1.15.3: the last release that runs on numpy 1.24 (1.16 needs >=1.25.2, 1.17 needs >=1.26.4)
    "3.11": COMMON + ["scipy==1.15.3"],
    # scipy 1.17.1 declares numpy <2.7; 1.15.3 declares <2.5 and warns on Blender 5.2's numpy 2.5.5
    "3.13": COMMON + ["scipy==1.17.1"],
}
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


def download(platform: str, python: str, dest: str) -> None:
    """Fetch the pinned wheels of one platform and Python into `dest` (a pure-Python wheel serves both)."""
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version",
           python, "--implementation", "cp", "-d", dest]
    for tag in PIP_PLATFORMS[platform]:
        cmd += ["--platform", tag]
    subprocess.run(cmd + PACKAGES[python], check=True)


def python_suffix(pythons: list[str]) -> str:
    """File name tag of a zip that leaves a supported Python out ("" when it has them all)."""
    return "" if set(pythons) == set(PACKAGES) else "-py" + "-py".join(p.replace(".", "") for p in sorted(pythons))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--platforms", nargs="+", default=["linux-x64"], choices=list(PIP_PLATFORMS))
    ap.add_argument("--pythons", nargs="+", default=list(PACKAGES), choices=list(PACKAGES),
                    help="Blender Pythons to bundle wheels for (default: all; 3.11 = Blender 4.2-5.0, 3.13 = 5.1+)")
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
            for py in args.pythons:
                download(p, py, wheels)
        names = sorted(os.path.basename(w) for w in glob.glob(os.path.join(wheels, "*.whl")))
        manifest = os.path.join(src, "blender_manifest.toml")
        with open(manifest, encoding="utf-8") as fh:
            text = fh.read()
        listing = "wheels = [\n" + "".join(f'  "./wheels/{n}",\n' for n in names) + "]\n"
        platforms = "platforms = [" + ", ".join(f'"{p}"' for p in args.platforms) + "]\n"
        text = text.replace("\n[permissions]", "\n" + platforms + listing + "\n[permissions]")
        with open(manifest, "w", encoding="utf-8") as fh:
            fh.write(text)
        for n in names:  # what each wheel costs the download (scipy and pocketsphinx dominate)
            print(f"{os.path.getsize(os.path.join(wheels, n)) / 1e6:6.1f} MB  {n}")
        os.makedirs(args.out, exist_ok=True)
        built = os.path.join(tmp, "built")
        os.makedirs(built)
        subprocess.run([sys.executable, blender_ext_cli(), "build", "--source-dir", src, "--output-dir", built,
                        "--split-platforms"], check=True)
        for zipped in sorted(glob.glob(os.path.join(built, "*.zip"))):
            stem = os.path.splitext(os.path.basename(zipped))[0]
            dest = os.path.join(args.out, stem + python_suffix(args.pythons) + ".zip")
            shutil.move(zipped, dest)
            print(f"{dest}  {os.path.getsize(dest) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()

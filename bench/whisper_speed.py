"""Speed, memory and padding effect of the ONNX Whisper encoders (core/speech/whisper.py) on this CPU.

    python bench/whisper_speed.py DIR             # DIR holds <model>.<precision>.onnx from tools/convert_whisper.py
    python bench/whisper_speed.py DIR --padding   # how much padding to 30 s changes the features

Each configuration runs in a fresh process so that its peak RSS and first-click cost (import
onnxruntime + session creation) are its own. Audio: the real clips of ../shared/data/speech, looped.
"""
from __future__ import annotations

import glob
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SPEECH = os.path.join(ROOT, "..", "shared", "data", "speech")
LENGTHS_S = (5, 30, 60)
REPEATS = 5  # best of (this shared 2-core machine is noisy)


def _speech(seconds: float):
    import numpy as np
    import soundfile as sf
    import soxr

    clips = []
    for path in sorted(glob.glob(os.path.join(SPEECH, "*.wav"))):
        x, sr = sf.read(path, dtype="float32", always_2d=True)
        clips.append(soxr.resample(x.mean(1), sr, 16000).astype(np.float32))
    x = np.concatenate(clips)
    return np.tile(x, int(seconds * 16000 // len(x)) + 1)[: int(seconds * 16000)]


def child(path: str, pad: bool) -> dict:
    t0 = time.perf_counter()
    import onnxruntime  # noqa: F401
    t_import = time.perf_counter() - t0
    sys.path.insert(0, ROOT)
    from core.speech.whisper import Encoder

    t0 = time.perf_counter()
    enc = Encoder(path, pad=pad)
    t_session = time.perf_counter() - t0
    out = {"import_s": t_import, "session_s": t_session}
    for seconds in LENGTHS_S:
        x = _speech(seconds)
        best = min(_timed(enc.encode, x) for _ in range(REPEATS))
        out[f"{seconds}s"] = best
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _timed(fn, x) -> float:
    t0 = time.perf_counter()
    fn(x)
    return time.perf_counter() - t0


def padding_effect(path: str) -> None:
    """Per-frame cosine between features of a clip encoded alone (trimmed) and in a 30 s window
    padded with silence (as Whisper was trained), on each real clip and on looped speech."""
    import numpy as np
    import soundfile as sf
    import soxr

    sys.path.insert(0, ROOT)
    from core.speech.whisper import Encoder

    padded, trimmed = Encoder(path, pad=True), Encoder(path, pad=False)
    clips = {}
    for wav in sorted(glob.glob(os.path.join(SPEECH, "*.wav"))):
        x, sr = sf.read(wav, dtype="float32", always_2d=True)
        clips[os.path.basename(wav)] = soxr.resample(x.mean(1), sr, 16000).astype(np.float32)
    for seconds in (5, 10, 20):
        clips[f"{seconds} s of looped speech"] = _speech(seconds)
    print(f"\n{os.path.basename(path)}: trimmed vs 30 s padded window (cosine per 20 ms frame; relative L2)")
    for name, x in clips.items():
        a, b = padded.encode(x), trimmed.encode(x)
        cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        rel = np.linalg.norm(a - b) / np.linalg.norm(a)
        print(f"  {name:28s} {len(x) / 16000:5.1f} s  cos mean {cos.mean():.3f} min {cos.min():.3f} "
              f"(last 0.5 s: {cos[-25:].mean():.3f})  rel L2 {rel:.3f}")


def main() -> None:
    folder = sys.argv[1]
    if len(sys.argv) == 3 and sys.argv[2] == "--padding":
        for path in sorted(glob.glob(os.path.join(folder, "*fp16.onnx"))):
            padding_effect(path)
        return
    if len(sys.argv) > 3:
        print(json.dumps(child(sys.argv[2], sys.argv[3] == "pad")))
        return
    print("| model | precision | MB | window | import s | session s | 5 s audio | 30 s | 60 s | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for path in sorted(glob.glob(os.path.join(folder, "*.onnx"))):
        model, precision = os.path.basename(path)[:-5].rsplit(".", 1)
        for mode in ("pad", "trim"):
            r = json.loads(subprocess.run([sys.executable, __file__, folder, path, mode], check=True,
                                          capture_output=True, text=True).stdout.strip().splitlines()[-1])
            print(f"| {model} | {precision} | {os.path.getsize(path) / 1e6:.1f} | {'30 s padded' if mode == 'pad' else 'trimmed'} "
                  f"| {r['import_s']:.2f} | {r['session_s']:.2f} | {r['5s']:.2f} | {r['30s']:.2f} | {r['60s']:.2f} "
                  f"| {r['rss_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()

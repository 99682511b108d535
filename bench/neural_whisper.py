"""Log-mel S2L ("neural", torch) vs Whisper S2L ("neural-whisper", onnxruntime only) on real speech.

Lip sync: every transcribed clip in data/speech, audio only, scored against pocketsphinx forced
alignment of its transcript (as bench/lipsync.py), per clip set (exact / approximate transcripts).
Speed: one click (load → weights) on 5 s and 60 s of real speech in a fresh process per engine
(the two networks, Phonetic + Whisper and Phonetic), the first call (imports + sessions) apart, peak
RSS, and whether torch was imported.

    python bench/neural_whisper.py [--speed-only | --sync-only]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from common import table, transcribed_clips, write_section

ENGINES = ("neural", "neural-whisper")
# the first click of each engine that runs without PyTorch too; phonetic-whisper is Automatic's choice
SPEED_ENGINES = (*ENGINES, "phonetic-whisper", "phonetic")
FPS = 30.0
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SPEED = r"""
def peak_rss_mb():  # VmHWM: this process's own peak (ru_maxrss would keep the parent's across exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
import sys, time, json
t0 = time.perf_counter()
from core.engines import animate
t_import = time.perf_counter() - t0
engine, short, long_ = sys.argv[1:4]
t = time.perf_counter(); animate(short, engine=engine, fps=30, blink=False); first = time.perf_counter() - t
t = time.perf_counter(); animate(short, engine=engine, fps=30, blink=False); s5 = time.perf_counter() - t
t = time.perf_counter(); animate(long_, engine=engine, fps=30, blink=False); s60 = time.perf_counter() - t
print(json.dumps({"import_s": t_import, "first_5s": first, "5s": s5, "60s": s60, "torch": "torch" in sys.modules,
                  "peak_rss_mb": peak_rss_mb()}))
"""


def speed() -> list[list]:
    import soundfile as sf

    from core.speech.audio import load_audio

    clips = [load_audio(p).samples for p, _, _ in transcribed_clips()]
    joined = np.concatenate([x for c in clips for x in (c, np.zeros(8000, np.float32))])
    joined = np.tile(joined, int(np.ceil(60 * 16000 / len(joined))))[: 60 * 16000]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        short, long_ = os.path.join(tmp, "5s.wav"), os.path.join(tmp, "60s.wav")
        sf.write(short, joined[: 5 * 16000], 16000)
        sf.write(long_, joined, 16000)
        for engine in SPEED_ENGINES:
            out = subprocess.run([sys.executable, "-c", SPEED, engine, short, long_], capture_output=True,
                                 text=True, cwd=ROOT)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append([engine, r["import_s"], r["first_5s"], r["5s"], r["60s"], r["peak_rss_mb"],
                         "yes" if r["torch"] else "no"])
            print(rows[-1], flush=True)
    return rows


def sync() -> tuple[list[list], list[list]]:
    from core.engines import animate
    from core.face.head import load_head
    from core.speech import recognise
    from core.speech.audio import load_audio
    from core.training.evaluation import score

    head = load_head()
    per_clip, by_set = [], {}
    for path, exact, text in transcribed_clips():
        audio = load_audio(path)
        reference, _ = recognise.align(audio, text)
        for engine in ENGINES:
            anim = animate(audio, engine=engine, fps=FPS, blink=False)
            s = score(head.landmark_positions(anim.combined_weights()), FPS, reference)
            per_clip.append([os.path.basename(path), exact, engine, f"{s.bilabial_closure:.2f} ({s.n_bilabial})",
                             f"{s.open_vowel:.2f} ({s.n_open})", f"{s.rounding:.2f} ({s.n_rounded})",
                             s.correlation, s.lag_ms])
            by_set.setdefault((exact, engine), []).append(s)
            print(per_clip[-1], flush=True)
    sets = []
    for (exact, engine), scores in sorted(by_set.items()):
        pooled = lambda f, n: (sum(f(s) * n(s) for s in scores if n(s)) / max(1, sum(n(s) for s in scores)),  # noqa: E731
                               sum(n(s) for s in scores))
        c, nc = pooled(lambda s: s.bilabial_closure, lambda s: s.n_bilabial)
        o, no = pooled(lambda s: s.open_vowel, lambda s: s.n_open)
        r, nr = pooled(lambda s: s.rounding, lambda s: s.n_rounded)
        sets.append([exact, len(scores), engine, f"{c:.2f} ({nc})", f"{o:.2f} ({no})", f"{r:.2f} ({nr})",
                     float(np.mean([s.correlation for s in scores]))])
    return sets, per_clip


def main() -> None:
    body = "## Log-mel vs Whisper S2L (`python bench/neural_whisper.py`)\n\n"
    if "--sync-only" not in sys.argv:
        rows = speed()
        speed_body = ("One click, fresh process per engine (this 2-core CPU, shared): import = `import core.engines`; "
                      "first = the first 5 s click (imports of torch/onnxruntime, model load, sessions, pocketsphinx's "
                      "decoders); then the same 5 s again (features of a clip just heard are cached: Whisper's encoder "
                      "keeps its last windows) and 60 s of real speech (that click starts the recognition workers "
                      "where it uses them); peak RSS = VmHWM.\n\n"
                      + table(["engine", "import s", "first 5 s click s", "5 s click s", "60 s click s",
                               "peak RSS MB", "torch imported"], rows))
        print(table(["engine", "import", "first", "5 s", "60 s", "RSS MB", "torch"], rows))
        write_section("neural_whisper_speed", speed_body)
    if "--speed-only" not in sys.argv:
        sets, per_clip = sync()
        body += ("Audio only; reference = forced alignment of each clip's transcript. Closure / open / rounding "
                 "pooled over the set's phones (count in brackets); correlation = mean over clips.\n\n"
                 + table(["transcripts", "clips", "engine", "bilabial closure", "open vowels", "rounding",
                          "correlation"], sets)
                 + "\n\nPer clip:\n\n"
                 + table(["clip", "transcript", "engine", "bilabial", "open", "rounding", "corr", "lag ms"],
                         per_clip) + "\n\n")
        print(table(["transcripts", "clips", "engine", "closure", "open", "rounding", "corr"], sets))
        write_section("neural_whisper", body)


if __name__ == "__main__":
    main()

"""Lip-sync benchmark (DESIGN.md §5) on every transcribed real-speech clip.

Reference timing: pocketsphinx forced alignment with the transcript. Modes scored
against it: the audio-only neural engine, audio-only word recognition
("phonetic"), audio-only phone loop ("phonetic-fast"), and transcript mode. Writes the 'lipsync' section of
docs/benchmarks.md.

    python bench/lipsync.py
"""
from __future__ import annotations

import os
import time

import numpy as np
from common import table, transcribed_clips, write_section

from core.engines import animate
from core.face.head import load_head
from core.motion.neural import neural_weights
from core.speech import recognise
from core.speech.audio import Audio, load_audio
from core.training.evaluation import score

MODES = [("audio only: neural", "neural", False),
         ("audio only: words (phonetic)", "phonetic", False),
         ("audio only: phone loop (phonetic-fast)", "phonetic-fast", False),
         ("with transcript", "phonetic", True)]
FPS = 30.0


def joined(clips: list) -> tuple:
    """All clips in one, 0.5 s apart: long enough for the parallel, pause-cut decoding of long audio."""
    pause = np.zeros(8000, np.float32)
    samples = np.concatenate([x for _, _, a, _ in clips for x in (a.samples, pause)])
    return (f"all clips joined ({len(samples) / 16000:.0f} s)", "approx", Audio(samples),
            " ".join(t for _, _, _, t in clips))


def main() -> None:
    head = load_head()
    neural_weights(Audio(np.zeros(16000, np.float32)), FPS, 30, None)  # start-up (model, numba): not timed
    rows, per_mode = [], {m[0]: [] for m in MODES}
    clips = [(os.path.basename(path), exact, load_audio(path), text) for path, exact, text in transcribed_clips()]
    for name, exact, audio, text in clips + [joined(clips)]:
        reference, _ = recognise.align(audio, text)
        for label, engine, use_text in MODES:
            t = time.perf_counter()
            anim = animate(audio, text if use_text else None, engine, FPS, blink=False)
            secs = time.perf_counter() - t
            s = score(head.landmark_positions(anim.combined_weights()), FPS, reference)
            rtf = secs / audio.duration
            if not name.startswith("all"):
                per_mode[label].append((s, rtf))
            rows.append([name, exact, label, s.bilabial_closure, s.open_vowel, s.rounding,
                         s.correlation, s.lag_ms, rtf])
            print(rows[-1], flush=True)
    means = []
    for label, vals in per_mode.items():
        arr = lambda f: float(np.nanmean([f(s) for s, _ in vals]))  # noqa: E731
        means.append([label, arr(lambda s: s.bilabial_closure), arr(lambda s: s.open_vowel),
                      arr(lambda s: s.rounding), arr(lambda s: s.correlation), arr(lambda s: s.lag_ms),
                      float(np.mean([r for _, r in vals]))])
    body = ("## Lip sync on real speech (`python bench/lipsync.py`)\n\n"
            "Reference: pocketsphinx forced alignment of each clip's transcript. Gap = landmarks 62-66, "
            "width = 48-54; closure: min gap of each P/B/M ≤ 15 % of the clip's 95th-percentile gap; "
            "open: max gap of each AA/AE/AH/AO/AW/AY ≥ 60 ms reaches 40 % of it; rounding: UW/OW/W "
            "narrow the mouth below neutral; correlation/lag against the same articulation model driven "
            "by the reference timing. RTF = processing time / audio time (2-core CPU, after start-up). "
            "Transcript mode is scored against its own alignment, so its 1.00s only show the articulation "
            "model closes/opens/rounds where it should; the audio-only rows are the real test.\n\n"
            "Peer (Rhubarb Lip Sync on real read speech, same metrics, as reported in the issue): word "
            "decoding 0.90 closure / 0.96 open / 0.95 correlation at 0.8× real time; phonetic mode "
            "0.72 / 0.88 / 0.66 at 0.11×.\n\n"
            "Mean over clips (the joined clip, last in the per-clip table, is not in the mean):\n\n"
            + table(["mode", "bilabial closure", "open vowels", "rounding", "correlation", "lag ms", "RTF"], means)
            + "\n\nPer clip:\n\n"
            + table(["clip", "transcript", "mode", "bilabial", "open", "rounding", "corr", "lag ms", "RTF"], rows))
    write_section("lipsync", body)
    print(table(["mode", "bilabial closure", "open vowels", "rounding", "correlation", "lag ms", "RTF"], means))


if __name__ == "__main__":
    main()

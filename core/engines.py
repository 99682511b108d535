"""Speech → `Animation`. One entry point, `animate`, whatever the engine.

Engines:
- "phonetic": pocketsphinx phone timing (forced alignment when a transcript is
  given, else word recognition + alignment) → coarticulated visemes.
- "phonetic-fast": the same model on pocketsphinx's phone loop (no words, faster).
- "neural": the S2L network (core/s2l.py) predicts landmark motion from log-mel,
  conditioned on the emotions; ARKit weights are solved from it (core/solve.py).
  The emotions are then part of the motion, not a separate layer.
"""
from __future__ import annotations

import math
import os
import time

import numpy as np

from . import recognise
from .animation import Animation
from .articulation import articulate, blinks, close_lips, frame_times
from .arkit import INDEX
from .audio import Audio, load_audio
from .errors import InputError

ENGINES = ("phonetic", "phonetic-fast", "neural")


def read_text(text: str | None) -> str | None:
    """A transcript given as the text itself or as the path of a .txt file."""
    if text and text.strip().lower().endswith(".txt"):
        path = os.path.expanduser(text.strip())
        if not os.path.isfile(path):
            raise InputError(f"Transcript file not found: {path}")
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    return text


def phones_for(audio: Audio, text: str | None, engine: str) -> tuple[list, dict]:
    """The timed phones for `audio` and a note of how they were found."""
    if text and text.strip():
        try:
            phones, unknown = recognise.align(audio, text)
            return phones, {"timing": "forced alignment", "unknown_words": unknown}
        except recognise.AlignmentFailed as exc:
            phones, words = recognise.recognise_words(audio)
            return phones, {"timing": "word recognition", "recognised_text": words,
                            "warning": f"{exc} The phones were recognised from the audio instead."}
    if engine == "phonetic-fast":
        return recognise.recognise_phones(audio), {"timing": "phone loop"}
    phones, words = recognise.recognise_words(audio)
    return phones, {"timing": "word recognition", "recognised_text": words}


def animate(audio: Audio | str, text: str | None = None, engine: str = "phonetic", fps: float = 30.0,
            emotions: dict[str, float] | None = None, start_frame: int = 1, seed: int = 0,
            blink: bool = True) -> Animation:
    """Animate the built-in head's ARKit rig from speech."""
    if engine not in ENGINES:
        raise InputError(f"Unknown engine '{engine}': choose from {', '.join(ENGINES)}.")
    if not (fps > 0 and math.isfinite(fps)):
        raise InputError(f"Frame rate must be positive, got {fps}.")
    t0 = time.perf_counter()
    if isinstance(audio, str):
        audio = load_audio(audio)
    t1 = time.perf_counter()
    n = max(1, int(round(audio.duration * fps)))
    landmark_motion = None
    if engine == "neural":
        w, landmark_motion = neural_weights(audio, fps, n, emotions)
        phones, note = [], {"timing": "neural", "emotions_in_motion": dict(emotions or {})}
        t2 = time.perf_counter()
    else:
        phones, note = phones_for(audio, text, engine)
        t2 = time.perf_counter()
        w = articulate(phones, fps, n, layered=emotions)
    if blink:
        b = blinks(n, fps, seed)
        w[:, INDEX["eyeBlinkLeft"]] = b[:, 0]
        w[:, INDEX["eyeBlinkRight"]] = b[:, 1]
    t3 = time.perf_counter()
    meta = {"engine": engine, **note, "phones": [(p.name, round(p.start, 3), round(p.end, 3)) for p in phones],
            "seconds": {"load": t1 - t0, "phones": t2 - t1, "articulate": t3 - t2}}
    return Animation(weights=w, fps=fps, start_frame=start_frame, emotions=dict(emotions or {}),
                     audio_path=audio.path, duration=audio.duration, metadata=meta,
                     emotions_in_weights=engine == "neural", landmark_motion=landmark_motion)


def neural_weights(audio: Audio, fps: float, n_frames: int, emotions: dict[str, float] | None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The S2L network at `fps`: (ARKit weights solved from its landmarks, T×52; the landmark motion
    itself, T×68×3 metres). Chunk by chunk, so the network's memory stays flat."""
    try:
        from . import s2l
    except ImportError as exc:
        raise InputError(f"The neural engine needs PyTorch and librosa ({exc.name} is missing): "
                         "choose the phonetic engine, or install them into Blender's Python.") from None
    from .solve import weights_from_landmarks

    t = frame_times(n_frames, fps) * s2l.FRAME_RATE  # output frames in model frames (frame j at j × 10 ms)
    n_model = len(audio.samples) // s2l.HOP + 1
    weights, motion, carry = [], [], None
    try:
        for first, displacement, closed in s2l.predict(audio, emotions):
            w = weights_from_landmarks(displacement, emotions)
            close_lips(w, closed)
            # resample this chunk (after the previous chunk's last frame) to the output frames it covers
            frames = np.hstack([w, displacement.reshape(len(w), -1)])
            if carry is not None:
                frames, first = np.vstack([carry, frames]), first - 1
            last = first + len(frames) - 1
            sel = (t >= first) & ((t < last) | (last == n_model - 1))
            x = np.arange(first, last + 1)
            out = np.stack([np.interp(t[sel], x, frames[:, c]) for c in range(frames.shape[1])], 1)
            weights.append(out[:, :w.shape[1]])
            motion.append(out[:, w.shape[1]:])
            carry = frames[-1:]
    except FileNotFoundError as exc:
        raise InputError(str(exc)) from None
    return (np.concatenate(weights).astype(np.float32),
            np.concatenate(motion).astype(np.float32).reshape(n_frames, 68, 3))

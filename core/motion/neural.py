"""The neural engines' motion: the S2L network's landmark motion and the ARKit weights solved from it.

Runs the network chunk by chunk (s2l.predict for log-mel with torch, s2l_onnx.predict for Whisper
features with onnxruntime only) and resamples each chunk from the model's frame rate (100 or 50 Hz)
to the output frame rate as it comes, so memory stays flat for an hour of audio.
"""
from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator

import numpy as np

from ..errors import InputError
from ..face.ibug import N_LANDMARKS
from ..paths import installed
from ..progress import Progress
from ..speech import transcribe, whisper
from ..speech.audio import Audio
from . import closure_onnx, s2l_onnx
from .articulation import close_lips, frame_times
from .solve_arkit import weights_from_landmarks

FEATURES = ("log-mel", "whisper")
Predict = Callable[[Audio, "dict[str, float] | None"], Iterator[tuple[int, np.ndarray, np.ndarray]]]


def _predictor(features: str, audio: Audio) -> tuple[Predict, float, int]:
    """(chunked predict, model frames per second, model frames for `audio`) of the network for `features`."""
    if features == "whisper":
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            raise InputError("The neural-whisper engine needs onnxruntime: choose the phonetic engine, or "
                             "install it into Blender's Python.") from None
        return s2l_onnx.predict, s2l_onnx.FRAME_RATE, s2l_onnx.n_frames(len(audio.samples))
    try:
        from . import s2l
    except ImportError as exc:
        raise InputError(f"The neural engine needs PyTorch and librosa ({exc.name} is missing): "
                         "choose the phonetic engine, or install them into Blender's Python.") from None
    return s2l.predict, s2l.FRAME_RATE, len(audio.samples) // s2l.HOP + 1


def neural_weights(audio: Audio, fps: float, n_frames: int, emotions: dict[str, float] | None,
                   features: str = "log-mel", progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The S2L network on `features` at `fps`: (ARKit weights solved from its landmarks, T×52; the landmark
    motion itself, T×68×3 metres). Chunk by chunk, so the network's memory stays flat (and `progress`
    hears of each chunk, and may cancel between them)."""
    progress = progress or Progress()
    if features not in FEATURES:
        raise InputError(f"Unknown features '{features}': choose from {', '.join(FEATURES)}.")
    predict, rate, n_model = _predictor(features, audio)
    t = frame_times(n_frames, fps) * rate  # output frames in model frames (frame j at j / rate seconds)
    weights, motion, carry = [], [], None
    try:
        for first, displacement, closed in predict(audio, emotions):
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
            progress.step((last + 1) / n_model)
    except FileNotFoundError as exc:
        raise InputError(str(exc)) from None
    return (np.concatenate(weights).astype(np.float32),
            np.concatenate(motion).astype(np.float32).reshape(n_frames, N_LANDMARKS, 3))


def whisper_available() -> bool:
    """Whether the Whisper-feature network can run here: onnxruntime and both ONNX files present."""
    return (importlib.util.find_spec("onnxruntime") is not None and os.path.exists(installed(s2l_onnx.MODEL))
            and os.path.exists(installed(whisper.DEFAULT_MODEL)))


def closure_heard(audio: Audio, fps: float, n_frames: int, progress: Progress | None = None,
                  windows: list[list[tuple[int, int]]] | None = None, heard_by: str = transcribe.ENGLISH_MODEL
                  ) -> np.ndarray:
    """(n_frames,) 0..1: where a network hears the lips shut, counted from its even odds (probability
    0.5 → 0, 1 → 1), so only what it is sure of closes lips the phones left open.

    `windows`: the sample ranges Whisper's words were heard in (transcribe.speech_windows), each window's
    ranges joined, by the model `heard_by`: the closures then come from those windows' features, already
    encoded, and nothing is heard in the pauses between ranges. tiny.en's features go through the S2L
    network (s2l_onnx), base's through the closure detector (closure_onnx; where it is absent, tiny.en
    encodes the windows again). Without `windows`, the S2L network hears the clip in straight 30 s windows."""
    progress = progress or Progress()
    if windows is not None:
        if heard_by == transcribe.MULTILINGUAL_MODEL and closure_onnx.available():
            features = transcribe.load(heard_by).features
            return _closure_in(audio, fps, n_frames, windows, progress,
                               lambda samples: closure_onnx.closure_probability(features(samples)))
        return _closure_in(audio, fps, n_frames, windows, progress, s2l_onnx.closure_probability)
    predict, rate, n_model = _predictor("whisper", audio)
    t = frame_times(n_frames, fps) * rate
    chunks = []
    for first, _, closed in predict(audio, None):
        chunks.append(closed)
        progress.step((first + len(closed)) / n_model)
    p = np.concatenate(chunks)
    return np.clip(2.0 * np.interp(t, np.arange(len(p)), p) - 1.0, 0.0, 1.0)


def _closure_in(audio: Audio, fps: float, n_frames: int, windows: list[list[tuple[int, int]]],
                progress: Progress, probability: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """closure_heard over the given windows: each window's joined ranges are one pass of `probability`
    (samples → lip-closure probability per 20 ms encoder frame), and each range's frames are read back at
    their own place in the clip."""
    t = frame_times(n_frames, fps) * whisper.SAMPLE_RATE  # output frames in clip samples
    out = np.zeros(n_frames, np.float32)
    for k, ranges in enumerate(windows):
        p = probability(np.concatenate([audio.samples[a:b] for a, b in ranges]))
        joined = 0  # where this range starts in the window's joined samples
        for a, b in ranges:
            sel = (t >= a) & (t < b)
            frames = (t[sel] - a + joined) / s2l_onnx.FEATURE_HOP
            out[sel] = np.interp(frames, np.arange(len(p)), p)
            joined += b - a
        progress.step((k + 1) / len(windows))
    return np.clip(2.0 * out - 1.0, 0.0, 1.0)

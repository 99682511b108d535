"""The neural engine's motion: the S2L network's landmark motion and the ARKit weights solved from it.

Runs the network chunk by chunk (s2l.predict) and resamples each chunk to the output frame
rate as it comes, so memory stays flat for an hour of audio.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..face.ibug import N_LANDMARKS
from ..speech.audio import Audio
from .articulation import close_lips, frame_times
from .solve_arkit import weights_from_landmarks


def neural_weights(audio: Audio, fps: float, n_frames: int, emotions: dict[str, float] | None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The S2L network at `fps`: (ARKit weights solved from its landmarks, T×52; the landmark motion
    itself, T×68×3 metres). Chunk by chunk, so the network's memory stays flat."""
    try:
        from . import s2l
    except ImportError as exc:
        raise InputError(f"The neural engine needs PyTorch and librosa ({exc.name} is missing): "
                         "choose the phonetic engine, or install them into Blender's Python.") from None
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
            np.concatenate(motion).astype(np.float32).reshape(n_frames, N_LANDMARKS, 3))

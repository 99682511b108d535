"""`Animation`: the one data type that crosses into Blender.

Pure data: shape-key basis names, per-frame weights, frame rate, start frame,
static emotion intensities and metadata. The Blender writer turns it into shape
keys and F-curves; `save_npz` writes it for tools outside Blender.
"""
from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np

from ..face.arkit import ARKIT_NAMES, INDEX
from ..face.emotions import emotion_weights
from ..motion.articulation import blinks


@dataclass
class Animation:
    weights: np.ndarray  # T×K float32, one column per basis shape key
    fps: float
    names: tuple[str, ...] = ARKIT_NAMES
    start_frame: int = 1
    emotions: dict[str, float] = field(default_factory=dict)
    audio_path: str | None = None
    duration: float = 0.0  # seconds of audio
    metadata: dict = field(default_factory=dict)
    emotions_in_weights: bool = False  # the engine spoke with the emotions (neural): no separate layer
    landmark_motion: np.ndarray | None = None  # T×68×3 metres on the built-in head, from a landmark engine

    @property
    def n_frames(self) -> int:
        return len(self.weights)

    def combined_weights(self, live: Collection[str] = ()) -> np.ndarray:
        """Speech + emotion layers, clipped to 0..1 (what the face shows). The `live` emotions are left out of
        the layer: a character's own expression keys play them from the sliders."""
        if self.emotions_in_weights:
            return np.clip(self.weights, 0.0, 1.0)
        layer = {e: v for e, v in self.emotions.items() if e not in live}
        return np.clip(self.weights + emotion_weights(layer), 0.0, 1.0)

    def save_npz(self, path: str, rig, vertices: bool = False) -> None:
        """Write the npz other tools read, its landmarks (and `vertices`) posed on `rig` (a deform.rig.Rig:
        the built-in head's, or any mesh's)."""
        w = self.combined_weights()
        out = dict(
            fps=np.float32(self.fps),
            start_frame=np.int32(self.start_frame),
            names=np.array(self.names),
            weights=self.weights.astype(np.float32),
            combined_weights=w.astype(np.float32),
            landmarks=rig.landmark_positions(w),
            metadata=np.array(json.dumps({**self.metadata, "emotions": self.emotions,
                                          "emotions_in_weights": self.emotions_in_weights,
                                          "audio": self.audio_path, "duration": self.duration})),
        )
        if vertices:
            out["vertices"] = rig.vertex_positions(w).astype(np.float32)
        np.savez_compressed(path, **out)


def join(lines: list[Animation], blink: bool = True, seed: int = 0) -> Animation:
    """One character's lines (ARKit weights, one frame rate) as one Animation, from the first line's start to
    the last one's end: each line's curves at its own frames (a later line over an earlier one where they
    overlap), the rest pose between them, and, with `blink`, blinks over the whole of it (animate the lines
    without their own)."""
    lines = sorted(lines, key=lambda a: a.start_frame)
    first, fps = lines[0].start_frame, lines[0].fps
    n = max(a.start_frame + a.n_frames for a in lines) - first
    weights = np.zeros((n, len(ARKIT_NAMES)), np.float32)
    has_motion = all(a.landmark_motion is not None for a in lines)
    motion = np.zeros((n, *lines[0].landmark_motion.shape[1:]), np.float32) if has_motion else None
    for a in lines:
        at = slice(a.start_frame - first, a.start_frame - first + a.n_frames)
        weights[at] = a.weights
        if has_motion:
            motion[at] = a.landmark_motion
    if blink:
        weights[:, [INDEX["eyeBlinkLeft"], INDEX["eyeBlinkRight"]]] = blinks(n, fps, seed)
    unknown = [w for a in lines for w in a.metadata.get("unknown_words", [])]
    warnings = [a.metadata["warning"] for a in lines if a.metadata.get("warning")]
    meta = {"timing": ", ".join(dict.fromkeys(a.metadata.get("timing", "") for a in lines)),
            "lines": [a.metadata for a in lines], **({"unknown_words": unknown} if unknown else {}),
            **({"warning": " ".join(warnings)} if warnings else {})}
    return Animation(weights=weights, fps=fps, start_frame=first, emotions=lines[0].emotions, duration=n / fps,
                     metadata=meta, emotions_in_weights=lines[0].emotions_in_weights, landmark_motion=motion)

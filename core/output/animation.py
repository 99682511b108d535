"""`Animation`: the one data type that crosses into Blender.

Pure data: shape-key basis names, per-frame weights, frame rate, start frame,
static emotion intensities and metadata. The Blender writer turns it into shape
keys and F-curves; `save_npz` writes it for tools outside Blender.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from ..face.arkit import ARKIT_NAMES
from ..face.emotions import emotion_weights


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

    def combined_weights(self) -> np.ndarray:
        """Speech + emotion layers, clipped to 0..1 (what the face shows)."""
        if self.emotions_in_weights:
            return np.clip(self.weights, 0.0, 1.0)
        return np.clip(self.weights + emotion_weights(self.emotions), 0.0, 1.0)

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

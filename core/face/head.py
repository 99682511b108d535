"""The built-in head: neutral mesh, its 52 ARKit targets and its 68 iBUG landmarks.

The asset is made by `tools/build_head.py` from CC0 MakeHuman data (see its
licence field). Units are metres in Blender axes (Z up, the face looks at -Y).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..geometry.ops import triangles
from ..paths import asset
from .arkit import ARKIT_NAMES

ASSET = asset("head.npz")


@dataclass(frozen=True)
class Head:
    vertices: np.ndarray  # V×3 float32
    faces: np.ndarray  # F×4 int32 (quads)
    parts: np.ndarray  # V int8, index into part_names
    part_names: tuple[str, ...]
    deltas: np.ndarray  # 52×V×3 float32, ARKit targets minus neutral
    landmarks: np.ndarray  # 68 vertex indices, iBUG order
    licence: str

    def landmark_positions(self, weights: np.ndarray) -> np.ndarray:
        """T×52 weights → T×68×3 absolute landmark positions."""
        return posed(self.vertices[self.landmarks], self.deltas[:, self.landmarks], weights)

    def landmark_basis(self) -> np.ndarray:
        """52 × 204: ARKit weights → landmark displacement (metres)."""
        return self.deltas[:, self.landmarks].reshape(len(self.deltas), -1)

    def vertex_positions(self, weights: np.ndarray) -> np.ndarray:
        """T×52 weights → T×V×3 animated vertices."""
        return posed(self.vertices, self.deltas, weights)

    def skin_triangles(self) -> np.ndarray:
        """The skin's quads as triangles: the surface other meshes are fitted to and read their motion from."""
        return self.part_triangles(0)

    def part_triangles(self, part: int) -> np.ndarray:
        """The quads of one part (index into part_names) as triangles."""
        return triangles(self.faces[(self.parts[self.faces] == part).all(1)])


def posed(vertices: np.ndarray, deltas: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Blend shapes: N×3 rest + T×K weights · K×N×3 deltas → T×N×3 float32."""
    out = vertices.reshape(1, -1) + weights.astype(np.float32) @ deltas.reshape(len(deltas), -1)
    return out.reshape(len(weights), -1, 3).astype(np.float32)


@functools.lru_cache(maxsize=1)
def load_head() -> Head:
    with np.load(ASSET) as z:
        assert tuple(z["arkit_names"]) == ARKIT_NAMES
        return Head(z["vertices"], z["faces"], z["parts"], tuple(str(p) for p in z["part_names"]),
                    z["arkit_deltas"], z["landmarks"], str(z["licence"]))

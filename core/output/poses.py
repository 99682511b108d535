"""A bone rig's face poses (one per viseme or ARKit shape) and their per-frame blend.

An artist's bone face rig arrives as an Action whose pose markers name the poses (frame k of marker `PP`
holds the bone transforms of the PP viseme), or as pose assets (an Action per pose, named after it); the
names are Oculus, VRM, CC or ARKit names, read as keysets.py reads shape-key names. A pose named `rest`
(or neutral, basis) is the one the others are relative to; without one it is the armature's rest pose
(no transform). The weights of the poses come from the same per-frame fit as shape keys (retarget.py, on
the mesh each pose deforms); each frame's transforms are then rest + Σ w_k (pose_k - rest) for location,
scale, Euler and axis-angle rotations, and rest · exp(Σ w_k log(rest⁻¹ · pose_k)) for quaternions, so
rotations blend on the sphere (a half-and-half jaw is half the angle).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..face.keysets import KeyMapping, detect, normalise

PROP_SIZE = {"location": 3, "rotation_quaternion": 4, "rotation_euler": 3, "rotation_axis_angle": 4, "scale": 3}
IDENTITY = {"location": (0.0, 0.0, 0.0), "rotation_quaternion": (1.0, 0.0, 0.0, 0.0),
            "rotation_euler": (0.0, 0.0, 0.0), "rotation_axis_angle": (0.0, 0.0, 1.0, 0.0), "scale": (1.0, 1.0, 1.0)}
REST_NAMES = frozenset({"rest", "neutral", "basis", "default"})  # normal forms of a rest marker's name
BONE_PATH = re.compile(r'^pose\.bones\["((?:[^"\\]|\\.)*)"\]\.(\w+)$')
MOVED = 1e-6  # a channel no pose moves by more than this (Blender units, radians, scale) is not keyed


@dataclass(frozen=True)
class PoseLibrary:
    """The poses of an Action: `channels` (bone, property) in order, each PROP_SIZE wide in the value rows."""

    channels: tuple[tuple[str, str], ...]
    rest: np.ndarray  # C values: the pose the others are relative to
    poses: dict[str, np.ndarray]  # marker name → C values

    def columns(self) -> list[tuple[str, str, int]]:
        """(bone, property, index) per value column: the F-curves to key."""
        return [(bone, prop, i) for bone, prop in self.channels for i in range(PROP_SIZE[prop])]

    def moved(self, names) -> np.ndarray:
        """Bool per column: some pose of `names` moves its channel (all of a channel's components go together:
        a blend of rotations may turn a component no single pose changes)."""
        col = np.any([np.abs(self.poses[n] - self.rest) > MOVED for n in names], axis=0)
        sizes = [PROP_SIZE[p] for _, p in self.channels]
        return np.repeat([c.any() for c in np.split(col, np.cumsum(sizes)[:-1])], sizes)


def parse_path(path: str) -> tuple[str, str] | None:
    """`pose.bones["jaw"].location` → ('jaw', 'location'); None for a path that is no bone transform."""
    m = BONE_PATH.match(path)
    if not m or m.group(2) not in PROP_SIZE:
        return None
    return m.group(1).replace('\\"', '"').replace("\\\\", "\\"), m.group(2)


def library(samples: dict[str, dict[tuple[str, str, int], float]]) -> PoseLibrary:
    """Pose name → its values per (bone, property, index), as keyed at the pose's frame (a marker's, or a pose
    asset's). A component a pose does not key keeps its rest value; the pose named `rest` (or neutral, ...) is
    the rest, else the armature's rest pose (no transform) is."""
    found = [c for values in samples.values() for c in values]
    channels = tuple(dict.fromkeys((b, p) for b, p, _ in found))
    cols = [(b, p, i) for b, p in channels for i in range(PROP_SIZE[p])]
    defaults = np.array([IDENTITY[p][i] for _, p, i in cols], np.float64)
    rest_name = next((n for n in samples if normalise(n) in REST_NAMES), None)
    rest = defaults.copy()
    if rest_name:
        rest = np.array([samples[rest_name].get(c, d) for c, d in zip(cols, defaults, strict=True)], np.float64)
    poses = {n: np.array([values.get(c, r) for c, r in zip(cols, rest, strict=True)], np.float64)
             for n, values in samples.items() if n != rest_name}
    return PoseLibrary(channels, rest, poses)


def pose_mapping(lib: PoseLibrary) -> KeyMapping:
    """Which poses play which channel, from the marker names; InputError when none is a name we know."""
    found = detect(list(lib.poses))
    if found.empty:
        shown = ", ".join(list(lib.poses)[:8]) or "no poses"
        raise InputError(f"No pose is named after a viseme or ARKit shape we know ({shown}): name the pose markers "
                         "(or pose assets) after Oculus visemes (PP, aa, O, ...), VRM vowels (A I U E O), Character "
                         "Creator visemes (V_Open) or ARKit shapes (jawOpen), or give a mapping preset.")
    return found


def blend(lib: PoseLibrary, names, weights: np.ndarray) -> np.ndarray:
    """T×C channel values for T×K `weights` of the poses `names` (see the module's note on rotations)."""
    w = weights.astype(np.float64)
    delta = np.stack([lib.poses[n] - lib.rest for n in names])  # K×C
    out = lib.rest[None] + w @ delta
    col = 0
    for bone, prop in lib.channels:
        if prop == "rotation_quaternion":
            rest = _unit(lib.rest[col:col + 4])
            logs = np.stack([_log(_mul(_conj(rest), _unit(lib.poses[n][col:col + 4]))) for n in names])  # K×3
            out[:, col:col + 4] = _mul(rest, _exp(w @ logs))
        col += PROP_SIZE[prop]
    return out.astype(np.float32)


def _unit(q: np.ndarray) -> np.ndarray:
    return q / max(float(np.linalg.norm(q)), 1e-12)


def _conj(q: np.ndarray) -> np.ndarray:
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def _mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product (w, x, y, z), broadcast over leading axes."""
    aw, ax, ay, az = np.moveaxis(np.broadcast_to(a, np.broadcast_shapes(a.shape, b.shape)), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.broadcast_to(b, np.broadcast_shapes(a.shape, b.shape)), -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], -1)


def _log(q: np.ndarray) -> np.ndarray:
    """Unit quaternion → its rotation's half-angle vector (the shorter way round)."""
    q = q if q[0] >= 0 else -q
    s = np.linalg.norm(q[1:])
    return q[1:] * (np.arctan2(s, q[0]) / s if s > 1e-12 else 1.0)


def _exp(v: np.ndarray) -> np.ndarray:
    """T×3 half-angle vectors → T×4 unit quaternions."""
    a = np.linalg.norm(v, axis=-1, keepdims=True)
    scale = np.where(a > 1e-12, np.sin(a) / np.maximum(a, 1e-12), 1.0)
    return np.concatenate([np.cos(a), v * scale], -1)

"""`python -m core train deform`: train the DiffusionNet deformer on identities × topologies.

Each training mesh is the built-in head with a random MakeHuman identity (a few of the
CC0 targets in `assets/identities.npz` at random weights), in one of three topologies:
its own quads, a quadric decimation (20-45 % or 55-80 % of the triangles kept, so the
benchmark's one-half decimation is never seen), or such a decimation subdivided at its
edge midpoints. Ground truth is the artist's 52 ARKit targets carried to each vertex by
its closest point on the identity's surface. Every step draws one mesh, perturbs its
pose and scale slightly (as a registration leaves it) and minimises the mean per-vertex
error (the benchmark's measure). Half the meshes are cut down the way real scans are: the
skin alone (no eyes, teeth or tongue), or a face mask without the back of the head and
neck. Deterministic from the seed.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
import torch

from .. import checkpoints
from ..deform import diffusionnet as dn
from ..face.head import Head, load_head
from ..geometry.ops import largest_piece, midpoint_subdivide, triangles
from ..paths import asset
from .deform_eval import surface_targets

IDENTITIES = asset("identities.npz")
TARGETS_PER_FACE = 8


@dataclass
class Sample:
    x: np.ndarray  # N×3, head frame (metres)
    normals: np.ndarray  # N×3
    ops: dict[str, torch.Tensor]
    target: torch.Tensor  # 52×N×3, cm


def identity_targets() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, head vertex ids, displacement metres) of every stored identity target."""
    with np.load(IDENTITIES) as z:
        s, ids, vals = z["starts"], z["ids"], z["values"].astype(np.float64)
        return [(str(n), ids[s[k]:s[k + 1]], vals[s[k]:s[k + 1]]) for k, n in enumerate(z["names"])]


def random_identity(head: Head, targets, rng: np.random.Generator) -> np.ndarray:
    """The head's vertices under a few random identity targets (one macro age/gender target, often)."""
    v = head.vertices.astype(np.float64).copy()
    macro = [k for k, (n, _, _) in enumerate(targets) if n.endswith(("-young", "-old"))]
    local = [k for k in range(len(targets)) if k not in macro]
    picks = list(rng.choice(local, TARGETS_PER_FACE, replace=False))
    if rng.random() < 0.7:
        picks.append(int(rng.choice(macro)))
    for k in picks:
        _, ids, d = targets[k]
        v[ids] += rng.uniform(0.2, 1.0) * d
    return v


def crop(V: np.ndarray, F: np.ndarray, D: np.ndarray, rng: np.random.Generator):
    """Half the faces whole; else only the skin (no eyes, teeth, tongue), or a face mask like a scan's."""
    r = rng.random()
    if r < 0.5:
        return V, F, D
    keep = largest_piece(len(V), F)
    if r >= 0.75:
        keep &= (V[:, 1] < rng.uniform(-0.10, -0.04)) & (V[:, 2] > rng.uniform(0.02, 0.06))
    F = F[keep[F].all(1)]
    keep = largest_piece(len(V), F)  # also drops the vertices no face uses any more
    F = F[keep[F].all(1)]
    remap = np.cumsum(keep) - 1
    return V[keep], remap[F], D[:, keep]


def random_mesh(head: Head, targets, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vertices, triangles, 52×N×3 ground truth) of one training face."""
    V, F, D = _remeshed(head, random_identity(head, targets, rng), rng)
    return crop(V, F, D, rng)


def _remeshed(head: Head, V0: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import fast_simplification

    tris0 = triangles(head.faces).astype(np.int64)
    kind = rng.integers(3)
    if kind == 0:
        return V0, tris0, head.deltas.astype(np.float64)
    keep = rng.uniform(0.2, 0.45) if rng.random() < 0.5 else rng.uniform(0.55, 0.8)
    if kind == 2:
        keep *= 0.4  # about as many vertices again once subdivided
    V, F = fast_simplification.simplify(V0.astype(np.float32), tris0.astype(np.int32), target_reduction=1 - keep)
    V, F = V.astype(np.float64), F.astype(np.int64)
    if kind == 2:
        V, F, _ = midpoint_subdivide(V, F)
    return V, F, surface_targets(V0, tris0, head.deltas.astype(np.float64), V)[0]


def build_pool(count: int, seed: int, log=print) -> list[Sample]:
    head, targets = load_head(), identity_targets()
    rng = np.random.default_rng(seed)
    pool = []
    for k in range(count):
        V, F, D = random_mesh(head, targets, rng)
        ops = dn.operators(V * dn.IN_SCALE, F)
        pool.append(Sample(V, ops.normals.astype(np.float64), dn.tensors(ops),
                           torch.from_numpy((D * dn.OUT_SCALE).astype(np.float32))))
        if (k + 1) % 10 == 0:
            log(f"training meshes: {k + 1}/{count}")
    return pool


def _random_rotation(rng: np.random.Generator, degrees: float) -> np.ndarray:
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    a = np.radians(rng.uniform(-degrees, degrees))
    K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * K + (1 - np.cos(a)) * K @ K


def step_inputs(s: Sample, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Features and target of `s` under a small pose/scale error like the registration's."""
    R = _random_rotation(rng, 4.0)
    scale = rng.uniform(0.96, 1.04)
    shift = rng.normal(scale=0.003, size=3)
    x = scale * s.x @ R.T + shift
    target = s.target @ torch.from_numpy((scale * R.T).astype(np.float32))
    return dn.features(x, s.normals @ R.T), target


def loss_fn(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean per-vertex distance (cm) over every target shape."""
    return torch.linalg.vector_norm(pred - target, dim=-1).mean()


def fit(pool: list[Sample], steps: int, seed: int, lr: float = 2e-3, log=print,
        **model_kw) -> tuple[dn.DeformNet, list[float]]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed + 1)
    model = dn.DeformNet(**model_kw)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-5)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.05)
    history, t0 = [], time.time()
    model.train()
    for step in range(1, steps + 1):
        s = pool[int(rng.integers(len(pool)))]
        feats, target = step_inputs(s, rng)
        loss = loss_fn(model(feats, s.ops), target)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        history.append(loss.item())
        if step % 100 == 0 or step == steps:
            log(f"step {step}/{steps}  loss {10 * np.mean(history[-100:]):.3f} mm  {time.time() - t0:.0f} s")
    return model.eval(), history


def main(args) -> None:
    t = time.time()
    pool = build_pool(args.meshes, args.seed, log=lambda s: print(s, flush=True))
    model, history = fit(pool, args.steps, args.seed, log=lambda s: print(s, flush=True))
    out = args.out or dn.WEIGHTS
    meta = {"command": checkpoints.command("deform"), "seed": args.seed, "steps": args.steps, "meshes": args.meshes,
            "minutes": round((time.time() - t) / 60, 1), "final_loss_mm": float(10 * np.mean(history[-100:]))}
    checkpoints.save(out, model, meta)
    print(f"{out}: {os.path.getsize(out) / 1e6:.1f} MB after {args.steps} steps, {meta['minutes']} min", flush=True)

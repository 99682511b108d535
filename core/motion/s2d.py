"""Sparse2Dense (S2D): landmark displacement (68×3) → dense displacement of a fixed template mesh.

The decoder of the S2L + S2D research pipeline: an MLP reads the 68 landmarks'
motion (and the identity's neutral landmarks, so one decoder serves several faces
of the same topology) and gives the coefficients of a learned basis of dense
displacements, initialised from the PCA of the training motion. Trained by
`python -m core train s2d` on ARKit expressions (speech visemes, emotions, random
mixtures) of each template identity's rig: the built-in head's own targets, or for
a folder of meshes of one topology (FLAME heads) the rigs our transfer builds on them.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .. import checkpoints
from ..face.arkit import ARKIT_NAMES, INDEX
from ..face.emotions import EMOTION_NAMES, emotion_weights
from ..face.ibug import N_LANDMARKS
from ..paths import asset
from .articulation import VISEME_WEIGHTS, close_lips

WEIGHTS = asset("s2d_head.pt")
SCALE = 100.0  # centimetres inside the network


@dataclass
class Identity:
    """One face of the template topology: neutral vertices, ARKit deltas (52×V×3), landmark vertex ids."""
    vertices: np.ndarray
    deltas: np.ndarray
    landmarks: np.ndarray

    def neutral_landmarks(self) -> np.ndarray:
        p = self.vertices[self.landmarks]
        return ((p - p.mean(0)) / np.linalg.norm(p - p.mean(0), axis=1).mean()).astype(np.float32)


def expressions(rng: np.random.Generator, n: int, held_out: tuple[str, ...] = ()) -> np.ndarray:
    """n×52 ARKit weights like speech and emotion make them: a viseme (possibly two blended), an
    emotion (none held out), a lip closure now and then, and random extra channels."""
    visemes = [v for k, v in VISEME_WEIGHTS.items() if k != "SIL"]
    emotions = [e for e in EMOTION_NAMES if e not in held_out]
    w = np.zeros((n, len(ARKIT_NAMES)), np.float32)
    for i in range(n):
        a, b = visemes[rng.integers(len(visemes))], visemes[rng.integers(len(visemes))]
        mix = rng.uniform()
        w[i] = (mix * a + (1 - mix) * b) * rng.uniform(0.3, 1.3)
        if rng.random() < 0.6:
            w[i] += emotion_weights({emotions[rng.integers(len(emotions))]: rng.uniform(0.1, 1.0)})
        extra = rng.choice(len(ARKIT_NAMES), int(rng.integers(0, 4)), replace=False)
        w[i, extra] += rng.uniform(0, 0.5, len(extra))
    close = (rng.random(n) < 0.2).astype(np.float32) * rng.uniform(0.5, 1.0, n)
    close_lips(w, close)
    w[:, [INDEX[k] for k in ("eyeBlinkLeft", "eyeBlinkRight")]] = 0.0  # blinks are added after S2D
    return np.clip(w, 0.0, 1.0)


def held_out_expressions(rng: np.random.Generator, n: int, emotion: str) -> np.ndarray:
    """Expressions with the emotion the training never saw."""
    w = expressions(rng, n, held_out=tuple(e for e in EMOTION_NAMES if e != emotion))
    w += emotion_weights({emotion: 1.0}) * rng.uniform(0.3, 1.0, (n, 1)).astype(np.float32)
    return np.clip(w, 0.0, 1.0)


def pairs(identity: Identity, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(landmark displacement n×204, dense displacement n×V·3), metres."""
    d = identity.deltas.reshape(len(ARKIT_NAMES), -1)
    lm = identity.deltas[:, identity.landmarks].reshape(len(ARKIT_NAMES), -1)
    return weights @ lm, weights @ d


class S2D(nn.Module):
    def __init__(self, n_vertices: int, k: int = 64, hidden: int = 256):
        super().__init__()
        self.config = {"n_vertices": n_vertices, "k": k, "hidden": hidden}
        self.mlp = nn.Sequential(nn.Linear(N_LANDMARKS * 3 * 2, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                                 nn.Linear(hidden, k))
        self.linear = nn.Linear(N_LANDMARKS * 3, k, bias=False)  # the linear part of the map, next to the MLP
        self.basis = nn.Parameter(torch.zeros(k, n_vertices * 3))

    def forward(self, landmarks: torch.Tensor, neutral: torch.Tensor) -> torch.Tensor:
        """B×204 landmark displacement (cm), B×204 normalised neutral landmarks → B×V·3 (cm)."""
        coeff = self.mlp(torch.cat([landmarks, neutral], 1)) + self.linear(landmarks)
        return coeff @ self.basis


def fit(identities: list[Identity], n_train: int = 8000, steps: int = 3000, seed: int = 0, k: int = 64,
        log=print) -> S2D:
    """Train on expressions of every identity (no held-out emotion: 'disgusted' is kept for testing)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    xs, ns, ys = [], [], []
    for ident in identities:
        w = expressions(rng, n_train // len(identities), held_out=("disgusted",))
        x, y = pairs(ident, w)
        xs.append(x), ys.append(y), ns.append(np.repeat(ident.neutral_landmarks().reshape(1, -1), len(w), 0))
    x = torch.from_numpy(np.concatenate(xs) * SCALE).float()
    nl = torch.from_numpy(np.concatenate(ns)).float()
    y = torch.from_numpy(np.concatenate(ys) * SCALE).float()
    model = S2D(y.shape[1] // 3, k)
    with torch.no_grad():
        # the basis starts as the principal components of the training motion, the linear part as the
        # least-squares map onto them, and the MLP at zero: training starts from the best linear decoder
        _, _, v = torch.linalg.svd(y[torch.randperm(len(y))[:4000]], full_matrices=False)
        model.basis.copy_(v[:k])
        coeff = (y @ v[:k].T).double()
        xd = x.double()
        gram = xd.T @ xd
        # ridge at 1 % of the mean eigenvalue: landmark motion spans few directions, and a new identity's
        # motion leaves them a little; without it those small directions are amplified
        ridge = 1e-2 * torch.trace(gram) / len(gram)
        model.linear.weight.copy_(torch.linalg.solve(gram + ridge * torch.eye(len(gram), dtype=gram.dtype),
                                                     xd.T @ coeff).T.float())
        model.mlp[-1].weight.zero_()
        model.mlp[-1].bias.zero_()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for step in range(1, steps + 1):
        idx = torch.from_numpy(rng.integers(0, len(x), 256))
        loss = ((model(x[idx], nl[idx]) - y[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 500 == 0:
            log(f"s2d step {step}/{steps}  loss {loss.item():.5f} cm²")
    return model.eval()


def save(model: S2D, path: str, identity: Identity, meta: dict) -> None:
    checkpoints.save(path, model, meta, neutral=torch.from_numpy(identity.neutral_landmarks()))


@functools.lru_cache(maxsize=2)
def load(path: str = WEIGHTS) -> tuple[S2D, np.ndarray]:
    """(model, the template's normalised neutral landmarks), weights_only."""
    ckpt = checkpoints.load(path)
    model = S2D(**ckpt["config"])
    model.load_state_dict(ckpt["state"])
    return model.eval(), ckpt["neutral"].numpy()


@torch.inference_mode()
def decode(model: S2D, neutral: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """T×68×3 landmark displacement (m) → (coefficients T×K, basis K×V×3 in m): the dense motion is
    their product, so a long clip never has to sit in memory as T×V×3 (baked mode works on these)."""
    nl = torch.from_numpy(neutral.reshape(1, -1)).float()
    x = torch.from_numpy(landmarks.reshape(-1, N_LANDMARKS * 3) * SCALE).float()
    coeff = model.mlp(torch.cat([x, nl.expand(len(x), -1)], 1)) + model.linear(x)
    return coeff.numpy(), (model.basis / SCALE).numpy().reshape(len(model.basis), -1, 3)


def dense(model: S2D, neutral: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """T×68×3 landmark displacement (m) → T×V×3 dense displacement (m)."""
    coeff, basis = decode(model, neutral, landmarks)
    return (coeff @ basis.reshape(len(basis), -1)).reshape(len(coeff), -1, 3)

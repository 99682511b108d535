"""DiffusionNet (Sharp et al. 2022) that predicts the 52 ARKit targets on any face mesh.

Method (b) of the any-mesh deformers, in the spirit of ScanTalk: the mesh, posed and
scaled into the built-in head's frame by the registration's similarity fit, goes through
a few blocks of learned heat diffusion (in the mesh's own Laplacian spectrum), tangent
gradient features and per-vertex MLPs; the output is 52×3 displacements per vertex.
It never sees vertex ids, so it works on any topology; it is trained by
`python -m core train deform` on MakeHuman identities × re-meshed topologies.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .. import checkpoints
from ..face.arkit import ARKIT_NAMES
from ..geometry.spectral import Operators, operators
from ..paths import asset

WEIGHTS = asset("deform_net.pt")
IN_SCALE = 10.0  # head-frame metres → network units (the head is ~2.5 wide)
OUT_SCALE = 100.0  # displacement metres → network units (cm)
MAX_VERTICES = 150_000  # the spectrum of bigger meshes is too slow to compute: the correspondence method serves them


class Diffusion(nn.Module):
    """Heat diffusion for a learned time per channel, in the spectral basis."""

    def __init__(self, width: int):
        super().__init__()
        self.log_time = nn.Parameter(torch.full((width,), -4.0))

    def forward(self, x: torch.Tensor, ops: dict[str, torch.Tensor]) -> torch.Tensor:
        spec = ops["evecs"].T @ (ops["mass"][:, None] * x)
        decay = torch.exp(-ops["evals"][:, None] * torch.exp(self.log_time)[None, :])
        return ops["evecs"] @ (decay * spec)


class GradientFeatures(nn.Module):
    """Frame-independent features from each channel's tangent gradient: tanh(<g, R g>) with learned R."""

    def __init__(self, width: int):
        super().__init__()
        self.re = nn.Linear(width, width, bias=False)
        self.im = nn.Linear(width, width, bias=False)

    def forward(self, gx: torch.Tensor, gy: torch.Tensor) -> torch.Tensor:
        rx = self.re(gx) - self.im(gy)
        ry = self.re(gy) + self.im(gx)
        return torch.tanh(gx * rx + gy * ry)


class Block(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.diffusion = Diffusion(width)
        self.gradient = GradientFeatures(width)
        self.mlp = nn.Sequential(nn.Linear(3 * width, width), nn.GELU(), nn.Linear(width, width))

    def forward(self, x: torch.Tensor, ops: dict[str, torch.Tensor]) -> torch.Tensor:
        d = self.diffusion(x, ops)
        g = self.gradient(torch.sparse.mm(ops["grad_x"], d), torch.sparse.mm(ops["grad_y"], d))
        return x + self.mlp(torch.cat([x, d, g], dim=-1))


class DeformNet(nn.Module):
    """Per-vertex position and normal (head frame) → 52×3 ARKit displacements (cm)."""

    def __init__(self, width: int = 128, blocks: int = 4, outputs: int = len(ARKIT_NAMES)):
        super().__init__()
        self.config = {"width": width, "blocks": blocks, "outputs": outputs}
        self.inp = nn.Linear(6, width)
        self.blocks = nn.ModuleList(Block(width) for _ in range(blocks))
        self.out = nn.Linear(width, 3 * outputs)

    def forward(self, features: torch.Tensor, ops: dict[str, torch.Tensor]) -> torch.Tensor:
        x = self.inp(features)
        for block in self.blocks:
            x = block(x, ops)
        return self.out(x).view(len(x), -1, 3).transpose(0, 1)


def _sparse(m) -> torch.Tensor:
    m = m.tocoo()
    idx = torch.from_numpy(np.stack([m.row, m.col]).astype(np.int64))
    return torch.sparse_coo_tensor(idx, torch.from_numpy(m.data.astype(np.float32)), m.shape,
                                   check_invariants=False).coalesce()


def tensors(ops: Operators, to: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    out = {"mass": torch.from_numpy(ops.mass), "evals": torch.from_numpy(ops.evals),
           "evecs": torch.from_numpy(ops.evecs), "grad_x": _sparse(ops.grad_x), "grad_y": _sparse(ops.grad_y)}
    return {k: v.to(to) for k, v in out.items()}


def features(x_head: np.ndarray, normals: np.ndarray) -> torch.Tensor:
    """Per-vertex network input: position (head frame, network units) and unit normal."""
    return torch.from_numpy(np.concatenate([x_head * IN_SCALE, normals], 1).astype(np.float32))


def mesh_inputs(x_head: np.ndarray, tris: np.ndarray | None,
                to: torch.device | str = "cpu") -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Network inputs of a mesh already in the head's frame (metres, Z up, looking at -Y)."""
    x = np.asarray(x_head, np.float64)
    ops = operators(x * IN_SCALE, tris)
    return features(x, ops.normals).to(to), tensors(ops, to)


def load(path: str = WEIGHTS) -> DeformNet:
    ck = checkpoints.load(path)
    model = DeformNet(**ck["config"])
    model.load_state_dict(ck["state"])
    model.meta = ck["meta"]
    return model.eval()


def predict(model: DeformNet, x_head: np.ndarray, tris: np.ndarray | None) -> np.ndarray:
    """52×N×3 ARKit displacements (metres, head frame) for a mesh in the head's frame."""
    dev = checkpoints.device(sparse=True)
    feats, ops = mesh_inputs(x_head, tris, dev)
    with torch.no_grad():
        return (model.to(dev)(feats, ops) / OUT_SCALE).cpu().numpy()

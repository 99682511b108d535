"""Our PyTorch model files: where a network runs, and how its weights are saved and loaded.

One format for every network (S2L, Sparse2Dense, the DiffusionNet deformer): a dict of
plain tensors and numbers, {"config", "state", "meta", ...}, read with weights_only=True
so a weight file can never run code. Saving goes through a temporary file, so an
interrupted training run never leaves a half-written asset. Import only where torch is
present: the phonetic engines never import this.
"""
from __future__ import annotations

import os
import sys

import torch

from .paths import MODELS_HINT, installed


def device(sparse: bool = False) -> torch.device:
    """CUDA or Apple's MPS when present, else the CPU; `sparse` networks skip MPS (no sparse matrix product)."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if not sparse and mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def save(path: str, model: torch.nn.Module, meta: dict, **extra) -> None:
    """Write the model's config and weights (+ `extra` tensors) to `path`, atomically."""
    torch.save({"config": model.config, "state": model.state_dict(), "meta": meta, **extra}, path + ".tmp")
    os.replace(path + ".tmp", path)


def load(path: str) -> dict:
    """The saved dict, on the CPU (weights_only: a weight file cannot run code)."""
    path = installed(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No network weights at {path}: {MODELS_HINT} (in a source checkout, train "
                                "them with `python -m core train`).")
    return torch.load(path, map_location="cpu", weights_only=True)


def command(subcommand: str) -> str:
    """The training command line that made a model, for its metadata (reproducibility)."""
    if subcommand not in sys.argv:
        return ""
    return f"python -m core train {subcommand} " + " ".join(sys.argv[sys.argv.index(subcommand) + 1:])

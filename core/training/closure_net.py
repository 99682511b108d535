"""The lip-closure detector on Whisper base's encoder features (trained by train_closure.py), and its export to
ONNX for onnxruntime alone in Blender.

The network: features (B, T, 512) raw, at 50 Hz → lip-closure logits (B, T); three 1-D convolutions (±120 ms),
the standardisation by the training features' mean and spread inside, so the exported graph takes the encoder's
output as it comes. Frame rate and feature kind travel as ONNX metadata.

    python tools/export_closure_onnx.py core/assets/closure_base.pt   # also done by `train closure`
"""
from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from .. import checkpoints
from ..motion.closure_onnx import FRAME_RATE
from ..paths import asset
from ..speech.transcribe import MULTILINGUAL_MODEL

WEIGHTS = asset("closure_base.pt")
HIDDEN = 32  # channels: wider ones learned the synthetic voices by heart (held-out loss rose from step 250)
KERNEL = 5  # frames; two such layers, the second dilated by 2, see ±120 ms
INPUT_DROPOUT = 0.5  # of the 512 features, during training only: no single feature of a voice to lean on
DROPOUT = 0.2
OPSET = 17
EXAMPLE_FRAMES = 120  # trace length; the frame axis is dynamic


class ClosureNet(nn.Module):
    """features (B, T, D) raw → lip-closure logits (B, T); the standardisation (training mean and spread)
    is part of the network, so the exported graph takes the encoder's output as it comes."""

    def __init__(self, n_inputs: int, mean: np.ndarray | None = None, std: np.ndarray | None = None):
        super().__init__()
        self.config = {"n_inputs": n_inputs, "hidden": HIDDEN, "kernel": KERNEL, "frame_rate": FRAME_RATE,
                       "features": f"whisper-{MULTILINGUAL_MODEL}"}
        self.register_buffer("mean", torch.zeros(n_inputs) if mean is None else torch.as_tensor(mean).float())
        self.register_buffer("std", torch.ones(n_inputs) if std is None else torch.as_tensor(std).float())
        pad = KERNEL // 2
        self.net = nn.Sequential(
            nn.Dropout(INPUT_DROPOUT), nn.Conv1d(n_inputs, HIDDEN, 1), nn.GELU(), nn.Dropout(DROPOUT),
            nn.Conv1d(HIDDEN, HIDDEN, KERNEL, padding=pad), nn.GELU(),
            nn.Conv1d(HIDDEN, HIDDEN, KERNEL, padding=2 * pad, dilation=2), nn.GELU(),
            nn.Conv1d(HIDDEN, 1, 1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = (features - self.mean) / self.std
        return self.net(x.transpose(1, 2))[:, 0]


def load(path: str = WEIGHTS) -> ClosureNet:
    saved = checkpoints.load(path)
    model = ClosureNet(saved["config"]["n_inputs"])
    model.load_state_dict(saved["state"])
    return model.eval()


def export_file(weights: str, path: str | None = None) -> str:
    """A saved closure detector (.pt) → ONNX beside it (or at `path`); returns the path."""
    import onnx  # training-side only

    model = load(weights)
    path = path or os.path.splitext(weights)[0] + ".onnx"
    tmp = path + ".tmp.onnx"
    example = torch.zeros(1, EXAMPLE_FRAMES, model.config["n_inputs"])
    torch.onnx.export(model, (example,), tmp, opset_version=OPSET, dynamo=False, input_names=["features"],
                      output_names=["closed_logit"],
                      dynamic_axes={"features": {1: "frames"}, "closed_logit": {1: "frames"}})
    graph = onnx.load(tmp)
    for key in ("frame_rate", "n_inputs", "features"):
        graph.metadata_props.add(key=key, value=str(model.config[key]))
    onnx.checker.check_model(graph)
    onnx.save(graph, path)
    os.remove(tmp)
    return path

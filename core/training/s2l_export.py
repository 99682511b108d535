"""Export a trained S2L network to ONNX, so the engine can run it with onnxruntime alone (no torch in Blender).

The graph is the network itself (input standardisation included): features 1×T×D (raw for Whisper
features) and emotion intensities 1×6 → displacement 1×T×(68·3) in cm and lip-closure logits 1×T.
The frame rate, feature kind and scale travel as ONNX metadata (motion/s2l_onnx.py reads them).

    python tools/export_s2l_onnx.py core/assets/s2l_whisper.pt     # also done by `train s2l --features whisper`
"""
from __future__ import annotations

import os

import torch

from .. import checkpoints
from ..face.emotions import EMOTION_NAMES
from ..motion import s2l

OPSET = 17
EXAMPLE_FRAMES = 120  # trace length; the frame axis is dynamic


def export(model: s2l.S2L, path: str) -> str:
    """Write `model` (eval, CPU) to `path` as ONNX (fp32, dynamic frame axis); returns the path."""
    import onnx  # training-side only

    model = model.eval().cpu()
    cfg = model.config
    example = (torch.zeros(1, EXAMPLE_FRAMES, cfg["n_inputs"]), torch.zeros(1, cfg["n_emotions"]))
    tmp = path + ".tmp.onnx"
    torch.onnx.export(model, example, tmp, opset_version=OPSET, dynamo=False,
                      input_names=["features", "emotion"], output_names=["displacement", "closed_logit"],
                      dynamic_axes={"features": {1: "frames"}, "displacement": {1: "frames"},
                                    "closed_logit": {1: "frames"}})
    graph = onnx.load(tmp)
    meta = {"frame_rate": str(cfg["frame_rate"]), "n_inputs": str(cfg["n_inputs"]), "features": cfg["features"],
            "scale": str(s2l.SCALE), "emotions": ",".join(EMOTION_NAMES), "n_landmarks": str(cfg["n_landmarks"])}
    for key, value in meta.items():
        graph.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(graph)
    onnx.save(graph, path)
    os.remove(tmp)
    return path


def export_file(weights: str, path: str | None = None) -> str:
    """A saved S2L checkpoint (.pt) → ONNX beside it (or at `path`)."""
    checkpoints.load(weights)  # clear error when missing
    model = s2l.load(weights)
    return export(model.cpu(), path or os.path.splitext(weights)[0] + ".onnx")

"""Neural speech-to-landmarks (S2L): speech features → T×68×3 landmark displacement, emotion-conditioned.

A stack of dilated 1-D convolutions over 100 Hz log-mel frames (receptive field
±0.3 s, enough for coarticulation) predicts the 68 landmarks' motion and, as a
second output, whether the lips are shut (a regression alone averages a
closure away; the closure output lets the engine shut them as the articulation
model does), with the emotion (six intensities, EmoVOCA
style: label × intensity) applied to every block as a feature-wise affine
modulation that is exactly the identity at zero intensity. Long audio runs in
10 s chunks with 1 s of context either side, so memory does not grow with length.
Trained by `python -m core train s2l` (training/train_s2l.py); weights in core/assets/s2l.pt.

The input kind is part of the config: log-mel (80 bins at 100 Hz, the defaults, so s2l.pt loads
unchanged) or Whisper tiny.en encoder features (384 at 50 Hz, `--features whisper`, s2l_whisper.pt,
standardised inside the network by stored per-dimension statistics, so its ONNX export needs
nothing else). Whisper-S2L runs without torch through motion/s2l_onnx.py.
"""
from __future__ import annotations

import functools

import numpy as np
import torch
from torch import nn

from .. import checkpoints
from ..face.emotions import EMOTION_NAMES
from ..face.ibug import N_LANDMARKS
from ..paths import asset
from ..speech.audio import SAMPLE_RATE, Audio
from .features import HOP, N_MELS, log_mel, normalise

WEIGHTS = asset("s2l.pt")
WHISPER_WEIGHTS = asset("s2l_whisper.pt")
WHISPER_FEATURES, WHISPER_RATE = 384, 50.0  # tiny.en: d_model, frames per second
FRAME_RATE = SAMPLE_RATE / HOP  # 100 model frames per second
SCALE = 100.0  # the network speaks centimetres; landmarks are in metres
CHUNK, CONTEXT = 1000, 100  # frames: 10 s chunks, 1 s of context each side


class Block(nn.Module):
    """Dilated conv → emotion modulation → GELU → 1×1 conv, residual."""

    def __init__(self, width: int, dilation: int, n_emotions: int):
        super().__init__()
        self.conv = nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation)
        self.mix = nn.Conv1d(width, width, 1)
        self.film = nn.Linear(n_emotions, 2 * width, bias=False)  # no bias: identity at zero emotion

    def forward(self, x: torch.Tensor, emotion: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.film(emotion).unsqueeze(-1).chunk(2, dim=1)
        h = self.conv(x) * (1 + gamma) + beta
        return x + self.mix(nn.functional.gelu(h))


class S2L(nn.Module):
    def __init__(self, width: int = 128, dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 2, 4, 8),
                 n_landmarks: int = N_LANDMARKS, n_emotions: int = len(EMOTION_NAMES),
                 n_inputs: int = N_MELS, frame_rate: float = FRAME_RATE, features: str = "log-mel"):
        super().__init__()
        self.config = {"width": width, "dilations": list(dilations), "n_landmarks": n_landmarks,
                       "n_emotions": n_emotions, "n_inputs": n_inputs, "frame_rate": float(frame_rate),
                       "features": features}
        self.standardise = features != "log-mel"  # log-mel is normalised outside (features.normalise)
        if self.standardise:
            self.register_buffer("mean", torch.zeros(n_inputs))
            self.register_buffer("std", torch.ones(n_inputs))
        self.inp = nn.Conv1d(n_inputs, width, 5, padding=2)
        self.blocks = nn.ModuleList(Block(width, d, n_emotions) for d in dilations)
        self.out = nn.Conv1d(width, n_landmarks * 3 + 1, 1)

    def forward(self, mel: torch.Tensor, emotion: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """mel B×T×n_inputs (log-mel: normalised; others raw), emotion B×6 intensities →
        (B×T×(68·3) landmark displacement in cm, B×T logits that the lips are shut), at the input's rate."""
        if self.standardise:
            mel = (mel - self.mean) / self.std
        x = self.inp(mel.transpose(1, 2))
        for block in self.blocks:
            x = block(x, emotion)
        y = self.out(x).transpose(1, 2)
        return y[..., :-1], y[..., -1]


@functools.lru_cache(maxsize=2)
def load(path: str = WEIGHTS) -> S2L:
    """The trained model, on the device it runs on."""
    ckpt = checkpoints.load(path)
    cfg = ckpt["config"]
    model = S2L(**{**cfg, "dilations": tuple(cfg["dilations"])})
    model.load_state_dict(ckpt["state"])
    return model.eval().to(checkpoints.device())


def emotion_vector(emotions: dict[str, float] | None) -> np.ndarray:
    return np.array([float((emotions or {}).get(n, 0.0)) for n in EMOTION_NAMES], np.float32)


@torch.inference_mode()
def predict(audio: Audio, emotions: dict[str, float] | None = None, model: S2L | None = None):
    """At 100 Hz, chunk by chunk: (first frame, landmark displacement T×68×3 in metres, lip-closure
    probability T)."""
    model = model or load()
    dev = next(model.parameters()).device
    emo = torch.from_numpy(emotion_vector(emotions))[None].to(dev)
    n_frames = len(audio.samples) // HOP + 1
    for a in range(0, n_frames, CHUNK):
        b = min(n_frames, a + CHUNK)
        lo, hi = max(0, a - CONTEXT), min(n_frames, b + CONTEXT)
        mel = log_mel(audio.samples[lo * HOP:(hi - 1) * HOP + 1])[: hi - lo]
        x = torch.from_numpy(normalise(mel))[None].to(dev)
        disp, closed = model(x, emo)
        y = disp[0, a - lo: b - lo].float().cpu().numpy() / SCALE
        yield a, y.reshape(len(y), -1, 3), torch.sigmoid(closed[0, a - lo: b - lo]).float().cpu().numpy()

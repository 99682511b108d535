"""Log-mel features for the neural engine (librosa), 100 frames per second at 16 kHz."""
from __future__ import annotations

import numpy as np

from ..speech.audio import SAMPLE_RATE

HOP = SAMPLE_RATE // 100  # 10 ms
N_MELS = 80


def log_mel(samples: np.ndarray) -> np.ndarray:
    """16 kHz mono → T×80 float32 natural-log mel energies, frame i centred at i × 10 ms."""
    import librosa  # imported here: its first call compiles with numba, only the neural engine needs it

    mel = librosa.feature.melspectrogram(y=np.asarray(samples, np.float32), sr=SAMPLE_RATE, n_fft=512,
                                         win_length=400, hop_length=HOP, n_mels=N_MELS, fmin=40, fmax=7600)
    return np.log(mel + 1e-6).T.astype(np.float32)


def normalise(mel: np.ndarray) -> np.ndarray:
    """Per-bin mean removed (channel and level), fixed scale: the model's input."""
    return (mel - mel.mean(0, keepdims=True)) / 4.0

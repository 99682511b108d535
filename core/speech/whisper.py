"""Whisper encoder features at 50 Hz: a speech representation learned from real voices.

Why: the speech-to-landmarks network trained on log-mel of synthetic voices generalises badly
to human speech; Whisper's encoder (MIT, OpenAI) was trained on 680k hours of real speech.
Runs in Blender without PyTorch or librosa: the log-mel is plain numpy (identical to Whisper's
`log_mel_spectrogram`), the encoder an ONNX file made by tools/convert_whisper.py, run by
onnxruntime (imported only when a session is created).

    enc = Encoder("core/assets/whisper_tiny.en_encoder.onnx")
    feats = enc.encode(samples_16k)          # (N,) float32 16 kHz → (ceil(N/320), 384) float32, 50 Hz
"""
from __future__ import annotations

import hashlib
import math
import os
from typing import TYPE_CHECKING

import numpy as np

from ..paths import MODELS_HINT, asset, installed

if TYPE_CHECKING:
    import onnxruntime

SAMPLE_RATE = 16000  # Hz, Whisper's only input rate
N_FFT = 400  # samples (25 ms window)
HOP = 160  # samples (10 ms): 100 mel frames per second
FEATURE_RATE = 50  # Hz: the encoder's second convolution has stride 2
WINDOW_SECONDS = 30  # Whisper's training window
WINDOW_FRAMES = WINDOW_SECONDS * SAMPLE_RATE // HOP  # 3000 mel frames
DYNAMIC_RANGE = 8.0  # log10 units kept below the loudest bin (80 dB)
DEFAULT_MODEL = asset("whisper_tiny.en_encoder.onnx")
PROVIDERS = ("CUDAExecutionProvider", "DmlExecutionProvider", "CoreMLExecutionProvider", "CPUExecutionProvider")

RECENT_BYTES = 256 * 2**20  # encoded windows kept, newest first (2-3 MB each: a 10 min clip's all, ~40 min of
# Whisper base's), see Encoder.encode_mel

_FILTERS: dict[int, np.ndarray] = {}
_RECENT: dict[tuple, np.ndarray] = {}  # (model, mel shape, mel hash) → features, oldest first


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, log above."""
    hz = np.asarray(hz, np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(hz >= min_log_hz, min_log_mel + np.log(np.maximum(hz, 1e-10) / min_log_hz) / logstep, hz / f_sp)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)


def mel_filters(n_mels: int = 80) -> np.ndarray:
    """(n_mels, N_FFT/2+1) float32 Slaney-normalised triangles, 0 Hz–8 kHz: the constant Whisper
    stores in mel_filters.npz (= librosa.filters.mel(sr=16000, n_fft=400, n_mels=n_mels))."""
    if n_mels not in _FILTERS:
        fft_hz = np.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
        mel_hz = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(SAMPLE_RATE / 2), n_mels + 2))
        gaps = np.diff(mel_hz)
        ramps = mel_hz[:, None] - fft_hz[None, :]
        lower, upper = -ramps[:-2] / gaps[:-1, None], ramps[2:] / gaps[1:, None]
        weights = np.maximum(0, np.minimum(lower, upper)) * (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, None]
        _FILTERS[n_mels] = weights.astype(np.float32)
    return _FILTERS[n_mels]


def _power_spectrogram(samples: np.ndarray) -> np.ndarray:
    """(N,) → (N_FFT/2+1, N//HOP) |STFT|², centred frames (reflect padding), periodic Hann,
    the last frame dropped — torch.stft(..., center=True)[..., :-1] as in Whisper."""
    x = np.asarray(samples, np.float32)
    if len(x) <= N_FFT // 2:  # reflect padding needs more samples than the pad
        x = np.pad(x, (0, N_FFT // 2 + 1 - len(x)))
    padded = np.pad(x, N_FFT // 2, mode="reflect")
    n_frames = 1 + (len(padded) - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(padded, (n_frames, N_FFT), (padded.strides[0] * HOP, padded.strides[0]))
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic Hann
    spectrum = np.fft.rfft(frames * window, axis=1)
    return (spectrum.real ** 2 + spectrum.imag ** 2).T[:, : len(samples) // HOP]


def log_mel(samples: np.ndarray, n_mels: int = 80, pad_seconds: float = 0.0, frames: int | None = None
            ) -> np.ndarray:
    """(N,) float32 16 kHz → (n_mels, N//HOP + pad) float32, Whisper's normalised log10 mel at 100 Hz.

    pad_seconds appends that much silence before the STFT (Whisper's transcribe pads 30 s), so the
    last frames see zeros rather than a reflection, and padded frames hold Whisper's silence value.
    `frames`: only the first this many, of samples that end within them (N ≤ frames × HOP): the same values,
    without the STFT of the padding after them (half the work for one 30 s window)."""
    x = np.asarray(samples, np.float32)
    if frames is not None and len(x) > frames * HOP:
        raise ValueError(f"{len(x)} samples do not end within {frames} frames")
    if pad_seconds:
        pad = round(pad_seconds * SAMPLE_RATE)
        if frames is not None:  # enough that the last frame kept sees zeros, not the reflection at the end
            pad = min(pad, frames * HOP + N_FFT - len(x))
        x = np.concatenate([x, np.zeros(pad, np.float32)])
    mel = mel_filters(n_mels) @ _power_spectrogram(x)[:, :frames]
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - DYNAMIC_RANGE)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)


def choose_providers(available: list[str]) -> list[str]:
    """GPU back-ends first (CUDA, DirectML on Windows, CoreML on macOS), CPU always last."""
    chosen = [p for p in PROVIDERS if p in available]
    return chosen if "CPUExecutionProvider" in chosen else chosen + ["CPUExecutionProvider"]


def session(path: str, threads: int = 0) -> onnxruntime.InferenceSession:
    """An onnxruntime session of `path` on the chosen providers, with `threads` intra-op threads (0: one per
    core) that sleep when idle instead of spinning: the recognition workers and Blender share these cores,
    and spinning threads took their time (measured on 2 cores, in paired runs: Neural (Whisper) on 5 s of
    speech 0.09 → 0.05 s, on 60 s 0.30 → 0.20 s; Phonetic + Whisper on 140 s about 12 % faster)."""
    import onnxruntime as ort  # imported here: only the Whisper engines pay its start-up

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_cpu_mem_arena = False  # its pool kept the largest batch's buffers: 10 min of French peaked
    # 1208 MB with it, 860 MB without, as fast (60 s: 4.35 / 4.53 / 4.13 s with, 4.24 / 4.28 / 4.03 s without)
    return ort.InferenceSession(path, options, providers=choose_providers(ort.get_available_providers()))


class Encoder:
    """An exported Whisper encoder (ONNX) that turns 16 kHz audio of any length into 50 Hz features.

    pad=True feeds each ≤30 s window padded with silence to 30 s, as Whisper was trained;
    pad=False feeds only the needed frames (faster on short clips, features differ slightly)."""

    def __init__(self, path: str = DEFAULT_MODEL, pad: bool = True, threads: int = 0):
        path = installed(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} not found: {MODELS_HINT} (in a source checkout, run "
                                    "tools/convert_whisper.py)")
        self.session = session(path, threads)
        self.path = os.path.abspath(path)
        meta = self.session.get_modelmeta().custom_metadata_map
        self.n_mels = int(meta.get("n_mels", self.session.get_inputs()[0].shape[1]))
        self.dim = int(meta.get("d_model", 0)) or None
        self.pad = pad

    def encode_mel(self, mel: np.ndarray) -> np.ndarray:
        """(n_mels, T ≤ 3000) → (ceil(T/2), D) float32; one window, no padding added here.

        The recent windows' features are kept (RECENT_BYTES): Phonetic + Whisper encodes a clip's windows twice,
        for its words and then for its closures, and the second costs only the mel's hash. (Four were kept, so
        a clip of more windows was encoded twice: 17 of the 21 windows of 10 min of French.)"""
        if mel.shape[0] != self.n_mels or mel.shape[1] > WINDOW_FRAMES:
            raise ValueError(f"mel must be ({self.n_mels}, ≤{WINDOW_FRAMES}), got {mel.shape}")
        mel = np.ascontiguousarray(mel, np.float32)
        key = (self.path, mel.shape, hashlib.blake2b(mel.tobytes(), digest_size=16).digest())
        if key not in _RECENT:
            _RECENT[key] = self.session.run(None, {"mel": mel[None]})[0][0]
            _RECENT[key].setflags(write=False)  # shared by every caller of the same window
            while sum(f.nbytes for f in _RECENT.values()) > RECENT_BYTES:
                _RECENT.pop(next(iter(_RECENT)))
        return _RECENT[key]

    def encode(self, samples: np.ndarray) -> np.ndarray:
        """(N,) float32 mono 16 kHz → (ceil((N//HOP)/2), D) float32 features at 50 Hz, computed in
        consecutive windows of at most 30 s (no overlap: frames next to a window edge see less context)."""
        n_frames = len(samples) // HOP
        windows = max(1, math.ceil(len(samples) / (WINDOW_FRAMES * HOP)))  # the last one padded with silence
        mel = log_mel(samples, self.n_mels, pad_seconds=WINDOW_SECONDS if self.pad else 0.0,
                      frames=windows * WINDOW_FRAMES if self.pad else None)
        if n_frames == 0:
            return np.zeros((0, self.dim or 0), np.float32)
        out = []
        for start in range(0, n_frames, WINDOW_FRAMES):
            stop = min(start + WINDOW_FRAMES, n_frames)
            window = mel[:, start:start + WINDOW_FRAMES] if self.pad else mel[:, start:stop]
            out.append(self.encode_mel(window)[: (stop - start + 1) // 2])
        return np.concatenate(out, axis=0)

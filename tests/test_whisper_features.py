"""Whisper features: the numpy log-mel equals Whisper's formula, and the ONNX encoder exported by
tools/convert_whisper.py reproduces the source package's own CTranslate2 encoder on real speech."""
from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np
import pytest
from conftest import ROOT, data_path

from core.speech import whisper as wf

sys.path.insert(0, os.path.join(ROOT, "tools"))
import convert_whisper as cw  # noqa: E402

CLIP = ("speech", "vocaset_sentence01.wav")
MEL_TOLERANCE = 1e-5  # normalised log10 units; float32 FFT round-off is ~3e-6
FEATURE_TOLERANCE = {"tiny.en": 1e-3, "base": 5e-3}  # max abs vs CTranslate2 (features ~0.6 on average)
MIN_COSINE = 0.9999  # per 20 ms frame


def _need(module: str, why: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} not installed: {why}")


def _need_model(name: str) -> None:
    try:
        cw.model_files(name)
    except FileNotFoundError as e:
        pytest.skip(f"Whisper {name} weights absent ({e})")


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    import soundfile as sf
    import soxr

    x, rate = sf.read(data_path(*CLIP), dtype="float32", always_2d=True)
    return soxr.resample(x.mean(1), rate, wf.SAMPLE_RATE).astype(np.float32)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """model name → path of an fp16 ONNX encoder converted for this test run (tiny.en ~4 s)."""
    made: dict[str, str] = {}

    def get(name: str) -> str:
        _need("onnxruntime", "the encoder runs with it")
        _need("torch", "tools/convert_whisper.py rebuilds the encoder in torch to export it")
        _need("onnx", "tools/convert_whisper.py writes ONNX")
        _need_model(name)
        if name not in made:
            made[name] = str(tmp_path_factory.mktemp("whisper") / f"{name}.onnx")
            cw.export(name, made[name], "fp16")
        return made[name]

    return get


def test_mel_filters_equal_librosa():
    _need("librosa", "reference filterbank (Whisper's mel_filters.npz is librosa.filters.mel)")
    import librosa

    for n_mels in (80, 128):
        ref = librosa.filters.mel(sr=wf.SAMPLE_RATE, n_fft=wf.N_FFT, n_mels=n_mels)
        np.testing.assert_allclose(wf.mel_filters(n_mels), ref, atol=1e-7)


def test_log_mel_equals_whisper_formula(speech):
    """Whisper's log_mel_spectrogram, written with torch.stft as in openai/whisper audio.py."""
    _need("torch", "reference STFT")
    import torch

    for pad_seconds in (0, wf.WINDOW_SECONDS):
        audio = torch.nn.functional.pad(torch.from_numpy(speech), (0, pad_seconds * wf.SAMPLE_RATE))
        stft = torch.stft(audio, wf.N_FFT, wf.HOP, window=torch.hann_window(wf.N_FFT), return_complex=True)
        mel = torch.from_numpy(wf.mel_filters(80)) @ stft[..., :-1].abs() ** 2
        log_spec = torch.clamp(mel, min=1e-10).log10()
        ref = ((torch.maximum(log_spec, log_spec.max() - 8.0) + 4.0) / 4.0).numpy()
        ours = wf.log_mel(speech, 80, pad_seconds=pad_seconds)
        assert ours.shape == ref.shape == (80, len(audio) // wf.HOP)
        assert np.abs(ours - ref).max() < MEL_TOLERANCE


def test_log_mel_of_a_window_s_frames_alone_is_the_same(speech):
    """A window's mel computed only up to its last frame (not over the 30 s of padding after it) holds the same
    values bit for bit, for a clip of any length in the window; samples past the frames asked are refused."""
    for n in (0, 1000, len(speech), wf.WINDOW_FRAMES * wf.HOP):
        clip = np.resize(speech, n)
        whole = wf.log_mel(clip, 80, pad_seconds=wf.WINDOW_SECONDS)[:, :wf.WINDOW_FRAMES]
        assert np.array_equal(wf.log_mel(clip, 80, pad_seconds=wf.WINDOW_SECONDS, frames=wf.WINDOW_FRAMES), whole)
    with pytest.raises(ValueError, match="do not end within"):
        wf.log_mel(np.zeros(wf.WINDOW_FRAMES * wf.HOP + 1, np.float32), 80, wf.WINDOW_SECONDS, wf.WINDOW_FRAMES)


def test_choose_providers_puts_cpu_last():
    assert wf.choose_providers(["CPUExecutionProvider", "CUDAExecutionProvider"]) == \
        ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert wf.choose_providers(["AzureExecutionProvider"]) == ["CPUExecutionProvider"]


@pytest.mark.parametrize("name", ["tiny.en", "base"])
def test_onnx_encoder_equals_ctranslate2(name, speech, exported):
    """The exported encoder reproduces ctranslate2.models.Whisper.encode on the same 30 s mel."""
    _need("ctranslate2", "the source package's own encoder is the reference")
    import ctranslate2

    path = exported(name)
    mel = np.ascontiguousarray(wf.log_mel(speech, 80, pad_seconds=wf.WINDOW_SECONDS)[:, : wf.WINDOW_FRAMES])
    model = ctranslate2.models.Whisper(cw.ctranslate2_dir(name), device="cpu", compute_type="float32")
    ref = np.array(model.encode(ctranslate2.StorageView.from_array(mel[None]), to_cpu=True))[0]
    ours = wf.Encoder(path).encode_mel(mel)
    assert ours.shape == ref.shape == (wf.WINDOW_FRAMES // 2, {"tiny.en": 384, "base": 512}[name])
    cosine = (ours * ref).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(ref, axis=1)
    assert np.abs(ours - ref).max() < FEATURE_TOLERANCE[name]
    assert cosine.min() > MIN_COSINE


def test_encode_any_length(speech, exported):
    """50 Hz features for a short clip (padded or not) and a clip longer than one 30 s window."""
    path = exported("tiny.en")
    padded, trimmed = wf.Encoder(path, pad=True), wf.Encoder(path, pad=False)
    expected = (len(speech) // wf.HOP + 1) // 2
    a, b = padded.encode(speech), trimmed.encode(speech)
    assert a.shape == b.shape == (expected, 384)
    assert np.isfinite(a).all() and np.isfinite(b).all()
    long = np.tile(speech, int(31 * wf.SAMPLE_RATE // len(speech)) + 1)[: 31 * wf.SAMPLE_RATE + 480]
    assert trimmed.encode(long).shape == ((len(long) // wf.HOP + 1) // 2, 384)
    assert padded.encode(np.zeros(100, np.float32)).shape == (0, 384)

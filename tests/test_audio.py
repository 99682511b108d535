"""core.speech.audio: real files in every supported format, and each bad input's message."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from conftest import data_path, tone

from core.errors import InputError
from core.speech.audio import SAMPLE_RATE, load_audio


@pytest.mark.parametrize("fmt,subtype,rate,channels", [
    ("WAV", "PCM_16", 8000, 1), ("WAV", "PCM_24", 96000, 2), ("WAV", "FLOAT", 44100, 2),
    ("FLAC", "PCM_16", 48000, 1), ("OGG", "VORBIS", 22050, 2), ("MP3", "MPEG_LAYER_III", 44100, 1),
])
def test_formats_rates_channels(tmp_path, fmt, subtype, rate, channels):
    path = tmp_path / f"clip.{fmt.lower()}"
    sf.write(path, tone(1.5, rate, channels), rate, format=fmt, subtype=subtype)
    audio = load_audio(str(path))
    assert audio.source_rate == rate and audio.source_channels == channels
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert abs(audio.duration - 1.5) < 0.06  # mp3 adds encoder padding
    assert 0.2 < np.abs(audio.samples).max() < 0.6


def test_real_stereo_speech():
    audio = load_audio(data_path("speech", "vocaset_sentence01.wav"))
    assert abs(audio.duration - 3.4) < 0.1


def test_hour_long_file_streams(tmp_path):
    path = tmp_path / "hour.wav"
    with sf.SoundFile(path, "w", 8000, 1, "PCM_16") as f:
        for _ in range(60):
            f.write(tone(60.0, 8000)[:, 0])
    audio = load_audio(str(path))
    assert abs(audio.duration - 3600.0) < 0.01
    assert len(audio.samples) == pytest.approx(3600 * SAMPLE_RATE, abs=10)


@pytest.mark.parametrize("make,message", [
    (lambda p: None, "not found"),
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.write_bytes(b"RIFF\x00\x00junkjunkjunk" * 50), "corrupt"),
    (lambda p: sf.write(p, np.zeros(16000, np.float32), 16000), "silent"),
    (lambda p: sf.write(p, tone(1.0, 4000), 4000), "sample rate"),
    (lambda p: sf.write(p, tone(0.02, 16000), 16000), "no audio"),
])
def test_bad_files_have_clear_messages(tmp_path, make, message):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(InputError, match=message):
        load_audio(str(path))


def test_no_path():
    with pytest.raises(InputError, match="No audio file"):
        load_audio("")

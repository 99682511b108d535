"""Audio loading: any common file → mono float32 at 16 kHz, with clear errors.

Decoding goes through libsndfile (soundfile: WAV, FLAC, OGG/Vorbis, MP3, AIFF ...),
block by block so an hour of 96 kHz stereo never sits in memory at its source rate;
resampling is soxr's streaming resampler (what librosa uses).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import soxr

from ..errors import InputError

SAMPLE_RATE = 16000
MIN_RATE, MAX_RATE = 8000, 192000  # Hz: telephone speech to studio masters
SILENCE_PEAK = 1e-3  # -60 dBFS: below this there is nothing to lip-sync
BLOCK = 1 << 18


@dataclass
class Audio:
    """Mono speech at `SAMPLE_RATE`, plus what the source file was."""

    samples: np.ndarray  # float32, mono, SAMPLE_RATE
    path: str | None = None
    source_rate: int = SAMPLE_RATE
    source_channels: int = 1

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE

    def pcm16(self) -> bytes:
        """16-bit little-endian PCM, what pocketsphinx decodes."""
        return (np.clip(self.samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def load_audio(path: str) -> Audio:
    """Read `path` into an `Audio`; raise `InputError` with a user-facing message."""
    if not path:
        raise InputError("No audio file given: choose a .wav, .flac, .ogg or .mp3 file.")
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.isfile(path):
        raise InputError(f"Audio file not found: {path}")
    if os.path.getsize(path) == 0:
        raise InputError(f"Audio file is empty (0 bytes): {path}")
    try:
        info = sf.info(path)
    except Exception as exc:  # libsndfile says 'Format not recognised' etc.
        raise InputError(
            f"Could not read audio file {os.path.basename(path)}: it is corrupt or not a "
            f"supported format (wav, flac, ogg, mp3, aiff). Decoder said: {exc}"
        ) from None
    if not MIN_RATE <= info.samplerate <= MAX_RATE:
        raise InputError(
            f"Unsupported sample rate {info.samplerate} Hz in {os.path.basename(path)}: "
            f"use {MIN_RATE // 1000}-{MAX_RATE // 1000} kHz."
        )
    chunks = []
    rs = soxr.ResampleStream(info.samplerate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
    try:
        with sf.SoundFile(path) as f:
            while True:
                block = f.read(BLOCK, dtype="float32", always_2d=True)
                last = len(block) < BLOCK
                mono = block.mean(axis=1) if len(block) else np.zeros(0, np.float32)
                chunks.append(rs.resample_chunk(mono, last=last))
                if last:
                    break
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"Audio file {os.path.basename(path)} is damaged and could not be decoded: {exc}") from None
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if len(samples) < SAMPLE_RATE // 10:
        raise InputError(f"Audio file {os.path.basename(path)} holds no audio (shorter than 0.1 s).")
    if not np.isfinite(samples).all():
        raise InputError(f"Audio file {os.path.basename(path)} holds invalid (NaN/inf) samples.")
    if np.abs(samples).max() < SILENCE_PEAK:
        raise InputError(f"Audio file {os.path.basename(path)} is silent: there is no speech to animate.")
    return Audio(samples, path, info.samplerate, info.channels)

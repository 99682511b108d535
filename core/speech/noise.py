"""Steady noise: whether a recording is in it (the spread of its level within each frequency band), and the
recording with it gated out, for pocketsphinx.

Why: in steady noise (a loud fan, a hum, an air conditioner) pocketsphinx's forced alignment misplaces the
phones, and bilabials with them, where a spectral gate gives it back the speech (docs/benchmarks.md, *Worse
recordings*). The gate would cost clean speech as much, so it runs only where the noise is: steady noise fills
the quiet moments of every band, so each band's level varies little over the clip, while clean speech, however
tightly cut, leaves bands quiet between its sounds. The overall level cannot tell them apart: a tightly cut
clean clip is loud throughout too.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .audio import SAMPLE_RATE, SILENCE_PEAK, Audio

FRAME = 512  # samples (32 ms at 16 kHz) per spectrum
HOP = 160  # samples (10 ms) between spectra
BAND_EDGES_HZ = np.geomspace(100.0, 7600.0, 17)  # 16 bands, evenly spaced in log frequency
LOUD, QUIET = 90.0, 5.0  # percentiles of a band's level over the clip: its loud moments, its quiet ones
NOISY_SPREAD_DB = 18.0  # a median band spread below this is steady noise (below it: 274 of 329 clips in pink
# noise at 10 dB SNR, 8 of 977 clean clips of eight real-speech sets; docs/benchmarks.md)
MIN_SPECTRA = 50  # spectra (0.5 s) below which a clip is too short to judge
MAX_SPECTRA = 6000  # spectra judged (a minute's worth), evenly spread over a longer clip: its cost stays flat
BLOCK = 4096  # spectra computed at once (memory stays flat for an hour of audio)
FLOOR = 1e-12  # power added before the logarithm: digital silence reads as very quiet, not -inf


# The spectral gate: noisereduce's stationary defaults (Sainburg et al. 2020), not tuned here. noisereduce itself
# needs SciPy, which Blender does not ship.
GATE_FRAME = 1024  # samples (64 ms) per spectrum
GATE_HOP = GATE_FRAME // 4  # samples (16 ms) between spectra
N_STD = 1.5  # a bin is kept where its level stands this many standard deviations above its mean over the clip
SMOOTH_HZ = 500.0  # the kept bins' mask is smoothed over this much frequency...
SMOOTH_S = 0.05  # ...and this much time
AMPLITUDE_FLOOR = 1e-10  # added before the logarithm of a bin's amplitude


def band_levels(samples: np.ndarray) -> np.ndarray:
    """(16, frames) dB: the mean power in each band of BAND_EDGES_HZ, every HOP samples, over Hann-windowed
    FRAME-sample spectra of `samples` (16 kHz, zero-padded by half a frame at both ends and to a whole last
    spectrum); at most MAX_SPECTRA of them, evenly spread."""
    x = np.pad(np.asarray(samples, np.float32), (FRAME // 2, FRAME // 2 + (-len(samples)) % HOP))
    n = max(0, (len(x) - FRAME) // HOP + 1)
    starts = np.unique(np.linspace(0, n - 1, min(n, MAX_SPECTRA)).round().astype(int)) * HOP
    band = np.searchsorted(BAND_EDGES_HZ, np.fft.rfftfreq(FRAME, 1.0 / SAMPLE_RATE), side="right") - 1
    member = band == np.arange(len(BAND_EDGES_HZ) - 1)[:, None]  # (16, bins): the bins each band averages
    mean_of_band = member / member.sum(1, keepdims=True)
    window = np.hanning(FRAME + 1)[:-1]  # periodic Hann
    out = np.empty((len(mean_of_band), len(starts)))
    for first in range(0, len(starts), BLOCK):
        idx = starts[first:first + BLOCK, None] + np.arange(FRAME)
        power = np.abs(np.fft.rfft(x[idx] * window, axis=1) / window.sum()) ** 2  # a sinusoid's power, whatever FRAME
        out[:, first:first + len(idx)] = 10.0 * np.log10(mean_of_band @ power.T + FLOOR)
    return out


def band_spread_db(audio: Audio) -> float:
    """The median over bands of how far each band's loud moments (LOUD percentile) stand above its quiet
    ones (QUIET percentile), in dB; inf for audio of fewer than MIN_SPECTRA spectra (too short to judge)."""
    levels = band_levels(audio.samples)
    if levels.shape[1] < MIN_SPECTRA:
        return float("inf")
    return float(np.median(np.percentile(levels, LOUD, axis=1) - np.percentile(levels, QUIET, axis=1)))


def is_noisy(audio: Audio) -> bool:
    """Whether `audio` is speech in steady noise (see the module doc); digital silence is not."""
    return bool(np.abs(audio.samples).max(initial=0.0) > SILENCE_PEAK) and band_spread_db(audio) < NOISY_SPREAD_DB


def _triangle(half: int) -> np.ndarray:
    """A triangular smoothing kernel of 2 × half + 1 taps (noisereduce's shape), peak 1."""
    return 1.0 - np.abs(np.arange(-half, half + 1)) / (half + 1)


def _convolve(x: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    """`x` convolved with the symmetric `kernel` along `axis` (zero beyond its edges, the same size), divided by the
    kernel's sum so a full mask stays 1."""
    x = np.moveaxis(x, axis, 0)
    half = len(kernel) // 2
    padded = np.pad(x, [(half, half)] + [(0, 0)] * (x.ndim - 1))
    out = np.zeros_like(x)
    for k, w in enumerate(kernel):
        out += w * padded[k:k + len(x)]
    return np.moveaxis(out / kernel.sum(), 0, axis)


def _spectra(x: np.ndarray, first: int, last: int, window: np.ndarray) -> np.ndarray:
    """(GATE_FRAME // 2 + 1, last - first) complex: the spectra of frames first..last - 1 of padded `x`."""
    idx = (np.arange(first, last) * GATE_HOP)[:, None] + np.arange(GATE_FRAME)
    return np.fft.rfft(x[idx] * window, axis=1).T


def denoised(audio: Audio) -> Audio:
    """`audio` with steady noise gated out: each time-frequency bin is kept where it stands N_STD standard
    deviations above its frequency's mean level over the clip (the noise sets the mean; speech stands above
    it), through a mask smoothed over SMOOTH_HZ and SMOOTH_S, then resynthesised (weighted overlap-add). Two
    passes over BLOCK spectra at a time: beyond a padded copy of the audio and the result (float32), memory stays
    flat for an hour. Audio too short to pad is returned as it is."""
    n = len(audio.samples)
    if n <= 2 * GATE_FRAME:
        return audio
    x = np.pad(np.asarray(audio.samples, np.float32), (GATE_FRAME // 2, GATE_FRAME // 2 + GATE_FRAME), mode="reflect")
    frames = (len(x) - GATE_FRAME) // GATE_HOP + 1
    window = np.hanning(GATE_FRAME + 1)[:-1]  # periodic Hann: its squares at a quarter-frame hop sum to 1.5
    total = np.zeros(GATE_FRAME // 2 + 1)
    squares = np.zeros_like(total)
    for first in range(0, frames, BLOCK):
        level = 20.0 * np.log10(np.abs(_spectra(x, first, min(frames, first + BLOCK), window)) + AMPLITUDE_FLOOR)
        total += level.sum(1)
        squares += (level ** 2).sum(1)
    mean = total / frames
    threshold = mean + N_STD * np.sqrt(np.maximum(squares / frames - mean ** 2, 0.0))
    along_freq = _triangle(int(SMOOTH_HZ / (SAMPLE_RATE / GATE_FRAME)))
    along_time = _triangle(max(1, int(SMOOTH_S * SAMPLE_RATE / GATE_HOP)))
    context = len(along_time) // 2  # frames each side that the time smoothing reads
    out = np.zeros(len(x), np.float32)
    for first in range(0, frames, BLOCK):
        last = min(frames, first + BLOCK)
        lo, hi = max(0, first - context), min(frames, last + context)
        spectra = _spectra(x, lo, hi, window)
        level = 20.0 * np.log10(np.abs(spectra) + AMPLITUDE_FLOOR)
        mask = _convolve(_convolve((level > threshold[:, None]).astype(np.float64), along_freq, 0), along_time, 1)
        kept = np.fft.irfft((spectra * mask)[:, first - lo:last - lo], GATE_FRAME, axis=0).T * window
        for k, frame in enumerate(kept):
            start = (first + k) * GATE_HOP
            out[start:start + GATE_FRAME] += frame
    out /= np.sum(window ** 2) / GATE_HOP  # the overlapping windows' squares, the same at every sample
    return dataclasses.replace(audio, samples=out[GATE_FRAME // 2:GATE_FRAME // 2 + n].copy())

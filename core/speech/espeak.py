"""Synthetic speech from espeak-ng (the `espeakng-loader` wheel) with exact phoneme timing.

Used for the built-in demo clip and as test input; later the neural model's
training corpus. espeak-ng is driven through ctypes in synchronous mode with
phoneme events, so every phoneme's start time comes with the audio.
"""
from __future__ import annotations

import ctypes
import functools
import os
import wave
from dataclasses import dataclass

import numpy as np

from .phones import Phone, ipa_to_arpabet, merge

_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_PHONEME_IPA = 0x0002
_INIT_DONT_EXIT = 0x8000
_EVENT_PHONEME = 7
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE, _PITCH, _RANGE, _WORDGAP = 1, 3, 4, 7


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _EventId)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass
class Speech:
    samples: np.ndarray  # float32 mono
    sample_rate: int
    phonemes: list[tuple[str, float]]  # (IPA phoneme, start seconds)

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate

    def phones(self) -> list[Phone]:
        """The exact timing as ARPAbet phones (pauses → SIL); a segment of several splits its span."""
        out: list[Phone] = []
        starts = [t for _, t in self.phonemes] + [self.duration]
        if starts[0] > 0:
            out.append(Phone("SIL", 0.0, starts[0]))
        for (ipa, t0), t1 in zip(self.phonemes, starts[1:]):
            names = ipa_to_arpabet(ipa) or ["SIL"]
            step = max(t1 - t0, 0.0) / len(names)
            out += [Phone(n, t0 + i * step, t0 + (i + 1) * step) for i, n in enumerate(names)]
        return merge([p for p in out if p.end > p.start])


def open_library(path: str, data_parent: str):
    """An espeak-ng shared library at `path`, initialised in synchronous mode with phoneme events, its data
    in `data_parent`/espeak-ng-data: (library, sample rate)."""
    lib = ctypes.CDLL(path)
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    rate = lib.espeak_Initialize(_OUTPUT_SYNCHRONOUS, 200, data_parent.encode(),
                                 _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA | _INIT_DONT_EXIT)
    if rate <= 0:
        raise RuntimeError(f"espeak-ng failed to initialise ({path})")
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                 ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    return lib, rate


@functools.lru_cache(maxsize=1)
def _engine():
    import espeakng_loader

    return open_library(espeakng_loader.get_library_path(), os.path.dirname(espeakng_loader.get_data_path()))


def synthesise(text: str, voice: str = "en-us", rate_wpm: int = 160, pitch: int = 50, word_gap: int = 0,
               pitch_range: int = 50, seed: int = 0) -> Speech:
    """Speak `text`; returns the audio and each phoneme's start time.

    `seed` seeds espeak-ng's noise (breathy voices, fricatives), which it otherwise
    seeds from the clock."""
    lib, _ = _engine()
    lib.espeak_ng_SetRandSeed(seed)
    return speak(lib, text, voice, rate_wpm, pitch, word_gap, pitch_range)


def speak(lib, text: str, voice: str, rate_wpm: int = 160, pitch: int = 50, word_gap: int = 0,
          pitch_range: int = 50) -> Speech:
    """`synthesise` through the initialised library `lib` (`open_library`): the bundled wheel's, or another
    build's (the training corpus speaks MBROLA voices through Debian's, core/training/mbrola.py). The
    voice's own sample rate (an MBROLA voice's is its database's)."""
    if lib.espeak_SetVoiceByName(voice.encode()) != 0:
        raise ValueError(f"espeak-ng has no voice '{voice}'")
    lib.espeak_SetParameter(_RATE, rate_wpm, 0)
    lib.espeak_SetParameter(_PITCH, pitch, 0)
    lib.espeak_SetParameter(_RANGE, pitch_range, 0)
    lib.espeak_SetParameter(_WORDGAP, word_gap, 0)
    chunks: list[np.ndarray] = []
    phonemes: list[tuple[str, float]] = []

    @_CALLBACK
    def callback(wav, n, events):
        if n > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != 0:
            e = events[i]
            if e.type == _EVENT_PHONEME:
                phonemes.append((e.id.string.decode("utf-8", "replace"), e.audio_position / 1000.0))
            i += 1
        return 0

    # the callback is set for every call: the library is one per process, and another copy of
    # this module (the extension's, beside a checkout's) may have set its own meanwhile
    lib.espeak_SetSynthCallback(callback)
    buf = text.encode("utf-8") + b"\0"
    lib.espeak_Synth(buf, len(buf), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
    lib.espeak_Synchronize()
    pcm = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    return Speech(pcm.astype(np.float32) / 32768.0, lib.espeak_ng_GetSampleRate(), phonemes)


def write_wav(path: str, samples: np.ndarray, sample_rate: int) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())

"""Pronunciations for words the recogniser's dictionary lacks, from espeak-ng's letter-to-sound rules.

espeak-ng gives IPA with one separator between phonemes; this maps it to the
ARPAbet phones pocketsphinx's acoustic model knows, so a transcript with names or
rare words still aligns instead of failing.
"""
from __future__ import annotations

import ctypes

from .espeak import _engine
from .phones import ipa_to_arpabet


def arpabet(word: str, voice: str = "en-us") -> list[str]:
    """ARPAbet phones for `word` by espeak-ng's rules (empty if it has none)."""
    lib, _ = _engine()
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
    lib.espeak_SetVoiceByName(voice.encode())
    buf = ctypes.create_string_buffer(word.encode("utf-8"))
    ptr = ctypes.c_void_p(ctypes.addressof(buf))
    phones: list[str] = []
    while ptr.value:
        ipa = lib.espeak_TextToPhonemes(ctypes.byref(ptr), 1, 0x02 | (ord("_") << 8))  # UTF-8 in, IPA out
        for token in (ipa or b"").decode("utf-8", "replace").split("_"):
            phones += ipa_to_arpabet(token)
    return phones

"""Pronunciations from espeak-ng's letter-to-sound rules, in any language it speaks, as ARPAbet phones.

espeak-ng gives IPA with one separator between phonemes; this maps it to the ARPAbet
phones pocketsphinx's acoustic model knows, so a transcript with names, rare words or
another language's words still aligns instead of failing.
"""
from __future__ import annotations

import ctypes
import re

from ..errors import InputError
from .espeak import _engine
from .phones import ipa_to_arpabet

_IPA_OUT = 0x02 | (ord("_") << 8)  # espeak_TextToPhonemes: UTF-8 in, IPA out, '_' between phonemes
_LANGUAGE_SWITCH = re.compile(r"\([a-z-]+\)")  # espeak's '(en)' … '(fr)' around a word it reads in another language


def arpabet(word: str, voice: str = "en-us") -> list[str]:
    """ARPAbet phones for `word` by espeak-ng's rules for `voice` (empty if it has none).

    espeak's language-switch marks ('(en)fʊtbɔːl(fr)') are dropped: their letters would be read as phones."""
    lib, _ = _engine()
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
    if lib.espeak_SetVoiceByName(voice.encode()) != 0:
        raise InputError(f"espeak-ng could not load its voice '{voice}'.")
    buf = ctypes.create_string_buffer(word.encode("utf-8"))
    ptr = ctypes.c_void_p(ctypes.addressof(buf))
    phones: list[str] = []
    while ptr.value:
        ipa = (lib.espeak_TextToPhonemes(ctypes.byref(ptr), 1, _IPA_OUT) or b"").decode("utf-8", "replace")
        for token in _LANGUAGE_SWITCH.sub("_", ipa).split("_"):
            phones += ipa_to_arpabet(token)
    return phones

"""Pronunciations for words the recogniser's dictionary lacks, from espeak-ng's letter-to-sound rules.

espeak-ng gives IPA with one separator between phonemes; this maps it to the
ARPAbet phones pocketsphinx's acoustic model knows, so a transcript with names or
rare words still aligns instead of failing.
"""
from __future__ import annotations

import ctypes

from .synth import _engine

_IPA_TO_ARPABET = {
    "ɑ": "AA", "ɑː": "AA", "ɒ": "AA", "a": "AA", "aː": "AA", "æ": "AE", "ʌ": "AH", "ə": "AH", "ɐ": "AH",
    "ɔ": "AO", "ɔː": "AO", "aʊ": "AW", "aɪ": "AY", "ɛ": "EH", "e": "EH", "ɜ": "ER", "ɜː": "ER", "ɝ": "ER",
    "ɚ": "ER", "eɪ": "EY", "ɪ": "IH", "ᵻ": "IH", "i": "IY", "iː": "IY", "oʊ": "OW", "əʊ": "OW", "o": "OW",
    "oː": "OW", "ɔɪ": "OY", "ʊ": "UH", "u": "UW", "uː": "UW", "b": "B", "tʃ": "CH", "d": "D", "ð": "DH",
    "f": "F", "ɡ": "G", "g": "G", "h": "HH", "dʒ": "JH", "k": "K", "l": "L", "m": "M", "n": "N", "ŋ": "NG",
    "p": "P", "ɹ": "R", "r": "R", "s": "S", "ʃ": "SH", "t": "T", "θ": "TH", "v": "V", "w": "W", "j": "Y",
    "z": "Z", "ʒ": "ZH", "ɾ": "T", "ʔ": "T", "x": "K", "ɬ": "L",
}
_SKIP = "ˈˌ.‿ \u0303\u0329"


def _to_arpabet(token: str) -> list[str]:
    token = "".join(ch for ch in token if ch not in _SKIP)
    out, i = [], 0
    while i < len(token):
        for size in (3, 2, 1):  # longest match first: 'aɪ' before 'a'
            piece = token[i:i + size]
            if piece in _IPA_TO_ARPABET:
                out.append(_IPA_TO_ARPABET[piece])
                i += size
                break
        else:
            i += 1  # a diacritic or a sound English lacks: drop it
    return out


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
            phones += _to_arpabet(token)
    return phones

"""Timed phones: the common currency between recognisers and the articulation model."""
from __future__ import annotations

import re
from dataclasses import dataclass

# CMU/ARPAbet phones without stress digits, plus SIL for silence and noise.
ARPABET = (
    "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH "
    "UH UW V W Y Z ZH SIL"
).split()
BILABIALS = frozenset({"P", "B", "M"})
OPEN_VOWELS = frozenset({"AA", "AE", "AH", "AO", "AW", "AY"})
ROUNDED = frozenset({"UW", "OW", "W"})


@dataclass(frozen=True)
class Phone:
    name: str
    start: float  # seconds
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def normalise(name: str) -> str:
    """'AH0' → 'AH', '+NSN+' / 'sil' / unknown → 'SIL'."""
    base = re.sub(r"[0-9]", "", name.upper())
    return base if base in ARPABET else "SIL"


def merge(phones: list[Phone]) -> list[Phone]:
    """Join consecutive silences so the articulation model sees one pause, not many."""
    out: list[Phone] = []
    for p in phones:
        if out and p.name == "SIL" and out[-1].name == "SIL":
            out[-1] = Phone("SIL", out[-1].start, p.end)
        else:
            out.append(p)
    return out


IPA_TO_ARPABET = {
    "ɑ": "AA", "ɑː": "AA", "ɒ": "AA", "a": "AA", "aː": "AA", "æ": "AE", "ʌ": "AH", "ə": "AH", "ɐ": "AH",
    "ɔ": "AO", "ɔː": "AO", "aʊ": "AW", "aɪ": "AY", "ɛ": "EH", "e": "EH", "ɜ": "ER", "ɜː": "ER", "ɝ": "ER",
    "ɚ": "ER", "eɪ": "EY", "ɪ": "IH", "ᵻ": "IH", "i": "IY", "iː": "IY", "oʊ": "OW", "əʊ": "OW", "o": "OW",
    "oː": "OW", "ɔɪ": "OY", "ʊ": "UH", "u": "UW", "uː": "UW", "b": "B", "tʃ": "CH", "d": "D", "ð": "DH",
    "f": "F", "ɡ": "G", "g": "G", "h": "HH", "dʒ": "JH", "k": "K", "l": "L", "m": "M", "n": "N", "ŋ": "NG",
    "p": "P", "ɹ": "R", "r": "R", "s": "S", "ʃ": "SH", "t": "T", "θ": "TH", "v": "V", "w": "W", "j": "Y",
    "z": "Z", "ʒ": "ZH", "ɾ": "T", "ʔ": "T", "x": "K", "ɬ": "L",
    # sounds of other languages, by their nearest English mouth shape
    "y": "UW", "yː": "UW", "ʏ": "UH", "ø": "UH", "øː": "UH", "œ": "AO", "ɵ": "UH", "ɯ": "IH", "ɨ": "IH",
    "ɤ": "AH", "eː": "EY", "ɛː": "EH", "ɪː": "IY", "ʊː": "UW", "ʁ": "G", "ʀ": "G",
    "ɣ": "G", "χ": "HH", "ç": "HH", "ɦ": "HH", "ħ": "HH", "β": "B", "ɸ": "F", "ɕ": "SH", "ʑ": "ZH",
    "ʂ": "SH", "ʐ": "ZH", "c": "K", "ɟ": "G", "ɲ": "N", "ɳ": "N", "ɴ": "NG", "ʎ": "L", "ɫ": "L", "ɭ": "L",
    "ʝ": "Y", "ɥ": "W", "ʋ": "V", "ɻ": "R", "ɽ": "T", "ts": "T", "dz": "D",
    "ʈ": "T", "ɖ": "D", "q": "K", "ʕ": "HH", "ε": "EH", "ʉ": "UW",  # Malayalam, Arabic, Danish, Norwegian
}
_SKIP = "ˈˌ.‿ -ʲʰʷˑ\u0303\u0329\u032f"


def ipa_to_arpabet(token: str) -> list[str]:
    """One IPA segment (from espeak-ng) → ARPAbet phones, longest match first; unknown marks dropped."""
    token = "".join(ch for ch in token if ch not in _SKIP)
    out, i = [], 0
    while i < len(token):
        for size in (3, 2, 1):  # longest match first: 'aɪ' before 'a'
            piece = token[i:i + size]
            if piece in IPA_TO_ARPABET:
                out.append(IPA_TO_ARPABET[piece])
                i += size
                break
        else:
            i += 1  # a diacritic or a sound English lacks: drop it
    return out

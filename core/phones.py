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

"""The clip's language: espeak-ng's language codes, the panel's list, and checks of a transcript.

pocketsphinx has only a US-English acoustic model and dictionary; placing p/b/m, open vowels
and rounding needs only roughly right phones, so a transcript in any language espeak-ng
speaks is phonemised by espeak in that language and aligned with the English model
(recognise.align). The language is the user's choice (panel, CLIs, batch column).
"""
from __future__ import annotations

import ctypes
import functools
import re
import unicodedata

from ..errors import InputError
from .espeak import _engine

ENGLISH = "en"
# The panel's list (code, name): languages whose transcripts align on the dev sets (docs/benchmarks.md).
# The command lines take any espeak-ng code.
COMMON = (("en", "English"), ("fr", "French"), ("es", "Spanish"), ("it", "Italian"), ("de", "German"),
          ("pt", "Portuguese"), ("pt-br", "Portuguese (Brazil)"), ("ru", "Russian"), ("nl", "Dutch"),
          ("pl", "Polish"), ("sv", "Swedish"), ("da", "Danish"), ("nb", "Norwegian"), ("fi", "Finnish"),
          ("cs", "Czech"), ("sk", "Slovak"), ("hu", "Hungarian"), ("ro", "Romanian"), ("tr", "Turkish"),
          ("el", "Greek"), ("uk", "Ukrainian"), ("ca", "Catalan"), ("id", "Indonesian"), ("hi", "Hindi"),
          ("ar", "Arabic"))
# Share of a transcript's letters that must be in the language's script (the rest may be names).
MIN_SCRIPT_SHARE = 0.5
# Unicode character-name prefixes of each language's script; languages not listed write in LATIN.
_SCRIPTS = {
    **dict.fromkeys(("ru", "uk", "be", "bg", "mk", "kk", "ky", "tt", "ba", "cv", "ce", "mn"), ("CYRILLIC",)),
    **dict.fromkeys(("el", "grc"), ("GREEK",)),
    **dict.fromkeys(("ar", "fa", "ur", "ug", "ps", "sd"), ("ARABIC",)),
    "he": ("HEBREW",), "hy": ("ARMENIAN",), "ka": ("GEORGIAN",), "am": ("ETHIOPIC",),
    **dict.fromkeys(("hi", "mr", "ne", "kok", "sa", "bpy"), ("DEVANAGARI",)),
    **dict.fromkeys(("bn", "as"), ("BENGALI",)),
    "pa": ("GURMUKHI",), "gu": ("GUJARATI",), "or": ("ORIYA",), "ta": ("TAMIL",), "te": ("TELUGU",),
    "kn": ("KANNADA",), "ml": ("MALAYALAM",), "si": ("SINHALA",), "th": ("THAI",), "my": ("MYANMAR",),
    **dict.fromkeys(("cmn", "zh", "yue", "hak"), ("CJK",)),
    "ja": ("CJK", "HIRAGANA", "KATAKANA"), "ko": ("HANGUL",),
}
_APOSTROPHES = "'’ʼ"
_NUMBER_MARKS = ".,"  # between two digits, a number's own: "1,000", "2,5", "3.14" are read whole
_PERCENT = re.compile(r"(?<=\d)[ \u00a0\u202f]?%")  # after a number ("50%", French "50 %"), a spoken word
# Currency symbols ($ € £ ¥ ₽ ₹ …: Unicode's category Sc), each a word espeak-ng names in the language
CURRENCY = "".join(chr(c) for c in range(0x10000) if unicodedata.category(chr(c)) == "Sc")
_SPACE = "[ \u00a0\u202f]?"  # between an amount and its symbol: none, a space, a (narrow) no-break space
_NUMBER = r"\d+(?:[.,]\d+)*"
_AMOUNT = re.compile(rf"(?P<before>[{CURRENCY}]){_SPACE}(?P<number>{_NUMBER})|(?P<number_first>{_NUMBER}){_SPACE}"
                     rf"(?P<after>[{CURRENCY}])")
_CENTS = re.compile(r"(.*\d)[.,](\d\d)")  # "5.50", "2,50": the last two digits said after the currency


class _Voice(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_void_p), ("identifier", ctypes.c_char_p),
                ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
                ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int), ("spare", ctypes.c_void_p)]


@functools.lru_cache(maxsize=1)
def languages() -> dict[str, tuple[str, str]]:
    """espeak-ng's language codes (lower case) → (voice file to load, language name).

    A voice lists several codes ('fr', 'fr-fr'); espeak_SetVoiceByName loads only the file's
    own name, so every code is resolved to it."""
    lib, _ = _engine()
    lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
    lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
    voices = lib.espeak_ListVoices(None)
    out: dict[str, tuple[str, str]] = {}
    i = 0
    while voices[i]:
        v = voices[i].contents
        voice_file = v.identifier.decode().rsplit("/", 1)[-1]
        entry = (voice_file, v.name.decode())
        out.setdefault(voice_file.lower(), entry)
        p = v.languages  # (priority byte, NUL-terminated code)* then a zero byte
        while ctypes.c_ubyte.from_address(p).value:
            code = ctypes.string_at(p + 1)
            out.setdefault(code.decode().lower(), entry)
            p += len(code) + 2
        i += 1
    return out


def voice_of(language: str) -> str:
    """The espeak-ng voice file for `language`, or `InputError` saying how to find valid codes."""
    found = languages().get(language.strip().lower()) if language else None
    if found is None:
        raise InputError(f"Unknown language '{language}': use an espeak-ng language code such as en, fr, es, de, "
                         "it, pt, ru (`python -m core languages` lists them all).")
    return found[0]


def from_locale(name: str) -> str | None:
    """A data folder's locale ('pt_BR', 'en', 'sr@latin', 'fr_CA') as an espeak-ng code, or None where espeak-ng
    lacks the language. English other than British is pocketsphinx's own en-us; a variant espeak-ng lacks
    ('fr-ca') falls back to its language ('fr')."""
    code = name.split("@")[0].replace("_", "-").lower()
    if code.split("-")[0] == ENGLISH and code != "en-gb":
        return "en-us"
    return next((c for c in (code, code.split("-")[0]) if c in languages()), None)


def is_english(language: str) -> bool:
    return language.strip().lower().split("-")[0] == ENGLISH


def spoken_amounts(text: str) -> str:
    """Currency amounts in the order they are said: "$5" → "5 $", "£3.50" → "3 £ 50", "2,50 €" → "2 € 50"
    ("five dollars", "three pounds fifty", "deux euros cinquante"), the symbol a word of its own. Why: Whisper
    writes the amounts it hears with their symbol; the symbol, not a letter, was dropped, so "£5" lost the p
    of "pounds", and espeak-ng reads "$5" in place as "dollar five"."""
    def said(m: re.Match) -> str:
        number, symbol = m["number"] or m["number_first"], m["before"] or m["after"]
        cents = _CENTS.fullmatch(number)
        return f" {cents[1]} {symbol} {cents[2]} " if cents else f" {number} {symbol} "

    return _AMOUNT.sub(said, text)


def words(text: str) -> list[str]:
    """Words of a transcript in any script: runs of letters, combining marks and digits (espeak
    reads digits in the language), with apostrophes kept inside a word ("l'homme", "don't") and a point or
    comma between two digits inside a number ("1,000", "2,5": espeak reads the number in the language's way,
    where the digits apart would be read one by one). A percent sign after a number is a word of its own:
    espeak says it in the language ("percent", "pour cent", "Prozent"), and Whisper writes it for what was said
    (elsewhere, as in "%1", it is a placeholder, not speech). A currency symbol is a word, put after its amount
    (`spoken_amounts`)."""
    text = spoken_amounts(text)
    percent = {m.end() - 1 for m in _PERCENT.finditer(text)}
    out, word = [], ""
    for i, ch in enumerate(text):
        after = text[i + 1] if i + 1 < len(text) else ""
        if unicodedata.category(ch)[0] in "LMN":
            word += ch
        elif ch in _APOSTROPHES and word and after and unicodedata.category(after)[0] in "LM":
            word += "'"
        elif ch in _NUMBER_MARKS and word[-1:].isdigit() and after.isdigit():
            word += ch
        else:
            if word:
                out.append(word)
            if i in percent or ch in CURRENCY:
                out.append(ch)
            word = ""
    return out + ([word] if word else [])


def _scripts(language: str) -> tuple[str, ...]:
    return _SCRIPTS.get(language.lower().split("-")[0], ("LATIN",))


def script_share(text: str, language: str) -> float:
    """Share of the letters of `text` in `language`'s script (1.0 when there are no letters)."""
    letters = [ch for ch in text if unicodedata.category(ch).startswith("L")]
    if not letters:
        return 1.0
    return sum(unicodedata.name(ch, "").startswith(_scripts(language)) for ch in letters) / len(letters)


def check_transcript(text: str, language: str) -> None:
    """`InputError` when the transcript is written in another script than the language's."""
    share = script_share(text, language)
    if share < MIN_SCRIPT_SHARE:
        scripts = "/".join(_scripts(language)).title()
        raise InputError(f"The transcript is not in the script of language '{language}' ({scripts}): only "
                         f"{share:.0%} of its letters are. Check the language setting or the transcript.")

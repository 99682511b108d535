"""Real human speech with its text, per language: the development sets of the lip-sync benchmarks.

Each set is read from where its owner (the shared data folder or a Debian package) puts
it, never copied into the repository; a set whose data is absent is skipped with a
message saying what to install. Every clip names its espeak-ng language, so
core.speech.recognise.align can make its reference timing.

Sets:
- shared: ../shared/data/speech, English sentences (transcripts.tsv);
- alsa: alsa-utils' channel test phrases ("Front Center"), English;
- klettres: klettres-data, letter names and syllables read by native speakers in ~20
  languages (text in each language's sounds.xml);
- ktuberling: ktuberling-data, single words in ~15 languages; the text is the file name,
  written in ASCII (accents dropped: "fusee" for "fusée"), so it is only approximate;
- asterisk: asterisk-core-sounds-{en,es,fr,it,ru}-wav, telephone prompts (8 kHz) read by
  professional speakers, words to sentences; the text is in the documentation of the
  packages without -wav (core-sounds-<lang>.txt.gz). `train closure --recorded asterisk` trains on these
  speakers' other prompts, never on those the benchmarks score (core/training/corpus_recorded.py; not the
  shipped detector);
- fillets: fillets-ng-data-cs and -nl (with fillets-ng-data), the spoken dialogue of the
  game Fish Fillets NG: sentences acted by several voices in Czech (the original cast) and Dutch
  (its "en" folder holds the lines every language shares: noises, German and Russian); the
  text is the subtitle of the same line in the level's dialogs_<lang>.lua;
- tuxpaint: tuxpaint-stamps-default, the spoken description of each stamp ("A frog.") in about
  12 languages, one reader each; the text is the stamp's description in its .txt (edited after
  some recordings were made: approximate);
- voices: the same prompts read by other speakers, from Asterisk prompt packages that install
  beside the core sounds (asterisk-prompt-it-menardi-wav: Italian, a woman; the core set's
  Italian is a man). The text is the core set's for the same prompt name: the wording may
  differ, so it is approximate. (asterisk-prompt-fr-armelle and -es-co replace the core
  sounds' text packages and word their prompts differently: not used.)
"""
from __future__ import annotations

import csv
import glob
import os
import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from common import DATA

from core.speech.languages import from_locale
from core.training.asterisk import INSTALL, SOUNDS, prompts

ALSA = "/usr/share/sounds/alsa"
KLETTRES = "/usr/share/klettres"
KTUBERLING = "/usr/share/ktuberling/sounds"
FILLETS = "/usr/share/games/fillets-ng"
TUXPAINT = "/usr/share/tuxpaint/stamps"
ENGLISH = "en-us"  # pocketsphinx's own model and dictionary
# ktuberling: file-name prefixes that name a playground, not the object ("patate_ballon").
_THEME_PREFIXES = {"patate", "patata"}
# A language with few files not named by their English keys has only misspelt keys among them
# ("shoes" for shoe): none of its texts is known. (Danish: 39 %, Catalan 28 %, German 3 %.)
MIN_NAMED_SHARE = 0.2
_LUA_STRING = r'"((?:[^"\\]|\\.)*)"'
# fillets: dialogId("id", "font", "English subtitle") then, in a translation, dialogStr("its text")
_DIALOG = re.compile(r'dialogId\(\s*' + _LUA_STRING + r'\s*,\s*' + _LUA_STRING + r'\s*,\s*' + _LUA_STRING
                     + r'\s*\)(?:\s*dialogStr\(\s*' + _LUA_STRING + r'\s*\))?')


@dataclass(frozen=True)
class Clip:
    path: str
    language: str  # espeak-ng code
    text: str
    set: str
    exactness: str  # "exact": the words said; "approx": spelling or wording may differ


def _skip(name: str, why: str) -> list[Clip]:
    print(f"[{name}] skipped: {why}", file=sys.stderr)
    return []


def shared() -> list[Clip]:
    speech = os.path.join(DATA, "speech")
    table = os.path.join(speech, "transcripts.tsv")
    if not os.path.isfile(table):
        return _skip("shared", f"{os.path.abspath(table)} is absent (set TALKINGHEAD_DATA to the shared data folder)")
    with open(table, encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if r["text"].strip()]
    return [Clip(os.path.join(speech, r["file"]), ENGLISH, r["text"], "shared", r["exactness"]) for r in rows]


def alsa() -> list[Clip]:
    paths = sorted(glob.glob(os.path.join(ALSA, "*.wav")))
    if not paths:
        return _skip("alsa", f"no sounds in {ALSA} (apt-get install alsa-utils)")
    # the file name is the phrase said ("Front_Center.wav": "front center"); Noise.wav is noise
    return [Clip(p, ENGLISH, os.path.basename(p)[:-4].replace("_", " ").lower(), "alsa", "exact")
            for p in paths if os.path.basename(p) != "Noise.wav"]


def klettres() -> list[Clip]:
    tables = sorted(glob.glob(os.path.join(KLETTRES, "*", "sounds.xml")))
    if not tables:
        return _skip("klettres", f"no sounds.xml under {KLETTRES} (apt-get install klettres-data)")
    clips = []
    for table in tables:
        folder = os.path.basename(os.path.dirname(table))
        code = from_locale(folder)
        if code is None:
            _skip("klettres", f"{folder}: espeak-ng has no such language")
            continue
        root = ET.parse(table).getroot()
        for kind, exactness in (("alphabet", "approx"), ("syllables", "exact")):  # a letter may be said as its sound
            for sound in root.iter(kind):
                for s in sound.iter("sound"):
                    path = os.path.join(KLETTRES, s.get("file", ""))
                    if os.path.isfile(path) and s.get("name", "").strip():
                        clips.append(Clip(path, code, s.get("name").strip(), "klettres", exactness))
    return clips


def _ktuberling_text(name: str, stem: str) -> str:
    """The word said, from the file name: 'egypte_arche' (sound egypt_arch) → 'arche', 'ball_bola' → 'bola'."""
    if stem.startswith(name + "_"):  # Indonesian: English key, then the word
        stem = stem[len(name) + 1:]
    else:
        tokens = stem.split("_")
        if len(tokens) > 1 and ("_" in name or tokens[0] in _THEME_PREFIXES):
            stem = "_".join(tokens[1:])
    return re.sub(r"[-_]+", " ", stem).strip()


def ktuberling() -> list[Clip]:
    themes = sorted(glob.glob(os.path.join(KTUBERLING, "*.soundtheme")))
    if not themes:
        return _skip("ktuberling", f"no .soundtheme files in {KTUBERLING} (apt-get install ktuberling-data)")
    clips = []
    for theme in themes:
        folder = os.path.basename(theme)[: -len(".soundtheme")]
        if "@" in folder:
            continue  # sr@latin etc.: the same recordings as sr
        code = from_locale(folder)
        if code is None:
            _skip("ktuberling", f"{folder}: espeak-ng has no such language")
            continue
        sounds = [(s.get("name", ""), os.path.join(KTUBERLING, s.get("file", "")))
                  for s in ET.parse(theme).getroot().iter("sound")]
        sounds = [(name, path, os.path.splitext(os.path.basename(path))[0])
                  for name, path in sounds if os.path.isfile(path)]
        named = [(n, p, stem) for n, p, stem in sounds if code == ENGLISH or stem.lower() != n.lower()]
        if len(named) <= MIN_NAMED_SHARE * len(sounds):
            _skip("ktuberling", f"{folder}: no recordings, or named by their English keys (the words are unknown)")
            continue
        clips += [Clip(p, code, _ktuberling_text(n, stem), "ktuberling", "approx") for n, p, stem in named]
    return clips


def asterisk(voices: bool = False) -> list[Clip]:
    """The core sounds' speakers' prompts, or with `voices` every other speaker's (see the module doc)."""
    name = "voices" if voices else "asterisk"
    found, skipped = prompts(voices)
    for note in skipped:
        _skip(name, note)
    clips = [Clip(p.path, p.language, p.text, name, "approx" if voices else "exact") for p in found]
    if not clips:
        return _skip(name, f"no prompts with text under {SOUNDS} (apt-get install " + (
            "asterisk-prompt-it-menardi-wav asterisk-core-sounds-it)" if voices else INSTALL + ")"))
    return clips


def _fillets_lines(level: str, lang: str) -> dict[str, str]:
    """Dialogue id → the text said in `lang` ('en': the English subtitle every table keys on)."""
    tables = sorted(glob.glob(os.path.join(FILLETS, "script", level, "dialogs*.lua")))
    if lang != "en":
        tables = [t for t in tables if os.path.basename(t) == f"dialogs_{lang}.lua"]
    out: dict[str, str] = {}
    for table in tables:
        with open(table, encoding="utf-8", errors="replace") as fh:
            for key, _font, english, translated in _DIALOG.findall(fh.read()):
                text = english if lang == "en" else translated
                if re.search(r"\w", text):
                    out.setdefault(key, text.replace('\\"', '"'))
    return out


def fillets() -> list[Clip]:
    folders = sorted(glob.glob(os.path.join(FILLETS, "sound", "*", "??")))
    if not folders:
        return _skip("fillets", f"no dialogue under {FILLETS}/sound (apt-get install fillets-ng-data "
                                "fillets-ng-data-cs fillets-ng-data-nl)")
    clips = []
    for folder in folders:
        level, lang = folder.split(os.sep)[-2:]
        if lang == "en":
            continue  # every language's lines said in none ("Jawohl, mein Herr!", a virus's hex digits)
        code = from_locale(lang)
        lines = _fillets_lines(level, lang) if code else {}
        for path in sorted(glob.glob(os.path.join(folder, "*.ogg"))):
            text = lines.get(os.path.basename(path)[: -len(".ogg")])
            if text:
                clips.append(Clip(path, code, text, "fillets", "exact"))
    return clips


def tuxpaint() -> list[Clip]:
    descriptions = sorted(glob.glob(os.path.join(TUXPAINT, "**", "*_desc*.ogg"), recursive=True))
    if not descriptions:
        return _skip("tuxpaint", f"no spoken descriptions under {TUXPAINT} (apt-get install tuxpaint-stamps-default)")
    clips = []
    for path in descriptions:
        stem, _, lang = path[: -len(".ogg")].rpartition("_desc")
        lang = lang.lstrip("_") or "en"
        code = from_locale(lang)
        if code is None or not os.path.isfile(stem + ".txt"):
            continue
        with open(stem + ".txt", encoding="utf-8", errors="replace") as fh:
            lines = [line.strip() for line in fh]
        # the first line is English; then 'fr.utf8=Une grenouille.'
        texts = {"en": lines[0] if lines else ""}
        texts.update(line.split(".utf8=", 1) for line in lines if ".utf8=" in line)
        text = texts.get(lang, "").strip(" |")
        if re.search(r"\w", text):
            clips.append(Clip(path, code, text, "tuxpaint", "approx"))
    return clips


def voices() -> list[Clip]:
    return asterisk(voices=True)


SETS = {"shared": shared, "alsa": alsa, "klettres": klettres, "ktuberling": ktuberling, "asterisk": asterisk,
        "voices": voices, "fillets": fillets, "tuxpaint": tuxpaint}

"""Asterisk's spoken telephone prompts with their text: real read speech in five languages, from Debian
packages, for the closure detector's recorded corpus (corpus_recorded.py) and the lip-sync benchmarks
(bench/speechsets.py, sets "asterisk" and "voices"). Read where the packages install them, never copied.

The core sounds (`asterisk-core-sounds-{en,es,fr,it,ru}-wav`, 8 kHz) are read by four professional speakers,
one folder each per language ('en_US_f_Allison': locale, sex, name); their text is in the documentation of the
packages without -wav (`core-sounds-<lang>.txt.gz`). Other prompt packages install other speakers' folders
beside them (`asterisk-prompt-it-menardi-wav`); dpkg's file lists tell the two apart.
"""
from __future__ import annotations

import glob
import gzip
import os
import re
from dataclasses import dataclass

import numpy as np

from ..speech.languages import from_locale

SOUNDS = "/usr/share/asterisk/sounds"
TEXT = "/usr/share/doc/asterisk-core-sounds-{lang}/core-sounds-{lang}.txt.gz"
PACKAGE_FILES = "/var/lib/dpkg/info/asterisk-core-sounds-*-wav.list"  # what each core package installed
INSTALL = "asterisk-core-sounds-{en,es,fr,it,ru}-wav asterisk-core-sounds-{en,es,fr,it,ru}"
_PROMPT_KEY = re.compile(r"\w[-/]\w+(-\w+)*:")  # 'vm-review-nonurgent:' inside a line


@dataclass(frozen=True)
class Prompt:
    path: str
    language: str  # espeak-ng code
    text: str


def lines(path: str) -> dict[str, str]:
    """'name: text' lines of an Asterisk core-sounds-<lang>.txt.gz; comments (';'), notes ('[beep]',
    '(4 seconds of silence)') and lines holding two prompts (a lost line break: 'dièse.vm-review: …')
    are left out."""
    out = {}
    with gzip.open(path, "rt", encoding="utf-8-sig", errors="replace") as fh:
        for line in fh:
            key, sep, text = line.partition(":")
            text = re.sub(r"\[[^]]*\]|\([^)]*\)", " ", text).strip()
            if (sep and key.strip() and not key.startswith(";") and re.search(r"\w", text)
                    and not _PROMPT_KEY.search(text)):
                out[key.strip()] = text
    return out


def _core_folders() -> set[str] | None:
    """The speaker folders that the asterisk-core-sounds-*-wav packages install (None: dpkg cannot say)."""
    lists = glob.glob(PACKAGE_FILES)
    if not lists:
        return None
    folders = set()
    for path in lists:
        with open(path, encoding="utf-8", errors="replace") as fh:
            folders.update(os.path.dirname(line.strip()) for line in fh if line.strip().endswith(".wav"))
    return folders


def prompts(voices: bool = False) -> tuple[list[Prompt], list[str]]:
    """The core speakers' prompts with their text (with `voices`: every other speaker's, with the core text of
    the same prompt name, which the speaker may word differently), sorted by path; and a note for each
    speaker folder left out (its text package or its language missing)."""
    folders = sorted(glob.glob(os.path.join(SOUNDS, "??_??_?_*")))
    core = _core_folders()
    if core is not None:
        folders = [f for f in folders if (f in core) != voices]
    elif voices:
        folders = []
    found, skipped = [], []
    for folder in folders:
        locale = os.path.basename(folder)[:5]
        table, code = TEXT.format(lang=locale[:2]), from_locale(locale)
        if code is None:
            skipped.append(f"{locale}: espeak-ng has no such language")
        elif not os.path.isfile(table):
            skipped.append(f"{locale}: no transcripts {table} (apt-get install asterisk-core-sounds-{locale[:2]})")
        else:
            found += [Prompt(path, code, text) for key, text in sorted(lines(table).items())
                      if os.path.isfile(path := os.path.join(folder, key + ".wav"))]
    return found, skipped


def evenly(items: list, limit: int) -> list:
    """At most `limit` of `items` (sorted), evenly spread over them: how the lip-sync benchmarks choose the
    clips they score (bench/lipsync_languages.py --max-clips)."""
    if len(items) <= limit:
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, limit).round().astype(int)]

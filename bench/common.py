"""Shared bits of the benchmarks: where the real data is, and the report file."""
from __future__ import annotations

import csv
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
DATA = os.environ.get("TALKINGHEAD_DATA", os.path.join(ROOT, "..", "shared", "data"))
REPORT = os.path.join(ROOT, "docs", "benchmarks.md")


def need_data() -> str:
    if not os.path.isdir(DATA):
        sys.exit(f"skipped: the real test data folder {os.path.abspath(DATA)} is absent "
                 "(set TALKINGHEAD_DATA to the folder holding speech/ and meshes/)")
    return DATA


def transcribed_clips() -> list[tuple[str, str, str]]:
    """(path, exactness, text) of every clip with a transcript."""
    speech = os.path.join(need_data(), "speech")
    with open(os.path.join(speech, "transcripts.tsv"), encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [(os.path.join(speech, r["file"]), r["exactness"], r["text"]) for r in rows if r["text"].strip()]


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section between `<!-- name -->` markers in docs/benchmarks.md."""
    os.makedirs(os.path.dirname(REPORT), exist_ok=True)
    text = open(REPORT, encoding="utf-8").read() if os.path.exists(REPORT) else "# Benchmarks\n\n"
    block = f"<!-- {name} -->\n{body.rstrip()}\n<!-- /{name} -->"
    pattern = re.compile(rf"<!-- {name} -->.*?<!-- /{name} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    with open(REPORT, "w", encoding="utf-8") as fh:
        fh.write(text)


def table(header: list[str], rows: list[list]) -> str:
    fmt = lambda v: f"{v:.2f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def publish(name: str, intro: str, header: list[str], rows: list[list]) -> None:
    """Write section `name` (intro text, then the table) to docs/benchmarks.md and print the table."""
    write_section(name, intro + table(header, rows))
    print(table(header, rows))

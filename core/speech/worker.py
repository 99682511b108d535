"""A recognition worker: `python -m core.speech.worker`, started by pool.py.

Reads pieces of 16-bit PCM from stdin (a JSON header line, then the bytes) and answers
each with one JSON line of timed phones and text, until its stdin closes.
"""
from __future__ import annotations

import json
import sys

from .sphinx import decode_phones, decode_words


def main() -> None:
    """Read pieces from stdin, answer one JSON line each."""
    decode = {"words": decode_words, "phones": decode_phones}
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    for header in iter(stdin.readline, b""):
        job = json.loads(header)
        pcm = stdin.read(job["bytes"])
        phones, text = decode[job["kind"]](pcm, job["offset"])
        stdout.write((json.dumps({"phones": [[p.name, p.start, p.end] for p in phones], "text": text}) + "\n")
                     .encode())
        stdout.flush()



if __name__ == "__main__":
    main()

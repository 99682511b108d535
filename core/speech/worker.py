"""A recognition worker: `python -m core.speech.worker`, started by pool.py.

Reads pieces of 16-bit PCM from stdin (a JSON header line, then the bytes) and answers
each with one JSON line of timed phones and text, until its stdin closes. A piece is decoded
('words', 'phones') or its header's text force-aligned in its language ('align': phones null
where the text does not fit; with 'fallback', the phone loop's phones there instead, and text null).
"""
from __future__ import annotations

import json
import sys

from .recognise import aligned_or_none, phone_loop_pcm
from .sphinx import decode_phones, decode_words


def _align(job: dict, pcm: bytes) -> tuple[list | None, str | None]:
    phones, text = aligned_or_none(pcm, job["text"], job["language"]), job["text"]
    if phones is None and job.get("fallback"):
        phones, text = phone_loop_pcm(pcm), None
    return (None if phones is None else [[p.name, p.start + job["offset"], p.end + job["offset"]] for p in phones],
            text)


def main() -> None:
    """Read pieces from stdin, answer one JSON line each."""
    decode = {"words": decode_words, "phones": decode_phones}
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    for header in iter(stdin.readline, b""):
        job = json.loads(header)
        pcm = stdin.read(job["bytes"])
        if job["kind"] == "align":
            rows, text = _align(job, pcm)
        else:
            phones, text = decode[job["kind"]](pcm, job["offset"])
            rows = [[p.name, p.start, p.end] for p in phones]
        stdout.write((json.dumps({"phones": rows, "text": text}) + "\n").encode())
        stdout.flush()



if __name__ == "__main__":
    main()

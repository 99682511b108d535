"""How well the transcript alignment (core.speech.recognise.align) places p/b/m in each language, where the truth is known.

The dev sets' own transcripts are spoken by espeak-ng in their language (exact phoneme
timing), then aligned like the real clips. Reported per language: clips that failed to
align, and the share of espeak's P/B/M that have an aligned phone of the same name whose
centre lies within TOLERANCE of them. Synthetic voices are easier than people, so this
is an upper bound on the reference's quality, and a check of the espeak→ARPAbet mapping.

    python bench/reference_check.py --sets klettres,ktuberling,asterisk --max-clips 15
"""
from __future__ import annotations

import argparse
import contextlib
import io
from collections import defaultdict

import numpy as np
import soxr
from common import table
from speechsets import SETS

from core.errors import InputError
from core.speech.audio import Audio
from core.speech.espeak import synthesise
from core.speech.languages import voice_of
from core.speech.phones import BILABIALS
from core.speech.recognise import AlignmentFailed, align

TOLERANCE = 0.05  # s
RATE_WPM = 140  # espeak's speed: a little slower than its default, like the read speech of the sets


def check(text: str, language: str) -> tuple[int, int] | None:
    """(espeak's P/B/M, those matched by the alignment); None when the alignment failed."""
    speech = synthesise(text, voice=voice_of(language), rate_wpm=RATE_WPM)
    audio = Audio(soxr.resample(speech.samples, speech.sample_rate, 16000).astype(np.float32))
    try:
        aligned = [p for p in align(audio, text, language)[0] if p.name in BILABIALS]
    except (AlignmentFailed, InputError):
        return None
    truth = [p for p in speech.phones() if p.name in BILABIALS]
    near = lambda p, q: max(0.0, q.start - (p.start + p.end) / 2, (p.start + p.end) / 2 - q.end)  # noqa: E731
    return len(truth), sum(any(q.name == p.name and near(q, p) <= TOLERANCE for q in aligned) for p in truth)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default="klettres,ktuberling,asterisk")
    ap.add_argument("--max-clips", type=int, default=15, help="per set and language")
    args = ap.parse_args()
    rows = []
    for name in args.sets.split(","):
        with contextlib.redirect_stderr(io.StringIO()):
            clips = SETS[name]()
        by_lang = defaultdict(list)
        for c in sorted(clips, key=lambda c: c.path):
            by_lang[c.language].append(c)
        for lang, cs in sorted(by_lang.items()):
            picked = [cs[i] for i in np.linspace(0, len(cs) - 1, min(args.max_clips, len(cs))).round().astype(int)]
            results = [check(c.text, lang) for c in picked]
            ok = [r for r in results if r]
            n, hit = sum(r[0] for r in ok), sum(r[1] for r in ok)
            rows.append([name, lang, f"{len(ok)} / {len(results) - len(ok)}", n, hit / n if n else "–"])
            print(rows[-1], flush=True)
    print(table(["set", "language", "aligned / failed", "espeak P/B/M", f"within {TOLERANCE * 1000:.0f} ms"], rows))


if __name__ == "__main__":
    main()

"""Lip sync per language on real human speech (DESIGN.md §5, issue 15).

Reference timing: core.speech.recognise.align (pocketsphinx en-us forced alignment of
the clip's text, phonemised by espeak-ng in the clip's language). Scored against it: each
engine from the audio alone, and "transcript" (the articulation model driven by that same
alignment: ≈1.00 closure by construction, a check of the metric, not of the engines).
Rates are pooled over the phones of all clips of a cell (not averaged per clip);
correlation is averaged over clips weighted by their frames. One table per set, rows
engines, columns languages; written as markdown to --out.

    python bench/lipsync_languages.py --sets klettres,ktuberling --languages fr,es --max-clips 20

With --joined SECONDS, each language's clips are joined one after another, with pauses between, into
long clips of at least SECONDS each, and those are scored instead: dialogue as a studio animates it,
where pauses split the speech into windows and pieces (core.speech.transcribe).
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import soundfile as sf
from common import table, write_section
from speechsets import SETS, Clip

from core.engines import ENGINES, animate
from core.errors import InputError
from core.face.head import load_head
from core.motion.articulation import articulate
from core.speech.audio import SAMPLE_RATE, Audio, load_audio
from core.speech.phones import Phone
from core.speech.recognise import AlignmentFailed, align
from core.training.asterisk import evenly
from core.training.evaluation import score

SETS_TEXT = """The sets (real human speech, none tuned on; each read from where its package installs it, never copied):
- **shared**: the clips in `../shared/data/speech` with their transcripts (English).
- **alsa**: the spoken channel names of `alsa-utils` (`/usr/share/sounds/alsa`; English; text from the file name).
- **klettres**: `klettres-data`, letters and syllables read in 19 languages; text from each language's `sounds.xml`
  (letters may be said as their name or their sound: approximate).
- **ktuberling**: `ktuberling-data`, single words in 13 languages; text from the file name (accents lost: approximate).
- **asterisk**: Asterisk's professional telephone prompts (`asterisk-core-sounds-{en,es,fr,it,ru}-wav`, 8 kHz),
  exact text from the `core-sounds-<lang>.txt` of the same packages.
- **voices**: the same prompts read by another speaker (`asterisk-prompt-it-menardi-wav`: Italian, a woman, where
  the core set's Italian is a man), text from the core set's line of the same prompt name: the wording sometimes
  differs (approximate; `beep` is a beep). Held out: added after every setting was chosen.
- **fillets**: the spoken dialogue of the game Fish Fillets NG (`fillets-ng-data-cs`, `-nl`): sentences acted by
  several voices in Czech (the original cast) and Dutch, exact text from each level's `dialogs_<lang>.lua`.
  Held out: added after every setting was chosen.
- **tuxpaint**: `tuxpaint-stamps-default`, each stamp's spoken description ("Une grenouille.") in 12 languages,
  one reader each; text from the stamp's `.txt`, edited after some recordings were made: approximate (a Greek
  stamp reads "Αρσενικός μαύρος ρινόκερος" where its reader says "Μαύρος ρινόκερος": the reference then holds
  bilabials the audio never has, and every engine "misses" them). Held out.

Reference timing for every set: the clip's transcript force-aligned in its language (`core.speech.recognise.align`:
espeak-ng's phonemes for the language mapped to ARPAbet, pocketsphinx's en-us acoustic model), as DESIGN.md §5
prescribes. The `transcript` row drives the articulation model with that same alignment: about 1.00 by
construction, a check of the metric, not of the engines. Engines run from the audio alone, told the clip's
language (outside English the phonetic engine listens with the phone loop). Cells with fewer than ~20
bilabials (most klettres and ktuberling cells) are noisy."""
FPS = 30.0
TRANSCRIPT = "transcript"  # the reference alignment itself, through the articulation model
MAX_CLIPS = 40  # per set and language
METRICS = ("closure", "open", "rounding", "correlation")
JOIN_PAUSE = (0.3, 1.2)  # s: the pause between joined clips, drawn evenly in this range (seeded)


def pick(clips: list[Clip], limit: int) -> list[Clip]:
    """At most `limit` clips, evenly spread over the sorted list (letters and syllables, every theme)."""
    return evenly(sorted(clips, key=lambda c: c.path), limit)


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)  # one process per core


def run_clip(clip: Clip, engines: tuple[str, ...]) -> dict:
    """Reference alignment and every engine's score on one clip; 'error' when the clip has no reference."""
    try:
        audio = load_audio(clip.path)
        t = time.perf_counter()
        reference = align(audio, clip.text, clip.language)[0]
        align_s = time.perf_counter() - t
    except (InputError, AlignmentFailed) as exc:
        return {"error": f"{os.path.basename(clip.path)} ({clip.language}, {clip.text!r}): {exc}"}
    return {**scores_of(audio, reference, clip.language, engines), "align_s": align_s}


def run_joined(clips: list[Clip], engines: tuple[str, ...], seed: int) -> dict:
    """`clips` joined into one, pauses of JOIN_PAUSE between, each clip's own reference alignment moved to its
    place; scored like one clip (clips without a reference are left out; 'error' when none has one)."""
    rng = np.random.default_rng(seed)
    parts, reference, at, t = [], [], 0.0, time.perf_counter()
    for clip in clips:
        audio = load_audio(clip.path)
        try:
            phones = align(audio, clip.text, clip.language)[0]
        except (InputError, AlignmentFailed):
            continue
        pause = np.zeros(round(rng.uniform(*JOIN_PAUSE) * SAMPLE_RATE), np.float32)
        parts += [audio.samples, pause]
        reference += [Phone(p.name, p.start + at, p.end + at) for p in phones]
        at += (len(audio.samples) + len(pause)) / SAMPLE_RATE
    if not parts:
        return {"error": f"none of {len(clips)} joined clips has a reference"}
    align_s = time.perf_counter() - t
    return {**scores_of(Audio(np.concatenate(parts)), reference, clips[0].language, engines), "align_s": align_s}


def joined_groups(clips: list[Clip], seconds: float) -> list[list[Clip]]:
    """Consecutive clips (of one language) in groups of at least `seconds` of speech; a short rest joins the
    last group."""
    groups, length = [[]], 0.0
    for clip in clips:
        if length >= seconds:
            groups.append([])
            length = 0.0
        groups[-1].append(clip)
        length += sf.info(clip.path).duration
    if len(groups) > 1 and length < seconds / 2:
        rest = groups.pop()
        groups[-1] += rest
    return groups


def scores_of(audio: Audio, reference: list[Phone], language: str, engines: tuple[str, ...]) -> dict:
    """Every engine's score against `reference` on `audio` (in `language`), with the clip's length."""
    head = load_head()
    n = max(1, round(audio.duration * FPS))
    scores = {}
    for engine in engines:
        if engine == TRANSCRIPT:
            weights = articulate(reference, FPS, n)
        else:
            weights = animate(audio, None, engine, FPS, blink=False, language=language).combined_weights()
        scores[engine] = score(head.landmark_positions(weights), FPS, reference)
    return {"scores": scores, "seconds": audio.duration, "frames": n}


def pooled(results: list[dict], engine: str) -> dict[str, float]:
    """Count-weighted rates over the phones of all clips; frame-weighted mean correlation (a clip whose
    lip gap never moves has none)."""
    s = [r["scores"][engine] for r in results]

    def rate(pairs: list[tuple[float, int]]) -> float:
        n = sum(k for _, k in pairs)
        return sum(v * k for v, k in pairs if k) / n if n else float("nan")

    return {"closure": rate([(x.bilabial_closure, x.n_bilabial) for x in s]),
            "open": rate([(x.open_vowel, x.n_open) for x in s]),
            "rounding": rate([(x.rounding, x.n_rounded) for x in s]),
            "correlation": rate([(x.correlation, r["frames"]) for x, r in zip(s, results)
                                 if np.isfinite(x.correlation)])}


def cell(v: dict[str, float]) -> str:
    return " / ".join("–" if np.isnan(v[m]) else f"{v[m]:.2f}" for m in METRICS)


def set_table(name: str, by_language: dict[str, list[dict]], failed: dict[str, list[str]],
              engines: tuple[str, ...]) -> str:
    langs = sorted(set(by_language) | set(failed))
    ok = {lang: by_language.get(lang, []) for lang in langs}
    header = ["engine"] + langs
    rows = [[e] + [cell(pooled(ok[lang], e)) if ok[lang] else "–" for lang in langs] for e in engines]
    first = next(iter(engines))
    count = lambda lang, k: sum(getattr(r["scores"][first], k) for r in ok[lang])  # noqa: E731
    rows += [["clips aligned / failed"] + [f"{len(ok[lang])} / {len(failed.get(lang, []))}" for lang in langs],
             ["P/B/M · open · rounded phones"] + [f"{count(lang, 'n_bilabial')} · {count(lang, 'n_open')} · "
                                                  f"{count(lang, 'n_rounded')}" for lang in langs],
             ["alignment ms/clip (audio s/clip)"] + [
                 f"{1000 * np.mean([r['align_s'] for r in ok[lang]]):.0f} ({np.mean([r['seconds'] for r in ok[lang]]):.1f})"
                 if ok[lang] else "–" for lang in langs]]
    return f"### {name}\n\nEach cell: closure / open vowels / rounding / correlation.\n\n" + table(header, rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default=",".join(SETS), help="comma-separated: " + ", ".join(SETS))
    ap.add_argument("--languages", default="", help="comma-separated espeak-ng codes (default: all)")
    ap.add_argument("--engines", default=",".join(ENGINES + (TRANSCRIPT,)))
    ap.add_argument("--max-clips", type=int, default=MAX_CLIPS, help="per set and language")
    ap.add_argument("--out", default="", help="also write the tables to this markdown file")
    ap.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    ap.add_argument("--text-matches", default="", metavar="REGEX",
                    help="only clips whose text matches this regular expression (e.g. '[0-9]': those with numbers)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--joined", type=float, default=0.0, metavar="SECONDS",
                    help="score each language's clips joined into clips of at least this long")
    args = ap.parse_args()
    engines = tuple(e for e in args.engines.split(",") if e)
    unknown = [e for e in engines if e not in ENGINES + (TRANSCRIPT,)]
    if unknown:
        sys.exit(f"unknown engine(s) {unknown}: choose from {', '.join(ENGINES + (TRANSCRIPT,))}")
    wanted = {lang.strip().lower() for lang in args.languages.split(",") if lang.strip()}
    matches = re.compile(args.text_matches).search if args.text_matches else lambda _: True
    sections = []
    with ProcessPoolExecutor(args.jobs, initializer=_worker_init) as pool:
        for name in (s for s in args.sets.split(",") if s):
            if name not in SETS:
                sys.exit(f"unknown set {name!r}: choose from {', '.join(SETS)}")
            by_lang = defaultdict(list)
            for clip in SETS[name]():
                if (not wanted or clip.language in wanted) and matches(clip.text):
                    by_lang[clip.language].append(clip)
            clips = [c for lang in sorted(by_lang) for c in pick(by_lang[lang], args.max_clips)]
            if not clips:
                print(f"[{name}] no clips", file=sys.stderr)
                continue
            t = time.perf_counter()
            results, failed = defaultdict(list), defaultdict(list)
            if args.joined:
                items = [g for lang in sorted(by_lang) for g in joined_groups(pick(by_lang[lang], args.max_clips),
                                                                             args.joined)]
                runs = pool.map(run_joined, items, [engines] * len(items), range(len(items)))
            else:
                items = clips
                runs = pool.map(run_clip, clips, [engines] * len(clips), chunksize=2)
            for item, r in zip(items, runs):
                language = item[0].language if args.joined else item.language
                if "error" in r:
                    failed[language].append(r["error"])
                else:
                    results[language].append(r)
            sections.append(set_table(name, results, failed, engines))
            print(sections[-1] + "\n", flush=True)
            for lang, errors in sorted(failed.items()):
                print(f"[{name}] {lang}: {len(errors)} clip(s) without reference: " + "; ".join(errors[:3]),
                      file=sys.stderr)
            print(f"[{name}] {len(clips)} clips in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    command = "python bench/lipsync_languages.py " + " ".join(sys.argv[1:])
    picked = f"at most {args.max_clips} clips per set and language, chosen evenly over the sorted list"
    if args.joined:
        body = ("## Lip sync per language, clips joined into long ones (`python bench/lipsync_languages.py "
                f"--joined {args.joined:g}`)\n\n" + __doc__.split("\n\n")[3].strip().replace("\n", " ")
                + f" Pauses of {JOIN_PAUSE[0]}-{JOIN_PAUSE[1]} s between clips; each clip's reference as in *Lip sync "
                "per language* (the sets are described there). Each cell pools the phones of the joined clips; "
                f"'clips aligned' counts joined clips.\n\nThis run: `{command.strip()}`, {picked}.\n\n"
                + "\n\n".join(sections) + "\n")
    else:
        body = ("## Lip sync per language (`python bench/lipsync_languages.py`)\n\n"
                + __doc__.split("\n\n")[1].replace("\n", " ") + "\n\n" + SETS_TEXT
                + f"\n\nThis run: `{command.strip()}`, {picked}.\n\n" + "\n\n".join(sections) + "\n")
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(body)
        print(f"wrote {args.out}")
    if not args.no_docs:
        write_section("lipsync-languages-joined" if args.joined else "lipsync-languages", body)


if __name__ == "__main__":
    main()

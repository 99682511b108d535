"""Lip sync on worse recordings of the same real speech: a room, noise, other voices, MP3 (issue 15).

Why: the sets of bench/lipsync_languages.py are clean studio or game recordings; users bring phone and
laptop recordings. Each clip is scored as recorded, then degraded in several ways, always against its clean
reference (the clip's text force-aligned on the clean audio, as there): the timing of what was said does not
change with the room, so any loss is the engine's. The degradations come from outside the training code
(core/training/corpus.augment is never used here): a simulated room (pyroomacoustics' image-source method),
pink noise, other speakers of the same set talking at once, an MP3 file read back through load_audio.
Rates pool the phones of every clip of a set, its languages together; "English" and "other languages" pool
every set.

    python bench/recordings.py --sets asterisk,voices,fillets,tuxpaint --max-clips 10
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import zlib
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pyroomacoustics as pra
import soundfile as sf
from common import table, write_section
from lipsync_languages import FPS, METRICS, _worker_init, cell, pick, pooled, scores_of
from speechsets import SETS, Clip

from core.engines import animate
from core.errors import InputError
from core.face.head import load_head
from core.speech.audio import SAMPLE_RATE, Audio, load_audio
from core.speech.languages import is_english
from core.speech.recognise import AlignmentFailed, align
from core.training.evaluation import score

ROOM_SIZE = (5.0, 4.0, 2.7)  # m: a living room or small office
# (RT60 s, talker-to-microphone distance range m): a laptop on a furnished desk; the same room bare, from across it
ROOMS = {"desk": (0.3, (0.3, 0.6)), "room": (0.6, (1.0, 4.0))}
NOISE_SNR_DB = {"noise-20": 20.0, "noise-10": 10.0}  # pink noise: a quiet fan; a loud one (over the clip's RMS)
BABBLE_SNR_DB = 10.0
BABBLE_TALKERS = 4  # other clips of the set spoken at once (a café)
BABBLE_STRIDE = 7  # clips between one talker and the next in the set's sorted list: other speakers, other languages
TRANSCRIPT = "with transcript"  # Automatic given the clip's text (its forced alignment on the worse audio)
MP3_COMPRESSION = 0.9  # libsndfile's MP3 compression level: ~23 kbit/s VBR at 16 kHz
ENGINES = ("phonetic-whisper", TRANSCRIPT)  # what Automatic runs here without a transcript, and with one
CONDITIONS = ("clean", *ROOMS, *NOISE_SNR_DB, "babble", "mp3")
CONDITION_TEXT = {
    "clean": "as recorded",
    **{name: f"in a {'×'.join(f'{s:g}' for s in ROOM_SIZE)} m room, RT60 {rt60} s, talker and microphone placed at "
             f"random {near:g}-{far:g} m apart (pyroomacoustics)" for name, (rt60, (near, far)) in ROOMS.items()},
    **{name: f"pink noise at {snr:g} dB SNR" for name, snr in NOISE_SNR_DB.items()},
    "babble": f"{BABBLE_TALKERS} other clips of the set at once, {BABBLE_SNR_DB:g} dB SNR",
    "mp3": f"written as MP3 (libsndfile, compression {MP3_COMPRESSION}: ~23 kbit/s) and read back by load_audio",
}


def _rng(clip: Clip) -> np.random.Generator:
    """The same draws for a clip on every run, whatever the order the workers take the clips in."""
    return np.random.default_rng(zlib.crc32(os.path.basename(clip.path).encode()))


def _at_snr(x: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    gain = np.sqrt(np.mean(x ** 2) / (np.mean(noise ** 2) + 1e-12)) * 10 ** (-snr_db / 20)
    return x + gain * noise


def room(x: np.ndarray, rng: np.random.Generator, rt60: float, distance: tuple[float, float]) -> np.ndarray:
    """`x` spoken in ROOM_SIZE with reverberation time `rt60`, heard `distance` m away, at `x`'s level and timing."""
    absorption, order = pra.inverse_sabine(rt60, ROOM_SIZE)
    shoebox = pra.ShoeBox(ROOM_SIZE, fs=SAMPLE_RATE, materials=pra.Material(absorption), max_order=order)
    size = np.array(ROOM_SIZE)
    while True:
        talker, mic = rng.uniform(0.5, size - 0.5), rng.uniform(0.5, size - 0.5)
        if distance[0] <= np.linalg.norm(talker - mic) <= distance[1]:
            break
    shoebox.add_source(talker, signal=x)
    shoebox.add_microphone(mic)
    shoebox.simulate()
    wet = shoebox.mic_array.signals[0]
    delay = int(np.argmax(np.abs(shoebox.rir[0][0])))  # the direct path's arrival: keep the clip's timing
    return wet[delay:delay + len(x)] * np.sqrt(np.mean(x ** 2) / (np.mean(wet ** 2) + 1e-12))


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Noise whose power falls 3 dB per octave (hum, fans, traffic), made in the frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    return np.fft.irfft(spectrum / np.sqrt(np.maximum(f, 20.0)), n)


def babble(n: int, others: list[str]) -> np.ndarray:
    """Other recordings of the set, each looped to `n` samples and levelled, summed."""
    out = np.zeros(n)
    for path in others:
        y = load_audio(path).samples.astype(np.float64)
        y = np.tile(y, n // max(1, len(y)) + 1)[:n]
        out += y / (np.sqrt(np.mean(y ** 2)) + 1e-9)
    return out


def babble_talkers(paths: list[str], i: int) -> list[str]:
    """The clips talking over clip `i` of a set: BABBLE_TALKERS others, BABBLE_STRIDE apart, never clip `i` itself."""
    n = len(paths)
    offsets = dict.fromkeys([(1 + BABBLE_STRIDE * k) % n for k in range(n)] + list(range(1, n)))
    return [paths[(i + o) % n] for o in offsets if o][:BABBLE_TALKERS]


def as_mp3(x: np.ndarray) -> Audio:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "clip.mp3")
        sf.write(path, x, SAMPLE_RATE, format="MP3", compression_level=MP3_COMPRESSION)
        return load_audio(path)


def degrade(condition: str, audio: Audio, clip: Clip, others: list[str]) -> Audio:
    """`audio` (of `clip`) as recorded under `condition`: the same length and timing, at most full scale; `others`
    are the babble's talkers."""
    if condition == "clean":
        return audio
    x = audio.samples.astype(np.float64)
    if condition == "mp3":
        return as_mp3(x)
    if condition in ROOMS:
        out = room(x, _rng(clip), *ROOMS[condition])
    elif condition in NOISE_SNR_DB:
        out = _at_snr(x, pink_noise(len(x), _rng(clip)), NOISE_SNR_DB[condition])
    else:
        out = _at_snr(x, babble(len(x), others), BABBLE_SNR_DB)
    peak = np.abs(out).max()
    return Audio((out * min(1.0, 0.99 / peak) if peak > 0 else out).astype(np.float32))


def run_clip(clip: Clip, others: list[str], conditions: tuple[str, ...], engines: tuple[str, ...]) -> dict:
    """One clip: its clean reference, then every engine on every condition scored against it."""
    try:
        audio = load_audio(clip.path)
        reference = align(audio, clip.text, clip.language)[0]
    except (InputError, AlignmentFailed) as exc:
        return {"error": f"{os.path.basename(clip.path)}: {exc}"}
    out = {}
    for condition in conditions:
        worse = degrade(condition, audio, clip, others)
        out[condition] = scores_of(worse, reference, clip.language, tuple(e for e in engines if e != TRANSCRIPT))
        if TRANSCRIPT in engines:  # the user's own transcript, aligned on what the microphone heard
            weights = animate(worse, clip.text, "auto", FPS, blink=False, language=clip.language).combined_weights()
            out[condition]["scores"][TRANSCRIPT] = score(load_head().landmark_positions(weights), FPS, reference)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default="shared,alsa,asterisk,voices,fillets,tuxpaint")
    ap.add_argument("--conditions", default=",".join(CONDITIONS))
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--max-clips", type=int, default=10, help="per set and language, evenly spread")
    ap.add_argument("--out", default="", help="also write the table to this markdown file")
    ap.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    conditions = tuple(c for c in args.conditions.split(",") if c)
    engines = tuple(e for e in args.engines.split(",") if e)
    if set(conditions) - set(CONDITIONS):
        sys.exit(f"unknown condition(s): choose from {', '.join(CONDITIONS)}")
    results: dict[str, list[dict]] = defaultdict(list)  # column → clip results
    failed = 0
    t = time.perf_counter()
    with ProcessPoolExecutor(args.jobs, initializer=_worker_init) as pool:
        for name in (s for s in args.sets.split(",") if s):
            by_lang = defaultdict(list)
            for clip in SETS[name]():
                by_lang[clip.language].append(clip)
            clips = [c for lang in sorted(by_lang) for c in pick(by_lang[lang], args.max_clips)]
            paths = [c.path for c in clips]
            others = [babble_talkers(paths, i) for i in range(len(paths))]
            for clip, r in zip(clips, pool.map(run_clip, clips, others, [conditions] * len(clips),
                                               [engines] * len(clips), chunksize=2)):
                if "error" in r:
                    failed += 1
                    continue
                results[name].append(r)
                results["English" if is_english(clip.language) else "other languages"].append(r)
            print(f"[{name}] {len(clips)} clips, {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    columns = [c for c in results if c not in ("English", "other languages")] + [
        c for c in ("English", "other languages") if c in results]
    header = ["condition", "engine"] + [f"{c} ({len(results[c])})" for c in columns]
    rows = [[cond, e] + [cell(pooled([r[cond] for r in results[c]], e)) for c in columns]
            for cond in conditions for e in engines]
    command = "python bench/recordings.py " + " ".join(sys.argv[1:])
    body = ("## Worse recordings (`python bench/recordings.py`)\n\n" + __doc__.split("\n\n")[1].replace("\n", " ")
            + "\n\nThe conditions:\n" + "".join(f"- **{c}**: {CONDITION_TEXT[c]}\n" for c in conditions)
            + f"\nThis run: `{command.strip()}`, at most {args.max_clips} clips per set and language, chosen "
            f"evenly over the sorted list ({failed} without a reference left out). Each cell: "
            f"{' / '.join(METRICS)}; the column's clip count in brackets.\n\n" + table(header, rows) + "\n")
    print(body)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(body)
    if not args.no_docs:
        write_section("recordings", body)


if __name__ == "__main__":
    main()

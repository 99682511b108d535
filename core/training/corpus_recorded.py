"""Recorded human speech for the closure detector (train_closure.py): Asterisk's core prompts (asterisk.py), four
professional speakers reading in five languages, each prompt force-aligned to its text as the benchmarks'
reference timing is made (recognise.align), then, like a synthetic utterance, passed through the corpus's room
and channel (corpus.augment, seeded per prompt) and encoded by Whisper base several to a window
(corpus_whisper.encode_packed). Shards as corpus_whisper's, so corpus.load reads them.

Why: the detector had heard only synthetic voices (espeak-ng, flite, MBROLA's diphones), and on real speech it
mostly stays silent at the bilabials that Whisper's misheard words lose.

Held out, never trained on: every prompt the lip-sync benchmarks may score (per language, the evenly spread
picks of each count in SCORED, chosen as bench/lipsync_languages.py chooses them) and every other speaker's
prompts (the benchmarks' "voices" set).
"""
from __future__ import annotations

import multiprocessing
import os
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from ..errors import InputError
from ..speech import whisper
from ..speech.audio import load_audio
from ..speech.recognise import aligned_or_none
from . import asterisk, corpus
from .corpus_whisper import encode_packed

SCORED = (20, 40, 80)  # clips per language that docs/benchmarks.md's runs score (--max-clips)
SHARD = 100  # prompts per shard
VERSION = 1


def trainable(found: list[asterisk.Prompt]) -> list[asterisk.Prompt]:
    """`found` less the prompts the benchmarks may score, sorted by path as the benchmarks sort them."""
    by_language: dict[str, list[asterisk.Prompt]] = defaultdict(list)
    for prompt in sorted(found, key=lambda p: p.path):
        by_language[prompt.language].append(prompt)
    scored = {p.path for group in by_language.values() for n in SCORED for p in asterisk.evenly(group, n)}
    return [p for group in by_language.values() for p in group if p.path not in scored]


def _shard(args: tuple[str, int, list[asterisk.Prompt], str]) -> tuple[str, int, float]:
    out, first, prompts, model = args
    path = os.path.join(out, f"shard-{first:06d}.npz")
    if os.path.exists(path):
        return path, 0, 0.0
    t = time.perf_counter()
    kept, phones, samples = [], [], []
    for k, prompt in enumerate(prompts):
        audio = load_audio(prompt.path)
        timed = aligned_or_none(audio.pcm16(), prompt.text, prompt.language)
        if not timed:
            continue  # the text does not fit the recording
        kept.append(prompt)
        phones.append(np.array([(corpus.PHONE_INDEX[p.name], p.start, p.end) for p in timed], np.float32))
        samples.append(corpus.augment(audio.samples.astype(np.float64), np.random.default_rng([first + k])))
    feats = encode_packed(whisper.Encoder(model, threads=1), samples)
    tmp = path + ".tmp.npz"
    np.savez(tmp, feat=np.concatenate(feats).astype(np.float16), feat_len=np.array([len(f) for f in feats]),
             phones=np.concatenate(phones), phone_len=np.array([len(p) for p in phones]),
             voices=np.array([os.path.basename(os.path.dirname(p.path)) for p in kept]),
             texts=np.array([p.text for p in kept]))
    os.replace(tmp, path)
    return path, len(prompts) - len(kept), time.perf_counter() - t


def build(out: str, model: str, workers: int = 2, progress=print) -> list[str]:
    """Write (or reuse) the recorded corpus's shards in `out`, encoded by the Whisper encoder `model`."""
    found, _ = asterisk.prompts()
    if not found:
        raise InputError("The recorded corpus needs Asterisk's core prompts and their text (training only): "
                         "apt-get install " + asterisk.INSTALL)
    prompts = trainable(found)
    spec = {"prompts": len(prompts), "shard_size": SHARD, "version": VERSION, "features": "whisper",
            "model": os.path.basename(model), "scored": list(SCORED)}
    corpus.claim(out, spec)
    jobs = [(out, a, prompts[a:a + SHARD], model) for a in range(0, len(prompts), SHARD)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        paths = []
        for k, (path, unfit, secs) in enumerate(pool.map(_shard, jobs), 1):
            paths.append(path)
            progress(f"recorded corpus: shard {k}/{len(jobs)} ({path}, {unfit} prompts whose text did not fit, "
                     f"{secs:.0f} s; {time.perf_counter() - t0:.0f} s so far)")
    return paths


def default_folder(model: str) -> str:
    """The cache folder of the recorded corpus with Whisper `model`'s features."""
    return corpus.cache_folder(f"corpus-recorded-asterisk-{model}-v{VERSION}")

"""The synthetic corpus with Whisper encoder features (50 Hz) instead of log-mel: tiny.en's (384-d) for the
S2L network, base's (512-d) for the closure detector (train_closure.py).

Same utterances, same audio as corpus.py (`corpus.utterance_audio(seed, index)`), so the two
corpora differ only in their features. Why packed: Whisper encodes a 30 s window whatever the
speech length (~1.2 s of CPU each), so several utterances share one window. Each utterance's
log-mel is computed on its own (Whisper's 80 dB floor set by its own loudest bin, as when it is
encoded alone at run time), followed by ≥ GAP_SECONDS of silence, rounded up to whole feature
frames; the window's rest holds the last utterance's silence value, as Whisper's 30 s padding
would. The feature frames are split back per utterance; its phone times (from its own start) need
no shift because each segment starts on a feature frame.

    python -m core data synth --features whisper --utterances 3000 --seed 0
"""
from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from ..errors import InputError
from ..speech import whisper
from . import corpus, mbrola

GAP_SECONDS = 0.3  # silence after each utterance inside a packed window
FEATURE_HOP = whisper.SAMPLE_RATE // whisper.FEATURE_RATE  # 320 samples per feature frame
MAX_SECONDS = whisper.WINDOW_SECONDS - GAP_SECONDS  # longer utterances are cut (none in practice)
VERSION = 1


def _segment_mel(samples: np.ndarray) -> tuple[np.ndarray, int]:
    """(N,) 16 kHz → (80, 2·F) Whisper log-mel of the utterance + ≥ GAP_SECONDS silence, and F_speech, the
    feature frames that cover the utterance (ceil(N / 320))."""
    x = np.asarray(samples[: int(MAX_SECONDS * whisper.SAMPLE_RATE)], np.float32)
    total = -(-(len(x) + int(GAP_SECONDS * whisper.SAMPLE_RATE)) // FEATURE_HOP) * FEATURE_HOP
    mel = whisper.log_mel(np.pad(x, (0, total - len(x))))
    return mel, -(-len(x) // FEATURE_HOP)


def encode_packed(encoder: whisper.Encoder, segments: list[np.ndarray]) -> list[np.ndarray]:
    """Utterances (16 kHz) → their 50 Hz features (F_i × D float32), several per 30 s window."""
    out: list[np.ndarray] = []
    pending: list[tuple[np.ndarray, int]] = []

    def flush() -> None:
        mel = np.concatenate([m for m, _ in pending], axis=1)
        floor = float(pending[-1][0].min())  # the last utterance's silence value
        mel = np.pad(mel, ((0, 0), (0, whisper.WINDOW_FRAMES - mel.shape[1])), constant_values=floor)
        feats, start = encoder.encode_mel(mel), 0
        for m, n in pending:
            out.append(feats[start // 2: start // 2 + n])
            start += m.shape[1]
        pending.clear()

    for x in segments:
        mel, n = _segment_mel(x)
        if pending and sum(m.shape[1] for m, _ in pending) + mel.shape[1] > whisper.WINDOW_FRAMES:
            flush()
        pending.append((mel, n))
    if pending:
        flush()
    return out


def _shard(args: tuple[str, int, int, int, str, bool]) -> tuple[str, float]:
    out, seed, first, count, model, with_mbrola = args
    path = os.path.join(out, f"shard-{first:06d}.npz")
    if os.path.exists(path):
        return path, 0.0
    t = time.perf_counter()
    items = [corpus.utterance_audio(seed, i, with_mbrola) for i in range(first, first + count)]
    encoder = whisper.Encoder(model, threads=1)  # one thread per worker process
    feats = encode_packed(encoder, [u["samples"] for u in items])
    tmp = path + ".tmp.npz"
    np.savez(tmp, feat=np.concatenate(feats).astype(np.float16), feat_len=np.array([len(f) for f in feats]),
             phones=np.concatenate([u["phones"] for u in items]), phone_len=np.array([len(u["phones"]) for u in items]),
             voices=np.array([u["voice"] for u in items]), texts=np.array([u["text"] for u in items]))
    os.replace(tmp, path)
    return path, time.perf_counter() - t


def build(out: str, utterances: int, seed: int = 0, workers: int = 2, shard_size: int = 100,
          model: str = whisper.DEFAULT_MODEL, with_mbrola: bool = False, progress=print) -> list[str]:
    """Write (or reuse) the Whisper-feature shards in `out`; deterministic from `seed`. `with_mbrola`: a
    quarter of the utterances from MBROLA voices (corpus.utterance_audio)."""
    if not os.path.exists(model):
        raise InputError(f"{model} not found: run tools/convert_whisper.py --model tiny.en first.")
    if with_mbrola and mbrola.missing():
        raise InputError("This corpus needs MBROLA voices (training only): apt install " + " ".join(mbrola.missing())
                         + " (Debian's contrib and non-free components).")
    spec = {"seed": seed, "utterances": utterances, "shard_size": shard_size, "version": VERSION,
            "features": "whisper", "model": os.path.basename(model), "gap_s": GAP_SECONDS}
    corpus.claim(out, {**spec, "mbrola": True} if with_mbrola else spec)
    jobs = [(out, seed, a, min(shard_size, utterances - a), model, with_mbrola)
            for a in range(0, utterances, shard_size)]
    paths = [p for p in (os.path.join(out, f"shard-{j[2]:06d}.npz") for j in jobs) if os.path.exists(p)]
    jobs = [j for j in jobs if not os.path.exists(os.path.join(out, f"shard-{j[2]:06d}.npz"))]  # no spawn to reuse
    t0 = time.perf_counter()
    # a fresh process per shard, as corpus.build: espeak-ng's audio depends on what it synthesised before
    with ProcessPoolExecutor(max_workers=workers, max_tasks_per_child=1,
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        for k, (path, secs) in enumerate(pool.map(_shard, jobs), 1):
            paths.append(path)
            progress(f"whisper corpus: shard {k}/{len(jobs)} ({path}, {secs:.0f} s; "
                     f"{time.perf_counter() - t0:.0f} s so far)")
    return sorted(paths)


def load(folder: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """All utterances of a folder as (features F×D float16 at 50 Hz, phones N×3 [id, start, end])."""
    return corpus.load(folder, "feat")


def default_folder(seed: int, utterances: int, model: str = "tiny.en", with_mbrola: bool = False) -> str:
    """The cache folder of the corpus with Whisper `model`'s features (tiny.en: the S2L network's)."""
    name = "corpus-whisper" if model == "tiny.en" else f"corpus-whisper-{model}"
    name += "-mbrola" if with_mbrola else ""
    return corpus.default_folder(seed, utterances, f"{name}-v{VERSION}")

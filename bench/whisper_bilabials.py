"""How linearly separable are bilabial closures (P, B, M) in Whisper encoder features vs our log-mel?

Why: the lips must close on P/B/M; a speech representation where those frames are linearly
separable, across languages and voices the classifier never saw, is a good sign for the
speech-to-landmarks network. Synthetic espeak-ng speech gives exact phone timing; train a
logistic regression on some languages and voices, test on the others, and on real clips whose
exact transcripts are force-aligned (core.speech.recognise.align).

    python bench/whisper_bilabials.py --onnx tiny.en=/tmp/tiny.onnx --onnx base=/tmp/base.onnx
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from core.speech.phones import BILABIALS, Phone  # noqa: E402
from core.training.corpus import VARIANTS, sentence  # noqa: E402

SPEECH = os.path.join(ROOT, "..", "shared", "data", "speech")
RATE = 16000
FRAME_S = 0.02  # 50 Hz feature frames
GAP_S = 0.3  # silence between utterances packed into one stream
TRAIN_LANGUAGES = ("en-us", "fr", "es", "it")
TEST_LANGUAGES = ("de", "ru", "pt", "nl")
RUSSIAN = ("б в г д ж з к л м н п р с т ф х ц ч ш", "а е и о у ы я ю э", "н р с т л й м")
CONTEXT = 5  # log-mel frames stacked each side (±100 ms) for the context baseline
STEPS = 300  # L-BFGS iterations
L2 = 1e-3


def _sentence(rng: np.random.Generator, language: str) -> str:
    if language != "ru":
        return sentence(rng, language)
    onsets, nuclei, codas = (s.split() for s in RUSSIAN)
    words = ["".join((rng.choice(onsets) if rng.random() < 0.85 else "") + rng.choice(nuclei)
                     + (rng.choice(codas) if rng.random() < 0.35 else "") for _ in range(int(rng.integers(1, 4))))
             for _ in range(int(rng.integers(3, 14)))]
    return " ".join(words) + "."


def synthetic_stream(languages: tuple[str, ...], variants: tuple[str, ...], per_language: int, seed: int):
    """(samples (N,) 16 kHz, phones): utterances of the languages, back to back with short gaps."""
    import soxr

    from core.speech.espeak import synthesise

    rng = np.random.default_rng(seed)
    pieces, phones, t = [], [], 0.0
    for language in languages:
        for _ in range(per_language):
            variant = variants[int(rng.integers(len(variants)))]
            speech = synthesise(_sentence(rng, language), voice=language + (f"+{variant}" if variant else ""),
                                rate_wpm=int(rng.integers(120, 220)), pitch=int(rng.integers(25, 75)),
                                seed=int(rng.integers(2 ** 31)))
            x = soxr.resample(speech.samples, speech.sample_rate, RATE).astype(np.float32)
            phones += [Phone(p.name, p.start + t, p.end + t) for p in speech.phones()]
            pieces += [x, np.zeros(int(GAP_S * RATE), np.float32)]
            t += (len(x) + int(GAP_S * RATE)) / RATE
    return np.concatenate(pieces), phones


def real_clips(exactness: str):
    """[(samples, phones)] for the real clips whose transcript is `exactness` ('exact' or 'approx'),
    force-aligned (approximate transcripts give approximate labels)."""
    from core.speech.audio import load_audio
    from core.speech.recognise import align

    out = []
    with open(os.path.join(SPEECH, "transcripts.tsv"), encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row["exactness"] != exactness:
                continue
            audio = load_audio(os.path.join(SPEECH, row["file"]))
            phones, _ = align(audio, row["text"])
            out.append((np.asarray(audio.samples, np.float32), phones))
    return out


def labels(phones: list[Phone], n: int, frame_s: float) -> np.ndarray:
    """(n,) bool: frame i (centred at (i + 0.5) × frame_s) lies in a P/B/M."""
    y = np.zeros(n, bool)
    for p in phones:
        if p.name in BILABIALS:
            y[int(np.ceil(p.start / frame_s - 0.5)): int(np.ceil(p.end / frame_s - 0.5))] = True
    return y


def logmel_50hz(x: np.ndarray, context: int) -> np.ndarray:
    """core.features log-mel (100 Hz), frame pairs averaged to 50 Hz, ±context frames stacked."""
    from core.motion.features import log_mel, normalise

    m = normalise(log_mel(x))
    m = m[: len(m) // 2 * 2].reshape(-1, 2, m.shape[1]).mean(1)
    if context:
        padded = np.pad(m, ((context, context), (0, 0)), mode="edge")
        m = np.concatenate([padded[i: i + len(m)] for i in range(2 * context + 1)], axis=1)
    return m


def fit(x: np.ndarray, y: np.ndarray):
    """Class-balanced L2 logistic regression (torch L-BFGS); returns a predict(x) → bool function."""
    import torch

    mu, sd = x.mean(0), x.std(0) + 1e-6
    xt = torch.from_numpy((x - mu) / sd).float()
    yt = torch.from_numpy(y.astype(np.float32))
    pos = yt.mean()
    weight = torch.where(yt > 0, 0.5 / pos, 0.5 / (1 - pos))
    w = torch.zeros(x.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=STEPS, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(xt @ w + b, yt, reduction="none") * weight).mean()
        loss = loss + L2 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    w_, b_ = w.detach().numpy(), float(b.detach())
    return lambda z: ((z - mu) / sd) @ w_ + b_ > 0


def scores(pred: np.ndarray, y: np.ndarray) -> str:
    recall = pred[y].mean()
    specificity = (~pred[~y]).mean()
    precision = y[pred].mean() if pred.any() else 0.0
    return (f"acc {np.mean(pred == y):.3f}  bilabial recall {recall:.3f}  precision {precision:.3f}  "
            f"balanced acc {(recall + specificity) / 2:.3f}  ({y.sum()} of {len(y)} frames)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnx", action="append", default=[], help="name=path of an exported encoder")
    ap.add_argument("--per-language", type=int, default=25)
    args = ap.parse_args()
    half = len(VARIANTS) // 2
    t0 = time.time()
    train = synthetic_stream(TRAIN_LANGUAGES, VARIANTS[:half], args.per_language, seed=1)
    test = synthetic_stream(TEST_LANGUAGES, VARIANTS[half:], args.per_language, seed=2)
    real, approx = real_clips("exact"), real_clips("approx")
    print(f"synthetic: train {len(train[0]) / RATE:.0f} s ({', '.join(TRAIN_LANGUAGES)}; voices {VARIANTS[:half]}), "
          f"test {len(test[0]) / RATE:.0f} s ({', '.join(TEST_LANGUAGES)}; the other voices); "
          f"real: {len(real)} exact clips, {sum(len(x) for x, _ in real) / RATE:.1f} s, "
          f"{len(approx)} approx, {sum(len(x) for x, _ in approx) / RATE:.1f} s  [{time.time() - t0:.0f} s]")

    extractors = {"log-mel (1 frame)": lambda x: logmel_50hz(x, 0),
                  f"log-mel (±{CONTEXT} frames)": lambda x: logmel_50hz(x, CONTEXT)}
    from core.speech.whisper import Encoder

    for spec in args.onnx:
        name, path = spec.split("=", 1)
        encoder = Encoder(path)
        extractors[f"whisper {name}"] = encoder.encode

    for label, extract in extractors.items():
        t0 = time.time()
        data = {}
        for split, streams in (("train", [train]), ("test", [test]), ("real", real), ("approx", approx)):
            feats, ys = [], []
            for x, phones in streams:
                f = extract(x)
                feats.append(f)
                ys.append(labels(phones, len(f), FRAME_S))
            data[split] = (np.concatenate(feats), np.concatenate(ys))
        predict = fit(*data["train"])
        print(f"\n{label}  (dim {data['train'][0].shape[1]}, {time.time() - t0:.0f} s)")
        for split in ("train", "test", "real", "approx"):
            x, y = data[split]
            print(f"  {split:6s} {scores(predict(x), y)}")


if __name__ == "__main__":
    main()

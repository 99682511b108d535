"""`python -m core train closure`: the lip-closure detector that reads Whisper base's encoder features.

Why: outside English, Phonetic + Whisper hears the words with Whisper base but took the lips' closures from
the S2L network on Whisper tiny.en's features, so every clip was encoded a second time, by tiny.en (a fifth
of a 60 s French click). This small network reads the features of the windows base already encoded to hear
the words (speech/whisper.py keeps them), so the closures cost almost nothing more; base's encoder, trained on
speech in ~100 languages, is the one that heard the words in the first place.

Data: the synthetic corpus (corpus.utterance_audio: espeak-ng and flite voices in ten languages, noise and
reverberation, exact phone timing), a quarter of it spoken by MBROLA's voices recorded from people in 14
languages (training/mbrola.py; `--voices synthetic` leaves them out: non-English closure on the real sets
0.843 without them, 0.852 with, docs/benchmarks.md), encoded by Whisper base as corpus_whisper.py packs it.
`--recorded asterisk` adds recorded human speech (corpus_recorded.py: Asterisk's prompts, four professional
speakers in five languages, force-aligned to their text), every utterance drawn alike: it lowered the loss on
held-out prompts of those speakers but changed no lip-sync figure on the sets it never heard
(docs/benchmarks.md), so the shipped detector is trained without it. Target: the articulation model's closure
curve at 50 Hz (as the S2L closure output's); loss: cross-entropy. A tenth of each corpus is held out and
reported. Reproducible from the seed; ~4 min on 2 cores after the corpus (~10 min; the recorded one ~6 min
more). Writes core/assets/closure_base.pt and its ONNX twin (closure_net.export_file) for onnxruntime.
"""
from __future__ import annotations

import os
import time

import numpy as np
import torch
from torch import nn

from .. import checkpoints
from ..motion.articulation import closure_curve, frame_times
from ..motion.closure_onnx import FRAME_RATE, MODEL
from ..speech.phones import ARPABET, Phone
from ..speech.transcribe import MULTILINGUAL_MODEL, files
from . import corpus, corpus_recorded, corpus_whisper
from .closure_net import WEIGHTS, ClosureNet, export_file

CROP = 200  # frames (4 s) per training example
BATCH = 32
HELD_OUT = 0.1  # of the utterances, never trained on: the loss reported
LOG_EVERY = 250  # steps


def _examples(items: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each utterance's (features T×D float32, closure curve T) at the features' 50 Hz."""
    out = []
    for feat, phones in items:
        timed = [Phone(ARPABET[int(i)], float(a), float(b)) for i, a, b in phones]
        out.append((feat.astype(np.float32), closure_curve(timed, frame_times(len(feat), FRAME_RATE), FRAME_RATE)))
    return out


def _batch(examples, picks, rng: np.random.Generator) -> list[torch.Tensor]:
    """Random CROP-frame stretches of the picked utterances, zero-padded, with their frame mask."""
    x = np.zeros((len(picks), CROP, examples[0][0].shape[1]), np.float32)
    y, mask = np.zeros((2, len(picks), CROP), np.float32)
    for row, i in enumerate(picks):
        feat, closed = examples[int(i)]
        start = int(rng.integers(0, max(1, len(feat) - CROP + 1)))
        k = min(CROP, len(feat) - start)
        x[row, :k], y[row, :k], mask[row, :k] = feat[start:start + k], closed[start:start + k], 1.0
    return [torch.from_numpy(a) for a in (x, y, mask)]


def _loss(model: ClosureNet, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    bce = nn.functional.binary_cross_entropy_with_logits(model(x), y, reduction="none")
    return (bce * mask).sum() / mask.sum()


def main(args) -> None:
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    with_mbrola = args.voices == "mbrola"
    folder = args.corpus or corpus_whisper.default_folder(args.seed, args.utterances, MULTILINGUAL_MODEL, with_mbrola)
    encoder = files(MULTILINGUAL_MODEL)[2]
    corpus_whisper.build(folder, args.utterances, args.seed, model=encoder, with_mbrola=with_mbrola)
    examples = _examples(corpus_whisper.load(folder))
    split = int(len(examples) * (1 - HELD_OUT))
    train, held = examples[:split], examples[split:]
    held_recorded = []
    if args.recorded == "asterisk":
        recorded_folder = corpus_recorded.default_folder(MULTILINGUAL_MODEL)
        corpus_recorded.build(recorded_folder, encoder)
        recorded = _examples(corpus.load(recorded_folder, "feat"))
        every = round(1 / HELD_OUT)  # the prompts are sorted by speaker: every tenth is held out, each speaker's
        train += [e for k, e in enumerate(recorded) if k % every != every - 1]
        held_recorded = recorded[every - 1::every]
    frames = np.concatenate([f for f, _ in train])
    model = ClosureNet(frames.shape[1], frames.mean(0), frames.std(0) + 1e-6)
    opt = torch.optim.AdamW(model.parameters(), args.lr, weight_decay=1e-2)
    t0 = time.perf_counter()
    for step in range(args.steps):
        loss = _loss(model, *_batch(train, rng.integers(0, len(train), BATCH), rng))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % LOG_EVERY == 0 or step == args.steps - 1:
            held_loss = _held_out_loss(model, held, args.seed)
            recorded_loss = _held_out_loss(model, held_recorded, args.seed) if held_recorded else None
            recorded_note = f", recorded held out {recorded_loss:.4f}" if held_recorded else ""
            print(f"step {step}: loss {loss.item():.4f}, held out {held_loss:.4f}{recorded_note} "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
    out = args.out or WEIGHTS
    meta = {"command": checkpoints.command("closure"), "seed": args.seed, "utterances": args.utterances,
            "steps": args.steps, "lr": args.lr, "held_out_loss": held_loss, "encoder": os.path.basename(encoder),
            "voices": args.voices, "recorded": args.recorded}
    if held_recorded:
        meta["recorded_held_out_loss"] = recorded_loss
    checkpoints.save(out, model.eval(), meta)
    onnx_path = export_file(out, None if args.out else MODEL)
    print(f"{out} and {onnx_path}: held-out loss {held_loss:.4f}{recorded_note}")


def _held_out_loss(model: ClosureNet, examples: list, seed: int) -> float:
    """The loss over one CROP-frame stretch of each held-out utterance (the same stretches at every call)."""
    model.eval()
    with torch.no_grad():
        loss = _loss(model, *_batch(examples, range(len(examples)), np.random.default_rng(seed))).item()
    model.train()
    return loss

"""`python -m core train s2l`: train the neural engine on the synthetic corpus.

Targets come from the articulation model driven by each utterance's exact
espeak-ng phoneme timing, spoken with a randomly drawn emotion and intensity
(`articulation.with_emotions`), mapped to the built-in head's 68 landmarks.
Losses as in S2L: reconstruction, mouth-weighted reconstruction, velocity and
cosine similarity of the mouth's displacement; plus cross-entropy of the lip
closure output against the articulation model's closure curve. Reproducible from the seed;
checkpoints every 200 steps in `--work`, and a run with the same `--work`
resumes where it stopped.

`--features whisper` trains the same network on Whisper tiny.en encoder features (384 at 50 Hz,
corpus_whisper.py; the targets are made at 50 Hz), writes core/assets/s2l_whisper.pt and exports
it to ONNX (s2l_export.py) for the torch-free "neural-whisper" engine.
"""
from __future__ import annotations

import json
import os
import time

import numpy as np
import torch

from .. import checkpoints
from ..face import ibug
from ..face.emotions import EMOTION_NAMES
from ..face.head import load_head
from ..motion import s2l
from ..motion.articulation import articulate, closure_curve, frame_times
from ..motion.features import normalise
from ..speech.phones import ARPABET, Phone
from . import corpus, corpus_whisper, s2l_export

MOUTH = np.array(ibug.MOUTH)
CROP = 400  # frames (4 s) per training example
BATCH = 16


def draw_emotions(rng: np.random.Generator) -> dict[str, float]:
    """Neutral a third of the time, else one emotion at a uniform intensity."""
    if rng.random() < 0.33:
        return {}
    return {EMOTION_NAMES[int(rng.integers(len(EMOTION_NAMES)))]: float(rng.uniform(0.05, 1.0))}


def example(mel: np.ndarray, phones: np.ndarray, rng: np.random.Generator, basis: np.ndarray,
            crop: int = CROP, rate: float = s2l.FRAME_RATE, log_mel: bool = True) -> tuple[np.ndarray, ...]:
    """(feature crop — log-mel normalised, other features raw —, emotion vector, target displacement in cm,
    lip closure 0..1, frame mask), padded to `crop` frames at `rate` frames per second."""
    n = len(mel)
    emotions = draw_emotions(rng)
    timed = [Phone(ARPABET[int(i)], float(a), float(b)) for i, a, b in phones]
    target = articulate(timed, rate, n, emotions) @ basis * s2l.SCALE
    closed = closure_curve(timed, frame_times(n, rate), rate)
    start = int(rng.integers(0, n - crop + 1)) if n > crop else 0
    k = min(crop, n - start)
    out_mel = np.zeros((crop, mel.shape[1]), np.float32)
    out_t = np.zeros((crop, target.shape[1]), np.float32)
    out_c, mask = np.zeros(crop, np.float32), np.zeros(crop, np.float32)
    window = mel[start:start + k].astype(np.float32)
    out_mel[:k] = normalise(window) if log_mel else window
    out_t[:k], out_c[:k], mask[:k] = target[start:start + k], closed[start:start + k], 1.0
    return out_mel, s2l.emotion_vector(emotions), out_t, out_c, mask


def batch(items, rng, basis, size: int = BATCH, crop: int = CROP, rate: float = s2l.FRAME_RATE,
          log_mel: bool = True) -> list[torch.Tensor]:
    picks = rng.integers(0, len(items), size)
    parts = [example(*items[int(i)], rng, basis, crop, rate, log_mel) for i in picks]
    return [torch.from_numpy(np.stack(p)) for p in zip(*parts)]


def losses(pred: torch.Tensor, closed_logit: torch.Tensor, target: torch.Tensor, closed: torch.Tensor,
           mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """S2L's losses on B×T×204 displacement (cm), plus lip closure (cross-entropy), masked to real frames."""
    m = mask.unsqueeze(-1)
    denom = mask.sum().clamp(min=1)
    err = (pred - target) ** 2 * m
    p3, t3 = pred.view(*pred.shape[:2], -1, 3), target.view(*target.shape[:2], -1, 3)
    mouth_err = ((p3[:, :, MOUTH] - t3[:, :, MOUTH]) ** 2).sum(-1).mean(-1) * mask
    vm = (mask[:, 1:] * mask[:, :-1]).unsqueeze(-1)
    vel = ((pred[:, 1:] - pred[:, :-1]) - (target[:, 1:] - target[:, :-1])) ** 2 * vm
    pm, tm = p3[:, :, MOUTH].flatten(2), t3[:, :, MOUTH].flatten(2)
    moving = (tm.norm(dim=-1) > 0.05).float() * mask
    cos = (1 - torch.nn.functional.cosine_similarity(pm, tm, dim=-1, eps=1e-6)) * moving
    parts = {"rec": err.sum() / denom / pred.shape[-1], "mouth": mouth_err.sum() / denom,
             "vel": vel.sum() / vm.sum().clamp(min=1) / pred.shape[-1] * 10,
             "cos": cos.sum() / moving.sum().clamp(min=1)}
    bce = torch.nn.functional.binary_cross_entropy_with_logits(closed_logit, closed, reduction="none")
    parts["closure"] = (bce * mask).sum() / denom
    parts["total"] = parts["rec"] + parts["mouth"] + parts["vel"] + 0.1 * parts["cos"] + 0.1 * parts["closure"]
    return parts


def fit(items, steps: int, seed: int, work: str, minutes: float = 1e9, lr: float = 2e-3,
        log=print, batch_size: int = BATCH, crop: int = CROP, init: str | None = None,
        **model_kw) -> tuple[s2l.S2L, list[float]]:
    """Train (or resume) for `steps`; returns the model and the per-step training losses. `init`: a weight
    file to start from (fine-tuning), whose input standardisation is kept."""
    torch.manual_seed(seed)
    os.makedirs(work, exist_ok=True)
    ckpt_path = os.path.join(work, "checkpoint.pt")
    basis = load_head().landmark_basis()
    model = s2l.S2L(**model_kw)
    rate, log_mel = model.config["frame_rate"], model.config["features"] == "log-mel"
    if init:
        model.load_state_dict(checkpoints.load(init)["state"])
    elif not log_mel:  # the network standardises its input with these (stored in its weights)
        sample = np.concatenate([f for f, _ in items[:: max(1, len(items) // 500)]]).astype(np.float32)
        model.mean.copy_(torch.from_numpy(sample.mean(0)))
        model.std.copy_(torch.from_numpy(sample.std(0) + 1e-3))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.05)
    rng = np.random.default_rng(seed)
    step, history, spent = 0, [], 0.0
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, weights_only=True)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        rng.bit_generator.state, step, history = json.loads(ck["rng"]), ck["step"], ck["history"]
        spent = float(ck.get("seconds", 0.0))
        torch.set_rng_state(ck["torch_rng"])
        if sched.total_steps != steps:  # resumed with a new step budget (a slower CPU): anneal over that one
            sched.total_steps = steps
            sched._schedule_phases[-1]["end_step"] = float(steps - 1)
        log(f"resumed at step {step} of {steps}")
    t0 = time.time()
    model.train()
    while step < steps and (time.time() - t0) < minutes * 60:
        mel, emo, target, closed, mask = batch(items, rng, basis, batch_size, crop, rate, log_mel)
        parts = losses(*model(mel, emo), target, closed, mask)
        opt.zero_grad()
        parts["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        step += 1
        history.append(parts["total"].item())
        if step % 50 == 0 or step == steps:
            log(f"step {step}/{steps}  loss {np.mean(history[-50:]):.4f}  "
                + "  ".join(f"{k} {v.item():.4f}" for k, v in parts.items() if k != "total")
                + f"  {time.time() - t0:.0f} s")
        if step % 200 == 0 or step == steps:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                        "rng": json.dumps(rng.bit_generator.state), "torch_rng": torch.get_rng_state(), "step": step,
                        "history": history, "seconds": spent + time.time() - t0}, ckpt_path + ".tmp")
            os.replace(ckpt_path + ".tmp", ckpt_path)
    model.train_seconds = spent + time.time() - t0  # over every run of this `work` folder
    return model.eval(), history


def main(args) -> None:
    whisper = getattr(args, "features", "log-mel") == "whisper"
    kind = corpus_whisper if whisper else corpus
    folder = args.corpus or kind.default_folder(args.seed, args.utterances)
    if not args.corpus:
        kind.build(folder, args.utterances, args.seed, **({"workers": 2} if whisper else {}))
    items = kind.load(folder)
    rate = s2l.WHISPER_RATE if whisper else s2l.FRAME_RATE
    print(f"corpus: {len(items)} utterances, {sum(len(m) for m, _ in items) / rate / 3600:.2f} h of audio",
          flush=True)
    t = time.time()
    model_kw = ({"n_inputs": s2l.WHISPER_FEATURES, "frame_rate": s2l.WHISPER_RATE, "features": "whisper"}
                if whisper else {})
    model, history = fit(items, args.steps, args.seed, args.work, args.minutes, lr=args.lr,
                         log=lambda s: print(s, flush=True), crop=int(CROP * rate / s2l.FRAME_RATE),
                         init=args.init, **model_kw)
    out = args.out or (s2l.WHISPER_WEIGHTS if whisper else s2l.WEIGHTS)
    with open(os.path.join(folder, "corpus.json")) as fh:
        spec = json.load(fh)
    meta = {"command": checkpoints.command("s2l"), "seed": args.seed, "steps": len(history), "corpus": spec,
            "init": checkpoints.load(args.init)["meta"] if args.init else None,
            "minutes_this_run": round((time.time() - t) / 60, 1),
            "minutes_training": round(getattr(model, "train_seconds", 0.0) / 60, 1),
            "final_loss": float(np.mean(history[-50:]))}
    checkpoints.save(out, model.cpu(), meta)
    with open(os.path.join(args.work, "meta.json"), "w") as fh:
        json.dump(meta, fh, indent=1)
    print(f"{out}: {os.path.getsize(out) / 1e6:.1f} MB after {len(history)} steps", flush=True)
    if whisper:
        onnx_path = s2l_export.export(model.cpu(), os.path.splitext(out)[0] + ".onnx")
        print(f"{onnx_path}: {os.path.getsize(onnx_path) / 1e6:.1f} MB", flush=True)


"""Sparse2Dense: training, the shipped decoder and its accuracy on expressions it never saw (real torch)."""
from __future__ import annotations

import os

import numpy as np
import torch

from core.motion import s2d
from core.training.train_s2d import template_identities


def test_tiny_fit_learns_a_dense_map():
    head = template_identities(None)[0]
    w = s2d.expressions(np.random.default_rng(5), 50)
    x, y = s2d.pairs(head, w)
    err = {}
    for steps in (1, 300):
        model = s2d.fit([head], n_train=600, steps=steps, k=16, log=lambda s: None)
        pred = s2d.dense(model, head.neutral_landmarks(), x.reshape(-1, 68, 3)).reshape(len(w), -1)
        err[steps] = np.abs(pred - y).mean()
    assert err[300] < 0.15 * np.abs(y).mean() and err[300] < 0.7 * err[1]  # below its linear start


def test_shipped_decoder_reconstructs_an_unseen_emotion():
    assert os.path.getsize(s2d.WEIGHTS) <= 20e6
    ckpt = torch.load(s2d.WEIGHTS, map_location="cpu", weights_only=True)
    assert ckpt["meta"]["command"].startswith("python -m core train s2d")
    model, neutral = s2d.load()
    head = template_identities(None)[0]
    w = s2d.held_out_expressions(np.random.default_rng(9), 100, "disgusted")
    x, y = s2d.pairs(head, w)
    pred = s2d.dense(model, neutral, x.reshape(-1, 68, 3)).reshape(len(w), -1)
    err_mm = np.linalg.norm((pred - y).reshape(len(w), -1, 3), axis=2).mean() * 1000
    motion_mm = np.linalg.norm(y.reshape(len(w), -1, 3), axis=2).mean() * 1000
    assert err_mm < 0.2 * motion_mm

"""The articulation model on hand-made phone timings: closure, opening, rounding, smoothness, blinks."""
from __future__ import annotations

import numpy as np
import pytest

from core.face.arkit import INDEX
from core.face.head import load_head
from core.motion.articulation import articulate, blinks, frame_times
from core.speech.phones import Phone
from core.training.evaluation import lip_gap, mouth_width


def seq(*items: tuple[str, float]) -> list[Phone]:
    out, t = [], 0.0
    for name, dur in items:
        out.append(Phone(name, t, t + dur))
        t += dur
    return out


# "a map, a pool, a bob" with silences around
PHONES = seq(("SIL", 0.3), ("AH", 0.1), ("M", 0.07), ("AE", 0.15), ("P", 0.08), ("SIL", 0.2),
             ("P", 0.07), ("UW", 0.2), ("L", 0.08), ("SIL", 0.2), ("B", 0.06), ("AA", 0.18), ("B", 0.07),
             ("SIL", 0.3))


def landmarks(phones, fps):
    n = int(round(phones[-1].end * fps))
    return load_head().landmark_positions(articulate(phones, fps, n))


@pytest.mark.parametrize("fps", [24.0, 25.0, 30.0, 60.0])
def test_bilabials_close_open_vowels_open(fps):
    lm = landmarks(PHONES, fps)
    t = frame_times(len(lm), fps)
    gap = lip_gap(lm)
    p95 = np.percentile(gap, 95)
    for p in PHONES:
        inside = (t >= p.start) & (t <= p.end)
        near = inside if inside.any() else np.abs(t - (p.start + p.end) / 2) == np.abs(t - (p.start + p.end) / 2).min()
        if p.name in {"P", "B", "M"}:
            assert gap[near].min() <= 0.15 * p95, (p, gap[near].min(), p95)
        if p.name in {"AA", "AE"}:
            assert gap[near].max() >= 0.6 * p95, p
    assert gap.max() > 0.012  # the mouth really opens: > 12 mm on open vowels


@pytest.mark.parametrize("emotion", ["happy", "sad", "angry", "surprised", "disgusted", "afraid"])
def test_lips_meet_at_bilabials_whatever_the_emotion(emotion):
    """Spoken with the emotion (neural targets) or under its shape key (phonetic engine + slider)."""
    from core.face.emotions import emotion_weights

    head, fps = load_head(), 30.0
    n = int(round(PHONES[-1].end * fps))
    t = frame_times(n, fps)
    spoken = articulate(PHONES, fps, n, emotions={emotion: 1.0})
    layered = np.clip(articulate(PHONES, fps, n, layered={emotion: 1.0}) + emotion_weights({emotion: 1.0}), 0, 1)
    for w in (spoken, layered):
        gap = lip_gap(head.landmark_positions(w))
        for p in PHONES:
            if p.name in {"P", "B", "M"}:
                assert gap[(t >= p.start) & (t <= p.end)].min() < 1.5e-3, (emotion, p)  # inner lips within 1.5 mm
        assert gap.max() > 0.008  # and the mouth still opens


def test_rounded_vowel_narrows_mouth():
    lm = landmarks(PHONES, 30.0)
    width = mouth_width(lm)
    head = load_head()
    neutral = np.linalg.norm(head.vertices[head.landmarks[48]] - head.vertices[head.landmarks[54]])
    t = frame_times(len(lm), 30.0)
    uw = next(p for p in PHONES if p.name == "UW")
    assert width[(t >= uw.start) & (t <= uw.end)].min() < neutral - 0.003  # at least 3 mm narrower


def test_silence_is_rest_and_weights_bounded():
    w = articulate(PHONES, 30.0, int(round(PHONES[-1].end * 30)))
    assert w.min() >= 0.0 and w.max() <= 1.0
    assert np.abs(w[:3]).max() < 0.05  # the first 100 ms are silence: face at rest


def test_no_jitter():
    """Weights change smoothly: no frame-to-frame reversal larger than a real articulation."""
    w = articulate(PHONES, 60.0, int(round(PHONES[-1].end * 60)))
    jaw = w[:, INDEX["jawOpen"]]
    second = np.abs(np.diff(jaw, 2))
    assert second.max() < 0.15


def test_blinks_are_natural():
    b = blinks(30 * 60, 30.0, seed=1)[:, 0]
    closed = np.nonzero(b > 0.9)[0]
    starts = closed[np.insert(np.diff(closed) > 1, 0, True)]
    assert 8 <= len(starts) <= 30  # one every 2-6 s over a minute
    assert np.array_equal(b, blinks(30 * 60, 30.0, seed=1)[:, 0])

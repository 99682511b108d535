"""The neural engine: corpus, training, the shipped weights, inference and its wiring (real torch, real speech)."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from core import checkpoints
from core.engines import animate
from core.face.head import load_head
from core.motion import s2l
from core.speech.audio import load_audio
from core.speech.espeak import synthesise
from core.speech.phones import BILABIALS
from core.training import corpus, flite, train_s2l
from core.training.evaluation import lip_gap

needs_flite = pytest.mark.skipif(not flite.available(), reason="flite is not installed (apt install flite): "
                                 "the corpus's human-recorded voices come from it")


@needs_flite
def test_corpus_is_reproducible_and_multilingual(tmp_path):
    shards = [corpus.build(str(tmp_path / name), utterances=6, seed=3, workers=2, shard_size=3,
                           progress=lambda s: None) for name in ("a", "b")]
    for x, y in zip(*shards):
        with np.load(x) as za, np.load(y) as zb:
            assert all(np.array_equal(za[k], zb[k]) for k in za.files)
    items = corpus.load(str(tmp_path / "a"))
    assert len(items) == 6 and items[0][0].shape[1] == 80 and len(items[0][1]) > 5
    with pytest.raises(ValueError):  # a folder never mixes two corpora
        corpus.build(str(tmp_path / "a"), utterances=6, seed=4)
    voices = [corpus.utterance(0, i)["voice"] for i in range(16)]
    assert len({v.split("+")[0] for v in voices[::2]}) >= 4  # espeak-ng: several languages
    assert all(v.startswith("flite-") for v in voices[1::2]) and len(set(voices[1::2])) >= 3


@needs_flite
def test_flite_segments_are_arpabet_phones_timed_to_the_audio():
    samples, rate, phones = flite.synthesise("We must remember the tuba player from Memphis.", "rms")
    names = [p.name for p in phones]
    assert names[0] == names[-1] == "SIL" and "SIL" not in names[1:-1]  # 'ax' and friends are mapped, not lost
    assert sum(n in BILABIALS for n in names) >= 6 and "AH" in names
    assert abs(phones[-2].end - len(samples) / rate) < 0.5 and all(b.start == a.end for a, b in zip(phones, phones[1:]))


def test_foreign_phonemes_map_to_mouth_shapes():
    phones = synthesise("Buenos días, me llamo Pablo.", voice="es").phones()
    names = [p.name for p in phones]
    assert "SIL" in names and sum(n in BILABIALS for n in names) >= 4  # b, m, p, b (β)
    assert all(b.start >= a.start for a, b in zip(phones, phones[1:]))


def test_tiny_training_run_lowers_the_loss(tmp_path):
    items = [(u["mel"], u["phones"]) for u in (corpus.utterance(1, i) for i in range(0, 12, 2))]  # espeak-ng
    model, history = train_s2l.fit(items, steps=40, seed=0, work=str(tmp_path), lr=3e-3, batch_size=4, crop=200,
                               log=lambda s: None, width=32, dilations=(1, 2))
    assert np.mean(history[-8:]) < 0.6 * np.mean(history[:3])
    # a second call resumes from the checkpoint instead of starting again
    _, again = train_s2l.fit(items, steps=40, seed=0, work=str(tmp_path), batch_size=4, crop=200,
                         log=lambda s: None, width=32, dilations=(1, 2))
    assert again == history
    # fine-tuning from those weights (a fresh work folder) starts where that run ended, not from scratch
    path = str(tmp_path / "tiny.pt")
    checkpoints.save(path, model, {"command": "test"})
    _, tuned = train_s2l.fit(items, steps=8, seed=1, work=str(tmp_path / "tune"), lr=1e-4, batch_size=4, crop=200,
                             log=lambda s: None, width=32, dilations=(1, 2), init=path)
    assert np.mean(tuned) < 0.6 * np.mean(history[:3])


def test_shipped_weights_load_safely_and_are_small():
    assert os.path.getsize(s2l.WEIGHTS) <= 20e6
    ckpt = torch.load(s2l.WEIGHTS, map_location="cpu", weights_only=True)
    assert ckpt["meta"]["command"].startswith("python -m core train s2l")
    assert isinstance(s2l.load(), s2l.S2L)


def test_inference_shape_and_determinism(synth_clip):
    audio = load_audio(synth_clip[0])
    first = list(s2l.predict(audio))
    again = list(s2l.predict(audio))
    y, closed = np.concatenate([c[1] for c in first]), np.concatenate([c[2] for c in first])
    assert y.shape == (len(audio.samples) // 160 + 1, 68, 3) and closed.shape == y.shape[:1]
    assert np.array_equal(y, np.concatenate([c[1] for c in again]))
    assert np.abs(y).max() < 0.05  # metres: a face, not an explosion
    assert 0 <= closed.min() and closed.max() <= 1


def test_long_audio_runs_in_chunks_that_match_one_pass(monkeypatch):
    import soxr

    from core.speech.audio import Audio

    speech = synthesise("Maybe the people in the boat will paint a map of the bay. " * 5)
    audio = Audio(soxr.resample(speech.samples, speech.sample_rate, 16000))
    chunks = list(s2l.predict(audio))
    assert len(chunks) >= 2  # more than 10 s: several chunks
    chunked = np.concatenate([c[1] for c in chunks])
    assert chunked.shape[0] == len(audio.samples) // 160 + 1
    monkeypatch.setattr(s2l, "CHUNK", 10 ** 6)
    whole = np.concatenate([c[1] for c in s2l.predict(audio)])
    gap = lambda y: np.linalg.norm(y[:, 62] - y[:, 66], axis=-1)
    assert np.corrcoef(gap(chunked), gap(whole))[0, 1] > 0.95  # chunk edges leave no mark


def test_neural_engine_animates_real_speech_with_emotion():
    from conftest import data_path

    path = data_path("speech", "vocaset_sentence01.wav")
    neutral = animate(path, engine="neural", fps=30, blink=False)
    happy = animate(path, engine="neural", fps=30, emotions={"happy": 1.0}, blink=False)
    assert neutral.n_frames == round(neutral.duration * 30)
    assert neutral.emotions_in_weights and neutral.metadata["timing"] == "neural"
    head = load_head()
    gap = lip_gap(head.landmark_positions(neutral.weights))
    assert gap.max() > 0.004 and gap.min() < 0.5 * gap.max()  # the mouth opens and closes
    width = lambda w: np.linalg.norm(
        head.landmark_positions(w)[:, 48] - head.landmark_positions(w)[:, 54], axis=-1).mean()
    assert width(happy.combined_weights()) > width(neutral.combined_weights()) + 0.001  # a smile widens
    assert np.array_equal(happy.combined_weights(), np.clip(happy.weights, 0, 1))  # no second emotion layer


def test_neural_engine_in_blender_mutes_the_emotion_layer(scene, pkg, synth_clip):
    import bpy
    from talkinghead.operators.animate import run

    bpy.ops.talkinghead.add_head()
    obj = bpy.context.active_object
    obj["talkinghead_happy"] = 0.8
    secs, timing, _ = run(scene, obj, synth_clip[0], None, "neural", 1)
    assert timing == "neural" and obj["talkinghead_happy"] == pytest.approx(0.8)
    key = obj.data.shape_keys
    fc = key.animation_data.drivers.find('key_blocks["emotion.happy"].value')
    assert fc is not None and fc.mute
    # the phonetic engine turns the live layer back on
    run(scene, obj, synth_clip[0], None, "phonetic", 1)
    assert not key.animation_data.drivers.find('key_blocks["emotion.happy"].value').mute
    # baked mode on the built-in head: S2L landmarks → Sparse2Dense → 8 basis shapes
    _, _, warnings = run(scene, obj, synth_clip[0], None, "neural", 1, baked_shapes=8)
    assert sum(k.name.startswith("baked.") for k in key.key_blocks) == 8
    assert any(w.startswith("Baked into 8 shapes") for w in warnings)

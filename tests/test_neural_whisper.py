"""The neural-whisper engine: Whisper tiny.en features → S2L in ONNX, run without torch (real audio, no mocks)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from core.motion import s2l_onnx
from core.speech import whisper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WEIGHTS = os.path.join(ROOT, "core", "assets", "s2l_whisper.pt")
HOW = {whisper.DEFAULT_MODEL: "python tools/convert_whisper.py --model tiny.en",
       s2l_onnx.MODEL: "python tools/export_s2l_onnx.py (after `python -m core train s2l --features whisper`)"}


def _needs(*paths: str):
    missing = [p for p in paths if not os.path.exists(p)]
    return pytest.mark.skipif(bool(missing), reason="missing " + "; ".join(
        f"{os.path.basename(p)} (build product, not in git: make it with `{HOW[p]}`)" for p in missing))


needs_encoder = _needs(whisper.DEFAULT_MODEL)
needs_models = _needs(whisper.DEFAULT_MODEL, s2l_onnx.MODEL)


@needs_encoder
def test_packed_windows_split_back_to_each_utterance():
    """Corpus packing: one utterance alone in a window gives exactly the engine's features (same log-mel
    floor, position 0); packed with others, each gets ceil(N/320) frames and the first stays close."""
    from conftest import data_path

    from core.speech.audio import load_audio
    from core.training.corpus_whisper import encode_packed

    a = load_audio(data_path("speech", "vocaset_sentence01.wav")).samples
    b = load_audio(data_path("speech", "voca_test_sentence.wav")).samples
    enc = whisper.Encoder(threads=2)
    alone = enc.encode(a)
    (packed_alone,) = encode_packed(enc, [a])
    assert packed_alone.shape == alone.shape and np.abs(packed_alone - alone).max() < 1e-4
    first, second = encode_packed(enc, [a, b])
    assert len(first) == -(-len(a) // 320) and len(second) == -(-len(b) // 320)
    cos = (first * alone).sum(1) / np.linalg.norm(first, axis=1) / np.linalg.norm(alone, axis=1)
    assert cos.mean() > 0.9


@needs_models
def test_onnx_s2l_matches_the_torch_model_on_real_speech():
    torch = pytest.importorskip("torch")
    from conftest import data_path

    from core.motion import s2l
    from core.speech.audio import load_audio

    audio = load_audio(data_path("speech", "vocaset_sentence01.wav"))
    model = s2l_onnx.load()
    feats = np.concatenate(list(model.windows(audio.samples)))
    assert feats.shape == (s2l_onnx.n_frames(len(audio.samples)), 384)
    emo = s2l_onnx.emotion_vector({"happy": 0.7})
    disp, closed = model.run(feats, emo)
    net = s2l.load(WEIGHTS).cpu()
    with torch.inference_mode():
        t_disp, t_logit = net(torch.from_numpy(feats)[None], torch.from_numpy(emo))
    t_disp = t_disp[0].numpy().reshape(disp.shape) / s2l.SCALE
    assert np.abs(disp - t_disp).max() < 1e-6  # metres (1 µm)
    assert np.abs(closed - torch.sigmoid(t_logit[0]).numpy()).max() < 1e-4
    assert np.abs(disp).max() < 0.05 and 0 <= closed.min() and closed.max() <= 1


ENGINE_SCRIPT = """
import json, sys, time
import soxr
from core.engines import animate
from core.face.head import load_head
from core.speech.audio import Audio
from core.speech.espeak import synthesise
from core.training.evaluation import score
speech = synthesise("Bob put a map of the moon above the big window, and my mother hummed a happy tune.")
audio = Audio(soxr.resample(speech.samples, speech.sample_rate, 16000))
t = time.perf_counter()
anim = animate(audio, engine="neural-whisper", fps=30, blink=False)
secs = time.perf_counter() - t
s = score(load_head().landmark_positions(anim.combined_weights()), 30, speech.phones())
print(json.dumps({"torch": "torch" in sys.modules, "closure": s.bilabial_closure, "n": s.n_bilabial,
                  "open": s.open_vowel, "corr": s.correlation, "frames": anim.n_frames,
                  "expected": round(audio.duration * 30), "emotions_in_weights": anim.emotions_in_weights,
                  "secs": secs}))
"""


@needs_models
def test_engine_runs_without_torch_and_closes_the_lips_at_bilabials():
    out = subprocess.run([sys.executable, "-c", ENGINE_SCRIPT], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["torch"] is False  # the whole click ran without importing torch
    assert r["frames"] == r["expected"] and r["emotions_in_weights"]
    assert r["n"] >= 10 and r["closure"] >= 0.7, r  # exact espeak-ng timing as the reference
    assert r["corr"] > 0.5, r


@needs_models
def test_long_audio_runs_window_by_window():
    """More than 30 s: two Whisper windows, and the chunks cover every model frame once."""
    import soxr

    from core.speech.audio import Audio
    from core.speech.espeak import synthesise

    speech = synthesise("Maybe the people in the boat will paint a map of the bay. " * 11)
    audio = Audio(soxr.resample(speech.samples, speech.sample_rate, 16000))
    assert audio.duration > 30
    chunks = list(s2l_onnx.predict(audio))
    assert len(chunks) == 2 and chunks[1][0] == s2l_onnx.WINDOW
    disp = np.concatenate([c[1] for c in chunks])
    assert disp.shape == (s2l_onnx.n_frames(len(audio.samples)), 68, 3)
    assert np.isfinite(disp).all() and np.abs(disp).max() < 0.05


@needs_models
def test_phonetic_whisper_adds_the_closures_the_phones_missed(tmp_path):
    """On French speech the phonetic engine hears phones only (no French words), Phonetic + Whisper the words
    Whisper hears; the Whisper network's closures come on top of its phones, never removing one: closure rises
    (or stays) at espeak's own p/b/m, and a transcript's alignment is kept as it is."""
    from conftest import fresh_speech

    from core.engines import animate
    from core.face.head import load_head
    from core.motion.articulation import articulate
    from core.speech.phones import Phone
    from core.training.evaluation import lip_gap, score

    text = "Le petit bateau passe sous le pont, puis maman mange une pomme et un beau melon."
    path = str(tmp_path / "fr.wav")
    head, exact = load_head(), fresh_speech(path, text, "fr")
    runs = {e: animate(path, None, e, language="fr", blink=False) for e in ("phonetic", "phonetic-whisper")}
    closure = {e: score(head.landmark_positions(a.weights), 30.0, exact).bilabial_closure for e, a in runs.items()}
    assert closure["phonetic-whisper"] >= closure["phonetic"] and closure["phonetic-whisper"] >= 0.8, closure
    ours = runs["phonetic-whisper"]
    own_phones = articulate([Phone(*p) for p in ours.metadata["phones"]], 30.0, ours.n_frames)  # without closures
    gaps = [lip_gap(head.landmark_positions(w)) for w in (ours.weights, own_phones)]
    assert (gaps[0] <= gaps[1] + 1e-4).all()  # closures only added
    aligned = [animate(path, text, e, language="fr", blink=False).weights for e in ("phonetic", "phonetic-whisper")]
    assert np.array_equal(aligned[0], aligned[1])

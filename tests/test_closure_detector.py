"""The lip-closure detector on Whisper base's features (training/train_closure.py, motion/closure_onnx.py): its
ONNX twin is the trained network, and outside English Phonetic + Whisper takes its closures from the very
windows Whisper base encoded to hear the words, with no second encoder (real audio, no mocks)."""
from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import data_path, fresh_speech

from core.motion import closure_onnx
from core.speech import transcribe, whisper
from core.speech.audio import load_audio

FRENCH = "Le petit bateau passe sous le pont, puis maman mange une pomme et un beau melon."
needs_base = pytest.mark.skipif(not transcribe.available("fr") or not closure_onnx.available(),
                                reason="Whisper base's ONNX files or closure_base.onnx are absent: ./dev.sh makes them")


@needs_base
def test_onnx_detector_is_the_trained_network(tmp_path):
    """closure_net.export_file writes the network itself: the same probabilities as torch on base's features of real
    speech, and the file ./dev.sh made is that export."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from core.training import closure_net

    samples = load_audio(data_path("speech", "vocaset_sentence01.wav")).samples
    features = transcribe.load(transcribe.MULTILINGUAL_MODEL).features(samples)
    assert features.shape == (whisper.WINDOW_FRAMES // 2, 512)
    with torch.inference_mode():
        logit = closure_net.load()(torch.from_numpy(np.array(features))[None])[0].numpy()
    reference = 1.0 / (1.0 + np.exp(-logit))
    assert np.abs(closure_onnx.closure_probability(features) - reference).max() < 1e-5
    exported = closure_net.export_file(closure_net.WEIGHTS, str(tmp_path / "closure.onnx"))
    again = whisper.session(exported).run(None, {"features": np.array(features)[None]})[0][0]
    assert np.abs(again - logit).max() < 1e-5


@needs_base
def test_closures_in_another_language_come_from_the_windows_that_heard_the_words(tmp_path):
    """French speech (espeak-ng, exact phone times): the closures are base's detector's on the windows base
    encoded to hear the words (no window of tiny.en's encoder is made), and they shut the lips at the speech's
    own p/b/m and leave its open vowels open."""
    from core.engines import phones_for
    from core.speech.phones import BILABIALS, OPEN_VOWELS

    path = str(tmp_path / "fr.wav")
    exact = fresh_speech(path, FRENCH, "fr", rate_wpm=140)
    audio = load_audio(path)
    whisper._RECENT.clear()
    _, _, closed = phones_for(audio, None, "phonetic-whisper", "fr", fps=50.0)
    encoders = {key[0] for key in whisper._RECENT}
    assert encoders == {os.path.abspath(transcribe.files(transcribe.MULTILINGUAL_MODEL)[2])}, encoders
    middle = {p: closed[min(len(closed) - 1, int((p.start + p.end) / 2 * 50.0))] for p in exact}
    shut = [middle[p] > 0 for p in exact if p.name in BILABIALS]
    opened = [middle[p] == 0 for p in exact if p.name in OPEN_VOWELS]
    assert len(shut) >= 10 and np.mean(shut) >= 0.6, shut
    assert np.mean(opened) >= 0.8, opened  # measured: 11 of 12 shut, 12 of 13 open

"""core end to end on real and synthesised speech: frame count, closure at bilabials, open vowels."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, data_path

from core.engines import animate
from core.errors import InputError
from core.face.arkit import ARKIT_NAMES
from core.face.head import load_head
from core.speech import recognise, sphinx, transcribe
from core.speech.audio import load_audio
from core.training.evaluation import score

VOCA01 = "She had your dark suit in greasy wash water all year"
VOCA_TEST = "Severe myopia contributed to Ruth's inferiority complex"


def check_lipsync(anim, reference, min_closure=1.0, min_open=0.9):
    lm = load_head().landmark_positions(anim.weights)
    s = score(lm, anim.fps, reference)
    if s.n_bilabial:
        assert s.bilabial_closure >= min_closure, s
    assert s.n_open > 0 and s.open_vowel >= min_open, s
    return s


@pytest.mark.parametrize("clip,text", [("vocaset_sentence01.wav", VOCA01), ("voca_test_sentence.wav", VOCA_TEST)])
@pytest.mark.parametrize("fps", [24.0, 30.0])
def test_real_speech_with_transcript(clip, text, fps):
    audio = load_audio(data_path("speech", clip))
    anim = animate(audio, text, fps=fps)
    assert anim.n_frames == round(audio.duration * fps)
    assert anim.weights.shape == (anim.n_frames, 52) and anim.names == ARKIT_NAMES
    reference, unknown = recognise.align(audio, text)
    assert not unknown
    check_lipsync(anim, reference)


@pytest.mark.parametrize("engine", ["auto", "phonetic"])
def test_real_speech_audio_only(engine):
    """Auto in English hears Whisper's words where its models are installed; Phonetic recognises words with
    pocketsphinx; both then align them."""
    audio = load_audio(data_path("speech", "voca_test_sentence.wav"))
    reference, _ = recognise.align(audio, VOCA_TEST)
    anim = animate(audio, None, engine=engine, fps=30.0)
    whisper_words = engine == "auto" and transcribe.available()
    assert anim.metadata["timing"] == ("Whisper words, aligned" if whisper_words else "word recognition")
    s = check_lipsync(anim, reference, min_closure=0.8)
    assert s.correlation > (0.9 if whisper_words else 0.8)


def test_synthesised_speech_both_modes(synth_clip):
    path, text, _ = synth_clip
    audio = load_audio(path)
    reference, _ = recognise.align(audio, text)
    assert sum(p.name in {"P", "B", "M"} for p in reference) >= 10
    check_lipsync(animate(audio, text), reference)
    # the recogniser is trained on human voices: on espeak's voice audio-only mode is rough but alive
    for engine in ("phonetic", "phonetic-fast"):
        check_lipsync(animate(audio, None, engine=engine), reference, min_closure=0.4, min_open=0.3)


def test_deterministic(synth_clip):
    a = animate(synth_clip[0], synth_clip[1])
    b = animate(synth_clip[0], synth_clip[1])
    assert np.array_equal(a.weights, b.weights)


def test_recognition_does_not_depend_on_what_came_before(synth_clip, tmp_path):
    """The same clip gives the same phones first in a process and after other audio (pocketsphinx's
    noise estimate would otherwise carry over from one utterance to the next)."""
    from core.speech.espeak import synthesise, write_wav

    speech = synthesise("Please bring the maps back before the boat leaves.")
    write_wav(str(tmp_path / "other.wav"), speech.samples, speech.sample_rate)
    clip, other = load_audio(synth_clip[0]), load_audio(str(tmp_path / "other.wav"))
    sphinx.decoder.cache_clear()
    first = recognise.recognise_words(clip, parallel=False)
    recognise.recognise_words(other, parallel=False)
    assert recognise.recognise_words(clip, parallel=False) == first


def test_bad_options(synth_clip):
    with pytest.raises(InputError, match="engine"):
        animate(synth_clip[0], engine="nope")
    with pytest.raises(InputError, match="Frame rate"):
        animate(synth_clip[0], fps=0)
    with pytest.raises(InputError, match="no words"):
        animate(synth_clip[0], text="... !!!")


def test_python_m_core_animate(tmp_path, synth_clip):
    out = tmp_path / "anim.npz"
    res = subprocess.run([sys.executable, "-m", "core", "animate", "--audio", synth_clip[0], "--text", synth_clip[1],
                          "--emotion", "happy=0.5", "--fps", "25", "--vertices", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    z = np.load(out)
    T = int(round(load_audio(synth_clip[0]).duration * 25))
    assert float(z["fps"]) == 25.0 and list(z["names"]) == list(ARKIT_NAMES)
    assert z["weights"].shape == (T, 52) and z["weights"].dtype == np.float32
    assert z["landmarks"].shape == (T, 68, 3) and z["landmarks"].dtype == np.float32
    assert z["vertices"].shape == (T, len(load_head().vertices), 3)
    meta = json.loads(str(z["metadata"]))
    assert meta["emotions"] == {"happy": 0.5}
    # landmarks are the head's own vertices in motion
    head = load_head()
    assert np.allclose(z["vertices"][:, head.landmarks], z["landmarks"], atol=1e-5)


def test_python_m_core_bad_input(tmp_path):
    res = subprocess.run([sys.executable, "-m", "core", "animate", "--audio", str(tmp_path / "missing.wav"),
                          "--out", str(tmp_path / "x.npz")], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 2 and "not found" in res.stderr


def test_long_clip_decodes_on_every_core(tmp_path):
    """≥ 20 s: pauses are left out, the speech goes to worker processes in pieces; the result
    matches a serial decode and is silent over the pauses."""
    import soundfile as sf

    from core.speech import pool

    parts = [load_audio(data_path("speech", c)).samples for c in
             ("codetalker_man.wav", "faceformer_test.wav", "voca_test_sentence.wav")]
    gap = np.zeros(8000, np.float32)
    long_gap = np.zeros(3 * 16000, np.float32)
    path = tmp_path / "long.wav"
    sf.write(path, np.concatenate([parts[0], long_gap] + [x for p in parts[1:] for x in (p, gap)]), 16000)
    audio = load_audio(str(path))
    assert audio.duration > 25
    quiet = (len(parts[0]) + 8000, len(parts[0]) + 2 * 16000)  # the middle of the long gap
    ranges = recognise.speech_ranges(audio)
    assert all(b <= quiet[0] or a >= quiet[1] for a, b in ranges)
    assert sum(b - a for a, b in ranges) < len(audio.samples) - 2 * 16000
    serial, serial_text = recognise.recognise_words(audio, parallel=False)
    phones, text = recognise.recognise_words(audio)
    assert pool._pool and all(p.poll() is None for p in pool._pool)  # it really used workers
    starts = [p.start for p in phones]
    assert starts == sorted(starts) and phones[0].start == 0 and phones[-1].end == pytest.approx(audio.duration)
    assert all(p.name == "SIL" for p in phones if p.end > quiet[0] / 16000 and p.start < quiet[1] / 16000)
    common = set(text.split()) & set(serial_text.split())
    assert len(common) >= 0.8 * len(set(serial_text.split()))
    loop = recognise.recognise_phones(audio)  # the phone loop is shared out the same way
    assert loop[-1].end == pytest.approx(audio.duration) and len([p for p in loop if p.name != "SIL"]) > 50
    pool.shutdown()


def test_transcript_that_does_not_fit_falls_back_to_recognition(synth_clip):
    anim = animate(synth_clip[0], "the quarterly revenue forecast exceeded every analyst expectation by far")
    assert anim.n_frames > 0 and anim.metadata["timing"] == "word recognition"  # the aligner gave up
    assert "could not be fitted" in anim.metadata["warning"]  # and says so

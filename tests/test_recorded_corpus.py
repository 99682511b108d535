"""The closure detector's recorded corpus (training/corpus_recorded.py): it never trains on a prompt the
benchmarks score, and its shards hold real speech's Whisper base features with the phones its text aligns to."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from conftest import ROOT, data_path

from core.speech import transcribe
from core.speech.audio import load_audio
from core.speech.languages import from_locale
from core.speech.phones import BILABIALS
from core.training import asterisk, corpus, corpus_recorded


def test_locales_become_espeak_codes():
    assert from_locale("en_US") == "en-us"
    assert from_locale("en") == "en-us"
    assert from_locale("en_GB") == "en-gb"
    assert from_locale("fr_CA") == "fr"  # espeak-ng has no Canadian French: its language
    assert from_locale("sr@latin") == "sr"
    assert from_locale("xx_YY") is None


def test_no_prompt_a_benchmark_scores_is_trained_on():
    """Per language, every evenly spread pick of 20, 40 and 80 prompts is left out, and nothing else."""
    found = [asterisk.Prompt(f"/sounds/{lang}/{k:04d}.wav", lang, "text") for lang in ("fr", "ru") for k in range(500)]
    kept = corpus_recorded.trainable(found[::-1])  # in any order
    scored = {p.path for lang in ("fr", "ru") for n in corpus_recorded.SCORED
              for p in asterisk.evenly([q for q in found if q.language == lang], n)}
    assert {p.path for p in kept} == {p.path for p in found} - scored
    assert len(scored) > 2 * 80  # the three picks differ
    assert kept == sorted(kept, key=lambda p: p.path)


def test_the_benchmarks_real_picks_are_held_out():
    """On the installed Asterisk prompts, what bench/lipsync_languages.py scores (its own `pick`) is never trained on."""
    found, _ = asterisk.prompts()
    if not found:
        pytest.skip("Asterisk's core prompts are not installed (Debian: " + asterisk.INSTALL + ")")
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    from lipsync_languages import pick
    from speechsets import asterisk as asterisk_set

    trained = {p.path for p in corpus_recorded.trainable(found)}
    clips = asterisk_set()
    for language in {c.language for c in clips}:
        mine = [c for c in clips if c.language == language]
        for n in corpus_recorded.SCORED:
            assert not trained & {c.path for c in pick(mine, n)}, (language, n)


def test_a_shard_holds_real_speech_features_and_its_aligned_phones(tmp_path):
    """Real English sentences with their transcripts through the shard maker: Whisper base's 512 features at
    50 Hz for each clip's length, and phones inside it, the transcript's p/b/m among them."""
    if not transcribe.available("fr"):
        pytest.skip("Whisper base's ONNX files are absent: ./dev.sh makes them")
    with open(data_path("speech", "transcripts.tsv"), encoding="utf-8") as fh:
        rows = [line.rstrip("\n").split("\t") for line in fh][2:4]  # sentences with p/b/m
    prompts = [asterisk.Prompt(data_path("speech", r[0]), "en-us", r[2]) for r in rows]
    encoder = transcribe.files(transcribe.MULTILINGUAL_MODEL)[2]
    path, unfit, _ = corpus_recorded._shard((str(tmp_path), 0, prompts, encoder))
    assert unfit == 0 and os.path.basename(path) == "shard-000000.npz"
    items = corpus.load(str(tmp_path), "feat")
    assert len(items) == len(prompts)
    for prompt, (feat, phones) in zip(prompts, items):
        seconds = load_audio(prompt.path).duration
        assert feat.shape[1] == 512 and abs(len(feat) - seconds * 50) <= 1
        assert 0 <= phones[:, 1].min() and phones[:, 2].max() <= seconds + 0.05
        names = [corpus.ARPABET[int(i)] for i in phones[:, 0]]
        assert any(n in BILABIALS for n in names), names
        assert np.all(np.diff(phones[:, 1]) >= 0)

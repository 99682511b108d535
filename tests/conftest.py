"""Shared fixtures: the checkout loaded as the package `talkinghead` in the real bpy module, real data."""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("TALKINGHEAD_DATA", os.path.join(ROOT, "..", "shared", "data"))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "scripts"))

PANGRAM = "Bob put a map of the moon above the big window, and my mother hummed a happy tune."


_SYNTHESISE = """import json, sys
from core.speech.espeak import synthesise, write_wav
speech = synthesise(sys.argv[1], voice=sys.argv[2], rate_wpm=int(sys.argv[3]))
write_wav(sys.argv[4], speech.samples, speech.sample_rate)
print(json.dumps([(p.name, p.start, p.end) for p in speech.phones()]))
"""


def fresh_speech(path: str, text: str, voice: str = "en-us", rate_wpm: int = 160) -> list:
    """espeak-ng's speech of `text` written to `path` by a process of its own, and its exact phones. Why: espeak-ng's
    audio depends on what its process synthesised before, so speech made in the test process would change with
    the tests that ran before it."""
    import json
    import subprocess

    from core.speech.phones import Phone

    made = subprocess.run([sys.executable, "-c", _SYNTHESISE, text, voice, str(rate_wpm), path], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    return [Phone(*p) for p in json.loads(made.stdout)]


def real_prompts(language: str, every: int = 1, limit: int | None = None) -> Iterator[tuple]:
    """(clip, its Audio, its text force-aligned on it) for Asterisk's real read prompts in `language` (Debian's
    asterisk-core-sounds, bench/speechsets.py), every `every`-th up to `limit` of them; a prompt whose text does
    not align is passed over. Skips the test where the packages are absent."""
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    from speechsets import asterisk

    from core.errors import InputError
    from core.speech import recognise
    from core.speech.audio import load_audio

    clips = [c for c in asterisk() if c.language == language][::every][:limit]
    if not clips:
        pytest.skip(f"asterisk-core-sounds for {language} are not installed (Debian packages)")
    for clip in clips:
        audio = load_audio(clip.path)
        try:
            yield clip, audio, recognise.align(audio, clip.text, language)[0]
        except (recognise.AlignmentFailed, InputError):
            continue


def data_path(*parts: str) -> str:
    path = os.path.join(DATA, *parts)
    if not os.path.exists(path):
        pytest.skip(f"real test data not found at {os.path.abspath(path)} "
                    "(needs ../shared/data or TALKINGHEAD_DATA); skipping")
    return path


@pytest.fixture(scope="session")
def pkg():
    """The extension package, registered once in the real bpy module."""
    import bpy  # noqa: F401  (real Blender module)
    from talkinghead_cli import load_package

    module = load_package()
    module.register()
    yield module
    module.unregister()


@pytest.fixture
def scene(pkg):
    """An empty factory scene at 30 fps."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.context.scene.render.fps = 30
    bpy.context.scene.render.fps_base = 1.0
    return bpy.context.scene


@pytest.fixture(scope="session")
def synth_clip(tmp_path_factory):
    """(wav path, transcript, espeak phonemes): speech synthesised with espeak-ng."""
    from core.speech.espeak import synthesise, write_wav

    speech = synthesise(PANGRAM)
    path = str(tmp_path_factory.mktemp("speech") / "pangram.wav")
    write_wav(path, speech.samples, speech.sample_rate)
    return path, PANGRAM, speech.phonemes


def tone(seconds: float, rate: int, channels: int = 1, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    x = amplitude * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return np.repeat(x[:, None], channels, axis=1).astype(np.float32)

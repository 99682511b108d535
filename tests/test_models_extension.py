"""The models ship as a second extension, Talking Head Models: the engine finds them beside itself or where that
extension says, and without them animates with its Phonetic engines and names what is missing."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
from conftest import ROOT

ASSETS = os.path.join(ROOT, "core", "assets")
WHISPER_FILES = ("whisper_tiny.en_encoder.onnx", "s2l_whisper.onnx")
# in a copy of the engine without its models: what Automatic picks, and what Neural (Whisper) says
PROBE = textwrap.dedent("""
    import sys
    from core import engines
    from core.errors import InputError
    from core.speech import espeak
    print("AUTO", engines.resolve("auto", None, "en"))
    speech = espeak.synthesise("Bob made a map.", voice="en-us")
    espeak.write_wav("clip.wav", speech.samples, speech.sample_rate)
    print("WARNING", engines.animate("clip.wav").metadata.get("warning"))
    try:
        engines.animate("clip.wav", engine="neural-whisper")
        print("ANIMATED")
    except InputError as exc:
        print("REFUSED", exc)
""")


def _installed_copy(tmp_path) -> str:
    """The engine as the platform zip installs it (no .onnx or .pt files), in an extension repository folder."""
    if not all(os.path.exists(os.path.join(ASSETS, f)) for f in WHISPER_FILES):
        pytest.skip("the Whisper ONNX files are absent: ./dev.sh makes them")
    extension = tmp_path / "user_default" / "talkinghead"
    shutil.copytree(os.path.join(ROOT, "core"), extension / "core",
                    ignore=shutil.ignore_patterns("__pycache__", "*.onnx", "*.pt"))
    return str(extension)


def _probe(extension: str, env: dict[str, str] | None = None) -> str:
    base = {k: v for k, v in os.environ.items() if k != "TALKINGHEAD_MODELS"}
    run = subprocess.run([sys.executable, "-c", PROBE], cwd=extension, capture_output=True, text=True, timeout=300,
                         env={**base, **(env or {})})
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    return run.stdout


def _models_folder(folder) -> None:
    """A models extension's folder: links to the ONNX files the checkout built."""
    folder.mkdir(parents=True)
    for path in glob.glob(os.path.join(ASSETS, "*.onnx")):
        os.symlink(path, folder / os.path.basename(path))


def test_without_the_models_automatic_is_phonetic_and_neural_whisper_names_the_models_extension(tmp_path):
    out = _probe(_installed_copy(tmp_path))
    assert "AUTO phonetic\n" in out
    assert "WARNING Automatic used the Phonetic engine" in out, out  # said with the result, not only in the panel
    assert "REFUSED" in out and "Talking Head Models" in out, out


def test_the_models_are_found_beside_the_extension_and_where_the_models_extension_says(tmp_path):
    extension = _installed_copy(tmp_path)
    elsewhere = tmp_path / "studio_share" / "models"
    _models_folder(elsewhere)  # another place, named by the models extension when it is enabled
    out = _probe(extension, {"TALKINGHEAD_MODELS": str(elsewhere)})
    assert "AUTO phonetic-whisper\n" in out and "WARNING None" in out and "ANIMATED" in out, out
    _models_folder(tmp_path / "user_default" / "talkinghead_models" / "models")  # installed beside it
    out = _probe(extension)
    assert "AUTO phonetic-whisper\n" in out and "ANIMATED" in out, out


def test_the_models_extension_names_its_folder_while_enabled(monkeypatch):
    monkeypatch.delenv("TALKINGHEAD_MODELS", raising=False)
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    try:
        import models_extension
    finally:
        sys.path.remove(os.path.join(ROOT, "tools"))
    models_extension.register()
    assert os.environ["TALKINGHEAD_MODELS"] == os.path.join(ROOT, "tools", "models_extension", "models")
    models_extension.unregister()
    assert "TALKINGHEAD_MODELS" not in os.environ

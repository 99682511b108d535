"""The Blender command line: the registered `talkinghead` command handler and the --python script form."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT, data_path


def run_cli(argv):
    from talkinghead.addon.cli import main

    return main(argv)


def test_cli_animates_and_saves(scene, tmp_path, synth_clip, capsys):
    import bpy

    out = tmp_path / "out.blend"
    code = run_cli(["animate", "--add-head", "--audio", synth_clip[0], "--text", synth_clip[1],
                    "--emotion", "happy=0.5", "--out", str(out)])
    assert code == 0 and out.exists()
    assert "animated 'TalkingHead'" in capsys.readouterr().out
    bpy.ops.wm.open_mainfile(filepath=str(out))
    obj = bpy.data.objects["TalkingHead"]
    assert obj["talkinghead_happy"] == pytest.approx(0.5)
    assert obj.data.shape_keys.animation_data.action is not None


def test_cli_on_existing_object_with_transcript_file(scene, tmp_path):
    clip = data_path("speech", "vocaset_sentence01.wav")
    txt = tmp_path / "line.txt"
    txt.write_text("She had your dark suit in greasy wash water all year\n")
    import bpy

    bpy.ops.talkinghead.add_head()
    bpy.context.active_object.name = "Hero"
    out = tmp_path / "hero.blend"
    assert run_cli(["animate", "--object", "Hero", "--audio", clip, "--text", str(txt), "--out", str(out)]) == 0


@pytest.mark.parametrize("argv,message", [
    (["animate", "--object", "Nobody", "--audio", "x.wav"], "No object named 'Nobody'"),
    (["animate", "--audio", "x.wav"], "--object"),
    (["animate", "--add-head", "--audio", "/no/such.wav", "--out", "/tmp/x.blend"], "not found"),
    (["animate", "--add-head", "--audio", "x.wav", "--emotion", "grumpy=1"], "Unknown emotion"),
])
def test_cli_bad_input_exits_nonzero(scene, argv, message, capsys):
    assert run_cli(argv) == 2
    assert message in capsys.readouterr().err


def test_cli_usage_error_exits_nonzero(scene):
    assert run_cli(["animate"]) == 2  # argparse: --audio is required


def test_python_script_form(tmp_path, synth_clip):
    """`blender -b --python scripts/talkinghead_cli.py -- animate ...`, here with Python + the bpy module."""
    out = tmp_path / "script.blend"
    script = os.path.join(ROOT, "scripts", "talkinghead_cli.py")
    res = subprocess.run([sys.executable, script, "--", "animate", "--add-head", "--audio", synth_clip[0],
                          "--out", str(out), "--render", str(tmp_path / "preview.png")],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert out.exists() and len(list(tmp_path.glob("preview_*.png"))) >= 5
    bad = subprocess.run([sys.executable, script, "--", "animate", "--object", "Missing", "--audio", synth_clip[0]],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "No object named 'Missing'" in bad.stderr

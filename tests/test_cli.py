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
    assert not (tmp_path / "script.blend1").exists()  # the save after the render makes no backup of our own file
    bad = subprocess.run([sys.executable, script, "--", "animate", "--object", "Missing", "--audio", synth_clip[0]],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "No object named 'Missing'" in bad.stderr


SCRIPT = os.path.join(ROOT, "scripts", "talkinghead_cli.py")


def run_script(*argv, env=None, python=(sys.executable,)):
    return subprocess.run([*python, SCRIPT, "--", *argv], capture_output=True, text=True, timeout=300, env=env)


def test_script_open_of_a_missing_file_is_bad_input(synth_clip):
    res = run_script("--open", "/nonexistent/rig.blend", "animate", "--add-head", "--audio", synth_clip[0])
    assert res.returncode == 2, res.stderr[-2000:]
    assert "no such .blend file: /nonexistent/rig.blend" in res.stderr and "Traceback" not in res.stderr


def test_no_out_on_an_unsaved_file_fails_before_any_work(scene, synth_clip, capsys):
    import bpy

    assert run_cli(["animate", "--add-head", "--audio", synth_clip[0]]) == 2
    assert "give --out FILE.blend" in capsys.readouterr().err
    assert not bpy.data.objects and not bpy.data.actions  # no head added, nothing animated


def test_script_usage_names_the_script_form():
    res = run_script("--help")
    assert res.returncode == 0
    usage = res.stdout.split("\n", 1)[0]
    assert "scripts/talkinghead_cli.py" in usage and "--command" not in usage, usage


def _python_without(tmp_path, hidden: str) -> tuple[tuple[str, ...], dict, str]:
    """This Python with its site-packages except `hidden*` (a Blender Python that lacks the package)."""
    import site

    site_dir = next(p for p in site.getsitepackages() if os.path.isdir(os.path.join(p, hidden)))
    farm = tmp_path / "site"
    farm.mkdir()
    for name in os.listdir(site_dir):
        if not name.startswith(hidden):
            (farm / name).symlink_to(os.path.join(site_dir, name))
    env = {**os.environ, "PYTHONPATH": str(farm), "BLENDER_USER_EXTENSIONS": str(tmp_path / "no_extensions")}
    env.pop("TALKINGHEAD_DEPS", None)
    return (sys.executable, "-S"), env, site_dir


def test_script_without_the_engine_packages_says_what_it_needs_and_takes_deps(tmp_path, synth_clip):
    python, env, site_dir = _python_without(tmp_path, "pocketsphinx")
    args = ("animate", "--add-head", "--audio", synth_clip[0], "--out", str(tmp_path / "deps.blend"))
    res = run_script(*args, env=env, python=python)
    assert res.returncode == 2, res.stderr[-2000:]
    assert "lacks pocketsphinx" in res.stderr and "--deps DIR" in res.stderr and "Traceback" not in res.stderr
    deps = tmp_path / "deps"  # a folder holding the missing package, as pip install --target makes one
    deps.mkdir()
    (deps / "pocketsphinx").symlink_to(os.path.join(site_dir, "pocketsphinx"))
    res = run_script("--deps", str(deps), *args, env=env, python=python)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path / "deps.blend").exists()
    env["TALKINGHEAD_DEPS"] = str(deps)
    res = run_script(*args, env=env, python=python)
    assert res.returncode == 0, res.stderr[-2000:]

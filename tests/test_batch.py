"""Studio batch from the command line: a manifest with good and bad jobs, rendered, one and two workers."""
from __future__ import annotations

import json
import shutil

import pytest
from conftest import data_path


@pytest.fixture(scope="module")
def setup(tmp_path_factory, pkg):
    """A rig file (built-in head 'Hero' + a camera 'Cam') and a 6-job manifest with 3 bad jobs."""
    import bpy

    from core.speech.espeak import synthesise, write_wav

    d = tmp_path_factory.mktemp("batch")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.context.scene.render.fps = 24
    bpy.ops.talkinghead.add_head()
    bpy.context.active_object.name = "Hero"
    cam = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
    bpy.context.scene.collection.objects.link(cam)
    rig = d / "rig.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(rig))
    speech = synthesise("Bob bought a map.")
    write_wav(str(d / "line1.wav"), speech.samples, speech.sample_rate)
    real = d / "line2.wav"  # a real clip with its transcript beside it
    shutil.copy(data_path("speech", "vocaset_sentence01.wav"), real)
    (d / "line2.txt").write_text("She had your dark suit in greasy wash water all year")
    (d / "corrupt.wav").write_bytes(b"RIFF\x00\x00garbage" * 30)
    (d / "jobs.csv").write_text(
        "audio,object,text,emotion,name\n"
        "line1.wav,Hero,Bob bought a map.,,bob\n"
        "line2.wav,Hero,,happy=0.5,dark_suit\n"
        "missing.wav,Hero,,,missing\n"
        "corrupt.wav,Hero,,,corrupt\n"
        "line1.wav,Cam,,,camera\n"
        "line1.wav,,,sad=0.3;angry=0.2,default_object\n")
    return d, rig


def run_batch(setup, out, *extra):
    import bpy
    from talkinghead.addon.cli import main

    d, rig = setup
    bpy.ops.wm.open_mainfile(filepath=str(rig))
    code = main(["batch", "--jobs", str(d / "jobs.csv"), "--out", str(out), "--object", "Hero", *extra])
    return code, json.loads((out / "report.json").read_text())


def check_report(report):
    by_name = {e["name"]: e for e in report["jobs"]}
    assert len(by_name) == 6 and report["ok"] == 3 and report["failed"] == 3
    assert by_name["missing"]["status"] == "failed" and "not found" in by_name["missing"]["message"]
    assert by_name["corrupt"]["status"] == "failed" and "corrupt" in by_name["corrupt"]["message"]
    assert by_name["camera"]["status"] == "failed" and "not a mesh" in by_name["camera"]["message"]
    assert by_name["dark_suit"]["timing"] == "forced alignment"  # the .txt beside the clip was used
    for name in ("bob", "dark_suit", "default_object"):
        e = by_name[name]
        assert e["status"] == "ok" and e["frames"] > 20 and e["engine"] == "auto"
    return by_name


def test_batch_renders_reports_and_fails_softly(setup, tmp_path):
    import bpy

    out = tmp_path / "out"
    code, report = run_batch(setup, out, "--render", "mp4")
    assert code == 1  # some jobs failed
    by_name = check_report(report)
    for name in ("bob", "dark_suit", "default_object"):
        video = out / f"{name}.mp4"
        data = video.read_bytes()
        assert len(data) > 10_000 and b"avc1" in data  # H.264 video
        if bpy.app.build_options.audaspace:  # (the bpy 4.2 wheels have no audio at all)
            assert b"mp4a" in data  # with AAC sound
        assert (out / f"{name}.blend").exists()
    bpy.ops.wm.open_mainfile(filepath=str(out / "dark_suit.blend"))
    assert bpy.data.objects["Hero"]["talkinghead_happy"] == pytest.approx(0.5)
    assert by_name["default_object"]["object"] == "Hero"


def test_batch_two_workers_same_results(setup, tmp_path):
    out = tmp_path / "out2"
    code, report = run_batch(setup, out, "--workers", "2")
    assert code == 1
    check_report(report)
    assert sorted(e["job"] for e in report["jobs"]) == list(range(1, 7))
    for name in ("bob", "dark_suit", "default_object"):
        assert (out / f"{name}.blend").exists()


def test_batch_bad_job_list(setup, tmp_path, capsys):
    import bpy
    from talkinghead.addon.cli import main

    bpy.ops.wm.open_mainfile(filepath=str(setup[1]))
    assert main(["batch", "--jobs", str(tmp_path / "nope.csv"), "--out", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err


def test_only_runs_a_slice_as_a_farm_task_would(setup, tmp_path):
    out = tmp_path / "slice"
    code, report = run_batch(setup, out, "--only", "2:3")
    assert code == 1 and [e["job"] for e in report["jobs"]] == [2, 3]
    assert [e["name"] for e in report["jobs"]] == ["dark_suit", "missing"]


def test_flamenco_job_type_splits_the_manifest(tmp_path):
    """The Flamenco job type compiles (under Node) into tasks covering every manifest line once."""
    import shutil
    import subprocess

    from conftest import ROOT

    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the Flamenco job type (JavaScript) cannot be run here")
    script = tmp_path / "check.js"
    script.write_text(f"""
        const jt = require({str(ROOT + '/flamenco/talkinghead-batch.js')!r});
        const tasks = [];
        global.author = {{
            Task: (name, type) => ({{ name, type, commands: [], addCommand(c) {{ this.commands.push(c); }} }}),
            Command: (type, params) => ({{ type, params }}),
        }};
        const job = {{ settings: {{ rig: "/r/rig.blend", manifest: "/r/jobs.csv", line_count: 23, lines_per_task: 10,
                                   output: "/r/out", render: "mp4", blender: "blender" }},
                      addTask(t) {{ tasks.push(t); }} }};
        jt.compileJob(job);
        console.log(JSON.stringify(tasks.map(t => t.commands[0].params.args)));
    """)
    res = subprocess.run([node, str(script)], capture_output=True, text=True, check=True)
    args = json.loads(res.stdout)
    assert [a[a.index("--only") + 1] for a in args] == ["1:10", "11:20", "21:23"]
    assert all(a[:5] == ["-b", "/r/rig.blend", "--command", "talkinghead", "batch"] for a in args)
    assert all(a[-2:] == ["--render", "mp4"] for a in args)


def test_glb_export_round_trip_keeps_the_curves(setup, tmp_path):
    import bpy

    out = tmp_path / "glb"
    code, report = run_batch(setup, out, "--only", "1:1", "--glb")
    assert code == 0
    entry = report["jobs"][0]
    bpy.ops.wm.read_factory_settings(use_empty=True)
    assert bpy.ops.import_scene.gltf(filepath=entry["glb"]) == {"FINISHED"}
    (obj,) = [o for o in bpy.data.objects if o.type == "MESH"]
    key = obj.data.shape_keys
    names = {kb.name for kb in key.key_blocks}
    assert {"jawOpen", "mouthClose", "eyeBlinkLeft", "emotion.happy"} <= names
    action = key.animation_data.action
    fcurves = (list(action.layers[0].strips[0].channelbags[0].fcurves) if getattr(action, "layers", None)
               else list(action.fcurves))
    jaw = next(fc for fc in fcurves if '"jawOpen"' in fc.data_path)
    assert len(fcurves) >= 52 and len(jaw.keyframe_points) == entry["frames"]
    assert max(k.co[1] for k in jaw.keyframe_points) > 0.2  # the mouth really opens in the exported curve

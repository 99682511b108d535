"""Layout rules: core never imports Blender; the extension validates, builds and installs."""
from __future__ import annotations

import ast
import glob
import os
import subprocess
import sys
import textwrap

from conftest import ROOT

BLENDER_MODULES = {"bpy", "mathutils", "bmesh", "bl_math", "gpu", "aud", "idprop"}


def test_core_never_imports_blender():
    for path in glob.glob(os.path.join(ROOT, "core", "**", "*.py"), recursive=True):
        tree = ast.parse(open(path, encoding="utf-8").read())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            for n in names:
                assert n.split(".")[0] not in BLENDER_MODULES, f"{path} imports {n}"


def test_core_runs_without_bpy_loaded():
    code = "import sys, core.engines, core.cli, core.evaluation, core.synth; print('bpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _blender_ext_cli() -> str:
    import bpy

    path = os.path.join(bpy.utils.system_resource("SCRIPTS"), "addons_core", "bl_pkg", "cli", "blender_ext.py")
    assert os.path.isfile(path), path
    return path


def test_manifest_validates():
    out = subprocess.run([sys.executable, _blender_ext_cli(), "validate", ROOT], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_extension_builds_and_installs(tmp_path):
    """Build the zip with Blender's own tool, install it into a throw-away user folder, enable it."""
    dist = tmp_path / "dist"
    dist.mkdir()
    out = subprocess.run([sys.executable, _blender_ext_cli(), "build", "--source-dir", ROOT, "--output-dir",
                          str(dist)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    (zipfile,) = glob.glob(str(dist / "*.zip"))
    import zipfile as zf

    names = zf.ZipFile(zipfile).namelist()
    assert "blender_manifest.toml" in names and "core/assets/head.npz" in names
    assert not any(n.startswith(("tests/", "bench/", ".venv/")) for n in names)
    script = textwrap.dedent(f"""
        import bpy, sys, addon_utils
        r = bpy.ops.extensions.package_install_files(filepath={zipfile!r}, repo="user_default", enable_on_install=True)
        assert r == {{"FINISHED"}}, r
        mod = "bl_ext.user_default.talkinghead"
        assert mod in sys.modules, sorted(m for m in sys.modules if m.startswith("bl_ext"))
        assert hasattr(bpy.ops.talkinghead, "animate") and hasattr(bpy.types.Scene, "talkinghead")
        bpy.ops.talkinghead.add_head()
        print("INSTALLED", len(bpy.context.active_object.data.vertices))
    """)
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert "INSTALLED" in res.stdout, res.stdout[-3000:] + res.stderr[-3000:]

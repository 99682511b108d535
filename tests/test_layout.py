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
CORE = os.path.join(ROOT, "core")
# core's rooms, lowest first: a module imports only its own layer or lower ones (audio → speech timing or
# S2L → ARKit weights / landmark motion → dense deformer → Animation; training and the CLI on top)
LAYERS = (("errors", "paths", "checkpoints", "progress"), ("geometry", "speech"), ("face",), ("motion", "deform"), ("output",),
          ("engines",), ("training",), ("cli", "__main__"))
RANK = {room: k for k, rooms in enumerate(LAYERS) for room in rooms}


def _module_name(core: str, path: str) -> str:
    rel = os.path.relpath(path, core)[:-3].replace(os.sep, ".")
    return "" if rel == "__init__" else rel[: -len(".__init__")] if rel.endswith(".__init__") else rel


def _core_imports(core: str = CORE) -> dict[str, set[str]]:
    """Every module below `core` (dotted) → the modules of `core` it imports relatively, those inside
    functions too."""
    graph: dict[str, set[str]] = {}
    for path in glob.glob(os.path.join(core, "**", "*.py"), recursive=True):
        name = _module_name(core, path)
        parts = name.split(".") if name else []
        package = parts if path.endswith("__init__.py") else parts[:-1]
        found = set()
        for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
            if not isinstance(node, ast.ImportFrom) or node.level == 0:
                continue
            target = package[: len(package) - (node.level - 1)] + (node.module.split(".") if node.module else [])
            for alias in node.names:
                sub = target + [alias.name]
                is_module = os.path.isfile(os.path.join(core, *sub) + ".py") or os.path.isdir(os.path.join(core, *sub))
                found.add(".".join(sub if is_module else target))
        graph[name] = {m for m in found if m}
    return graph


def upward_imports(core: str = CORE) -> list[str]:
    """'a imports b' for each import of a higher layer (or of a room missing from LAYERS)."""
    out = []
    for module, targets in _core_imports(core).items():
        room = module.split(".")[0]
        if not module:
            continue
        out += [f"core/{module}: not in a layer of {LAYERS}"] if room not in RANK else []
        out += [f"core/{module} imports {t}" for t in targets if RANK.get(t.split(".")[0], 99) > RANK.get(room, -1)]
    return out


def import_cycles(core: str = CORE) -> list[str]:
    """One 'a → b → a' line per import cycle found by a depth-first walk."""
    graph, state, cycles = _core_imports(core), {}, []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append(" → ".join(path[path.index(target):] + [module, target] if target in path
                                         else [module, target]))
            elif target not in state:
                visit(target, path + [module])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    return cycles


def test_core_imports_run_down_the_layers():
    graph = _core_imports()
    assert "speech.recognise" in graph and "deform.registration" in graph  # it really reads the rooms
    assert upward_imports() == []


def test_core_has_no_import_cycles():
    assert import_cycles() == []


def test_the_layer_checks_catch_an_upward_import_and_a_cycle(tmp_path):
    """On a made-up core: speech imports output inside a function (upward), and output imports speech back."""
    fake = tmp_path / "core"
    for room in ("speech", "output"):
        (fake / room).mkdir(parents=True)
        (fake / room / "__init__.py").write_text("")
    (fake / "speech" / "a.py").write_text("def f():\n    from ..output import b\n")
    (fake / "output" / "b.py").write_text("from ..speech import a\n")
    assert upward_imports(str(fake)) == ["core/speech.a imports output.b"]
    assert import_cycles(str(fake)) == ["output.b → speech.a → output.b"]


def test_no_modules_left_at_the_old_flat_paths():
    """core/ holds its rooms and the few modules of the base and top layers, nothing else (no shims)."""
    top = {os.path.basename(p)[:-3] for p in glob.glob(os.path.join(CORE, "*.py"))} - {"__init__"}
    assert top <= set(RANK), sorted(top - set(RANK))


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

"""Run the Talking Head commands without installing the extension.

    blender -b rig.blend --python scripts/talkinghead_cli.py -- animate --object Face --audio line.wav --out out.blend
    python scripts/talkinghead_cli.py animate --add-head --audio line.wav --out out/demo.blend   # with the bpy module
    python scripts/talkinghead_cli.py --open rig.blend batch --jobs jobs.csv --out renders/  # bpy: open a file first

Loads this checkout as the package `talkinghead`, registers it and calls the same
handler that `blender --command talkinghead` calls; exits with its return code.
"""
from __future__ import annotations

import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_package(name: str = "talkinghead"):
    """Import the checkout at ROOT as package `name` (relative imports then resolve as in Blender)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "__init__.py"),
                                                  submodule_search_locations=[ROOT])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main() -> int:
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    pkg = load_package()
    pkg.register()
    if argv[:1] == ["--open"]:
        import bpy

        bpy.ops.wm.open_mainfile(filepath=argv[1])
        argv = argv[2:]
    from talkinghead.addon.cli import main as cli_main

    try:
        return cli_main(argv)
    finally:
        pkg.unregister()  # the bpy 4.2 module crashes at exit on classes left registered


if __name__ == "__main__":
    sys.exit(main())

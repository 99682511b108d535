"""Run the Talking Head commands without installing the extension.

    blender -b rig.blend --python scripts/talkinghead_cli.py -- animate --object Face --audio line.wav --out out.blend
    blender -b rig.blend --python scripts/talkinghead_cli.py -- --deps DIR animate ...   # packages from DIR
    python scripts/talkinghead_cli.py animate --add-head --audio line.wav --out out/demo.blend   # with the bpy module
    python scripts/talkinghead_cli.py --open rig.blend batch --jobs jobs.csv --out renders/  # bpy: open a file first

Loads this checkout as the package `talkinghead`, registers it and calls the same
handler that `blender --command talkinghead` calls; exits with its return code.

The engine needs Python packages Blender does not ship (REQUIRED). They are looked for in
Blender's own Python, in `--deps DIR` / $TALKINGHEAD_DEPS (folders of installed packages:
`pip install --target DIR ...`, or wheels unzipped there), and in the site-packages of an
installed Talking Head extension (Blender puts the extension's bundled wheels there).
"""
from __future__ import annotations

import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = "scripts/talkinghead_cli.py"  # as the README runs it, from the checkout
DEPS_ENV = "TALKINGHEAD_DEPS"
# What the engine imports beyond Blender's Python (numpy ships with Blender): import name → pip name.
REQUIRED = {"pocketsphinx": "pocketsphinx", "espeakng_loader": "espeakng-loader", "soundfile": "soundfile",
            "soxr": "soxr", "scipy": "scipy"}
BAD_INPUT = 2  # the documented exit code for bad input


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


def prog_name() -> str:
    """How the user started us, for the usage line: inside Blender (after `--`) or with Python + bpy."""
    import bpy

    if bpy.app.binary_path:
        return f"blender -b FILE --python {SCRIPT} -- [--open FILE] [--deps DIR]"
    return f"{os.path.basename(sys.executable)} {SCRIPT} [--open FILE] [--deps DIR]"


def split_options(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """The script's own leading options (--open FILE, --deps DIR, any order) and the command's argv."""
    own: dict[str, str] = {}
    while argv[:1] and argv[0] in ("--open", "--deps"):
        if len(argv) < 2:
            raise ValueError(f"{argv[0]} needs a path")
        own[argv[0][2:]], argv = argv[1], argv[2:]
    return own, argv


def extension_site_packages() -> list[str]:
    """Where Blender installed an extension's bundled wheels (its user and system extension folders)."""
    import bpy

    tail = os.path.join(".local", "lib", f"python{sys.version_info[0]}.{sys.version_info[1]}", "site-packages")
    found = []
    for kind in ("user", "system"):
        try:
            base = (bpy.utils.user_resource("EXTENSIONS") if kind == "user"
                    else bpy.utils.system_resource("EXTENSIONS"))
        except (AttributeError, TypeError, ValueError):  # a Blender without extensions
            continue
        if base and os.path.isdir(os.path.join(base, tail)):
            found.append(os.path.join(base, tail))
    return found


def add_dependency_paths(deps: str | None) -> None:
    """Put --deps, $TALKINGHEAD_DEPS and the installed extension's packages on sys.path (these first)."""
    paths = [deps] if deps else []
    paths += [p for p in os.environ.get(DEPS_ENV, "").split(os.pathsep) if p]
    for path in reversed(paths):
        sys.path.insert(0, os.path.abspath(path))
    sys.path += [p for p in extension_site_packages() if p not in sys.path]


def missing_dependencies() -> list[str]:
    return [name for name in REQUIRED if importlib.util.find_spec(name) is None]


def dependency_message(missing: list[str]) -> str:
    pip = " ".join(REQUIRED[m] for m in missing)
    return (f"talkinghead: error: this Python lacks {', '.join(missing)}, which the engine needs "
            f"and Blender does not ship. Either install the Talking Head extension (its zip bundles them; "
            f"this script then finds them), or put them in a folder and pass --deps DIR (or set {DEPS_ENV}=DIR):\n"
            f'    "{sys.executable}" -m pip install --target DIR {pip}\n'
            f"(any folder of installed packages works, e.g. the extension's wheels unzipped into it).")


def open_file(path: str) -> str | None:
    """Open the .blend at `path`; an error message instead of a traceback when it cannot be."""
    import bpy

    if not os.path.isfile(path):
        return f"talkinghead: error: --open: no such .blend file: {path}"
    try:
        bpy.ops.wm.open_mainfile(filepath=path)
    except RuntimeError as exc:
        return f"talkinghead: error: --open: cannot open {path}: {exc}"
    return None


def main() -> int:
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    try:
        own, argv = split_options(argv)
    except ValueError as exc:
        print(f"talkinghead: error: {exc}", file=sys.stderr)
        return BAD_INPUT
    add_dependency_paths(own.get("deps"))
    missing = missing_dependencies()
    if missing:
        print(dependency_message(missing), file=sys.stderr)
        return BAD_INPUT
    pkg = load_package()
    pkg.register()
    try:
        if "open" in own:
            error = open_file(own["open"])
            if error:
                print(error, file=sys.stderr)
                return BAD_INPUT
        from talkinghead.addon.cli import main as cli_main

        return cli_main(argv, prog=prog_name())
    finally:
        pkg.unregister()  # the bpy 4.2 module crashes at exit on classes left registered


if __name__ == "__main__":
    sys.exit(main())

"""Where the engine's own files are: the assets that ship inside the extension, and the models that ship
beside it.

The Whisper models and the network weights (about 100 MB, the same on every platform) are not in the
platform zip: they come as a second extension, Talking Head Models (`tools/build_extension.py` builds both),
so that the platform zip stays small. A source checkout has them all in `core/assets`."""
from __future__ import annotations

import glob
import os

ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets")
MODELS_ID = "talkinghead_models"  # the models extension's id
MODELS_FOLDER = "models"  # its folder holding the files
MODELS_ENV = "TALKINGHEAD_MODELS"  # a folder holding them: the models extension names its own when enabled
MODELS_HINT = ("it comes with the Talking Head Models extension (talkinghead_models-<version>.zip): install it "
               "beside Talking Head")


def model_folders() -> list[str]:
    """Folders that may hold the models, best first: $TALKINGHEAD_MODELS, then the models extension installed
    beside this one, in the same extension repository or another one next to it."""
    extension = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the folder holding core/
    repository = os.path.dirname(extension)
    folders = [os.environ.get(MODELS_ENV, ""), os.path.join(repository, MODELS_ID, MODELS_FOLDER)]
    folders += sorted(glob.glob(os.path.join(os.path.dirname(repository), "*", MODELS_ID, MODELS_FOLDER)))
    return [f for f in dict.fromkeys(folders) if f and os.path.isdir(f)]


def installed(path: str) -> str:
    """`path` where it exists; else, for a file of `ASSETS`, the same file in the models extension where that
    has it; else `path` (so a message names where it belongs). Looked up at each call: the models extension
    may be installed while Blender runs."""
    if os.path.exists(path) or os.path.dirname(os.path.abspath(path)) != ASSETS:
        return path
    for folder in model_folders():
        found = os.path.join(folder, os.path.basename(path))
        if os.path.exists(found):
            return found
    return path


def asset(name: str) -> str:
    """The path of a shipped asset (head, identities, model weights) by file name (see `installed`)."""
    return installed(os.path.join(ASSETS, name))

"""Where the engine's own files are: the assets that ship inside the extension."""
from __future__ import annotations

import os

ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets")


def asset(name: str) -> str:
    """The path of a shipped asset (head, identities, model weights) by file name."""
    return os.path.join(ASSETS, name)

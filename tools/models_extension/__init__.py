"""Talking Head Models: the Whisper speech models and the network weights that Talking Head runs, as data.

They are the same on every platform and Python, so they ship once, as this extension, instead of inside every
platform zip of Talking Head (`tools/build_extension.py` builds both). Enabled, it names its folder of models in
the environment, where Talking Head looks for them at each click (`core/paths.py` of Talking Head); Talking
Head also finds them beside itself in the same extension repository."""
from __future__ import annotations

import os

MODELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")
ENV = "TALKINGHEAD_MODELS"  # core/paths.py MODELS_ENV of Talking Head


def register() -> None:
    os.environ[ENV] = MODELS


def unregister() -> None:
    if os.environ.get(ENV) == MODELS:
        del os.environ[ENV]

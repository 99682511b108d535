"""Blender registration: properties, operators, panel, preferences, CLI command."""
from __future__ import annotations

import bpy

from .. import operators
from . import cli, panels, preferences, properties

_CLASSES = (*properties.CLASSES, preferences.TalkingHeadPreferences, *operators.CLASSES, *panels.CLASSES)
_cli_handle = None


def register() -> None:
    global _cli_handle
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    properties.register()
    if hasattr(bpy.utils, "register_cli_command"):
        _cli_handle = bpy.utils.register_cli_command("talkinghead", cli.main)


def unregister() -> None:
    global _cli_handle
    if _cli_handle is not None:
        bpy.utils.unregister_cli_command(_cli_handle)
        _cli_handle = None
    properties.unregister()
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)

"""Talking Head: speech-driven facial animation for Blender (extension entry point).

This file only registers; the engine is in core/, the Blender side in addon/ and operators/.
"""
from .addon import register, unregister

__all__ = ["register", "unregister"]

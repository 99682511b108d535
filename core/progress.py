"""Where a long computation is, and the user's way to stop it.

Core reports its stage (`stage`) and how far into it it is (`step`) at natural boundaries: between
decoder pieces, network chunks, mesh-fit iterations. Both first call `check`, which raises `Cancelled`
once another thread (Blender's Esc, a script) called `cancel`, so the work unwinds before anything is
written. The caller reads `stage_name`, `fraction` and `overall()` from any thread.
"""
from __future__ import annotations

import threading

LOADING = "Loading audio"
TIMING = "Speech timing"
MOTION = "Motion"
FITTING = "Fitting the mesh"
WRITING = "Writing"
STAGES = (LOADING, TIMING, MOTION, FITTING, WRITING)  # in the order one animation passes them


class Cancelled(Exception):
    """The user stopped the computation: nothing was written."""


class Progress:
    """Stage and fraction of one computation, and its cancel flag (safe to read and set from another thread)."""

    def __init__(self, cancellable: bool = False) -> None:
        self.cancellable = cancellable  # someone may cancel: long native calls go where they can be stopped
        self._cancel = threading.Event()
        self.stage_name = ""
        self.fraction = 0.0  # of the current stage, 0..1

    def stage(self, name: str, fraction: float = 0.0) -> None:
        """Enter stage `name` (one of STAGES); raises Cancelled if cancelled."""
        self.check()
        self.stage_name, self.fraction = name, fraction

    def step(self, fraction: float) -> None:
        """`fraction` (0..1) of the current stage done; raises Cancelled if cancelled."""
        self.check()
        self.fraction = min(max(fraction, 0.0), 1.0)

    def check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled("Cancelled: nothing was written.")

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def overall(self) -> float:
        """0..1 over all STAGES (each counted as an equal share)."""
        if self.stage_name not in STAGES:
            return 0.0
        return (STAGES.index(self.stage_name) + self.fraction) / len(STAGES)

"""Recognition on every core: long clips are cut at pauses and decoded in worker processes (worker.py).

pocketsphinx holds the GIL, so threads do not help; each worker is a separate
Python process running `python -m core.speech.worker`, started once and kept (its
decoders stay loaded), fed pieces of 16-bit PCM over a pipe and answering with the
timed phones as JSON. The child imports this package as top-level `core` from the
folder above it, so it works the same from a checkout, `python -m core` or inside
Blender (where `sys.executable` is Blender's Python). A worker exits when its pipe
closes, i.e. with the process that started it.
"""
from __future__ import annotations

import atexit
import json
import os
import queue
import subprocess
import sys
import threading
from typing import Self

from ..progress import Cancelled, Progress

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the folder above core/
_lock = threading.Lock()
_pool: list[subprocess.Popen] = []
POLL_SECONDS = 0.05  # how often a decoding in progress reports and looks for a cancel


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _start() -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([_ROOT, *[p for p in sys.path if p]]))
    return subprocess.Popen([sys.executable, "-m", "core.speech.worker"], cwd=_ROOT, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def _workers(n: int) -> list[subprocess.Popen]:
    with _lock:
        _pool[:] = [p for p in _pool if p.poll() is None]
        while len(_pool) < n:
            _pool.append(_start())
        return _pool[:n]


@atexit.register
def shutdown() -> None:
    """Close the workers' pipes (they exit on end of input)."""
    for p in _pool:
        if p.stdin:
            p.stdin.close()
    for p in _pool:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
    _pool.clear()


class Jobs:
    """Pieces handed to the worker processes as they come, each worker fed by a thread of this process:
    the caller can go on working (Whisper decoding the next window) while earlier pieces are decoded.
    `wait` gathers the results in the order the pieces were put. Use it as a context manager: leaving it by
    an exception (a cancel) kills the workers mid-piece, as `wait` does on a cancel; leaving it otherwise
    waits for the pieces in flight.

    Kinds: 'words', 'phones' or 'align' (see worker.py)."""

    def __init__(self, kind: str, progress: Progress | None = None, workers: int | None = None):
        self.kind, self.progress = kind, progress or Progress()
        self.pieces: list[tuple[bytes, float, dict]] = []
        self.results: list = []
        self._todo: queue.Queue[int | None] = queue.Queue()
        self._taking = threading.Lock()  # under it a cancel's list of busy workers cannot miss one
        self._busy: set[subprocess.Popen] = set()
        self._stopped = False
        self._procs = _workers(max(1, min(workers or cpu_count(), cpu_count())))
        self._threads = [threading.Thread(target=self._serve, args=(p,), daemon=True) for p in self._procs]
        for t in self._threads:
            t.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind, *_) -> None:
        if kind is not None:
            self.stop()
        else:  # the threads end after their last piece, so no two ever feed the same worker
            self._no_more()
            for t in self._threads:
                t.join()

    def _no_more(self) -> None:
        """No more pieces: each feeding thread ends after its last."""
        for _ in self._threads:
            self._todo.put(None)

    def put(self, pcm: bytes, start: float = 0.0, fields: dict | None = None) -> None:
        """Queue one piece of 16-bit PCM (`start`: its place in the clip, s; `fields`: what goes with it to
        the worker, e.g. an 'align' piece's text and language)."""
        self.pieces.append((pcm, start, fields or {}))
        self.results.append(None)
        self._todo.put(len(self.pieces) - 1)

    def _serve(self, proc: subprocess.Popen) -> None:
        while True:
            k = self._todo.get()
            with self._taking:
                if k is None or self._stopped or self.progress.cancelled:
                    return
                self._busy.add(proc)
            pcm, start, fields = self.pieces[k]
            try:
                header = {**fields, "kind": self.kind, "offset": start, "bytes": len(pcm)}
                proc.stdin.write((json.dumps(header) + "\n").encode() + pcm)
                proc.stdin.flush()
                line = proc.stdout.readline()
            except (OSError, ValueError):  # its pipe broke: the worker died or was killed on cancel
                return
            if not line:  # the worker stopped: its piece stays undone
                return
            reply = json.loads(line)
            self.results[k] = (reply["phones"], reply["text"])
            with self._taking:
                self._busy.discard(proc)

    def wait(self) -> list[tuple[list | None, str]]:
        """Every piece's (phone rows, text), in order; rows are None where an 'align' piece's text did not
        fit (with 'fallback': the phone loop's rows, and text None). RuntimeError (and the pool closed) if a
        worker failed; Cancelled on `progress`'s cancel."""
        self._no_more()
        try:
            while alive := [t for t in self._threads if t.is_alive()]:
                self.progress.step(sum(r is not None for r in self.results) / max(1, len(self.results)))
                alive[0].join(POLL_SECONDS)
        except Cancelled:
            self.stop()
            raise
        if any(r is None for r in self.results):
            shutdown()
            raise RuntimeError("recognition workers failed")
        return self.results

    def stop(self) -> None:
        """Take no further piece and kill the workers mid-piece (a decoder cannot be interrupted); the idle
        ones stay in the pool, and the next Jobs starts new ones as needed."""
        with self._taking:
            self._stopped = True
            stopped = list(self._busy)
            self._no_more()
        for p in stopped:
            p.kill()
        for t in self._threads:
            t.join()
        for p in stopped:
            p.wait()
        _forget(stopped)


def map_pieces(pieces: list[tuple[bytes, float]], kind: str = "words",
               progress: Progress | None = None, fields: list[dict] | None = None) -> list[tuple[list | None, str]]:
    """Decode each (pcm16, start seconds) piece in a worker (see `Jobs`); results in order. A free worker takes
    the longest piece left, so the workers finish together."""
    order = sorted(range(len(pieces)), key=lambda k: -len(pieces[k][0]))
    with Jobs(kind, progress, len(pieces)) as jobs:
        for k in order:
            jobs.put(*pieces[k], fields[k] if fields else None)
        results = jobs.wait()
    out: list = [None] * len(pieces)
    for k, result in zip(order, results):
        out[k] = result
    return out


def _forget(stopped: list[subprocess.Popen]) -> None:
    with _lock:
        _pool[:] = [p for p in _pool if p not in stopped]


def warm_up() -> None:
    """Start one worker per core and have each build its word and English alignment decoders (0.5 s of
    silence each)."""
    n = cpu_count()
    if n > 1:
        map_pieces([(bytes(16000), 0.0)] * n)
        map_pieces([(bytes(16000), 0.0)] * n, "align", fields=[{"text": "a", "language": "en"}] * n)


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
import subprocess
import sys
import threading

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


def map_pieces(pieces: list[tuple[bytes, float]], kind: str = "words",
               progress: Progress | None = None, fields: list[dict] | None = None) -> list[tuple[list | None, str]]:
    """Decode each (pcm16, start seconds) piece in a worker ('words', 'phones' or 'align', see worker.py);
    results in order: (phone rows, text); rows are None where an 'align' piece's text did not fit.
    `fields`, one dict per piece, go with it to the worker (an 'align' piece's text and language).

    On `progress`'s cancel the workers take no further piece and those mid-piece are killed (a decoder
    cannot be interrupted); the idle ones stay in the pool, and the next call starts new ones as needed."""
    progress = progress or Progress()
    procs = _workers(min(len(pieces), cpu_count()))
    results: list = [None] * len(pieces)

    # a free worker takes the longest piece left, so the workers finish together
    queue = iter(sorted(range(len(pieces)), key=lambda k: -len(pieces[k][0])))
    taking = threading.Lock()
    busy: set[subprocess.Popen] = set()

    def serve(proc: subprocess.Popen) -> None:
        while True:
            with taking:  # under the lock a cancel's list of busy workers cannot miss this one
                k = None if progress.cancelled else next(queue, None)
                if k is None:
                    return
                busy.add(proc)
            pcm, t0 = pieces[k]
            try:
                header = {**(fields[k] if fields else {}), "kind": kind, "offset": t0, "bytes": len(pcm)}
                proc.stdin.write((json.dumps(header) + "\n").encode() + pcm)
                proc.stdin.flush()
                line = proc.stdout.readline()
            except (OSError, ValueError):  # its pipe broke: the worker died or was killed on cancel
                return
            if not line:  # the worker stopped: its piece stays undone
                return
            reply = json.loads(line)
            results[k] = (reply["phones"], reply["text"])
            with taking:
                busy.discard(proc)

    threads = [threading.Thread(target=serve, args=(p,), daemon=True) for p in procs]
    for t in threads:
        t.start()
    try:
        while alive := [t for t in threads if t.is_alive()]:
            progress.step(sum(r is not None for r in results) / len(pieces))
            alive[0].join(POLL_SECONDS)
    except Cancelled:
        with taking:
            stopped = list(busy)
        for p in stopped:
            p.kill()
        for t in threads:
            t.join()
        for p in stopped:
            p.wait()
        _forget(stopped)
        raise
    if any(r is None for r in results):
        shutdown()
        raise RuntimeError("recognition workers failed")
    return results


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


"""Progress and cancellation: stages in order, Cancelled from every long loop, nothing written when cancelled.

Esc cannot be pressed headless: a Progress that cancels itself at a chosen point stands in for it (the
operator's Esc only calls `cancel` on the same object, see operators/animate.py)."""
from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile as sf
from conftest import data_path

from core.engines import animate
from core.progress import (
    FITTING,
    LOADING,
    MOTION,
    STAGES,
    TIMING,
    WRITING,
    Cancelled,
    Progress,
)
from core.speech import pool, recognise
from core.speech.audio import load_audio

CANCEL_REACTION = 2.0  # s: a cancel mid-decoding must not wait for the pieces being decoded


class Recorder(Progress):
    """Every stage entered, and the overall fraction after each report."""

    def __init__(self) -> None:
        super().__init__()
        self.stages: list[str] = []
        self.overalls: list[float] = []

    def stage(self, name: str, fraction: float = 0.0) -> None:
        super().stage(name, fraction)
        self.stages.append(name)
        self.overalls.append(self.overall())

    def step(self, fraction: float) -> None:
        super().step(fraction)
        self.overalls.append(self.overall())


class CancelAt(Progress):
    """Cancels itself (as Esc would) at the `steps`-th check inside stage `when`."""

    def __init__(self, when: str, steps: int = 1, cancellable: bool = False) -> None:
        super().__init__(cancellable)
        self.when, self.left, self.at = when, steps, None

    def check(self) -> None:
        if self.stage_name == self.when and not self.cancelled:
            self.left -= 1
            if self.left <= 0:
                self.at = time.perf_counter()
                self.cancel()
        super().check()


def long_clip(tmp_path) -> str:
    """25 s of real speech: long enough to be decoded in pieces by the worker processes."""
    parts = [load_audio(data_path("speech", c)).samples for c in ("codetalker_man.wav", "faceformer_test.wav",
                                                                   "vocaset_sentence01.wav")]
    path = str(tmp_path / "long.wav")
    sf.write(path, np.concatenate(parts), 16000)
    return path


def test_the_stages_come_in_order(synth_clip):
    progress = Recorder()
    anim = animate(synth_clip[0], engine="phonetic", progress=progress)
    assert anim.n_frames > 0
    assert progress.stages == [LOADING, TIMING, MOTION]
    assert progress.overalls == sorted(progress.overalls) and 0 <= progress.overalls[-1] <= 1


@pytest.mark.parametrize("stage", [LOADING, TIMING, MOTION])
def test_a_cancel_stops_animate(synth_clip, stage):
    with pytest.raises(Cancelled):
        animate(synth_clip[0], engine="phonetic", progress=CancelAt(stage))


def test_a_cancel_mid_decoding_kills_only_busy_workers_and_the_pool_still_works(tmp_path):
    if pool.cpu_count() < 2:
        pytest.skip("one core: long clips are decoded in this process, not by worker processes")
    audio = load_audio(long_clip(tmp_path))
    progress = CancelAt(TIMING, steps=3)  # after the workers took their first pieces
    progress.stage(TIMING)
    with pytest.raises(Cancelled):
        recognise.recognise_words(audio, progress=progress)
    assert time.perf_counter() - progress.at < CANCEL_REACTION  # it did not wait for the pieces to finish
    assert all(p.poll() is None for p in pool._pool)  # the killed ones left the pool; the rest can work
    phones, text = recognise.recognise_words(audio)  # and the next decoding gets a working pool
    assert phones[-1].end == pytest.approx(audio.duration) and len(text.split()) > 20
    pool.shutdown()


def test_a_cancellable_short_clip_is_decoded_in_a_worker_and_stops_at_once():
    """Below LONG_SECONDS a clip is decoded in this process, where a cancel would wait for the decoder (and the
    decoder would hold the UI's GIL); a cancellable one goes to a worker: the same phones, killed at once."""
    audio = load_audio(data_path("speech", "codetalker_man.wav"))
    assert audio.duration < recognise.LONG_SECONDS
    here = recognise.recognise_words(audio, parallel=False)
    assert recognise.recognise_words(audio, progress=Progress(cancellable=True)) == here
    progress = CancelAt(TIMING, steps=2, cancellable=True)
    progress.stage(TIMING)
    with pytest.raises(Cancelled):
        recognise.recognise_words(audio, progress=progress)
    assert time.perf_counter() - progress.at < CANCEL_REACTION
    assert all(p.poll() is None for p in pool._pool)
    pool.shutdown()


def test_a_cancel_stops_the_mesh_fit():
    from core.deform.deformers import rig_mesh
    from core.geometry.meshio import read_mesh

    vertices, faces = read_mesh(data_path("meshes", "flame", "FLAME_sample.ply"))
    progress = CancelAt(FITTING, steps=5)
    progress.stage(FITTING)
    started = time.perf_counter()
    with pytest.raises(Cancelled):
        rig_mesh(vertices, faces, progress=progress)
    assert 0 < progress.fraction < 1 and time.perf_counter() - started < 30


def test_a_cancel_stops_the_network_between_chunks():
    from core.motion.neural import whisper_available

    if not whisper_available():
        pytest.skip("the Whisper-feature network (onnxruntime and its ONNX files) is not installed")
    with pytest.raises(Cancelled):
        animate(data_path("speech", "vocaset_sentence01.wav"), engine="neural-whisper", progress=CancelAt(MOTION))


def _nothing_written(scene, obj) -> bool:
    import bpy

    se = scene.sequence_editor
    strips = list(se.strips_all) if se else []
    return obj.data.shape_keys is None and not bpy.data.actions and not strips and "talkinghead_strip" not in obj


def test_the_operator_reports_every_stage_and_writes_after_computing(scene, synth_clip):
    from talkinghead.operators.animate import compute, line, prepare, write
    from test_blender import add_head

    obj = add_head()
    job = prepare(scene, obj, [line(synth_clip[0], synth_clip[1], 1)], "phonetic")
    progress = Recorder()  # the operator only calls its methods: a Progress of the checkout's core will do
    result = compute(job, progress)
    assert _nothing_written(scene, obj)  # computing alone touches no Blender data
    write(scene, obj, result, progress)
    assert progress.stages == list(STAGES) and progress.overalls == sorted(progress.overalls)
    assert len(obj.data.shape_keys.key_blocks) > 52


def test_a_cancelled_click_writes_nothing(scene, synth_clip):
    """The button's worker thread (Task) cancelled mid-way, and a cancel that comes just as the
    computation finished: no shape key, Action or strip either way."""
    from talkinghead.core.progress import (  # the extension's own copy of core
        Cancelled,
        Progress,
    )
    from talkinghead.operators.animate import Task, compute, line, prepare, write
    from test_blender import add_head

    obj = add_head()
    job = prepare(scene, obj, [line(synth_clip[0], synth_clip[1], 1)], "phonetic")
    task = Task([(obj, job)])
    task.thread.start()
    assert "Esc to cancel" in task.status()
    task.progress.cancel()  # what Esc does
    assert task.status().startswith("Cancelling")
    task.thread.join()
    assert isinstance(task.error, Cancelled) and task.done is None
    assert _nothing_written(scene, obj)
    progress = Progress()
    result = compute(job, progress)
    progress.cancel()
    with pytest.raises(Cancelled):
        write(scene, obj, result, progress)
    assert _nothing_written(scene, obj)
    task = Task([(obj, job)])  # uncancelled, the worker's result writes as a direct run would
    task.thread.start()
    task.thread.join()
    assert task.error is None and task.fraction() == pytest.approx((STAGES.index(FITTING) + 1) / len(STAGES))
    write(scene, obj, task.done[0][1], task.progress)
    assert task.status() == f"Animating '{obj.name}': {WRITING} 0%   Esc to cancel"
    assert task.progress.stage_name == WRITING and len(obj.data.shape_keys.key_blocks) > 52


def test_the_button_path_runs_in_one_go_without_a_window(scene, synth_clip):
    """Background Blender (a farm, the command line) has no event loop for the modal operator: the button's
    INVOKE path computes and writes in one go, as execute does."""
    import bpy
    from test_blender import add_head

    assert bpy.app.background
    obj = add_head()
    s = scene.talkinghead
    s.audio_path, s.transcript, s.engine = synth_clip[0], synth_clip[1], "phonetic"
    assert bpy.ops.talkinghead.animate("INVOKE_DEFAULT") == {"FINISHED"}
    assert len(obj.data.shape_keys.key_blocks) > 52

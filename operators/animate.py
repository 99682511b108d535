"""The Animate from audio button: read the panel, run core, write the result.

One click is three steps: `prepare` reads Blender (main thread); `compute` runs core and fits the rig
(no bpy, so the button runs it on a worker thread while the UI shows progress, and Esc cancels it: see
`BackgroundCompute`); `write` puts the result into Blender (main thread, only once the computation has
finished), so a cancelled or failed click leaves nothing half-written.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import bpy

from ..core.deform.deformers import DEFAULT_DEFORMER, rig_warnings
from ..core.deform.rig import Rig
from ..core.engines import animate, read_text
from ..core.errors import InputError
from ..core.face.keysets import KeyMapping, detect, load_mapping, mapping_from_preset
from ..core.output.animation import Animation, join
from ..core.output.bake import Baked, bake, bake_landmarks
from ..core.progress import FITTING, WRITING, Cancelled, Progress
from ..core.speech.languages import ENGLISH
from .add_head import is_builtin_head
from .bones import (
    PANEL_MAPPING,
    BoneRig,
    Mapping,
    apply_bones,
    bone_rig,
    deforming_armature,
    remove_bones,
)
from .rig import RigSource, build_rig, rig_source
from .sliders import get_emotions
from .writer import apply_animation, apply_own, own_key_names, remove_animation

TARGETS = ("ours", "own")  # build our 52 ARKit keys / drive the character's own face keys


def check_target(obj: bpy.types.Object | None) -> None:
    """Raise InputError unless `obj` is a mesh we can animate."""
    if obj is None:
        raise InputError("No object selected: select the face mesh to animate (or add the built-in head).")
    if obj.type != "MESH":
        raise InputError(f"'{obj.name}' is a {obj.type.lower()}, not a mesh: select the face mesh to animate.")
    if len(obj.data.vertices) < 100:
        raise InputError(f"'{obj.name}' has {len(obj.data.vertices)} vertices: too few for a face "
                         "(select the face mesh, or add the built-in head).")


def own_mapping(obj: bpy.types.Object, mapping: Mapping = "") -> KeyMapping:
    """Which of `obj`'s own keys play our motion: the `mapping` preset (edited or a file), else what their names say.

    No known key set is an error, not a quiet fall-back to our keys: the artist asked for the character's
    own keys, and ours would add 52 keys to their mesh.
    """
    names = own_key_names(obj)
    if isinstance(mapping, dict):
        return mapping_from_preset(mapping, names, PANEL_MAPPING)
    if mapping:
        return load_mapping(bpy.path.abspath(mapping), names)
    found = detect(names)
    if found.empty:
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "") if names else "no shape keys"
        raise InputError(f"'{obj.name}' has no face keys we know ({shown}): we look for ARKit names (jawOpen, "
                         "Face.JawOpen, eyeBlink_L), Oculus/VRChat visemes (viseme_PP, vrc.v_pp), VRM (A I U E O, "
                         "Blink, Fcl_MTH_A) and Character Creator visemes (V_Open). Give a mapping preset, or "
                         "use target 'ours' to add our ARKit keys (a bone face rig: give the mesh an Armature modifier).")
    return found


def is_bone_rig(obj: bpy.types.Object, mapping: Mapping = "") -> bool:
    """Target 'own' means the bone poses for an armature, or for a mesh an armature deforms whose own keys are
    no set we know (with a `mapping` preset: that has no shape keys of its own, so the preset names markers)."""
    if obj.type == "ARMATURE":
        return True
    if deforming_armature(obj) is None:
        return False
    names = own_key_names(obj)
    return not names if mapping else detect(names).empty


def remove_all(scene: bpy.types.Scene, obj: bpy.types.Object) -> bool:
    """Everything of ours off `obj` and, for a mesh an armature deforms, off that armature too."""
    armature = obj if obj.type == "ARMATURE" else deforming_armature(obj) if obj.type == "MESH" else None
    found = remove_animation(scene, obj)
    if armature is not None:
        found |= remove_bones(armature)
        if armature is not obj:
            found |= remove_animation(scene, armature)
    return found


def scene_fps(scene: bpy.types.Scene) -> float:
    return scene.render.fps / scene.render.fps_base


@dataclass
class Line:
    """One clip an object speaks, from `start_frame` on."""

    audio: str  # absolute path
    text: str | None  # the transcript itself (a .txt already read)
    start_frame: int


def line(audio: str, text: str | None, start_frame: int) -> Line:
    """A Line from a (possibly blend-relative) audio path and a transcript or .txt path."""
    return Line(bpy.path.abspath(audio) if audio else audio, read_text(text), start_frame)


@dataclass
class Job:
    """One object's animation as read from Blender: all `compute` needs, and no bpy data."""

    name: str  # the object's, for messages
    lines: list[Line]  # one, or (Animate all) a character's several lines, joined on one timeline
    engine: str
    fps: float
    emotions: dict[str, float]
    blink: bool
    language: str
    baked_shapes: int  # > 0: baked mode with that many basis shapes
    builtin: bool  # the built-in head: baked mode can bake the S2L landmark motion itself
    rig: RigSource
    own: KeyMapping | None = None  # target "own": the character's keys that play our motion
    bones: BoneRig | None = None  # target "own" on a bone face rig: its poses and the mesh they move


@dataclass
class Result:
    """What `compute` made of a Job: written by `write`."""

    job: Job
    anim: Animation
    rig: Rig
    baked: Baked | None


def prepare(scene: bpy.types.Scene, obj: bpy.types.Object | None, lines: list[Line], engine: str,
            emotions: dict[str, float] | None = None, blink: bool = True, baked_shapes: int = 0,
            deformer: str = DEFAULT_DEFORMER, convention: str = "", language: str = ENGLISH, target: str = "ours",
            mapping: Mapping = "") -> Job:
    """Read what animating `obj` needs from Blender (raises InputError on a bad target, before any work: a bad
    preset changes nothing). `target` "own": drive the mesh's own face keys (found by name, or named by the
    `mapping` preset) instead of ours."""
    if not (target == "own" and obj is not None and obj.type == "ARMATURE"):
        check_target(obj)
    if target not in TARGETS:
        raise InputError(f"Unknown target '{target}': use {' or '.join(TARGETS)}.")
    own = bones = None
    if target == "own":
        if baked_shapes > 0:
            raise InputError("Baked mode makes shape keys of its own: use target 'ours' with it.")
        if is_bone_rig(obj, mapping):
            bones = bone_rig(obj, mapping)
            obj = bones.mesh  # the poses are fitted to, and measured on, the mesh the armature deforms
            check_target(obj)
        else:
            own = own_mapping(obj, mapping)
    return Job(obj.name, lines, engine, scene_fps(scene), get_emotions(obj) if emotions is None else emotions,
               blink, language, baked_shapes, is_builtin_head(obj), rig_source(obj, deformer, convention), own,
               bones)


def compute(job: Job, progress: Progress | None = None) -> Result:
    """Speech → motion → rig → (baked) curves; touches no Blender data, so it may run on any thread.
    Raises InputError on bad input and Cancelled when `progress` is cancelled."""
    progress = progress or Progress()
    alone = len(job.lines) == 1
    anims = [animate(ln.audio, ln.text, job.engine, job.fps, job.emotions, ln.start_frame, blink=job.blink and alone,
                     language=job.language, progress=progress) for ln in job.lines]
    anim = anims[0] if alone else join(anims, job.blink)
    progress.stage(FITTING)
    rig = build_rig(job.rig, progress)
    baked = None
    if job.baked_shapes > 0 and anim.landmark_motion is not None and job.builtin:
        baked = bake_landmarks(anim.landmark_motion, anim.weights, rig.deltas, job.baked_shapes)  # S2L → S2D
    elif job.baked_shapes > 0:
        baked = bake(anim.weights, rig.deltas, job.baked_shapes)
    progress.step(1.0)
    return Result(job, anim, rig, baked)


def write(scene: bpy.types.Scene, obj: bpy.types.Object, result: Result, progress: Progress | None = None,
          sound: bool = True) -> list[str]:
    """Write `result` onto `obj` (main thread); returns warnings for the user. Without `sound`, no strip is added."""
    (progress or Progress()).stage(WRITING)  # the last moment a cancel is heard: nothing is written yet
    own, bones = result.job.own, result.job.bones
    if bones is not None:
        obj = bones.mesh
    check_unchanged(obj, result)
    if bones is None and (armature := deforming_armature(obj)) is not None:  # our poses go: our keys play now
        remove_bones(armature)
        remove_animation(scene, armature)
    if bones is not None:
        fit, warnings = apply_bones(scene, bones, result.anim, result.rig, sound=sound)
        result.anim.metadata["timing"] += (f"; bone poses of {bones.source}: {bones.mapping.summary()}, "
                                           f"fit error {fit.mean_fit_error:.0%}")
    elif own is not None:
        fit, warnings = apply_own(scene, obj, result.anim, result.rig, own, sound=sound)
        result.anim.metadata["timing"] += f"; own keys: {own.summary()}, fit error {fit.mean_fit_error:.0%}"
    else:
        warnings = apply_animation(scene, obj, result.anim, result.rig.deltas, sound=sound, baked=result.baked)
    warnings += rig_warnings(result.rig, obj.name)
    if result.baked is not None:
        warnings.append(f"Baked into {len(result.baked.basis)} shapes: reconstruction error mean "
                        f"{result.baked.mean_error_mm:.3f} mm, max {result.baked.max_error_mm:.2f} mm")
    unknown = result.anim.metadata.get("unknown_words")
    if unknown:
        warnings.append(f"Transcript words skipped (no pronunciation): {', '.join(unknown)}")
    if result.anim.metadata.get("warning"):
        warnings.append(result.anim.metadata["warning"])
    return warnings


def check_unchanged(obj: bpy.types.Object, result: Result) -> None:
    """Raise InputError if `obj` was deleted or its vertex count changed since `prepare` read it."""
    try:
        count = len(obj.data.vertices)
    except ReferenceError:
        raise InputError(f"'{result.job.name}' was deleted while it was being animated.") from None
    if count != result.rig.deltas.shape[1]:
        raise InputError(f"'{obj.name}' changed its vertex count while it was being animated: animate it again.")


def run(scene: bpy.types.Scene, obj: bpy.types.Object | None, audio: str, text: str | None, engine: str,
        start_frame: int, emotions: dict[str, float] | None = None, blink: bool = True, baked_shapes: int = 0,
        deformer: str = DEFAULT_DEFORMER, convention: str = "", language: str = ENGLISH, target: str = "ours",
        mapping: str = "") -> tuple[float, str, list[str]]:
    """Animate `obj` from `audio` in one go (scripts, CLI, batch); returns (seconds taken, how the timing was
    found, warnings).

    `baked_shapes` > 0: baked mode with that many basis shapes instead of the ARKit rig. `convention`: a
    landmark convention file (see core.landmarks) for a mesh other than the built-in head. `target`,
    `mapping`: see `prepare`.
    """
    t = time.perf_counter()
    job = prepare(scene, obj, [line(audio, text, start_frame)], engine, emotions, blink, baked_shapes, deformer,
                  convention, language, target, mapping)
    result = compute(job)
    warnings = write(scene, obj, result)
    return time.perf_counter() - t, result.anim.metadata["timing"], warnings


def editing(settings, obj: bpy.types.Object | None) -> bool:
    """Whether the panel's mapping rows are `obj`'s (then Animate uses them instead of names or the file)."""
    return obj is not None and settings.mapping_for == obj.name


def panel_mapping(settings, obj: bpy.types.Object | None) -> Mapping:
    """What Animate uses for `obj`: its edited rows as a preset (channel → key), else the preset file's path.
    InputError: no rows, a row without a key, a channel twice."""
    if not editing(settings, obj):
        return settings.mapping_path
    preset: dict[str, str] = {}
    for i, row in enumerate(settings.mapping_rows, 1):
        if not row.key.strip():
            raise InputError(f"Row {i} of {PANEL_MAPPING} ({row.channel}) names no key: pick one, or remove the row.")
        if row.channel in preset:
            raise InputError(f"{PANEL_MAPPING.capitalize()} gives channel {row.channel} twice (rows for "
                             f"'{preset[row.channel]}' and '{row.key}'): remove one.")
        preset[row.channel] = row.key
    if not preset:
        raise InputError(f"{PANEL_MAPPING.capitalize()} has no rows: add a row per channel, or Reset to find the "
                         "keys by their names.")
    return preset


def panel_job(context: bpy.types.Context, obj: bpy.types.Object | None, lines: list[Line]) -> Job:
    """A Job for `obj` with the panel's settings and the add-on's preferences."""
    s = context.scene.talkinghead
    prefs = context.preferences.addons.get(__package__.rpartition(".")[0])
    baked = s.baked_shapes if s.output == "BAKED" and s.target == "ours" else 0  # 'own' hides the choice
    return prepare(context.scene, obj, lines, s.engine,
                   blink=prefs.preferences.blinks if prefs else True, baked_shapes=baked, deformer=s.deformer,
                   convention=s.landmark_convention, language=s.language, target=s.target,
                   mapping=panel_mapping(s, obj))


POLL_SECONDS = 0.1  # how often the UI looks at a computation's progress
Done = list[tuple[bpy.types.Object, Result | InputError]]  # each object and its result (or, alone, its error)


class Task:
    """Jobs to compute and what they left: plain Python, so a worker thread can run it without touching bpy.

    With `each_on_its_own`, a job's InputError becomes its result and the others go on.
    """

    def __init__(self, jobs: list[tuple[bpy.types.Object, Job]], each_on_its_own: bool = False) -> None:
        self.jobs, self.each_on_its_own = jobs, each_on_its_own
        self.progress = Progress(cancellable=True)
        self.current = 0  # the job being computed
        self.done: Done | None = None
        self.error: Exception | None = None
        self.thread = threading.Thread(target=self._work, daemon=True)

    def compute(self) -> Done:
        done = []
        for k, (obj, job) in enumerate(self.jobs):
            self.current = k
            try:
                done.append((obj, compute(job, self.progress)))
            except InputError as exc:
                if not self.each_on_its_own:
                    raise
                done.append((obj, exc))
        return done

    def _work(self) -> None:
        """On the worker thread: the results, or the error that stopped them (the main thread reports it)."""
        try:
            self.done = self.compute()
        except Exception as exc:  # noqa: BLE001 (handed to the main thread as is: Cancelled, InputError, a bug)
            self.error = exc

    def fraction(self) -> float:
        """0..1 over all jobs."""
        return (min(self.current, len(self.jobs) - 1) + self.progress.overall()) / len(self.jobs)

    def status(self) -> str:
        """The status bar's line."""
        if self.progress.cancelled:
            return "Cancelling: nothing will be written..."
        k, n, p = min(self.current, len(self.jobs) - 1), len(self.jobs), self.progress
        which = f" ({k + 1}/{n})" if n > 1 else ""
        return f"Animating '{self.jobs[k][1].name}'{which}: {p.stage_name} {p.fraction:.0%}   Esc to cancel"


class BackgroundCompute:
    """An operator that animates objects: compute on a worker thread with progress, write on the main thread.

    Subclasses give `jobs` ((object, Job) pairs read from Blender) and `written` (writes the results, reports).
    From the UI (`invoke`) the computation runs on a worker thread, core never touching bpy, while a
    window-manager timer polls it: the progress bar and the status bar show the stage, and Esc sets the
    cancel flag; the operator ends CANCELLED once the worker stopped, with nothing written. Blender data is
    written only after every job computed, on the main thread, so a click is one undo step or nothing.
    `execute` (scripts, command line, and background mode, where modal operators do not run) does the same
    in one go. With `each_on_its_own` (see Task), one object's bad input does not stop the others.
    """

    each_on_its_own = False

    def jobs(self, context) -> list[tuple[bpy.types.Object, Job]]:
        raise NotImplementedError

    def written(self, context, done: Done, seconds: float, progress: Progress) -> None:
        raise NotImplementedError

    def execute(self, context):
        started = time.perf_counter()
        try:
            task = Task(self.jobs(context), self.each_on_its_own)
            self.written(context, task.compute(), time.perf_counter() - started, task.progress)
        except InputError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}

    def invoke(self, context, event):
        if bpy.app.background or context.window is None:  # no event loop to run a modal operator
            return self.execute(context)
        self._started = time.perf_counter()
        try:
            self._task = Task(self.jobs(context), self.each_on_its_own)
        except InputError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self._task.thread.start()
        wm = context.window_manager
        self._timer = wm.event_timer_add(POLL_SECONDS, window=context.window)
        wm.progress_begin(0.0, 1.0)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        task = self._task
        if event.type == "ESC" and event.value == "PRESS":
            task.progress.cancel()
        if task.thread.is_alive():
            if event.type in {"TIMER", "ESC"}:
                context.window_manager.progress_update(task.fraction())
                if context.workspace is not None:
                    context.workspace.status_text_set(task.status())
            return {"RUNNING_MODAL"}  # other events wait: nothing may change the scene under the computation
        self._end(context)
        try:
            if task.error is not None:
                raise task.error
            self.written(context, task.done, time.perf_counter() - self._started, task.progress)
        except Cancelled as exc:
            self.report({"INFO"}, str(exc))
            return {"CANCELLED"}
        except InputError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}

    def cancel(self, context):
        """Blender ends the operator (a file is loaded, the window closes): stop the worker, write nothing."""
        self._task.progress.cancel()
        self._task.thread.join()
        self._end(context)

    def _end(self, context) -> None:
        wm = context.window_manager
        wm.event_timer_remove(self._timer)
        wm.progress_end()
        if context.workspace is not None:
            context.workspace.status_text_set(None)


class TALKINGHEAD_OT_animate(BackgroundCompute, bpy.types.Operator):
    """Animate the selected face from the audio clip: ARKit shape keys (or its own face keys), an Action and a
    sound strip (shows progress; Esc cancels, leaving the scene as it was)"""

    bl_idname = "talkinghead.animate"
    bl_label = "Animate from Audio"
    bl_options = {"REGISTER", "UNDO"}

    def jobs(self, context) -> list[tuple[bpy.types.Object, Job]]:
        s, obj = context.scene.talkinghead, context.active_object
        return [(obj, panel_job(context, obj, [line(s.audio_path, s.transcript or None, s.start_frame)]))]

    def written(self, context, done: Done, seconds: float, progress: Progress) -> None:
        ((obj, result),) = done
        for warning in write(context.scene, obj, result, progress):
            self.report({"WARNING"}, warning)
        self.report({"INFO"}, f"Animated '{obj.name}' in {seconds:.1f} s ({result.anim.metadata['timing']})")


class TALKINGHEAD_OT_remove_animation(bpy.types.Operator):
    """Remove our animation from the selected face: our Action, keys and sound strip (its own keys and Actions stay)"""

    bl_idname = "talkinghead.remove_animation"
    bl_label = "Remove Animation"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        obj = context.active_object
        if obj is None or not remove_all(context.scene, obj):
            self.report({"INFO"}, "Nothing of ours to remove on the selected object.")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Removed our animation from '{obj.name}'.")
        return {"FINISHED"}

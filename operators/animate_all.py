"""Animate all: every sound strip in the scene's sequencer that names a character animates that character.

A strip names a mesh object of the scene by a custom property `talkinghead_character` (the object's name),
else by its own name: the object's name exactly, or followed by a separator ("Alice.001", "Alice - line 3");
the longest such name wins ("Alice Smith - hi" is Alice Smith's, not Alice's). Our own strips (marked by
writer.py) play lines already animated and are left out, and so are muted strips. Each character speaks its
strips' sound files from their frames (several strips: one timeline, see core.output.animation.join), with
the panel's settings and a transcript from a .txt beside the clip where there is one. The user's strips are
left exactly as they are and recorded as the characters' own, so no strip of ours plays the same lines.
"""
from __future__ import annotations

import os

import bpy

from ..core.errors import InputError
from ..core.progress import Progress
from .animate import (
    BackgroundCompute,
    Done,
    Job,
    Line,
    check_unchanged,
    line,
    panel_job,
    write,
)
from .writer import STRIP_MARK, use_strip

CHARACTER_PROP = "talkinghead_character"  # on a user's strip: the name of the object that speaks it
SEPARATORS = " ._-:,;([#"  # what may follow an object's name at the start of a strip's name


def character_of(strip, meshes: dict[str, bpy.types.Object]) -> bpy.types.Object | None:
    """The mesh object `strip` names (see the module doc), or None."""
    if CHARACTER_PROP in strip:
        named = strip[CHARACTER_PROP]  # the object's name, or the object itself (an ID property)
        return meshes.get(named.name if isinstance(named, bpy.types.Object) else str(named))
    name = strip.name
    if name in meshes:
        return meshes[name]
    named = [n for n in meshes if name.startswith(n) and name[len(n)] in SEPARATORS]
    return meshes[max(named, key=len)] if named else None


def map_strips(scene: bpy.types.Scene) -> tuple[dict[bpy.types.Object, list], list[tuple[object, str]]]:
    """(character → its sound strips by start frame, [(strip, why it animates nobody)]) for the scene's
    sequencer; our own strips are in neither."""
    meshes = {o.name: o for o in scene.objects if o.type == "MESH"}
    se = scene.sequence_editor
    everything = (se.strips_all if hasattr(se, "strips_all") else se.sequences_all) if se else []
    characters: dict[bpy.types.Object, list] = {}
    unmatched = []
    for strip in everything:
        if strip.type != "SOUND" or STRIP_MARK in strip:
            continue
        obj = character_of(strip, meshes)
        if obj is None:
            named = strip.get(CHARACTER_PROP)
            unmatched.append((strip, f"its {CHARACTER_PROP} '{named}' is no mesh object in this scene" if named
                              is not None else "its name starts with no mesh object's name"))
        elif strip.mute:
            unmatched.append((strip, f"it is muted ('{obj.name}' was not animated from it)"))
        else:
            characters.setdefault(obj, []).append(strip)
    for strips in characters.values():
        strips.sort(key=lambda s: s.frame_start)
    return characters, unmatched


def strip_line(strip) -> Line:
    """The Line a sound strip plays: its file from its first frame (where the clip's own start sits),
    with the transcript in a .txt beside the file, if any."""
    sound = strip.sound
    if sound is None or not sound.filepath:
        raise InputError(f"Strip '{strip.name}' has no sound file.")
    if sound.packed_file is not None:
        raise InputError(f"Strip '{strip.name}' plays a sound packed into the .blend: unpack it "
                         "(File > External Data > Unpack Resources) to animate from it.")
    path = bpy.path.abspath(sound.filepath, library=sound.library)
    beside = os.path.splitext(path)[0] + ".txt"
    return line(path, beside if os.path.isfile(beside) else None, round(strip.frame_start))


class TALKINGHEAD_OT_animate_all(BackgroundCompute, bpy.types.Operator):
    """Animate every character that has sound strips in the sequencer: a strip named after a mesh object
    ('Alice', 'Alice.001', 'Alice - line 3') or with a custom property talkinghead_character naming it.
    Each speaks its strips from their frames; the strips are left as they are (Esc cancels)"""

    bl_idname = "talkinghead.animate_all"
    bl_label = "Animate All Strips"
    bl_options = {"REGISTER", "UNDO"}
    each_on_its_own = True

    def jobs(self, context) -> list[tuple[bpy.types.Object, Job]]:
        characters, unmatched = map_strips(context.scene)
        self._notes = [f"Strip '{strip.name}' animates nobody: {why}." for strip, why in unmatched]
        self._strips = {obj: [s.name for s in strips] for obj, strips in characters.items()}  # names: a strip
        # is no ID, so no reference to it is kept while the computation runs
        jobs = []
        for obj, strips in characters.items():
            try:
                jobs.append((obj, panel_job(context, obj, [strip_line(s) for s in strips])))
            except InputError as exc:
                self._notes.append(f"'{obj.name}' was not animated: {exc}")
        if not jobs:
            raise InputError(" ".join(self._notes) if self._notes else
                             "No sound strips in the sequencer: add a strip named after the face mesh it speaks "
                             "for ('Alice', 'Alice - line 3'), or give it a custom property "
                             f"{CHARACTER_PROP} with the object's name.")
        return jobs

    def written(self, context, done: Done, seconds: float, progress: Progress) -> None:
        scene = context.scene
        good = [(obj, result) for obj, result in done if not isinstance(result, InputError)]
        notes = self._notes + [f"'{obj.name}' was not animated: {result}" for obj, result in done
                               if isinstance(result, InputError)]
        if not good:
            raise InputError(" ".join(notes))
        for obj, result in good:  # all checked before any is written: a click writes all of it or nothing
            check_unchanged(obj, result)
        end = scene.frame_end
        for obj, result in good:
            strips = self._strips[obj]
            for warning in write(scene, obj, result, progress, sound=False):
                self.report({"WARNING"}, f"{obj.name}: {warning}")
            use_strip(scene, obj, strips[0])
            end = max(end, result.anim.start_frame + result.anim.n_frames - 1)
            self.report({"INFO"}, f"Animated '{obj.name}' from {', '.join(repr(s) for s in strips)} "
                                  f"(frame {result.anim.start_frame} on)")
        scene.frame_end = end  # every character's lines play to their end
        for note in notes:
            self.report({"WARNING"}, note)
        self.report({"INFO"}, f"Animated {len(good)} character(s) in {seconds:.1f} s")

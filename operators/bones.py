"""Target "own" on a bone face rig: the armature's own face poses play the speech.

The poses are an Action of the user's whose pose markers name visemes or ARKit shapes, or the file's pose
assets of those names (core/output/poses.py). Each pose is measured on the face mesh Blender deforms with
it (a temporary copy of the armature and mesh: the user's objects, pose and Actions are only read), the
per-frame pose weights are fitted as for shape keys (retarget.py), and the blended bone transforms are
keyed in our own Action on the armature (`talkinghead_action`), with the keyed bones' transforms before
(`talkinghead_pose`) recorded for Remove Animation to put back. Our Action becomes the armature's active
Action when it has none, or when its active Action holds the poses itself (it would hold the face in a
pose: it is recorded and put back on removal); under any other Action of the user's ours plays from an
NLA track.
"""
from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from ..core.deform.rig import Rig
from ..core.errors import InputError
from ..core.face.keysets import KeyMapping, mapping_from_preset, read_preset
from ..core.output.animation import Animation
from ..core.output.poses import (
    PROP_SIZE,
    PoseLibrary,
    blend,
    library,
    parse_path,
    pose_mapping,
)
from ..core.output.retarget import Retarget, lip_pairs, region_weights, retarget
from .writer import (
    ACTION_PROP,
    NLA_TRACK,
    SLOTTED,
    _new_fcurve,
    add_sound,
    play_on_track,
    remove_animation,
)

POSE_PROP = "talkinghead_pose"  # on the armature: the keyed bones' transforms before our first run
REPLACED_PROP = "talkinghead_replaced_action"  # on the armature: its active Action (the pose library) we replaced
REPLACED_SLOT_PROP = "talkinghead_replaced_slot"
Mapping = str | dict[str, str]  # target "own": a preset file's path, or the panel's edited preset (channel → key)
PANEL_MAPPING = "the panel's mapping"  # how errors name the edited preset


@dataclass
class BoneRig:
    """A face mesh, the armature deforming it, where its poses are (`actions`: the pose Action, or the pose
    assets; `source` names them for messages) and what they play."""

    mesh: bpy.types.Object
    armature: bpy.types.Object
    actions: tuple[bpy.types.Action, ...]
    source: str
    library: PoseLibrary
    mapping: KeyMapping


def deforming_armature(obj: bpy.types.Object) -> bpy.types.Object | None:
    """The armature of `obj`'s first enabled Armature modifier, if any."""
    return next((m.object for m in obj.modifiers if m.type == "ARMATURE" and m.object is not None
                 and m.object.type == "ARMATURE" and m.show_viewport), None)


def face_mesh(armature: bpy.types.Object) -> bpy.types.Object:
    """The mesh `armature` deforms with the most vertices (the face, rather than teeth or eyes)."""
    meshes = [o for o in bpy.data.objects if o.type == "MESH" and deforming_armature(o) == armature]
    if not meshes:
        raise InputError(f"Armature '{armature.name}' deforms no mesh (no Armature modifier names it): select the "
                         "face mesh it deforms, or add one.")
    return max(meshes, key=lambda o: len(o.data.vertices))


def _fcurves(action: bpy.types.Action, armature: bpy.types.Object) -> list:
    """The Action's F-curves for the armature: its slot's when the armature plays it, else the first slot's
    with bone curves (Blender < 4.4: the Action's own)."""
    if not SLOTTED:
        return list(action.fcurves)
    ad = armature.animation_data
    slots = [ad.action_slot] if ad is not None and ad.action == action and ad.action_slot else []
    slots += [s for s in action.slots if s.target_id_type == "OBJECT"]
    for slot in slots:
        curves = [fc for layer in action.layers for strip in layer.strips
                  if (bag := strip.channelbag(slot)) is not None for fc in bag.fcurves]
        if any(parse_path(fc.data_path) for fc in curves):
            return curves
    return []


def _bone_curves(action: bpy.types.Action, armature: bpy.types.Object) -> dict[tuple[str, str, int], object]:
    """(bone, property, index) → F-curve, for the transforms of bones this armature has."""
    bones, out = armature.pose.bones, {}
    for fc in _fcurves(action, armature):
        found = parse_path(fc.data_path)
        if found and found[0] in bones and fc.array_index < PROP_SIZE[found[1]]:
            out[(*found, fc.array_index)] = fc
    return out


def read_library(action: bpy.types.Action, armature: bpy.types.Object) -> PoseLibrary:
    """The poses at the Action's markers, for the bones this armature has."""
    curves = _bone_curves(action, armature)
    return library({m.name: {c: fc.evaluate(m.frame) for c, fc in curves.items()} for m in action.pose_markers})


def read_assets(armature: bpy.types.Object) -> tuple[tuple[bpy.types.Action, ...], PoseLibrary]:
    """The pose assets of this file (Actions marked as assets) that move this armature's bones, each pose as
    keyed at its first frame, named after its Action."""
    actions, samples = [], {}
    for action in sorted(bpy.data.actions, key=lambda a: a.name):
        curves = _bone_curves(action, armature) if action.asset_data is not None else {}
        if curves:
            actions.append(action)
            samples[action.name] = {c: fc.evaluate(action.frame_range[0]) for c, fc in curves.items()}
    return tuple(actions), library(samples)


def bone_rig(obj: bpy.types.Object, mapping: Mapping = "") -> BoneRig:
    """The bone rig `obj` belongs to (an armature, or a mesh one deforms) and its poses: the armature's active
    Action if its markers name poses, else the first other Action (by name) whose do, else the file's pose
    assets for its bones. `mapping`: a preset naming the poses (channel → marker or asset name) instead: a file's
    path, or the panel's edited preset itself."""
    armature = obj if obj.type == "ARMATURE" else deforming_armature(obj)
    if armature is None:
        raise InputError(f"'{obj.name}' has no face keys we know and no Armature modifier: select a face mesh with "
                         "shape keys, or one an armature with face poses deforms.")
    mesh = face_mesh(armature) if obj.type == "ARMATURE" else obj
    ad = armature.animation_data
    active = ad.action if ad is not None else None
    candidates = [a for a in [active, *sorted(bpy.data.actions, key=lambda a: a.name)]
                  if a is not None and len(a.pose_markers)]
    found = [((a,), f"the pose Action '{a.name}'", read_library(a, armature)) for a in dict.fromkeys(candidates)]
    assets, lib = read_assets(armature)
    found.append((assets, "the pose assets", lib))
    edited = isinstance(mapping, dict)
    preset = mapping if edited else read_preset(bpy.path.abspath(mapping)) if mapping else None
    named = PANEL_MAPPING if edited else f"mapping preset {mapping}"
    problems = []
    for actions, source, lib in found:
        if not lib.channels:
            continue
        try:
            names = (mapping_from_preset(preset, list(lib.poses), named, f"poses {source}")
                     if preset is not None else pose_mapping(lib))
        except InputError as exc:
            problems.append(f"{source}: {exc}")
            continue
        return BoneRig(mesh, armature, actions, source, lib, names)
    raise InputError(f"No face poses for armature '{armature.name}': " + (" ".join(problems) if problems else
                     "give it an Action whose pose markers (Pose Markers in the Action Editor) name a pose per viseme "
                     "or ARKit shape (PP, aa, O, ... or jawOpen), keyed on its bones at the marker's frame, or pose "
                     "assets of those names in this file."))


def _set_pose(armature: bpy.types.Object, lib: PoseLibrary, values: np.ndarray) -> None:
    col = 0
    for bone, prop in lib.channels:
        size = PROP_SIZE[prop]
        setattr(armature.pose.bones[bone], prop, values[col:col + size])
        col += size


def pose_deltas(rig: BoneRig, names) -> dict[str, np.ndarray]:
    """Pose → N×3: how far the face mesh's vertices move (its own frame) from the rest pose to that pose.

    Measured on copies of the armature (without its animation) and of the mesh object (sharing its mesh data),
    deformed by Blender itself: any rig works (constraints, bone chains, drivers within the armature). The
    copy's modifiers after its Armature modifier (a Subdivision Surface, say) are left out: we key bones, not
    what those make of them, and the fit works on the mesh's own vertices."""
    scene = bpy.context.scene
    armature, mesh = rig.armature.copy(), rig.mesh.copy()
    armature.animation_data_clear()
    deformer = next(m for m in mesh.modifiers if m.type == "ARMATURE" and m.object == rig.armature)
    deformer.object = armature
    for m in list(mesh.modifiers)[list(mesh.modifiers).index(deformer) + 1:]:
        mesh.modifiers.remove(m)
    scene.collection.objects.link(armature)
    scene.collection.objects.link(mesh)
    try:
        depsgraph = bpy.context.evaluated_depsgraph_get()

        def evaluate(values: np.ndarray) -> np.ndarray:
            _set_pose(armature, rig.library, values)
            depsgraph.update()
            evaluated = mesh.evaluated_get(depsgraph)
            data = evaluated.to_mesh()
            co = np.empty(len(data.vertices) * 3, np.float64)
            if len(co) != 3 * len(rig.mesh.data.vertices):
                evaluated.to_mesh_clear()
                raise InputError(f"The modifiers of '{rig.mesh.name}' before its Armature modifier change its "
                                 "vertices: move the Armature modifier first.")
            data.vertices.foreach_get("co", co)
            evaluated.to_mesh_clear()
            return co.reshape(-1, 3)

        rest = evaluate(rig.library.rest)
        return {n: (evaluate(rig.library.poses[n]) - rest).astype(np.float32) for n in names}
    finally:
        bpy.data.objects.remove(mesh)
        bpy.data.objects.remove(armature)


def _record_pose(armature: bpy.types.Object, columns) -> None:
    """The keyed bones' transforms as they are now, unless an earlier run recorded them already."""
    recorded = {bone: dict(props) for bone, props in armature.get(POSE_PROP, {}).items()}
    for bone, prop, _ in columns:
        props = recorded.setdefault(bone, {})
        if prop not in props:
            props[prop] = list(getattr(armature.pose.bones[bone], prop))
    armature[POSE_PROP] = recorded


def _assign(armature: bpy.types.Object, action: bpy.types.Action, slot, poses, frame_start: int) -> str:
    """Our Action plays on the armature (see the module's note); returns how."""
    ad = armature.animation_data or armature.animation_data_create()
    for track in [t for t in ad.nla_tracks if t.name == NLA_TRACK]:
        ad.nla_tracks.remove(track)
    if ad.action is not None and ad.action in poses:
        armature[REPLACED_PROP] = ad.action
        armature[REPLACED_SLOT_PROP] = ad.action_slot.identifier if SLOTTED and ad.action_slot else ""
        ad.action = None
    if ad.action is None:
        ad.action = action
        if SLOTTED:
            ad.action_slot = slot
        return "replaced" if REPLACED_PROP in armature else "active action"
    return play_on_track(ad, action, slot, frame_start)


def write_pose_action(rig: BoneRig, start_frame: int, columns, values: np.ndarray) -> str:
    """One F-curve per keyed (bone, property, index), a key at every frame from `start_frame`."""
    armature = rig.armature
    _remove_ours(armature)
    action = bpy.data.actions.new(f"TalkingHead.{armature.name}")
    armature[ACTION_PROP] = action
    slot = action.slots.new(id_type="OBJECT", name=armature.name) if SLOTTED else None
    n = len(values)
    co = np.empty((n, 2), np.float32)
    co[:, 0] = start_frame + np.arange(n, dtype=np.float32)
    for j, (bone, prop, index) in enumerate(columns):
        fc = _new_fcurve(action, slot, f'pose.bones["{bpy.utils.escape_identifier(bone)}"].{prop}', index)
        co[:, 1] = values[:, j]
        fc.keyframe_points.add(n)
        fc.keyframe_points.foreach_set("co", co.ravel())
        fc.keyframe_points.foreach_set("interpolation", np.ones(n, np.int32))  # LINEAR
        fc.update()
    return _assign(armature, action, slot, rig.actions, start_frame)


def apply_bones(scene: bpy.types.Scene, rig: BoneRig, anim: Animation, face: Rig,
                sound: bool = True) -> tuple[Retarget, list[str]]:
    """Play `anim` on the armature's face poses: fit the pose weights on the deformed mesh, key the blend."""
    names = rig.mapping.keys
    fit = retarget(rig.mapping, pose_deltas(rig, names), face.deltas, anim.combined_weights(),
                   region_weights(face.vertices, face.landmark_points()), lip_pairs(face.landmarks))
    moved = rig.library.moved(fit.keys)
    columns = [c for c, m in zip(rig.library.columns(), moved, strict=True) if m]
    if not columns:
        raise InputError(f"The poses of {rig.source} move no bone of '{rig.armature.name}' away from the "
                         "rest pose: key the bones in the poses.")
    values = blend(rig.library, fit.keys, fit.weights)[:, moved]
    remove_animation(scene, rig.mesh)  # our keys of a run with another target: the poses play now
    _record_pose(rig.armature, columns)
    warnings = []
    how = write_pose_action(rig, anim.start_frame, columns, values)
    if how == "NLA track":
        warnings.append(f"'{rig.armature.name}' already plays your own Action: ours is on the NLA track "
                        f"'{NLA_TRACK}' beneath it (bones your Action keys follow yours).")
    elif how == "replaced":
        warnings.append(f"'{rig.armature.name}' played {rig.source}: ours plays instead "
                        "while it is on; Remove Animation gives it back.")
    if sound and anim.audio_path:
        try:
            add_sound(scene, rig.armature, anim.audio_path, anim.start_frame)
        except RuntimeError as exc:
            warnings.append(f"No sound strip was added: {exc}")
    scene.frame_end = max(scene.frame_start, anim.start_frame + anim.n_frames - 1)
    return fit, warnings


def _remove_ours(armature: bpy.types.Object) -> bool:
    """Our Action and NLA track off the armature, its replaced Action back; False when none was there."""
    action = armature.get(ACTION_PROP)
    action = action if isinstance(action, bpy.types.Action) else None
    ad = armature.animation_data
    if ad is not None:
        for track in [t for t in ad.nla_tracks if t.name == NLA_TRACK]:
            ad.nla_tracks.remove(track)
        if action is not None and ad.action == action:
            ad.action = None
        replaced = armature.get(REPLACED_PROP)
        if isinstance(replaced, bpy.types.Action) and ad.action is None:
            ad.action = replaced
            slot = armature.get(REPLACED_SLOT_PROP, "")
            slot = next((s for s in replaced.slots if s.identifier == slot), None) if SLOTTED else None
            if slot is not None:
                ad.action_slot = slot
    if action is not None:
        bpy.data.actions.remove(action)
    found = armature.pop(ACTION_PROP, None) is not None
    for prop in (REPLACED_PROP, REPLACED_SLOT_PROP):
        armature.pop(prop, None)
    return found


def remove_bones(armature: bpy.types.Object) -> bool:
    """Everything of ours off the armature, and the keyed bones' transforms back; False when nothing was ours."""
    found = _remove_ours(armature)
    for bone, props in armature.get(POSE_PROP, {}).items():
        if bone in armature.pose.bones:
            for prop, value in props.items():
                setattr(armature.pose.bones[bone], prop, value)
    found |= armature.pop(POSE_PROP, None) is not None
    ad = armature.animation_data
    if ad is not None and ad.action is None and not ad.nla_tracks and not ad.drivers:
        armature.animation_data_clear()
    return found

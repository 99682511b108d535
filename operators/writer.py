"""Animation → Blender data: shape keys, our Action, emotion drivers, sound strip.

Everything we create is recorded on the Key datablock (`talkinghead_keys`,
`talkinghead_action`) or the animated object (`talkinghead_strip`: each object keeps its
own sound strip, so two characters in one scene both keep their audio), so a re-run
replaces exactly our own data and never a shape key, Action or strip of the user's, and
`remove_animation` takes exactly that away again. A character animated from the user's own
strip (Animate all) records that strip instead: it is never edited or removed, and no second
strip of ours plays the same clip.

Target "own" (`apply_own`) adds no shape key: our Action keys the `value` of the character's
own keys, whose values before are recorded (`talkinghead_own_values`) for the removal to put back.
Their expression keys (VRM Joy, Sorrow, ...) are no part of that Action: a driver of ours on each
reads our emotion slider, recorded (`talkinghead_own_drivers`) so that exactly those drivers go again.
"""
from __future__ import annotations

import os

import bpy
import numpy as np

from ..core.deform.rig import Rig
from ..core.face.arkit import ARKIT_NAMES
from ..core.face.emotions import EMOTION_NAMES, emotion_pose
from ..core.face.keysets import KeyMapping
from ..core.output.animation import Animation
from ..core.output.bake import Baked
from ..core.output.retarget import Retarget, lip_pairs, region_weights, retarget
from .sliders import data_path, ensure_sliders, set_emotion

KEYS_PROP = "talkinghead_keys"
ACTION_PROP = "talkinghead_action"
OWN_VALUES_PROP = "talkinghead_own_values"  # on the Key: their keys' values before we animated them
OWN_DRIVERS_PROP = "talkinghead_own_drivers"  # on the Key: their expression keys our sliders drive
BASIS_PROP = "talkinghead_basis"  # on the Key: its basis is ours (the mesh had no shape keys)
STRIP_PROP = "talkinghead_strip"  # on the object: the name of its sound strip
STRIP_MARK = "talkinghead_object"  # on our strips: whose line it plays (user strips never carry it)
STRIP_PREFIX = "TalkingHead "
MAX_CHANNELS = 128
EMOTION_PREFIX = "emotion."
BAKED_PREFIX = "baked."
NLA_TRACK = "Talking Head"
SLOTTED = bpy.app.version >= (4, 4, 0)


def _key_name(key: bpy.types.Key | None, wanted: str, ours: set[str]) -> str:
    """`wanted`, unless the user already owns a key of that name: then `wanted.th`."""
    if key is None or wanted in ours or wanted not in key.key_blocks:
        return wanted
    return wanted + ".th"


def shape_targets(arkit_deltas: np.ndarray, baked: Baked | None = None) -> dict[str, np.ndarray]:
    """Our keys' displacements (flat N*3): the 52 ARKit targets, or the baked basis, plus one per emotion."""
    deltas = arkit_deltas.reshape(len(ARKIT_NAMES), -1)
    if baked is None:
        targets = {n: deltas[i] for i, n in enumerate(ARKIT_NAMES)}
    else:
        targets = {f"{BAKED_PREFIX}{i:02d}": b.ravel() for i, b in enumerate(baked.basis)}
    targets.update({EMOTION_PREFIX + e: emotion_pose(e) @ deltas for e in EMOTION_NAMES})
    return targets


def build_shape_keys(obj: bpy.types.Object, targets: dict[str, np.ndarray],
                     ranges: dict[str, tuple[float, float]] | None = None) -> dict[str, str]:
    """Create/refresh our shape keys (and drop ours no longer wanted); returns logical → actual names."""
    mesh = obj.data
    if mesh.shape_keys is None:
        obj.shape_key_add(name="Basis", from_mix=False)
        mesh.shape_keys[BASIS_PROP] = True
    key = mesh.shape_keys
    ours = set(key.get(KEYS_PROP, []))
    wanted = [_key_name(key, logical, ours) for logical in targets]
    present = [kb.name for kb in key.key_blocks if kb.name in ours]
    if present != [n for n in wanted if n in present]:  # another mode's keys (baked ↔ ARKit) came first
        _remove_keys(obj, present)  # all ours, made again in the wanted order (the user's stay where they are)
        ours = set()
    basis = np.empty(len(mesh.vertices) * 3, np.float32)
    key.reference_key.data.foreach_get("co", basis)
    names: dict[str, str] = {}
    for logical, delta in targets.items():
        name = _key_name(key, logical, ours)
        kb = key.key_blocks.get(name) or obj.shape_key_add(name=name, from_mix=False)
        kb.relative_key = key.reference_key
        kb.slider_min, kb.slider_max = (ranges or {}).get(logical, (0.0, 1.0))
        kb.data.foreach_set("co", basis + delta)
        kb.value = 0.0
        names[logical] = name
    _remove_keys(obj, ours - set(names.values()))  # e.g. ARKit keys after switching to baked mode
    key[KEYS_PROP] = list(names.values())
    mesh.update()
    return names


def _remove_keys(obj: bpy.types.Object, names) -> None:
    """Remove these shape keys of ours, with their drivers."""
    key = obj.data.shape_keys
    for name in names:
        if name in key.key_blocks:
            key.driver_remove(f'key_blocks["{name}"].value')
            obj.shape_key_remove(key.key_blocks[name])


def _new_fcurve(action: bpy.types.Action, slot, path: str, index: int = 0) -> bpy.types.FCurve:
    if not SLOTTED:
        return action.fcurves.new(path, index=index)
    layer = action.layers[0] if action.layers else action.layers.new("Talking Head")
    strip = layer.strips[0] if layer.strips else layer.strips.new(type="KEYFRAME")
    return strip.channelbag(slot, ensure=True).fcurves.new(path, index=index)


def _fresh_action(key: bpy.types.Key) -> tuple[bpy.types.Action, object]:
    """Our Action (emptied if it exists) and, on Blender ≥ 4.4, its slot for the Key."""
    old = key.get(ACTION_PROP)
    if isinstance(old, bpy.types.Action):
        bpy.data.actions.remove(old)
    action = bpy.data.actions.new(f"TalkingHead.{key.user.name if key.user else key.name}")
    key[ACTION_PROP] = action
    slot = action.slots.new(id_type="KEY", name=key.name) if SLOTTED else None
    return action, slot


def _assign(key: bpy.types.Key, action: bpy.types.Action, slot, frame_start: int) -> str:
    """Make our Action drive the Key without unassigning a user's Action.

    Free Key (or one already playing ours): our Action becomes its active Action,
    editable in the Graph Editor. A Key with the user's own Action keeps it; ours
    plays from an NLA track of our own underneath it.
    """
    ad = key.animation_data or key.animation_data_create()
    for track in [t for t in ad.nla_tracks if t.name == NLA_TRACK]:
        ad.nla_tracks.remove(track)
    if ad.action is None:
        ad.action = action
        if SLOTTED:
            ad.action_slot = slot
        return "active action"
    return play_on_track(ad, action, slot, frame_start)


def play_on_track(ad: bpy.types.AnimData, action: bpy.types.Action, slot, frame_start: int) -> str:
    """Our Action on an NLA track of our own under the user's active Action (which stays as it is)."""
    track = ad.nla_tracks.new()
    track.name = NLA_TRACK
    strip = track.strips.new(action.name, frame_start, action)
    if SLOTTED:
        strip.action_slot = slot
    strip.blend_type = "REPLACE"
    return "NLA track"


def write_action(obj: bpy.types.Object, start_frame: int, curves: dict[str, np.ndarray]) -> str:
    """One F-curve per shape key name, keyed at every frame from `start_frame`."""
    key = obj.data.shape_keys
    action, slot = _fresh_action(key)
    n = len(next(iter(curves.values())))
    co = np.empty((n, 2), np.float32)
    co[:, 0] = start_frame + np.arange(n, dtype=np.float32)
    for name, values in curves.items():
        fc = _new_fcurve(action, slot, f'key_blocks["{name}"].value')
        co[:, 1] = values
        fc.keyframe_points.add(n)
        fc.keyframe_points.foreach_set("co", co.ravel())
        fc.keyframe_points.foreach_set("interpolation", np.ones(n, np.int32))  # LINEAR
        fc.update()
    return _assign(key, action, slot, start_frame)


def drive_emotions(obj: bpy.types.Object, names: dict[str, str], live: bool = True) -> None:
    """Emotion keys follow the object's sliders (custom properties `obj["talkinghead_<emotion>"]`) through drivers.

    SUM drivers of a single property need no Python, so they run with auto-run off; the property is the
    object's own data, so they stay valid where the extension is not installed (a render farm node).
    `live=False` (an engine that spoke with the emotions): the drivers are muted and the
    keys rest at 0, so the sliders only condition the next run instead of adding twice.
    """
    key = obj.data.shape_keys
    ensure_sliders(obj)
    for emotion in EMOTION_NAMES:
        name = names[EMOTION_PREFIX + emotion]
        key.driver_remove(_value_path(name))
        _slider_driver(obj, name, emotion).mute = not live
        if not live:
            key.key_blocks[name].value = 0.0


def _value_path(name: str) -> str:
    return f'key_blocks["{name}"].value'


def _slider_driver(obj: bpy.types.Object, name: str, emotion: str) -> bpy.types.FCurve:
    """A driver on shape key `name`'s value reading the object's `emotion` slider."""
    fcurve = obj.data.shape_keys.driver_add(_value_path(name))
    drv = fcurve.driver
    drv.type = "SUM"
    var = drv.variables.new()
    var.name = emotion
    var.type = "SINGLE_PROP"
    var.targets[0].id_type = "OBJECT"
    var.targets[0].id = obj
    var.targets[0].data_path = data_path(emotion)
    return fcurve


def _strips(scene: bpy.types.Scene):
    se = scene.sequence_editor or scene.sequence_editor_create()
    return se.strips if hasattr(se, "strips") else se.sequences


def _our_strip(strips, obj: bpy.types.Object):
    """The object's strip from the last run, if it is still there, ours (marked by us) and this object's.

    The mark names the object that made it: another name is this object renamed (no object of the old
    name left) or a copy of that object, which carries the copied record but must not take the strip.
    """
    strip = strips.get(obj.get(STRIP_PROP, ""))
    if strip is None or STRIP_MARK not in strip:
        return None
    owner = strip[STRIP_MARK]
    return strip if owner == obj.name or owner not in bpy.data.objects else None


def _plays(strip, path: str, frame_start: int) -> bool:
    """Whether sound strip `strip` plays the file at `path` from `frame_start`."""
    sound = getattr(strip, "sound", None)
    if sound is None or round(strip.frame_start) != frame_start:
        return False
    mine = bpy.path.abspath(sound.filepath, library=sound.library)
    return os.path.exists(mine) and os.path.exists(path) and os.path.samefile(mine, path)


def add_sound(scene: bpy.types.Scene, obj: bpy.types.Object, path: str, frame_start: int) -> bpy.types.Sequence:
    """The object's own sound strip for the clip (replacing its previous one only), on a free channel.

    Named after the object ("TalkingHead Hero", or "... .001" when a strip has that name) and recorded
    on it by name, so a renamed object still finds its strip and other characters keep theirs. Where the
    object speaks from a strip of the user's (`use_strip`) that plays this clip from this frame, that
    strip stays its strip and none is added.
    """
    strips = _strips(scene)
    recorded = strips.get(obj.get(STRIP_PROP, ""))
    if recorded is not None and STRIP_MARK not in recorded and _plays(recorded, path, frame_start):
        return recorded
    old = _our_strip(strips, obj)
    if old is not None:
        strips.remove(old)
    used = {s.channel for s in strips}
    channel = next(c for c in range(1, MAX_CHANNELS + 1) if c not in used)
    strip = strips.new_sound(STRIP_PREFIX + obj.name, path, channel, frame_start)
    strip[STRIP_MARK] = obj.name
    obj[STRIP_PROP] = strip.name
    return strip


def use_strip(scene: bpy.types.Scene, obj: bpy.types.Object, name: str) -> None:
    """The object speaks from the user's strip `name` (Animate all): recorded as its strip, left as it is,
    and our own strip from an earlier run goes (it would play another clip over it)."""
    strips = _strips(scene)
    old = _our_strip(strips, obj)
    if old is not None:
        strips.remove(old)
    obj[STRIP_PROP] = name


def apply_animation(scene: bpy.types.Scene, obj: bpy.types.Object, anim: Animation, arkit_deltas: np.ndarray,
                    sound: bool = True, baked: Baked | None = None) -> list[str]:
    """Write `anim` onto `obj`, whose ARKit targets are `arkit_deltas` (52×N×3). Returns warnings for the user.

    With `baked`, the speech motion goes on its K basis keys and curves instead of the ARKit rig.
    """
    warnings = []
    if obj.data.shape_keys is not None:
        _remove_own_drivers(obj.data.shape_keys)  # a target-"own" run's: our emotion keys play the sliders now
    if baked is None:
        names = build_shape_keys(obj, shape_targets(arkit_deltas))
        curves = {names[n]: anim.weights[:, i] for i, n in enumerate(anim.names)}
    else:
        ranges = {f"{BAKED_PREFIX}{i:02d}": (min(-1.0, float(c.min())), max(1.0, float(c.max())))
                  for i, c in enumerate(baked.curves.T)}
        names = build_shape_keys(obj, shape_targets(arkit_deltas, baked), ranges)
        curves = {names[f"{BAKED_PREFIX}{i:02d}"]: c for i, c in enumerate(baked.curves.T)}
    if write_action(obj, anim.start_frame, curves) == "NLA track":
        warnings.append("The shape keys already play your own Action: ours is on the NLA track 'Talking Head'.")
    drive_emotions(obj, names, live=not anim.emotions_in_weights)
    for emotion in EMOTION_NAMES:
        set_emotion(obj, emotion, float(anim.emotions.get(emotion, 0.0)))
    if sound and anim.audio_path:
        try:
            add_sound(scene, obj, anim.audio_path, anim.start_frame)
        except RuntimeError as exc:  # e.g. a Blender build without audio support
            warnings.append(f"No sound strip was added: {exc}")
    scene.frame_end = max(scene.frame_start, anim.start_frame + anim.n_frames - 1)
    return warnings


def own_key_names(obj: bpy.types.Object) -> list[str]:
    """The mesh's own shape keys (not its basis, not ours from a target-"ours" run): what detection and presets name."""
    key = obj.data.shape_keys if obj.type == "MESH" else None
    if key is None:
        return []
    ours = set(key.get(KEYS_PROP, []))
    return [kb.name for kb in key.key_blocks[1:] if kb.name not in ours]


def their_deltas(obj: bpy.types.Object, names) -> dict[str, np.ndarray]:
    """Key → N×3: what each of these keys adds at value 1 (its shape minus its relative key's, as Blender mixes)."""
    blocks = obj.data.shape_keys.key_blocks
    n = len(obj.data.vertices) * 3
    co, rel = np.empty(n, np.float32), np.empty(n, np.float32)
    out = {}
    for name in names:
        kb = blocks[name]
        kb.data.foreach_get("co", co)
        kb.relative_key.data.foreach_get("co", rel)
        out[name] = (co - rel).reshape(-1, 3)
    return out


def apply_own(scene: bpy.types.Scene, obj: bpy.types.Object, anim: Animation, rig: Rig, mapping: KeyMapping,
              sound: bool = True) -> tuple[Retarget, list[str]]:
    """Play `anim` on the character's own keys (`mapping`): our Action keys their values; their key data, order
    and ranges and their own Actions stay as they are. Our ARKit keys from an earlier run go.

    Their expression keys play our emotion sliders live through drivers (`live_expressions`) and the fit
    plays the rest; an engine that spoke with the emotions (neural) has them in the speech: all keys are fitted.
    """
    key = obj.data.shape_keys
    _remove_own_drivers(key)
    warnings = []
    live = {} if anim.emotions_in_weights else live_expressions(key, mapping, warnings)
    speech = mapping.without(live.values())
    fit = retarget(speech, their_deltas(obj, speech.keys), rig.deltas, anim.combined_weights(live),
                   region_weights(rig.vertices, rig.landmark_points()), lip_pairs(rig.landmarks))
    _remove_keys(obj, key.get(KEYS_PROP, []))  # a target-"ours" run's keys
    key.pop(KEYS_PROP, None)
    values = dict(key.get(OWN_VALUES_PROP, {}))
    values.update({k: key.key_blocks[k].value for k in (*fit.keys, *live.values()) if k not in values})  # first run's
    key[OWN_VALUES_PROP] = values
    if live:
        ensure_sliders(obj)
        for emotion, name in live.items():
            _slider_driver(obj, name, emotion)
        key[OWN_DRIVERS_PROP] = list(live.values())
        for emotion in EMOTION_NAMES:
            set_emotion(obj, emotion, float(anim.emotions.get(emotion, 0.0)))
    if write_action(obj, anim.start_frame, {k: fit.weights[:, i] for i, k in enumerate(fit.keys)}) == "NLA track":
        warnings.append("The shape keys already play your own Action: ours is on the NLA track 'Talking Head'.")
    if sound and anim.audio_path:
        try:
            add_sound(scene, obj, anim.audio_path, anim.start_frame)
        except RuntimeError as exc:
            warnings.append(f"No sound strip was added: {exc}")
    scene.frame_end = max(scene.frame_start, anim.start_frame + anim.n_frames - 1)
    return fit, warnings


def live_expressions(key: bpy.types.Key, mapping: KeyMapping, warnings: list[str]) -> dict[str, str]:
    """Emotion → their expression key our slider will drive. A key with a driver of theirs keeps it (a warning
    says so; the emotion is fitted like the speech), and with no other key left to fit, none goes live."""
    theirs = {fc.data_path for fc in key.animation_data.drivers} if key.animation_data else set()
    live = {}
    for emotion, name in mapping.expressions().items():
        if _value_path(name) in theirs:
            warnings.append(f"Shape key '{name}' has a driver of yours: it is fitted with the speech instead "
                            f"of following the {emotion} slider.")
        else:
            live[emotion] = name
    return live if not mapping.without(live.values()).empty else {}


def _remove_own_drivers(key: bpy.types.Key) -> None:
    """Our slider drivers on their expression keys go, and those keys' values before us come back."""
    values = key.get(OWN_VALUES_PROP, {})
    for name in key.pop(OWN_DRIVERS_PROP, []):
        if name in key.key_blocks:
            key.driver_remove(_value_path(name))
            key.key_blocks[name].value = values.get(name, key.key_blocks[name].value)


def remove_animation(scene: bpy.types.Scene, obj: bpy.types.Object) -> bool:
    """Take everything of ours off `obj` (Action, NLA track, our keys and their drivers, sound strip) and put
    its own keys' values back; False when there was nothing of ours. The user's keys and Actions stay."""
    found = False
    key = obj.data.shape_keys if obj.type == "MESH" else None
    if key is not None:
        ad = key.animation_data
        action = key.get(ACTION_PROP)
        action = action if isinstance(action, bpy.types.Action) else None
        if ad is not None:
            for track in [t for t in ad.nla_tracks if t.name == NLA_TRACK]:
                ad.nla_tracks.remove(track)
            if action is not None and ad.action == action:
                ad.action = None
        if action is not None:
            bpy.data.actions.remove(action)
        _remove_keys(obj, key.get(KEYS_PROP, []))
        found |= OWN_DRIVERS_PROP in key
        _remove_own_drivers(key)
        for name, value in key.get(OWN_VALUES_PROP, {}).items():
            if name in key.key_blocks:
                key.key_blocks[name].value = value
        for prop in (ACTION_PROP, KEYS_PROP, OWN_VALUES_PROP):
            found |= key.pop(prop, None) is not None
        if ad is not None and ad.action is None and not ad.nla_tracks and not ad.drivers:
            key.animation_data_clear()
        if key.get(BASIS_PROP) and len(key.key_blocks) == 1:  # only the basis we added is left
            obj.shape_key_clear()
    strips = _strips(scene)
    strip = _our_strip(strips, obj)
    if strip is not None:
        strips.remove(strip)
    found |= obj.pop(STRIP_PROP, None) is not None
    return found

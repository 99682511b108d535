"""Animate all: the sequencer's sound strips that name characters animate them, from their frames, and the
user's strips stay exactly as they were."""
from __future__ import annotations

import inspect

import numpy as np
import pytest
import soundfile as sf
from conftest import data_path
from test_blender import add_head, animate, our_fcurves

FPS = 30


def _strips(scene):
    se = scene.sequence_editor_create()
    return se.strips if hasattr(se, "strips") else se.sequences


def _state(strip) -> tuple:
    """All a user could have set on a strip that we might be tempted to change."""
    return (strip.name, strip.channel, strip.frame_start, strip.frame_final_start, strip.frame_final_end,
            strip.sound.filepath, strip.mute, strip.volume, set(strip.keys()))


def _frames(fc) -> tuple[int, int]:
    keys = fc.keyframe_points
    return round(keys[0].co[0]), round(keys[-1].co[0])


def _n(path: str) -> int:
    return round(sf.info(path).duration * FPS)


@pytest.fixture
def cast(scene):
    """Alice and Bob (built-in heads); strips 'Alice' (frame 10), 'Bob - line 1' (frame 40) and 'take 7'
    (frame 200, its custom property naming Bob), and 'Music', which names nobody."""
    import bpy

    if not bpy.app.build_options.audaspace:
        pytest.skip("this bpy build has no audio support: no sound strips")
    alice, bob = add_head(), add_head()
    alice.name, bob.name = "Alice", "Bob"
    clips = {"Alice": data_path("speech", "vocaset_sentence01.wav"),
             "Bob - line 1": data_path("speech", "voca_test_sentence.wav"),
             "take 7": data_path("speech", "scantalk_demo_audio.wav"),
             "Music": data_path("speech", "s2l_watch.wav")}
    strips = _strips(scene)
    for channel, (name, frame) in enumerate((("Alice", 10), ("Bob - line 1", 40), ("take 7", 200), ("Music", 1)), 1):
        strips.new_sound(name, clips[name], channel, frame)
    strips["take 7"]["talkinghead_character"] = bob  # an object pointer does as well as its name
    scene.talkinghead.engine = "phonetic-fast"
    return alice, bob, clips


def test_animate_all_animates_each_character_from_its_strips(scene, cast, capfd):
    import bpy
    from talkinghead.operators.animate_all import map_strips

    alice, bob, clips = cast
    before = {s.name: _state(s) for s in _strips(scene)}
    characters, unmatched = map_strips(scene)
    assert {o.name: [s.name for s in v] for o, v in characters.items()} == {"Alice": ["Alice"],
                                                                             "Bob": ["Bob - line 1", "take 7"]}
    assert [s.name for s, _ in unmatched] == ["Music"]
    assert bpy.ops.talkinghead.animate_all() == {"FINISHED"}
    out = capfd.readouterr().out  # the operator's reports: which strips animated whom, and which nobody
    assert "Animated 'Alice' from 'Alice'" in out and "Animated 'Bob' from 'Bob - line 1', 'take 7'" in out
    assert "Strip 'Music' animates nobody" in out
    # the user's strips: all there, untouched, and no strip of ours beside them
    assert {s.name: _state(s) for s in _strips(scene)} == before
    assert alice["talkinghead_strip"] == "Alice" and bob["talkinghead_strip"] == "Bob - line 1"
    # Alice speaks from frame 10, Bob from 40 to the end of his second line at 200
    a_first, a_last = _frames(our_fcurves(alice.data.shape_keys)[0])
    assert (a_first, a_last) == (10, 10 + _n(clips["Alice"]) - 1)
    bob_jaw = next(fc for fc in our_fcurves(bob.data.shape_keys) if '"jawOpen"' in fc.data_path)
    assert _frames(bob_jaw) == (40, 200 + _n(clips["take 7"]) - 1)
    gap = range(40 + _n(clips["Bob - line 1"]) + 2, 198)  # between his lines: at rest
    assert max(bob_jaw.evaluate(f) for f in gap) < 1e-6
    assert max(bob_jaw.evaluate(f) for f in range(200, 200 + _n(clips["take 7"]))) > 0.2  # his second line speaks
    assert scene.frame_end >= 200 + _n(clips["take 7"]) - 1


def test_strip_names_map_to_the_longest_object_name(scene, cast):
    from talkinghead.operators.animate_all import map_strips

    clips = cast[2]
    smith = add_head()
    smith.name = "Alice Smith"
    strips = _strips(scene)
    for channel, name in enumerate(("Alice Smith - hi", "Alice.002", "Alicea", "Bob_take2"), 10):
        strips.new_sound(name, clips["Music"], channel, 1)
    strips["Music"]["talkinghead_character"] = "Alice"  # a name does as well as the object
    strips.new_sound("TalkingHead Alice", clips["Music"], 20, 1)["talkinghead_object"] = "Alice"  # ours: skipped
    characters, unmatched = map_strips(scene)
    assert {o.name: [s.name for s in v] for o, v in characters.items()} == {
        "Alice": ["Music", "Alice.002", "Alice"], "Alice Smith": ["Alice Smith - hi"],
        "Bob": ["Bob_take2", "Bob - line 1", "take 7"]}
    assert [s.name for s, _ in unmatched] == ["Alicea"]


def test_animate_after_animate_all_keeps_the_users_strip(scene, cast):
    """Animate on a character of Animate all: its clip again adds no strip; another clip adds ours and never
    removes the user's; Animate all again takes ours away and leaves the user's."""
    import bpy

    alice, _, clips = cast
    assert bpy.ops.talkinghead.animate_all() == {"FINISHED"}
    before = {s.name: _state(s) for s in _strips(scene)}
    bpy.context.view_layer.objects.active = alice
    assert animate(scene, clips["Alice"], engine="phonetic-fast", start=10) == {"FINISHED"}
    assert {s.name: _state(s) for s in _strips(scene)} == before and alice["talkinghead_strip"] == "Alice"
    assert animate(scene, clips["Music"], engine="phonetic-fast", start=5) == {"FINISHED"}
    ours = alice["talkinghead_strip"]
    assert ours == "TalkingHead Alice" and {s.name: _state(s) for s in _strips(scene) if s.name != ours} == before
    assert bpy.ops.talkinghead.animate_all() == {"FINISHED"}
    assert {s.name: _state(s) for s in _strips(scene)} == before and alice["talkinghead_strip"] == "Alice"


def test_animate_all_bad_input(scene, tmp_path):
    """No strips: a clear message, nothing changed. A strip naming a cube (too few vertices) or holding an
    undecodable file: reported, while the other character is animated."""
    import bpy

    if not bpy.app.build_options.audaspace:
        pytest.skip("this bpy build has no audio support: no sound strips")
    head = add_head()
    with pytest.raises(RuntimeError, match="No sound strips"):
        bpy.ops.talkinghead.animate_all()
    bpy.ops.mesh.primitive_cube_add()
    strips = _strips(scene)
    clip = data_path("speech", "vocaset_sentence01.wav")
    strips.new_sound("Cube", clip, 1, 1)
    with pytest.raises(RuntimeError, match="'Cube' was not animated: 'Cube' has 8 vertices"):
        bpy.ops.talkinghead.animate_all()
    assert head.data.shape_keys is None and not bpy.data.actions
    strips.new_sound(head.name, clip, 2, 1)
    assert bpy.ops.talkinghead.animate_all() == {"FINISHED"}
    assert head.data.shape_keys is not None and head["talkinghead_strip"] == head.name


def test_one_undo_step_and_no_nested_operators():
    import bpy
    from talkinghead.operators import animate_all

    assert bpy.types.TALKINGHEAD_OT_animate_all.bl_options == {"REGISTER", "UNDO"}
    assert "bpy.ops" not in inspect.getsource(animate_all)


def test_join_puts_each_line_at_its_frames(synth_clip):
    """core's join: lines at their own frames, rest between them, one set of blinks, the later line on top."""
    from core.engines import animate as core_animate
    from core.face.arkit import INDEX
    from core.output.animation import join

    a = core_animate(synth_clip[0], engine="phonetic-fast", start_frame=5, blink=False)
    b = core_animate(synth_clip[0], engine="phonetic-fast", start_frame=5 + a.n_frames + 30, blink=False)
    joined = join([b, a])
    assert joined.start_frame == 5 and joined.n_frames == 2 * a.n_frames + 30
    jaw = joined.weights[:, INDEX["jawOpen"]]
    assert np.array_equal(jaw[:a.n_frames], a.weights[:, INDEX["jawOpen"]])
    assert np.array_equal(jaw[a.n_frames + 30:], b.weights[:, INDEX["jawOpen"]])
    assert not jaw[a.n_frames:a.n_frames + 30].any()
    assert joined.weights[:, INDEX["eyeBlinkLeft"]].max() > 0.9  # blinks over the whole timeline

"""Panel settings (per scene). The emotion sliders are the object's own custom properties: see operators/sliders.py."""
from __future__ import annotations

import bpy

from ..core.deform.deformers import DEFAULT_DEFORMER, DEFORMERS
from ..core.engines import DEFAULT_ENGINE, ENGINES
from ..core.face.keysets import CHANNEL_ORDER, KIT_SEPARATOR, KIT_TITLES
from ..core.speech.languages import COMMON
from ..operators.animate import TARGETS

_ENGINE_ITEMS = [
    ("auto", "Automatic", "What lip-synced best on real speech: a transcript's alignment; else Phonetic + Whisper "
     "(Whisper's words in the clip's language, aligned); Neural (Whisper) for a language Whisper does not know"),
    ("phonetic", "Phonetic", "Recognise words with pocketsphinx's English model, then align their phones "
     "(Rhubarb's way; other languages: the phone loop)"),
    ("phonetic-fast", "Phonetic (fast)", "pocketsphinx phone loop: about 2x faster, weaker lip closure"),
    ("neural", "Neural", "Our S2L network, language-free; the emotion sliders condition how it speaks "
     "(needs PyTorch and librosa in Blender's Python)"),
    ("neural-whisper", "Neural (Whisper)", "The S2L network on Whisper speech features, learned from real voices; "
     "emotion sliders condition it (needs only onnxruntime and the converted ONNX models)"),
    ("phonetic-whisper", "Phonetic + Whisper", "The words Whisper hears in the clip's language, aligned like a "
     "transcript (best lip sync on real speech), plus the closures the Whisper network hears; slower: "
     "about 3-5 s per minute of English speech, 4-8 s of other languages, on 2 CPU cores"),
]
assert tuple(i[0] for i in _ENGINE_ITEMS) == ENGINES
_DEFORMER_ITEMS = [
    ("correspondence", "Correspondence", "Fit the built-in head to the mesh and carry its targets over (any size)"),
    ("learned", "Learned (DiffusionNet)", "Our network predicts the targets from the mesh's own surface "
     "(up to 150k vertices; needs PyTorch in Blender's Python)"),
]
assert tuple(i[0] for i in _DEFORMER_ITEMS) == tuple(DEFORMERS)
_TARGET_ITEMS = [
    ("ours", "Our Keys", "Add our 52 ARKit shape keys to the mesh and animate them (a key of yours with the same "
     "name stays; ours gets .th)"),
    ("own", "Its Own Keys", "Animate the character's own face keys (ARKit, Oculus/VRChat visemes, VRM, Character "
     "Creator; or a mapping preset), or an armature's face poses (an Action with a pose marker per viseme): "
     "no shape key is added, their data stays as it is"),
]
assert tuple(i[0] for i in _TARGET_ITEMS) == TARGETS
TARGET_HINTS = {"ours": "Adds 52 ARKit keys; yours stay", "own": "Keys its own face keys; adds none"}


def _channel_item(channel: str) -> tuple[str, str, str]:
    kit, _, name = channel.rpartition(KIT_SEPARATOR)
    return channel, channel, f"{KIT_TITLES[kit]} channel {name}, fitted" if kit else f"ARKit channel {name}, copied"


_CHANNEL_ITEMS = [_channel_item(c) for c in CHANNEL_ORDER]


class TalkingHeadMappingRow(bpy.types.PropertyGroup):
    """One row of the panel's mapping (target 'own'): our channel and the character's key (or pose) playing it."""

    channel: bpy.props.EnumProperty(name="Channel", items=_CHANNEL_ITEMS,
                                    description="Our channel: an ARKit shape (copied) or a kit's viseme or "
                                                "expression (their key's weight is fitted to our motion)")
    key: bpy.props.StringProperty(name="Key", description="The character's shape key (or, for a bone rig, "
                                  "pose marker or pose asset) that plays the channel")


class TalkingHeadSettings(bpy.types.PropertyGroup):
    audio_path: bpy.props.StringProperty(name="Audio", subtype="FILE_PATH",
                                         description="Speech clip (wav, flac, ogg, mp3)")
    transcript: bpy.props.StringProperty(
        name="Transcript", description="Optional: what is said (or a .txt file); gives exact phone timing")
    start_frame: bpy.props.IntProperty(name="Start Frame", default=1, description="Frame where the clip starts")
    language: bpy.props.EnumProperty(
        name="Language", default="en", description="What the clip speaks: the transcript is pronounced in it, and "
        "outside English the phonetic engine listens for phones instead of English words",
        items=[(code, name, f"{name} (espeak-ng code '{code}')") for code, name in COMMON])
    engine: bpy.props.EnumProperty(name="Engine", items=_ENGINE_ITEMS, default=DEFAULT_ENGINE)
    deformer: bpy.props.EnumProperty(name="Deformer", items=_DEFORMER_ITEMS, default=DEFAULT_DEFORMER,
                                     description="How a mesh other than the built-in head gets its shape keys")
    landmark_convention: bpy.props.StringProperty(
        name="Landmarks", subtype="FILE_PATH", default="",
        description="Optional: a landmark convention (.npz from `python -m core landmarks learn`) that finds the "
                    "landmarks where your dataset puts them; empty: the built-in head's own")
    target: bpy.props.EnumProperty(name="Target", items=_TARGET_ITEMS, default="ours",
                                   description="Which shape keys play the speech")
    mapping_path: bpy.props.StringProperty(
        name="Mapping", subtype="FILE_PATH", default="",
        description="Optional, target 'own': a JSON preset naming which of its keys plays which channel "
                    '({"jawOpen": "MouthOpen", "oculus:PP": "viseme_PP"}); empty: found by the keys\' names')
    mapping_rows: bpy.props.CollectionProperty(type=TalkingHeadMappingRow)
    mapping_index: bpy.props.IntProperty(name="Row", default=0)
    mapping_for: bpy.props.StringProperty(
        name="Edited For", default="", description="The object whose mapping the rows are: Animate uses them for it")
    output: bpy.props.EnumProperty(name="Output", default="RIG", items=[
        ("RIG", "ARKit rig", "52 ARKit shape keys with one curve each: editable, exports as ARKit morphs"),
        ("BAKED", "Baked", "The motion compressed into a few basis shape keys and curves (SVD): compact")])
    baked_shapes: bpy.props.IntProperty(name="Shapes", default=16, min=1, max=52,
                                        description="Number of basis shape keys in baked mode")


CLASSES = (TalkingHeadMappingRow, TalkingHeadSettings)


def register() -> None:
    bpy.types.Scene.talkinghead = bpy.props.PointerProperty(type=TalkingHeadSettings)


def unregister() -> None:
    del bpy.types.Scene.talkinghead

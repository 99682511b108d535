"""A character's own face shape keys: which known key set they are, and which key plays which channel.

Characters arrive with their own face keys under many names: the 52 ARKit keys (`jawOpen`,
`Face.JawOpen`, `A18_Jaw_Open`, `eyeBlink_L`), the 15 Oculus/VRChat visemes (`viseme_PP`,
`vrc.v_pp`), VRM vowels and expressions (`A`, `Blink_L`, VRoid `Fcl_MTH_A`) or Character Creator
visemes (`V_Open`). Names are compared in a normal form (no namespace or numbered prefix, no
separators or case, the side as a trailing left/right), so one alias list covers every convention.

ARKit keys play our channel of the same name (weights copied); the other kits' keys are driven by
a per-frame fit of their shapes to our motion (output/retarget.py). A preset (JSON, channel → key)
replaces the detection where names are the character's own invention.

VRM expression keys (Joy, Sorrow, Angry, Surprised) are the character's own take on our emotions: they
play our emotion sliders live instead of being fitted (`KeyMapping.expressions`). Fun (VRM 1.0
`relaxed`) is no emotion of ours, so it stays a fitted key like the vowels.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from ..errors import InputError
from .arkit import ARKIT_NAMES

ARKIT = "arkit"
KIT_SEPARATOR = ":"  # a solved kit's channel label: "oculus:PP"
MIN_SOLVED_KEYS = 3  # a kit of short names (A, E, O) counts only with this many keys: one key "O" is no vowel set
_NAMESPACE = re.compile(r"^[^.:|]+[.:|](?=[^.:|]{3,})")  # "Face.", "blendShape1.", "vrc.", "Armature|" (not ".L")
_NUMBERED = re.compile(r"^[A-Za-z]?\d+[_.\- ]")  # "A01_", "07_"
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_SIDES = {"l": "left", "left": "left", "r": "right", "right": "right"}


def normalise(name: str) -> str:
    """The name's normal form: `Face.MouthSmile_L`, `mouthSmileLeft`, `A38_Mouth_Smile_Left` → 'mouthsmileleft'."""
    s = name.strip()
    while _NAMESPACE.match(s):
        s = _NAMESPACE.sub("", s, count=1)
    s = _NUMBERED.sub("", s)
    words = [w.lower() for part in re.split(r"[_.\-\s]+", s) for w in _WORDS.findall(part)]
    side = ""
    if len(words) > 1 and words[-1] in _SIDES:
        side = _SIDES[words.pop()]
    elif len(words) > 1 and words[0] in _SIDES:
        side = _SIDES[words.pop(0)]
    return "".join(words) + side


# Solved kits: channel → the names it goes by (any convention; normalised below). Order: how the panel lists them.
OCULUS = {c: [f"viseme_{c}", f"vrc.v_{c}", f"v_{c}", c] for c in
          ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "I", "O", "U")}
OCULUS["I"] += ["vrc.v_ih", "v_ih"]  # VRChat spells the last three vowels ih, oh, ou
OCULUS["O"] += ["vrc.v_oh", "v_oh"]
OCULUS["U"] += ["vrc.v_ou", "v_ou"]
VRM = {  # VRM 0.x presets, VRM 1.0 names, VRoid Studio's Fcl_ keys
    "A": ["A", "aa", "Fcl_MTH_A"], "I": ["I", "ih", "Fcl_MTH_I"], "U": ["U", "ou", "Fcl_MTH_U"],
    "E": ["E", "ee", "Fcl_MTH_E"], "O": ["O", "oh", "Fcl_MTH_O"],
    "Blink": ["Blink", "Fcl_EYE_Close"], "Blink_L": ["Blink_L", "blinkLeft", "Fcl_EYE_Close_L"],
    "Blink_R": ["Blink_R", "blinkRight", "Fcl_EYE_Close_R"],
    "Joy": ["Joy", "happy", "Fcl_ALL_Joy"], "Angry": ["Angry", "Fcl_ALL_Angry"],
    "Sorrow": ["Sorrow", "sad", "Fcl_ALL_Sorrow"], "Fun": ["Fun", "relaxed", "Fcl_ALL_Fun"],
    "Surprised": ["Surprised", "Fcl_ALL_Surprised"],
}
CC = {c: [c, c.removeprefix("V_")] for c in  # Character Creator 3/4 visemes (CC3 named them without "V_")
      ("V_Open", "V_Explosive", "V_Dental_Lip", "V_Tight_O", "V_Tight", "V_Wide", "V_Affricate", "V_Lip_Open",
       "V_Tongue_up", "V_Tongue_Raise", "V_Tongue_Out", "V_Tongue_Narrow", "V_Tongue_Lower")}
CC["V_Tight_O"].append("Tight-O")
KITS: dict[str, dict[str, list[str]]] = {"oculus": OCULUS, "vrm": VRM, "cc": CC}
KIT_TITLES = {ARKIT: "ARKit", "oculus": "Oculus visemes", "vrm": "VRM", "cc": "CC visemes"}
EXPRESSIONS = {"vrm:Joy": "happy", "vrm:Sorrow": "sad", "vrm:Angry": "angry", "vrm:Surprised": "surprised"}

_ARKIT_FORMS = {normalise(n): n for n in ARKIT_NAMES}
_KIT_FORMS = {kit: {normalise(alias): ch for ch, aliases in channels.items() for alias in aliases}
              for kit, channels in KITS.items()}
CHANNEL_ORDER = (*ARKIT_NAMES, *(f"{kit}{KIT_SEPARATOR}{ch}" for kit, chs in KITS.items() for ch in chs))  # as listed
CHANNELS = frozenset(CHANNEL_ORDER)


@dataclass(frozen=True)
class KeyMapping:
    """Which of the character's keys we drive, and how.

    `direct`: ARKit channel → their key, the channel's weight copied (several channels on one key: the
    largest). `solved`: their key → the channel label it was recognised as ('oculus:PP'); these keys'
    weights are fitted each frame. `uncovered`: ARKit channels without a key of their own (the fit moves
    them, with the solved keys, where it can).
    """

    direct: dict[str, str] = field(default_factory=dict)
    solved: dict[str, str] = field(default_factory=dict)
    from_preset: bool = False

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key we drive, once: the direct ones first, then the solved ones."""
        return tuple(dict.fromkeys([*self.direct.values(), *self.solved]))

    @property
    def uncovered(self) -> tuple[str, ...]:
        return tuple(n for n in ARKIT_NAMES if n not in self.direct)

    @property
    def empty(self) -> bool:
        return not self.direct and not self.solved

    def kits(self) -> dict[str, tuple[int, int]]:
        """Kit → (keys found, channels it has), for the summary: {'arkit': (52, 52), 'oculus': (15, 15)}."""
        found = {ARKIT: (len(self.direct), len(ARKIT_NAMES))} if self.direct else {}
        for kit, channels in KITS.items():
            n = sum(label.split(KIT_SEPARATOR)[0] == kit for label in self.solved.values())
            if n:
                found[kit] = (n, len(channels))
        return found

    def expressions(self) -> dict[str, str]:
        """Our emotion → their expression key playing it ({'happy': 'Joy'}), in the order of EXPRESSIONS."""
        keys = {label: key for key, label in self.solved.items()}
        return {emotion: keys[label] for label, emotion in EXPRESSIONS.items() if label in keys}

    def without(self, keys) -> KeyMapping:
        """This mapping less the solved `keys` (the expression keys our sliders drive: no part of the fit)."""
        keys = set(keys)
        return KeyMapping(self.direct, {k: v for k, v in self.solved.items() if k not in keys}, self.from_preset)

    def summary(self) -> str:
        """One line: 'ARKit 52/52 (copied); Oculus visemes 15/15 (fitted); 37 ARKit channels uncovered',
        and which emotions play on their expression keys ('emotions: happy→Joy, sad→Sorrow')."""
        if self.empty:
            return "no known face keys"
        parts = [f"{KIT_TITLES[k]} {n}/{m} ({'copied' if k == ARKIT else 'fitted'})"
                 for k, (n, m) in self.kits().items()]
        if self.uncovered:
            parts.append(f"{len(self.uncovered)} ARKit channels uncovered")
        if self.expressions():
            parts.append("emotions: " + ", ".join(f"{e}→{k}" for e, k in self.expressions().items()))
        return "; ".join(parts)

    def as_preset(self) -> dict[str, str]:
        """Channel → key, what `save_mapping` writes and `mapping_from_preset` reads back."""
        return {**self.direct, **{label: key for key, label in self.solved.items()}}


def detect(key_names: list[str]) -> KeyMapping:
    """Map the mesh's shape-key names (the basis included or not) to our channels and the known kits.

    An exact ARKit name wins over a fuzzy one for the same channel; a key claimed by ARKit is not also
    a solved key; a solved kit counts only with MIN_SOLVED_KEYS keys (ARKit names are unambiguous alone).
    """
    direct: dict[str, str] = {}
    for name in key_names:
        channel = _ARKIT_FORMS.get(normalise(name))
        if channel and (channel not in direct or name == channel):
            direct[channel] = name
    taken = set(direct.values())
    found = {kit: _kit_keys(kit, [n for n in key_names if n not in taken]) for kit in KITS}
    solved: dict[str, str] = {}
    for kit in sorted(found, key=lambda k: -len(found[k])):  # the fullest kit claims shared names (E, I, O)
        mine = {name: label for name, label in found[kit].items() if name not in solved}
        if len(mine) >= MIN_SOLVED_KEYS:
            solved.update(mine)
    return KeyMapping(direct, solved)


def _kit_keys(kit: str, key_names: list[str]) -> dict[str, str]:
    """Their key → 'kit:channel' for the keys `kit` knows by name (one key per channel, the first)."""
    forms, found = _KIT_FORMS[kit], {}
    for name in key_names:
        channel = forms.get(normalise(name))
        label = f"{kit}{KIT_SEPARATOR}{channel}"
        if channel and label not in found.values():
            found[name] = label
    return found


def mapping_from_preset(preset: object, key_names: list[str], source: str = "the mapping preset",
                        owner: str = "shape keys this mesh") -> KeyMapping:
    """A preset (channel → key name) checked against the mesh's keys (or the pose markers of a bone rig's
    Action: `owner` names them in the message); InputError says what is wrong."""
    source = source[:1].upper() + source[1:]
    if not isinstance(preset, dict) or not preset:
        raise InputError(f"{source} must be a JSON object of channel → shape-key name, e.g. "
                         '{"jawOpen": "MouthOpen", "oculus:PP": "viseme_PP"}.')
    bad = [f"{k!r}: {v!r}" for k, v in preset.items() if not isinstance(v, str)]
    if bad:
        raise InputError(f"{source}: every value must be a shape-key name (text): {', '.join(bad[:5])}.")
    unknown = [k for k in preset if k not in CHANNELS]
    if unknown:
        raise InputError(f"{source} names unknown channels: {', '.join(unknown[:5])}. Channels are the 52 ARKit "
                         "names (jawOpen, ...) or kit:name (oculus:PP, vrm:A, cc:V_Open).")
    missing = sorted({v for v in preset.values() if v not in key_names})
    if missing:
        raise InputError(f"{source} names {owner} does not have: {', '.join(missing[:5])} "
                         f"(it has: {', '.join(key_names[:12]) or 'none'}{', ...' if len(key_names) > 12 else ''}).")
    direct = {k: v for k, v in preset.items() if k in ARKIT_NAMES}
    solved = {v: k for k, v in preset.items() if k not in ARKIT_NAMES}
    values = list(preset.values())
    twice = [key for key in solved if values.count(key) > 1]
    if twice:
        raise InputError(f"{source} maps shape key '{twice[0]}' to a fitted channel and to another channel: "
                         "a fitted key can play one channel only.")
    return KeyMapping(direct, solved, from_preset=True)


def read_preset(path: str) -> object:
    """The preset file's JSON, unchecked (InputError: not found, not JSON)."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise InputError(f"Mapping preset not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"Mapping preset {path} is not JSON ({exc}).") from None


def load_mapping(path: str, key_names: list[str]) -> KeyMapping:
    """The preset file at `path`, checked against the mesh's keys (InputError: not found, not JSON, wrong shape)."""
    return mapping_from_preset(read_preset(path), key_names, f"mapping preset {path}")


def save_mapping(path: str, mapping: KeyMapping) -> None:
    """Write `mapping` as a preset: edit it by hand, or load it for a character whose names we do not know."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(mapping.as_preset(), fh, indent=2)
        fh.write("\n")

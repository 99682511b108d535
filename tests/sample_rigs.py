"""Characters with their own face keys, made from the built-in head's ARKit targets (tests and bench/rigs.py).

(a) the 52 ARKit keys under another naming (`Face.MouthSmile_L`), (b) a VRM-style face with five vowels
and Blink (and, as a variant, the expressions Joy and Sorrow), (c) the 15 Oculus visemes. The vowel and
viseme shapes are the usual ARKit recipes for them; the expressions are our emotion poses.
"""
from __future__ import annotations

import numpy as np

from core.face.arkit import ARKIT_NAMES, INDEX
from core.face.emotions import emotion_pose

BOTH = ("Left", "Right")
VRM_RECIPES: dict[str, dict[str, float]] = {
    "A": {"jawOpen": 0.7, "mouthLowerDown": 0.3},
    "I": {"jawOpen": 0.15, "mouthStretch": 0.5, "mouthSmile": 0.2},
    "U": {"mouthPucker": 0.8, "jawOpen": 0.1},
    "E": {"jawOpen": 0.35, "mouthStretch": 0.3},
    "O": {"mouthFunnel": 0.7, "jawOpen": 0.35},
    "Blink": {"eyeBlink": 1.0},
}
OCULUS_RECIPES: dict[str, dict[str, float]] = {
    "sil": {},
    "PP": {"mouthPress": 0.6, "mouthRollLower": 0.2, "mouthRollUpper": 0.2},
    "FF": {"mouthRollLower": 0.6, "mouthUpperUp": 0.2, "jawOpen": 0.05},
    "TH": {"jawOpen": 0.15, "tongueOut": 0.4},
    "DD": {"jawOpen": 0.2, "mouthStretch": 0.15},
    "kk": {"jawOpen": 0.25, "mouthStretch": 0.1},
    "CH": {"mouthFunnel": 0.5, "jawOpen": 0.15, "mouthShrugUpper": 0.2},
    "SS": {"mouthStretch": 0.4, "jawOpen": 0.08, "mouthSmile": 0.15},
    "nn": {"jawOpen": 0.15, "mouthStretch": 0.1},
    "RR": {"mouthFunnel": 0.3, "mouthPucker": 0.3, "jawOpen": 0.15},
    "aa": {"jawOpen": 0.7, "mouthLowerDown": 0.2},
    "E": {"jawOpen": 0.35, "mouthStretch": 0.35},
    "I": {"jawOpen": 0.2, "mouthStretch": 0.5, "mouthSmile": 0.2},
    "O": {"jawOpen": 0.4, "mouthFunnel": 0.7},
    "U": {"mouthPucker": 0.9, "jawOpen": 0.1},
}


def arkit_style(name: str) -> str:
    """`mouthSmileLeft` → `Face.MouthSmile_L`: another studio's naming of the same key."""
    for side, short in (("Left", "_L"), ("Right", "_R")):
        if name.endswith(side):
            name = name[: -len(side)] + short
    return "Face." + name[0].upper() + name[1:]


def recipe_delta(recipe: dict[str, float], deltas: np.ndarray) -> np.ndarray:
    """N×3: the ARKit targets mixed by `recipe` (a name without side means both sides)."""
    w = np.zeros(len(ARKIT_NAMES), np.float32)
    for name, value in recipe.items():
        for n in ([name] if name in INDEX else [name + s for s in BOTH]):
            w[INDEX[n]] = value
    return np.tensordot(w, deltas, 1)


def rig_keys(kind: str, deltas: np.ndarray) -> dict[str, np.ndarray]:
    """Key name → N×3 delta of a sample rig: 'arkit' (renamed), 'vrm' or 'oculus' (names as those kits write)."""
    if kind == "arkit":
        return {arkit_style(n): deltas[i] for i, n in enumerate(ARKIT_NAMES)}
    if kind == "vrm":
        return {n: recipe_delta(r, deltas) for n, r in VRM_RECIPES.items()}
    return {f"viseme_{n}": recipe_delta(r, deltas) for n, r in OCULUS_RECIPES.items()}


RIG_KINDS = ("arkit", "vrm", "oculus")
VRM_EXPRESSIONS = {"Joy": "happy", "Sorrow": "sad"}  # VRM expression key → the emotion of ours it is made from


def vrm_expression_keys(deltas: np.ndarray) -> dict[str, np.ndarray]:
    """Key name → N×3 delta of VRM's Joy and Sorrow: our emotion poses on the ARKit targets."""
    return {name: np.tensordot(emotion_pose(e), deltas, 1) for name, e in VRM_EXPRESSIONS.items()}


# (d) an armature face rig: a jaw and five lip bones, and an Action with a pose per viseme at its pose markers.
JAW_PIVOT = (0.0, -0.085, 0.14)  # the built-in head's frame (metres, +z up, the face towards -y)
BONE_LENGTH = 0.01
LIP_REACH = 0.005  # Gaussian reach of a lip bone's weight around its landmarks (m)
SPLIT_WIDTH = 0.0012  # the upper/lower lip split at the mouth (m): the rest gap between the inner lips is 1.3 mm
SPLIT_WIDENING = 0.5  # the split softens away from the mouth (m per m): cheeks do not crease
JAW_FRONT, JAW_NECK = -0.09, 0.03  # the jaw moves the face in front of y = -0.09 and above z = 0.03 (m)
JAW_FADE = 0.02  # over this distance (m)
LIP_BONES = {"lip.upper": (49, 50, 51, 52, 53, 61, 62, 63), "lip.lower": (55, 56, 57, 58, 59, 65, 66, 67),
             "lip.corner.L": (54, 64), "lip.corner.R": (48, 60)}  # the face looks down -y: its left is +x
# viseme → jaw opening (degrees), lip closing (share of the inner lips' rest gap), corners in (+) or out (-),
# lips forward, lower lip tucked up and back (mm)
BONE_VISEMES: dict[str, dict[str, float]] = {
    "sil": {}, "PP": {"close": 1.0}, "FF": {"jaw": 2.0, "tuck": 2.5}, "aa": {"jaw": 14.0},
    "E": {"jaw": 6.0, "corners": -4.0}, "I": {"jaw": 4.0, "corners": -6.0},
    "O": {"jaw": 8.0, "corners": 8.0, "forward": 3.0}, "U": {"jaw": 3.0, "corners": 11.0, "forward": 5.0},
}
MM = 0.001


def _smooth(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def bone_weights(head) -> dict[str, np.ndarray]:
    """Bone → per-vertex weight of the built-in head (summing to 1: the armature normalises them)."""
    v, lm = head.vertices, head.vertices[head.landmarks]
    part = np.array(head.part_names)[head.parts]
    skin = part == "skin"
    mouth = lm[[62, 66]].mean(0)
    r = np.linalg.norm((v - mouth)[:, [0, 2]], axis=1)
    width = SPLIT_WIDTH + SPLIT_WIDENING * np.maximum(r - 0.03, 0.0)
    lower = _smooth((mouth[2] - v[:, 2]) / width + 0.5)  # 1 below the lips' meeting line
    jaw = lower * _smooth((JAW_FRONT - v[:, 1]) / JAW_FADE) * _smooth((v[:, 2] - JAW_NECK) / JAW_FADE)
    jaw = np.where(skin, jaw, np.isin(part, ("lower_teeth", "tongue")).astype(float))
    out = {}
    for bone, ids in LIP_BONES.items():
        d = np.linalg.norm(v[:, None] - lm[list(ids)][None], axis=2).min(1)
        g = np.exp(-(d ** 2) / (2 * LIP_REACH ** 2)) * skin
        out[bone] = g * (1 - lower) if bone == "lip.upper" else g * lower if bone == "lip.lower" else g
    lips = sum(out.values())
    scale = 1 / np.maximum(lips, 1.0)
    out = {b: w * scale for b, w in out.items()}
    out["jaw"] = jaw * (1 - lips * scale)
    out["head"] = 1 - sum(out.values())
    return out


def add_bone_rig(face):
    """An armature deforming the built-in head `face` (an Armature modifier), and its pose Action 'FacePoses'
    (the armature's active Action) with a pose marker per viseme of BONE_VISEMES at frames 1, 2, ..."""
    import bpy
    from mathutils import Quaternion, Vector

    from core.face.head import load_head

    head = load_head()
    data = bpy.data.armatures.new("FaceRig")
    arm = bpy.data.objects.new("FaceRig", data)
    bpy.context.scene.collection.objects.link(arm)
    arm.matrix_world = face.matrix_world
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")
    lm = head.vertices[head.landmarks]
    places = {"head": lm[30] + (0, 0.05, 0), "jaw": JAW_PIVOT, "lip.upper": lm[62], "lip.lower": lm[66],
              "lip.corner.L": lm[54], "lip.corner.R": lm[48]}
    for name, at in places.items():
        bone = data.edit_bones.new(name)
        bone.head, bone.tail = Vector(at), Vector(at) + Vector((0, 0, BONE_LENGTH))
    for name in ("jaw", "lip.upper", "lip.corner.L", "lip.corner.R"):
        data.edit_bones[name].parent = data.edit_bones["head"]
    data.edit_bones["lip.lower"].parent = data.edit_bones["jaw"]
    bpy.ops.object.mode_set(mode="OBJECT")
    for bone, w in bone_weights(head).items():
        group = face.vertex_groups.new(name=bone)
        for i in np.nonzero(w > 1e-4)[0]:
            group.add([int(i)], float(w[i]), "REPLACE")
    face.modifiers.new("Armature", "ARMATURE").object = arm
    meet = (lm[66] - lm[62]) / 2  # the upper inner lip's way to the middle of the rest gap

    def local(bone: str, world) -> Vector:
        return data.bones[bone].matrix_local.to_3x3().inverted() @ Vector(world)

    action = bpy.data.actions.new("FacePoses")
    arm.animation_data_create().action = action
    for frame, (viseme, pose) in enumerate(BONE_VISEMES.items(), start=1):
        close = pose.get("close", 0.0) * meet
        corners, forward, tuck = (pose.get(k, 0.0) * MM for k in ("corners", "forward", "tuck"))
        moves = {"lip.upper": close + (0, -forward, 0), "lip.lower": -close + (0, -forward + tuck, tuck),
                 "lip.corner.L": (-corners, -forward, 0), "lip.corner.R": (corners, -forward, 0)}
        for name, pb in arm.pose.bones.items():
            pb.location = local(name, moves.get(name, (0, 0, 0)))
            pb.rotation_quaternion = Quaternion(local("jaw", (1, 0, 0)), np.radians(pose.get("jaw", 0.0))) \
                if name == "jaw" else Quaternion()
            pb.keyframe_insert("location", frame=frame)
            pb.keyframe_insert("rotation_quaternion", frame=frame)
        action.pose_markers.new(viseme).frame = frame
    bpy.context.scene.frame_set(1)
    return arm

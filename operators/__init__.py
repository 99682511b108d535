"""Thin bpy Operators: read the scene, call core, hand the result to the writer."""
from . import mapping
from .add_head import TALKINGHEAD_OT_add_head
from .animate import TALKINGHEAD_OT_animate, TALKINGHEAD_OT_remove_animation
from .animate_all import TALKINGHEAD_OT_animate_all
from .landmarks import TALKINGHEAD_OT_detect_landmarks
from .mouth import TALKINGHEAD_OT_cut_lips
from .sliders import TALKINGHEAD_OT_add_emotion_sliders

CLASSES = (TALKINGHEAD_OT_add_head, TALKINGHEAD_OT_animate, TALKINGHEAD_OT_animate_all,
           TALKINGHEAD_OT_remove_animation, TALKINGHEAD_OT_detect_landmarks, TALKINGHEAD_OT_cut_lips,
           TALKINGHEAD_OT_add_emotion_sliders, *mapping.CLASSES)

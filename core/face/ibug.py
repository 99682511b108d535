"""The 68-point iBUG landmark layout (Sagonas et al. 2013): the indices every stage names.

Jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, outer lips 48-59, inner lips 60-67.
"""
from __future__ import annotations

N_LANDMARKS = 68
GROUPS: dict[str, range] = {"jaw": range(0, 17), "brows": range(17, 27), "nose": range(27, 36),
                            "eyes": range(36, 48), "outer lips": range(48, 60), "inner lips": range(60, 68)}
MOUTH = range(48, 68)  # outer and inner lips
MOUTH_CORNERS = (48, 54)  # outer corners: mouth width
INNER_CORNERS = (60, 64)  # inner corners, right and left
LIP_GAP = (62, 66)  # inner upper and lower lip middles: lip gap
INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))  # inner upper/lower lip points facing each other

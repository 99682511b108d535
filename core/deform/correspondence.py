"""Carry the built-in head's ARKit targets and landmarks onto any mesh through a registration.

Each target vertex takes the displacement of the fitted head's skin at its closest
point on it (on a triangle facing the same way, so the upper lip's underside never
takes the lower lip's motion), turned back into the target's own frame and scale.
Where that still does not part the lips (the fit put the head's mouth a few
millimetres off), the displacements near the lip seam are instead diffused over the
target's *own* surface (harmonic interpolation with its Laplacian, as heat diffusion
in ScanTalk): the upper lip inherits from the still philtrum it is connected to, the
lower lip from the moving chin, because the mouth slit separates them in the mesh
even where they touch.
The result is a `Rig` (rig.py). This is the correspondence deformer, the default;
`deformers.py` names it beside the learned one, and `bench/deform.py` compares them.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse.linalg as spla
from scipy.spatial import cKDTree

from ..face.arkit import INDEX
from ..face.head import Head, load_head
from ..geometry.ops import laplacian, outward_normals, piece_labels, triangles
from ..geometry.surface import closest_points
from ..progress import Progress
from .glued_lips import has_cut, lips_part
from .landmarks import Convention
from .registration import Registration, fit_head
from .rig import Rig, make_rig

SEAM_BAND = 0.005  # m (head scale): target points this close to the head's lip seam are diffused
LIPS_PART = 0.010  # m: closest points that already open the lips this far are kept (unless the lips were cut)


def seam_distance(head: Head) -> np.ndarray:
    """Each head vertex's distance to the lip seam (where jawOpen's motion jumps within 3 mm)."""
    skin = np.nonzero(head.parts == 0)[0]
    jaw = np.linalg.norm(head.deltas[INDEX["jawOpen"]], axis=1)
    tree = cKDTree(head.vertices[skin])
    jump = np.array([np.ptp(jaw[skin[n]]) for n in tree.query_ball_point(head.vertices[skin], 0.003)])
    seam = head.vertices[skin[jump > 0.3 * jaw.max()]]
    return cKDTree(seam).query(head.vertices)[0]


def _islands_follow_their_part(x: np.ndarray, faces: np.ndarray, head: Head, fitted: np.ndarray,
                                head_d: np.ndarray) -> None:
    """Separate pieces (eyeballs, teeth, tongue) move as the head's part they sit on, not as nearby skin.

    Each island other than the largest takes the part most of its vertices are closest to (by surface: the
    head's eyeballs have 72 vertices, the skin around them thousands); if that is not skin, its targets
    come from that part alone: eyes turn with eyeLook, upper teeth stay with the skull, lower teeth and
    tongue follow the jaw. A part is where the fit moved it (with the skin around it) or where it sits on
    the head, whichever the island is nearer: the fit moves a part vertex by vertex, and an eyeball, whose
    front follows the eyelids and back the temple, came out a third of its depth, so FLAME's eyeballs
    were nearer the skin and took the eyelids' motion.
    """
    count, label = piece_labels(len(x), triangles(faces))
    if count < 2:
        return
    main = np.bincount(label).argmax()
    placements = (fitted, head.vertices.astype(np.float64))
    part_tris = [head.part_triangles(part) for part in range(len(head.part_names))]
    for island in range(count):
        members = np.nonzero(label == island)[0]
        if island == main or len(members) < 3:
            continue
        p = x[members]
        dist = [_surface_distance(p, fitted, part_tris[0])]  # per part: each member's distance
        placed = [fitted]  # per part: the placement the island is nearer
        for part in range(1, len(head.part_names)):
            options = [_surface_distance(p, at, part_tris[part]) for at in placements]
            best = int(np.argmin([np.median(d) for d in options]))
            dist.append(options[best])
            placed.append(placements[best])
        part = int(np.bincount(np.argmin(np.column_stack(dist), axis=1)).argmax())
        if part == 0:
            continue
        ids = np.nonzero(head.parts == part)[0]
        d, k = cKDTree(placed[part][ids]).query(p, k=min(4, len(ids)))
        w = 1.0 / np.maximum(d, 1e-6)
        w /= w.sum(1, keepdims=True)
        head_d[:, members] = np.einsum("nk,cnkd->cnd", w, head.deltas[:, ids[k]])


def _surface_distance(x: np.ndarray, vertices: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Each point's distance (N) to the surface `tris` of `vertices`."""
    tri, bary = closest_points(x, vertices, tris)
    return np.linalg.norm((vertices[tris[tri]] * bary[..., None]).sum(1) - x, axis=1)


def _diffuse(V: np.ndarray, faces: np.ndarray | None, deltas: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    """Harmonic interpolation of `deltas` into the `unknown` vertices over the target's own surface."""
    L, _ = laplacian(V, triangles(faces) if faces is not None and len(faces) else None)
    u, k = np.nonzero(unknown)[0], np.nonzero(~unknown)[0]
    solve = spla.factorized(L[u][:, u].tocsc())
    known = deltas[:, k].transpose(1, 0, 2).reshape(len(k), -1)
    rhs = -(L[u][:, k] @ known)
    out = deltas.copy()
    filled = np.column_stack([solve(rhs[:, c]) for c in range(rhs.shape[1])])
    out[:, u] = filled.reshape(len(u), deltas.shape[0], 3).transpose(1, 0, 2)
    return out


def transfer(vertices: np.ndarray, faces: np.ndarray | None = None, landmarks: np.ndarray | None = None,
             head: Head | None = None, registration: Registration | None = None,
             convention: Convention | None = None, progress: Progress | None = None) -> Rig:
    """Rig any mesh (N×3 vertices in its own frame, optional faces and known 68×3 landmarks).

    Registers the head to it (landmarks found where `convention` puts them), then transfers the
    ARKit targets.
    """
    head = head or load_head()
    V = np.asarray(vertices, np.float64)
    reg = registration or fit_head(V, head, faces, landmarks, convention=convention, progress=progress)
    sim = reg.similarity
    x = sim.apply(V)
    # a head triangle facing the other way is on the other lip (or eyelid): it does not count
    nt = outward_normals(x, triangles(faces)) if faces is not None and len(faces) else None
    skin = head.skin_triangles()
    tri, bary = closest_points(x, reg.fitted, skin, nt)
    idx = skin[tri]
    head_d = np.einsum("nk,cnkd->cnd", bary, head.deltas[:, idx])  # 52×N×3, head space
    if nt is not None:
        _islands_follow_their_part(x, faces, head, reg.fitted, head_d)
    deltas = sim.vectors_back(head_d)
    near_seam = (bary * seam_distance(head)[idx]).sum(1) < SEAM_BAND
    if near_seam.any() and (~near_seam).any() and (
            faces is None or lips_part(V, faces, deltas[INDEX["jawOpen"]], reg, head) < LIPS_PART
            or has_cut(V, faces, nt, reg, head)):
        deltas = _diffuse(V, faces, deltas, near_seam)
    return make_rig(V, faces, deltas, reg, head, landmarks)

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
The result is a `Rig`: one shape per ARKit name on the target's vertices, in its
vertex order, plus its 68 landmarks: points on its surface where the registration's
landmark convention (core.landmarks) puts them, and the vertex nearest each.

That is the correspondence deformer (the default). The learned one (`learned_transfer`)
keeps the registration only to pose and scale the mesh and find its landmarks, and has
the DiffusionNet of `diffusionnet.py` predict the targets from the mesh itself;
`rig_mesh` picks one by name. `bench/deform.py` compares them.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import robust_laplacian
import scipy.sparse.linalg as spla
from scipy.spatial import cKDTree

from .arkit import INDEX
from .errors import InputError
from .head import Head, load_head, posed
from .landmarks import Convention
from .mouthcut import has_cut, lips_part
from .register import (Registration, outward_normals, outward_triangles, piece_labels, register, triangles,
                       vertex_normals)
from .surface import closest_points

SEAM_BAND = 0.005  # m (head scale): target points this close to the head's lip seam are diffused
LIPS_PART = 0.010  # m: closest points that already open the lips this far are kept (unless the lips were cut)
BEYOND_HEAD = 0.010  # m: the learned deformer's motion fades out from this far beyond the fitted head
GLUED = 0.002  # m (head scale): lips that jawOpen parts less than this are taken to be one surface
LANDMARK_REACH = 0.02  # m (head scale): a landmark's surface point is sought among the triangles this near it


@dataclass
class Rig:
    """ARKit targets on a mesh: deltas (52×N×3, the mesh's frame) and its 68 landmarks.

    `landmarks` are vertex ids (the vertex nearest each landmark); `surface`, when given, places the
    landmarks between vertices: (68×3 vertex ids of a triangle, 68×3 barycentric weights).
    """

    vertices: np.ndarray
    deltas: np.ndarray
    landmarks: np.ndarray
    registration: Registration | None = None
    lips_glued: bool = False  # jawOpen does not part the lips: they are one surface (see mouthcut)
    surface: tuple[np.ndarray, np.ndarray] | None = None

    def landmark_positions(self, weights: np.ndarray) -> np.ndarray:
        """T×52 weights → T×68×3 landmark positions (on the surface, between vertices where placed so)."""
        if self.surface is None:
            return posed(self.vertices[self.landmarks], self.deltas[:, self.landmarks], weights)
        ids, w = self.surface
        at = posed(self.vertices[ids.ravel()], self.deltas[:, ids.ravel()], weights).reshape(len(weights), 68, 3, 3)
        return np.einsum("nk,tnkd->tnd", w.astype(np.float32), at)

    def landmark_points(self) -> np.ndarray:
        """The 68 landmarks on the mesh at rest (68×3, its frame)."""
        return self.landmark_positions(np.zeros((1, len(self.deltas)), np.float32))[0]

    def vertex_positions(self, weights: np.ndarray) -> np.ndarray:
        return posed(self.vertices, self.deltas, weights)


def head_rig(head: Head | None = None) -> Rig:
    """The built-in head's own rig (exact artist targets)."""
    head = head or load_head()
    return Rig(head.vertices, head.deltas, head.landmarks)


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

    Each island other than the largest takes the part most of its vertices are closest
    to; if that is not skin, its targets come from that part alone: eyes turn with
    eyeLook, upper teeth stay with the skull, lower teeth and tongue follow the jaw.
    """
    count, label = piece_labels(len(x), triangles(faces))
    if count < 2:
        return
    main = np.bincount(label).argmax()
    _, nearest = cKDTree(fitted).query(x)
    for island in range(count):
        members = np.nonzero(label == island)[0]
        if island == main or len(members) < 3:
            continue
        part = np.bincount(head.parts[nearest[members]]).argmax()
        if part == 0:
            continue
        ids = np.nonzero(head.parts == part)[0]
        dist, k = cKDTree(fitted[ids]).query(x[members], k=min(4, len(ids)))
        w = 1.0 / np.maximum(dist, 1e-6)
        w /= w.sum(1, keepdims=True)
        head_d[:, members] = np.einsum("nk,cnkd->cnd", w, head.deltas[:, ids[k]])


def _diffuse(V: np.ndarray, faces: np.ndarray | None, deltas: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    """Harmonic interpolation of `deltas` into the `unknown` vertices over the target's own surface."""
    if faces is not None and len(faces):
        L, _ = robust_laplacian.mesh_laplacian(V, triangles(faces))
    else:
        L, _ = robust_laplacian.point_cloud_laplacian(V)
    L = L.tocsr()
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
             convention: Convention | None = None) -> Rig:
    """Rig any mesh (N×3 vertices in its own frame, optional faces and known 68×3 landmarks).

    Registers the head to it (landmarks found where `convention` puts them), then transfers the
    ARKit targets.
    """
    head = head or load_head()
    V = np.asarray(vertices, np.float64)
    reg = registration or register(V, head, faces, landmarks, convention=convention)
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
    return _rig(V, faces, deltas, reg, head, landmarks)


def _rig(V: np.ndarray, faces: np.ndarray | None, deltas: np.ndarray, reg: Registration, head: Head,
         landmarks: np.ndarray | None) -> Rig:
    """The Rig, its landmarks on the surface and, as vertex ids, the vertex of each one's triangle it lies nearest."""
    surface = landmark_surface(V, faces, reg, head, landmarks)
    nearest = surface[0][np.arange(68), surface[1].argmax(1)].astype(np.int32)
    return Rig(V.astype(np.float32), deltas.astype(np.float32), nearest, reg, surface=surface)


def landmark_surface(V: np.ndarray, faces: np.ndarray | None, reg: Registration, head: Head,
                     landmarks: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The fitted head's landmarks (the registration's convention's points; the given ones where known) as
    points on the target's surface: (68×3 target vertex ids, 68×3 barycentric weights). A found point goes on
    a triangle facing the way the head does there (an inner-lip point stays on its own lip), a given one
    (already on the surface, where the user left it) on the nearest; without faces, the nearest vertex."""
    sim, convention = reg.similarity, reg.convention
    x = sim.apply(np.asarray(V, np.float64))
    points = convention.on(reg.fitted)
    known = np.zeros(68, bool)
    if landmarks is not None:
        known = np.isfinite(landmarks).all(1)
        points[known] = sim.apply(np.asarray(landmarks, np.float64)[known])
    if faces is None or not len(faces):
        ids = cKDTree(x).query(points)[1]
        return np.repeat(ids[:, None], 3, 1), np.tile([1.0, 0.0, 0.0], (68, 1))
    tris = outward_triangles(x, triangles(faces))
    # only the triangles near the landmarks: a million-vertex scan need not be indexed whole for 68 points
    near = tris[np.isfinite(cKDTree(points).query(x[tris].mean(1), distance_upper_bound=LANDMARK_REACH)[0])]
    if len(near) and (cKDTree(x[near].mean(1)).query(points)[0] < LANDMARK_REACH).all():
        tris = near
    normals = np.einsum("nk,nkd->nd", convention.weights,
                        vertex_normals(reg.fitted, triangles(head.faces))[convention.vertices])
    tri, bary = closest_points(points, x, tris, normals)
    if known.any():
        tri[known], bary[known] = closest_points(points[known], x, tris)
    return tris[tri], bary


def learned_transfer(vertices: np.ndarray, faces: np.ndarray | None = None, landmarks: np.ndarray | None = None,
                     head: Head | None = None, registration: Registration | None = None,
                     convention: Convention | None = None) -> Rig:
    """Rig any mesh with the DiffusionNet deformer (method b): the registration only poses and scales the
    mesh into the head's frame and finds its landmarks; the network predicts the targets from the mesh."""
    try:
        from . import diffusionnet
    except ImportError as exc:
        raise InputError(f"The learned deformer needs PyTorch ({exc.name} is missing): choose the "
                         "correspondence deformer, or install PyTorch into Blender's Python.") from None

    V = np.asarray(vertices, np.float64)
    if len(V) > diffusionnet.MAX_VERTICES:
        raise InputError(f"The learned deformer handles meshes up to {diffusionnet.MAX_VERTICES:,} vertices "
                         f"(this one has {len(V):,}); use the correspondence deformer for it")
    head = head or load_head()
    reg = registration or register(V, head, faces, landmarks, convention=convention)
    x = reg.similarity.apply(V)
    tris = triangles(faces) if faces is not None and len(faces) else None
    head_d = diffusionnet.predict(_deform_net(), x, tris) * _within_head(x, reg.fitted)[None, :, None]
    deltas = reg.similarity.vectors_back(head_d)
    return _rig(V, faces, deltas, reg, head, landmarks)


def _within_head(x: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    """1 on the part of the mesh the fitted head covers, fading to 0 from 1 to 3 cm beyond it: the network
    never saw shoulders or a long neck, and what it predicts there is not motion."""
    dist = cKDTree(fitted).query(x)[0]
    return np.clip(1.0 - (dist - BEYOND_HEAD) / BEYOND_HEAD / 2, 0.0, 1.0)


@functools.lru_cache(maxsize=1)
def _deform_net():
    from . import diffusionnet

    return diffusionnet.load()


DEFORMERS = {"correspondence": transfer, "learned": learned_transfer}
DEFAULT_DEFORMER = "correspondence"


def rig_mesh(vertices: np.ndarray, faces: np.ndarray | None = None, landmarks: np.ndarray | None = None,
             deformer: str = DEFAULT_DEFORMER, convention: Convention | None = None) -> Rig:
    """Rig any mesh with the named deformer (see DEFORMERS); its landmarks found by `convention`."""
    if deformer not in DEFORMERS:
        raise InputError(f"Unknown deformer {deformer!r}; choose one of {', '.join(DEFORMERS)}")
    rig = DEFORMERS[deformer](vertices, faces, landmarks, convention=convention)
    if faces is not None and len(faces):
        parted = lips_part(rig.vertices, faces, rig.deltas[INDEX["jawOpen"]], rig.registration, load_head())
        rig.lips_glued = parted < GLUED
    return rig


def glued_lips_message(name: str) -> str:
    return (f"The lips of '{name}' do not part when the jaw opens: they are one surface, as on many scans. "
            "Cut them apart first (Cut Lips Apart in Blender's Talking Head panel), then animate again.")

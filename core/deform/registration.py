"""Fit the built-in head to any face mesh: pose and scale, then a smooth non-rigid fit.

1. Similarity fit (rotation, uniform scale, translation) by trimmed ICP from each of
   the 24 axis-aligned orientations, so Y-up/+Z data, Blender's Z-up/-Y and odd
   exports all land the right way, and from each of them tilted by 30° (scans and
   sculpts come tilted); the best trimmed residual wins, and is settled by ICP with
   soft matches both ways over a narrowing reach, which ends in the same pose from
   any start near it. A mesh shorter than the head (a cropped scan) also starts at
   the head's top and bottom. When another pose, far from the winner, fits almost
   as well, the fit says so.
2. Non-rigid fit: the head's skin moves towards the target's skin surface (its small
   separate pieces, eyeballs and teeth, left out) by closest points in both
   directions, faded out towards the edge of their reach, regularised by the head's
   own Laplacian (robust-laplacian), with the stiffness lowered step by step. Where
   the target has no surface (a front-only scan) the head just follows its smooth
   neighbours. Every step varies smoothly with the target, so the same head turned
   in its data gets the same fit, turned with it.
Large meshes are fitted on a random proxy of their vertices; the result is used by
the deformers (correspondence.py, learned.py) to carry the ARKit targets and landmarks onto the target's own vertices.
"""
from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from ..errors import InputError
from ..face.head import Head
from ..geometry.ops import laplacian, outward_normals, piece_labels, triangles, unit, vertex_normals
from ..geometry.surface import Surface, incident_triangles, onto_rings
from ..progress import Progress
from .landmarks import Convention, builtin

MAX_PROXY = 30000  # target vertices used for fitting
LANDMARK_WEIGHT = 50.0  # a given landmark outweighs the closest-point pulls around it
NORMAL_REACH = 0.005  # m: closest points are sought in position + this × normal (see fit_nonrigid)
UNUSUAL_UP = 1.3  # pose-cost factor for orientations whose up is neither the mesh's +Y nor +Z
SKIN_PIECE = 0.25  # a piece this big against the largest one is skin; smaller ones are eyes, teeth...
CROP_ROOM = 0.02  # m: a mesh this much shorter than the head (each end) is also tried at its top and bottom
POSE_SHARE = 0.4  # about this much of a fit's time goes to the pose (what progress reports; the rest: the shape)
TILT_STEP = 30.0  # degrees: the pose search also starts this far off each axis-aligned orientation
COARSE_POINTS = 400  # target points each start's short ICP is scored on
COARSE_ITERS = 6  # ICP iterations per start
START_BATCH = 64  # starts fitted together (one progress step, one chance to cancel, per batch)
KEEP = 0.8  # trimmed ICP matches this nearest share of the points
FINAL_ITERS = 12  # ICP iterations per finalist, on all the points
FINALISTS = 8  # the best starts, fitted again on all the points
DISTINCT_POSE = 20.0  # degrees: a finalist turned this far from the winner is another pose, not the same one
POSE_DOUBT = 1.05  # another pose, settled, costing less than this × the winner's makes the pose doubtful
SETTLED = 1e-5  # m (head space): the pose is final once no point moves this much in a round
SOFT_REACH = (0.02, 0.01, 0.005, 0.0025)  # m (head space): the final pose's matches weigh exp(-d²/2σ²), σ narrowing
SOFT_ITERS = 300  # at most this many rounds at each σ of SOFT_REACH but the last...
SURFACE_ITERS = 150  # ...and at the last, where each round seeks the closest points on the head's surface
SOFT_POINTS = 4000  # head skin points matched back to the target (the other way round) in the final pose
FADE = 0.5  # a closest point's weight falls from 1 at this share of the reach to 0 at the reach (fit_nonrigid)


@dataclass
class Similarity:
    """x_head = scale * rotation @ x_target + translation."""

    rotation: np.ndarray
    scale: float
    translation: np.ndarray

    def apply(self, x: np.ndarray) -> np.ndarray:
        return self.scale * x @ self.rotation.T + self.translation

    def vectors_back(self, d: np.ndarray) -> np.ndarray:
        """Head-space displacements → target space."""
        return d @ self.rotation / self.scale


def _orientations() -> list[np.ndarray]:
    """The 24 axis-aligned rotations (how meshes come: Y-up, Z-up, facing any axis)."""
    out = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1, -1), repeat=3):
            r = np.zeros((3, 3))
            r[range(3), perm] = signs
            if np.linalg.det(r) > 0:
                out.append(r)
    return out


@functools.cache
def _starts() -> tuple[np.ndarray, ...]:
    """Each axis-aligned rotation, also tilted by ±TILT_STEP about one or two of the head's axes: every pose up
    to 45° of yaw, pitch and roll lies within about 25° of one, inside ICP's reach. The untilted ones come first."""
    tilts = [Rotation.from_euler("xyz", e, degrees=True).as_matrix()
             for e in itertools.product((0.0, TILT_STEP, -TILT_STEP), repeat=3) if np.count_nonzero(e) <= 2]
    return tuple(t @ r0 for t in tilts for r0 in _orientations())


def _usual_up(r0: np.ndarray) -> bool:
    """Whether the start `r0` turns the mesh's +Y or +Z towards the head's up: meshes come Z-up (Blender) or Y-up
    (most files)."""
    return r0[2, 1] > 0.5 or r0[2, 2] > 0.5


def turn_degrees(r: np.ndarray) -> float:
    """The angle (degrees) of rotation matrix `r`: how far apart two poses a, b are is turn_degrees(a @ b.T)."""
    return float(np.degrees(np.arccos(np.clip((np.trace(r) - 1) / 2, -1, 1))))


def _umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """The similarity (rotation, scale, translation) that best carries points `src` onto `dst` (N×3 each)."""
    r, s, mu_s, mu_d = _umeyamas(src, dst[None], np.ones((1, len(src))))
    return r[0], float(s[0]), mu_d[0] - s[0] * r[0] @ mu_s[0]


def _umeyamas(src: np.ndarray, dst: np.ndarray, w: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Umeyama's similarity for K weightings at once: points `src` (N×3) onto `dst` (K×N×3), each point counted
    with weight `w` (K×N; 0 leaves it out) → rotations (K×3×3), scales (K,) and the weighted centroids of src
    and dst (K×3 each), from which a caller takes the translation for the scale it keeps."""
    n = w.sum(1)
    mu_s, mu_d = w @ src / n[:, None], np.einsum("kn,knd->kd", w, dst) / n[:, None]
    a, b = src - mu_s[:, None], dst - mu_d[:, None]
    u, sig, vt = np.linalg.svd(np.einsum("kn,kni,knj->kij", w, b, a) / n[:, None, None])
    d = np.ones((len(w), 3))
    d[:, 2] = np.sign(np.linalg.det(u @ vt))
    r = (u * d[:, None]) @ vt
    return r, (sig * d).sum(1) / (np.einsum("kn,kn->k", w, (a ** 2).sum(2)) / n), mu_s, mu_d


def _trimmed_icp(target: np.ndarray, head_tree: cKDTree, head_pts: np.ndarray, r0: np.ndarray, s0: float,
                 t0: np.ndarray, iters: int = 30, keep: float = KEEP,
                 scale_range: tuple[float, float] = (0.6, 1.6)) -> tuple[Similarity, float]:
    """`iters` rounds of trimmed ICP from one start. See `_trimmed_icps`."""
    r, s, t, residual = _trimmed_icps(target, head_tree, head_pts, r0[None], np.array([s0], float), t0[None],
                                      iters, keep, scale_range)
    return Similarity(r[0], float(s[0]), t[0]), float(residual[0])


def _trimmed_icps(target: np.ndarray, head_tree: cKDTree, head_pts: np.ndarray, r0: np.ndarray, s0: np.ndarray,
                  t0: np.ndarray, iters: int, keep: float, scale_range: tuple[float, float]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Trimmed ICP of `target` (N×3) onto `head_pts` from K starts at once: rotations r0 (K×3×3), scales s0 (K,),
    translations t0 (K×3) → the fitted (K×3×3, K, K×3) and each fit's residual (the `keep` quantile of its
    distances). Each round matches every point to its nearest head point, keeps the `keep` nearest share, and
    solves the similarity on them (Umeyama), its scale held within `scale_range` × s0. Why batched: the pose
    search runs ~500 short fits, and one query and one batched SVD per round replace hundreds of small ones
    (the same arithmetic as one fit at a time)."""
    r, s, t = r0.copy(), s0.astype(float).copy(), t0.copy()
    x = s[:, None, None] * target @ r.transpose(0, 2, 1) + t[:, None]  # (K, N, 3)
    for _ in range(iters):
        dist, idx = head_tree.query(x, workers=-1)
        kept = (dist <= np.quantile(dist, keep, axis=1, keepdims=True)).astype(float)  # (K, N)
        r, s_fit, mu_s, mu_d = _umeyamas(target, head_pts[idx], kept)
        s = np.clip(s_fit, scale_range[0] * s0, scale_range[1] * s0)
        # the translation for the scale kept: Umeyama's own is for its scale, and with another one it would
        # depend on where the mesh sits in its data (a mesh moved in its data was fitted elsewhere)
        t = mu_d - s[:, None] * np.einsum("kij,kj->ki", r, mu_s)
        x = s[:, None, None] * target @ r.transpose(0, 2, 1) + t[:, None]
    dist, _ = head_tree.query(x, workers=-1)
    return r, s, t, np.quantile(dist, keep, axis=1)


def _similarities(r: np.ndarray, s: np.ndarray, t: np.ndarray, residual: np.ndarray
                  ) -> list[tuple[Similarity, float]]:
    """`_trimmed_icps`'s K fits as (Similarity, residual) pairs."""
    return [(Similarity(r[k], float(s[k]), t[k]), float(residual[k])) for k in range(len(r))]


def _front_only(target: np.ndarray, skin: np.ndarray) -> bool:
    """A face mask rather than a head: in metres, its depth (its thinnest principal extent, so any tilt reads the
    same) is well under the head's."""
    c = target - target.mean(0)
    _, _, axes = np.linalg.svd(c, full_matrices=False)
    size = np.sort(np.ptp(c @ axes.T, axis=0))
    return 0.1 < size[-1] < 0.8 and size[0] < 0.6 * np.sort(np.ptp(skin, axis=0))[0]


def _asymmetry(x: np.ndarray) -> float:
    """Median distance between the posed points mirrored in the head's midplane (x = 0) and the points.

    Faces are nearly mirror-symmetric: a front-only face posed on the side of the head,
    where it fits the surface just as well, is not.
    """
    mirrored = x * np.array([-1.0, 1.0, 1.0])
    return float(np.median(cKDTree(x).query(mirrored)[0]))


def fit_similarity(target: np.ndarray, head: Head, rng: np.random.Generator,
                   progress: Progress | None = None) -> tuple[Similarity, str]:
    """Pose and scale of `target` (N×3) that best overlays the built-in head, and why that pose is doubtful
    (empty when it is not: see POSE_DOUBT). `progress`: steps through the starts tried, up to POSE_SHARE.

    Every start (`_starts`) is scored by a short ICP on COARSE_POINTS points; the FINALISTS best are fitted on
    all the points. Centre and extent are taken in each start's own frame, so a tilted mesh is searched exactly
    as its upright self. The best is settled (`_soft_settle`); where another pose of the finalists costs within
    POSE_DOUBT of it, that one is settled too and the two are judged settled: the finalists' short fits are a few %
    from where they settle, and on them the scan tilted 10° doubted its right pose (a face-down one 3 % worse,
    43 % settled) and BIWI M1 at (-40, 45, 45) took the face-down one."""
    progress = progress or Progress()
    skin = head.vertices[head.parts == 0]
    pts = target if len(target) <= 4000 else target[rng.choice(len(target), 4000, replace=False)]
    if _front_only(pts, skin):
        skin = skin[skin[:, 1] < np.percentile(skin[:, 1], 35)]  # match a face mask to the face, not the scalp
    tree = cKDTree(skin)
    size_t = np.linalg.norm(np.ptp(pts, axis=0))
    size_h = np.linalg.norm(skin.max(0) - skin.min(0))
    head_centre = (skin.max(0) + skin.min(0)) / 2
    # a mesh whose size is that of a head in metres (most scans, FLAME, Blender characters) is taken
    # to be in metres, give or take 25 %: a front-only face then cannot grow to cover a whole head's side
    metric = 0.1 < size_t < 0.8
    s0 = 1.0 if metric else size_h / size_t
    scale_range = (0.8, 1.25) if metric else (0.6, 1.6)
    head_height = np.ptp(skin[:, 2])
    few = pts[np.linspace(0, len(pts) - 1, min(COARSE_POINTS, len(pts))).astype(int)]  # the rng stays as it was

    def cost_of(sim: Similarity, x: np.ndarray, residual: float, r0: np.ndarray) -> float:
        # a fit that shrinks the target is cheap: residuals relative to the fitted size; faces are symmetric
        cost = (residual + _asymmetry(sim.apply(x))) / sim.scale
        return cost if _usual_up(r0) else cost * UNUSUAL_UP  # other ups must fit clearly better to win

    starts, translations = [], []
    for r0 in _starts():
        # a piece of a head (neck to brows, a face and neck) starts centred, at the head's bottom and at
        # its top in turn: from the centre alone, ICP can settle it upside down on the scalp
        turned = pts @ r0.T
        lo, hi = turned.min(0), turned.max(0)
        room = (head_height - s0 * (hi - lo)[2]) / 2
        for shift in (0.0, -room, room) if _usual_up(r0) and room > CROP_ROOM else (0.0,):
            starts.append(r0)
            translations.append(head_centre + [0.0, 0.0, shift] - s0 * (lo + hi) / 2)
    tried = []
    for k in range(0, len(starts), START_BATCH):
        progress.step(POSE_SHARE * k / len(starts))
        r0 = np.array(starts[k:k + START_BATCH])
        fits = _trimmed_icps(few, tree, skin, r0, np.full(len(r0), s0), np.array(translations[k:k + START_BATCH]),
                             COARSE_ITERS, KEEP, scale_range)
        tried += [(cost_of(sim, few, residual, r), sim, r) for (sim, residual), r in zip(_similarities(*fits), r0)]
    tried.sort(key=lambda t: t[0])
    finalists = [(start, r0) for _, start, r0 in tried[:FINALISTS]]
    fits = _trimmed_icps(pts, tree, skin, np.array([f.rotation for f, _ in finalists]),
                         np.array([f.scale for f, _ in finalists]), np.array([f.translation for f, _ in finalists]),
                         FINAL_ITERS, KEEP, scale_range)
    finals = [(cost_of(sim, pts, residual, r0), sim, r0)
              for (sim, residual), (_, r0) in zip(_similarities(*fits), finalists)]
    finals.sort(key=lambda t: t[0])
    best_cost, best, best_r0 = finals[0]
    scales = (s0 * scale_range[0], s0 * scale_range[1])
    settled = _soft_settle(pts, head, skin, tree, best, scales)
    rival = next(((sim, r0) for cost, sim, r0 in finals[1:]
                  if cost < best_cost * POSE_DOUBT and turn_degrees(sim.rotation @ best.rotation.T) > DISTINCT_POSE),
                 None)
    if rival is None:
        return settled, ""

    def settled_cost(sim: Similarity, r0: np.ndarray) -> float:
        return cost_of(sim, pts, float(np.quantile(tree.query(sim.apply(pts))[0], KEEP)), r0)

    # the finalists' costs are of short fits, a few % from where they settle: the best other pose is settled too,
    # the two are compared settled, and the better one is kept
    other = _soft_settle(pts, head, skin, tree, rival[0], scales)
    cost, other_cost = settled_cost(settled, best_r0), settled_cost(other, rival[1])
    if other_cost < cost:
        settled, other, cost, other_cost = other, settled, other_cost, cost
    return settled, _pose_doubt(settled, cost, [(other_cost, other)])


def _pose_doubt(best: Similarity, cost: float, others: list[tuple[float, Similarity]]) -> str:
    """Why the pose found is doubtful: another pose, far from it, fits almost as well (POSE_DOUBT)."""
    for other_cost, other in others:
        turn = turn_degrees(other.rotation @ best.rotation.T)
        if turn > DISTINCT_POSE and other_cost < cost * POSE_DOUBT:
            return (f"another pose, turned {turn:.0f}° from the one used, fits the built-in head almost as well "
                    f"({other_cost / cost - 1:.0%} worse)")
    return ""


def _weighted_similarity(src: np.ndarray, dst: np.ndarray, w: np.ndarray, scales: tuple[float, float],
                         sim: Similarity) -> Similarity:
    """The similarity carrying `src` onto `dst` (N×3 each), each pair counted with weight `w` (N,), its scale held
    within `scales`; `sim` itself where no pair weighs anything (nothing matches within reach)."""
    if w.sum() <= 1e-12:
        return sim
    r, s, mu_s, mu_d = _umeyamas(src, dst[None], w[None])
    scale = float(np.clip(s[0], *scales))
    return Similarity(r[0], scale, mu_d[0] - scale * r[0] @ mu_s[0])


def _soft_settle(target: np.ndarray, head: Head, skin: np.ndarray, tree: cKDTree, sim: Similarity,
                 scales: tuple[float, float]) -> Similarity:
    """The pose `sim` of `target` (N×3) settled on the head's `skin` points (`tree` over them) by ICP whose matches,
    both ways (target → head, head → target), weigh exp(-d²/2σ²), σ narrowing through SOFT_REACH; at the last σ
    each target point matches the closest point on the head's skin surface instead of its closest vertex (vertex
    matches leave an offset, about 1 mm on the head re-meshed finer, for the non-rigid fit to take for shape) and
    pulls along the head's normal there only (`_surface_step`; the normal blended from the triangle's corners, so
    that it turns smoothly across an edge, where a face's own normal jumps and a point on the edge took either by a
    rounding's difference), while the head's points matched back pull whole; the scale is held (there it drifts
    slowly: FLAME's, free, was still shrinking after 30 rounds, 1.5 % smaller after 200). Pulled whole, a target
    point also slides along the surface, and its match slides with it, a little less each round: multiface's last σ
    took 118 rounds, along the normals 72 (FLAME 47 → 27). Each σ's rounds go on until no point moves SETTLED:
    stopped after 15, the pose kept a memory of its start (BIWI's and a scan's tilted poses ended 0.4–6° apart).

    Why: trimmed ICP (a hard share of the nearest matches) has stationary poses a few degrees apart on a head that
    is not the built-in one's shape, and which one it stops in depends on where it starts: FLAME rotated in its
    data by 10–45° settled 3.0–4.6° and up to 3 % of scale away from its upright fit. Soft matches at a wide σ
    leave one minimum; narrowing σ then follows it, so every start near the pose ends in the same one. The head's
    points matched back hold the pose where the target's matches alone leave it free to slide (one-way, FLAME's
    surface step drifted 0.7° from one start's pose)."""
    head_pts = skin[np.linspace(0, len(skin) - 1, min(SOFT_POINTS, len(skin))).astype(int)]
    tris, hv = head.skin_triangles(), head.vertices.astype(np.float64)
    surface = Surface(hv, tris)
    smooth = vertex_normals(hv, triangles(head.faces))
    for k, sigma in enumerate(SOFT_REACH):
        last = k == len(SOFT_REACH) - 1
        for _ in range(SURFACE_ITERS if last else SOFT_ITERS):
            x = sim.apply(target)
            d_back, to_target = cKDTree(x).query(head_pts, workers=-1)
            if last:
                tri, w = surface.closest(x)
                on_head = (hv[tris[tri]] * w[..., None]).sum(1)
                d = np.concatenate([np.linalg.norm(on_head - x, axis=1), d_back])
                weight = np.exp(-d ** 2 / (2 * sigma ** 2))
                normals = unit((smooth[tris[tri]] * w[..., None]).sum(1))
                sim = _surface_step(x, on_head, normals, weight[:len(x)], x[to_target], head_pts, weight[len(x):], sim)
            else:
                on_head = skin[tree.query(x, workers=-1)[1]]
                d = np.concatenate([np.linalg.norm(on_head - x, axis=1), d_back])
                sim = _weighted_similarity(np.concatenate([target, target[to_target]]),
                                           np.concatenate([on_head, head_pts]), np.exp(-d ** 2 / (2 * sigma ** 2)),
                                           scales, sim)
            if np.abs(sim.apply(target) - x).max() < SETTLED:
                break
    return sim


def _surface_step(points: np.ndarray, on_surface: np.ndarray, normals: np.ndarray, w: np.ndarray,
                  matched: np.ndarray, to: np.ndarray, w_matched: np.ndarray, sim: Similarity) -> Similarity:
    """`sim` moved rigidly (scale held), in head space, so that `points` (N×3, `sim` applied) best meet the planes
    through `on_surface` (N×3) with unit `normals` (N×3), each pair weighing `w` (N), and `matched` (M×3, `sim`
    applied) best meet `to` (M×3), weighing `w_matched` (M): least squares of w·(n·(x' − q))² + w_matched·|x' − q|²,
    x' = x + ω×(x − c) + τ with the turn ω linearised about the pairs' weighted centre c, then applied exactly.
    `sim` itself where no pair weighs anything."""
    total = w.sum() + w_matched.sum()
    if total <= 1e-12:
        return sim
    centre = ((w[:, None] * points).sum(0) + (w_matched[:, None] * matched).sum(0)) / total
    jac = np.concatenate([np.cross(points - centre, normals), normals], axis=1)  # ∂(n·x')/∂(ω, τ)
    lhs = jac.T @ (w[:, None] * jac)
    rhs = jac.T @ (w * np.einsum("nd,nd->n", normals, on_surface - points))
    for axis in np.eye(3):  # each coordinate of the whole pull
        jac = np.concatenate([np.cross(matched - centre, axis), np.broadcast_to(axis, matched.shape)], axis=1)
        lhs += jac.T @ (w_matched[:, None] * jac)
        rhs += jac.T @ (w_matched * ((to - matched) @ axis))
    omega_tau = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
    turn = Rotation.from_rotvec(omega_tau[:3]).as_matrix()
    shift = centre - turn @ centre + omega_tau[3:]
    return Similarity(turn @ sim.rotation, sim.scale, turn @ sim.translation + shift)


def _reach_weight(dist: np.ndarray, reach: float) -> np.ndarray:
    """Weight of closest-point pairs `dist` apart (m): 1 within FADE × `reach`, falling linearly to 0 at `reach`.

    Why not a hard cut at the reach: a pair then switches on or off as it crosses it, and a region with it:
    FLAME turned by a tenth of a degree moved its fitted head's vertices by up to 27 mm (2 mm faded)."""
    return np.clip((reach - dist) / ((1 - FADE) * reach), 0.0, 1.0)


def _laplacian(head: Head) -> sp.csr_matrix:
    L, M = laplacian(head.vertices, triangles(head.faces))
    return sp.diags(1.0 / M.diagonal()) @ L


def fit_nonrigid(target_in_head: np.ndarray, head: Head, target_normals: np.ndarray | None = None,
                 landmarks_in_head: np.ndarray | None = None, target_tris: np.ndarray | None = None,
                 convention: Convention | None = None, steps=(1.0, 0.3, 0.1, 0.03), iters: int = 4,
                 reach: tuple[float, ...] = (0.02, 0.015, 0.01, 0.01), progress: Progress | None = None
                 ) -> np.ndarray:
    """Deformed head vertices (V×3, head space) hugging the target's surface.

    `steps` lower the stiffness stage by stage; `reach` (m, per stage) is how far a closest point may
    be, its pull fading out over the farther half (`_reach_weight`). The stiff first stages reach further: after the similarity fit a face's features can sit a
    centimetre from their match (FaceTalk_170728_03272's mouth: 11 mm), and with a 1 cm reach the
    head's upper lip settled on the target's lower lip.

    With target normals (and no landmarks), closest points are sought in position + NORMAL_REACH ×
    normal, so a vertex slides to where the target's surface turns the way it does (eye corners,
    lips, the nose settle on their match instead of the nearest skin), and a pair only counts where the
    surfaces face the same way, so the upper lip's underside never latches onto the lower lip's top. Given
    landmarks (68×3, NaN where unknown), the head's landmarks (`convention`'s points, by default its
    landmark vertices) are pinned to them: each landmark's triangle is moved as one onto its point.

    With the target's triangles (over `target_in_head`), target points pull the head only along its
    normal, and a head vertex is matched to the closest point on the triangles around its matched target
    vertex: a fine target's many points around one head vertex, and a coarse target's vertices (QuadriFlow's
    are 5 mm apart), would otherwise drag the head sideways. In every stage: matched to vertices, the stiff
    stages jumped a vertex's spacing as the nearest vertex changed, so 0.01 mm of noise on FLAME moved fitted
    head vertices by up to 1.3 mm (0.11 mm on the surface).

    `progress` hears of each iteration (POSE_SHARE to 1) and may cancel between them.
    """
    progress = progress or Progress()
    V = head.vertices.astype(np.float64)
    skin = head.parts == 0
    tris = triangles(head.faces)
    convention = convention or builtin(head)
    L = _laplacian(head)
    LtL = (L.T @ L).tocsc()
    # given landmarks already fix where the features go: the normal term would only compete with them
    oriented = target_normals is not None and landmarks_in_head is None
    tree_t = cKDTree(np.hstack([target_in_head, NORMAL_REACH * target_normals]) if oriented else target_in_head)
    X = V.copy()
    ring = None if target_tris is None or not len(target_tris) else incident_triangles(len(target_in_head),
                                                                                        target_tris)
    for stage, (stiffness, max_dist) in enumerate(zip(steps, reach)):
        for it in range(iters):
            progress.step(POSE_SHARE + (1 - POSE_SHARE) * (stage * iters + it) / (len(steps) * iters))
            nx = vertex_normals(X, tris)
            # head → target: each skin vertex pulled to its closest target point
            _, idx = tree_t.query(np.hstack([X, NORMAL_REACH * nx]) if oriented else X)
            w = skin * _reach_weight(np.linalg.norm(target_in_head[idx] - X, axis=1), max_dist)
            if target_normals is not None:
                w *= (nx * target_normals[idx]).sum(1) > 0.3
            matched = target_in_head[idx] if ring is None else onto_rings(X, idx, target_in_head, target_tris, ring)
            y = np.where(w[:, None] > 0, matched, X)
            # target → head: target points pull their closest head vertex (covers thin features: lips)
            d2, idx2 = cKDTree(X[skin]).query(target_in_head)
            pull_w = _reach_weight(d2, max_dist)
            if target_normals is not None:
                pull_w *= (nx[skin][idx2] * target_normals).sum(1) > 0.3
            skin_ids = np.nonzero(skin)[0][idx2]
            acc = np.zeros_like(X)
            cnt = np.zeros(len(X))
            np.add.at(acc, skin_ids, pull_w[:, None] * target_in_head)
            np.add.at(cnt, skin_ids, pull_w)
            has = cnt > 0
            pull = acc[has] / cnt[has, None]
            if ring is not None:
                pull = X[has] + ((pull - X[has]) * nx[has]).sum(1, keepdims=True) * nx[has]
            # a vertex pulled by target points blends their mean in as far as they are within reach
            share = 0.5 * np.minimum(cnt[has], 1.0)
            y[has] = (1 - share[:, None]) * y[has] + share[:, None] * pull
            w[has] = np.maximum(w[has], np.minimum(cnt[has], 1.0))
            if landmarks_in_head is not None:
                known = np.isfinite(landmarks_in_head).all(1)
                ids = convention.vertices[known]
                shift = landmarks_in_head[known] - convention.on(X)[known]
                y[ids] = X[ids] + shift[:, None]
                w[ids] = LANDMARK_WEIGHT
            # minimise |W(X - y)|² + (λ|L (X - V)|)², keeping the head's shape as the prior
            # (a tiny pull to the current position keeps unobserved islands well-posed)
            w = np.maximum(w, 1e-6)
            lam = (stiffness * 1e-3) ** 2
            solve = spla.factorized((sp.diags(w) + lam * LtL).tocsc())
            b = w[:, None] * y + lam * (LtL @ V)
            X = np.column_stack([solve(b[:, k]) for k in range(3)])
    # eyes, teeth and tongue move with the skin around them
    parts = ~skin
    _, near = cKDTree(V[skin]).query(V[parts], k=8)
    disp = (X - V)[skin]
    X[parts] = V[parts] + disp[near].mean(1)
    return X


@dataclass
class Registration:
    similarity: Similarity
    fitted: np.ndarray  # V×3 head vertices fitted to the target, head space
    convention: Convention  # where on the head the landmarks found through this fit sit
    pose_doubt: str = ""  # why the pose found looks wrong (empty: it looks right)


def fit_head(target_vertices: np.ndarray, head: Head, faces: np.ndarray | None = None,
             landmarks: np.ndarray | None = None, seed: int = 0,
             convention: Convention | None = None, progress: Progress | None = None) -> Registration:
    """Fit the built-in head to `target_vertices` (N×3, any pose, scale and vertex order).

    `faces` (triangles or quads) give surface normals that make the fit of the lips safer.
    `landmarks` (68×3 in the target's frame, NaN rows unknown), e.g. corrected by the user,
    set the pose from them (with 6 or more) and pin the head's landmarks to them. `convention` says where
    on the head the landmarks sit (default: the head's own landmark vertices; see landmarks.py).
    `progress` hears how far the fit is and may cancel it between iterations.
    """
    V = np.asarray(target_vertices, np.float64)
    if V.ndim != 2 or V.shape[1] != 3 or len(V) < 100:
        raise InputError(f"The mesh has {len(V)} vertices: a face mesh needs at least 100.")
    if not np.isfinite(V).all():
        raise InputError("The mesh has invalid (NaN or infinite) vertex coordinates.")
    if np.linalg.norm(V.max(0) - V.min(0)) <= 0:
        raise InputError("The mesh has no extent: all its vertices are in one point.")
    rng = np.random.default_rng(seed)
    pick = np.arange(len(V)) if len(V) <= MAX_PROXY else rng.choice(len(V), MAX_PROXY, replace=False)
    convention = convention or builtin(head)
    known = None if landmarks is None else np.isfinite(landmarks).all(1)
    doubt = ""  # given landmarks set the pose: no doubt about it
    if known is not None and known.sum() >= 6:
        r, sc, t = _umeyama(landmarks[known], convention.on(head.vertices)[known])
        sim, _ = _trimmed_icp(V[pick], cKDTree(head.vertices[head.parts == 0]), head.vertices[head.parts == 0],
                              r, sc, t, iters=10)
    else:
        sim, doubt = fit_similarity(V[pick], head, rng, progress)
    normals = picked_tris = None
    if faces is not None and len(faces):
        tris = triangles(faces)
        normals = outward_normals(V, tris)[pick] @ sim.rotation.T
        # the skin is fitted to the target's skin: eyeballs and teeth (small separate pieces) would pull
        # the head's eyelids and lips onto themselves
        _, labels = piece_labels(len(V), tris)
        sizes = np.bincount(labels)
        skin = (sizes >= SKIN_PIECE * sizes.max())[labels][pick]
        pick, normals = pick[skin], normals[skin]
        # the target's triangles among the picked points (all of a mesh up to MAX_PROXY vertices; of a
        # bigger one's random proxy hardly any, and the fit then matches vertices)
        where = -np.ones(len(V), np.int64)
        where[pick] = np.arange(len(pick))
        t = where[tris]
        picked_tris = t[(t >= 0).all(1)]
    lm_head = None if landmarks is None else sim.apply(np.asarray(landmarks, np.float64))
    fitted = fit_nonrigid(sim.apply(V[pick]), head, normals, lm_head, picked_tris, convention, progress=progress)
    return Registration(sim, fitted, convention, doubt)

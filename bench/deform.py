"""Any-mesh benchmark (issue: topology-free deformation): landmarks, transferred ARKit targets, time.

1. Landmark error (mm, per group) on the FLAME template and the VOCASET heads against
   the FLAME 68-landmark embedding (51 static points + the frontal jaw contour): with the
   built-in head's own landmarks, and with FLAME's convention learned from the other heads
   (leave-one-out); how far that convention moves the landmarks on the other topologies.
2. The built-in head re-meshed into topologies neither method trained on (midpoint
   subdivision, and the same shuffled, rotated to Y-up and scaled to centimetres; quadric
   decimation to half; Blender's voxel and QuadriFlow remeshers on its skin; the closed voxel
   remesh again after *Cut Lips Apart*), ground truth
   carried by the subdivision or by surface correspondence:
   mean error (mm) of the jawOpen / mouthPucker / mouthSmile targets and of 200 speech
   frames in the mouth region and the static region.
3. Every real head: lip gap opened by jawOpen (mm, at the landmarks found on it, or
   the embedding's on FLAME topology) and the largest jawOpen motion of the region
   farthest from the mouth (back/top of the head); seconds per mesh.
Both methods side by side: (a) correspondence transfer, (b) the learned DiffusionNet.
Writes the 'deform' section of docs/benchmarks.md.

    python bench/deform.py
"""
from __future__ import annotations

import glob
import os
import sys
import time
from dataclasses import replace

import numpy as np
from common import REPORT, need_data, table, write_section
from scipy.spatial import cKDTree

from core.deform.correspondence import transfer
from core.deform.glued_lips import lips_part
from core.deform.landmarks import flame_embedding, flame_landmarks
from core.deform.landmarks_learn import learn
from core.deform.learned import learned_transfer
from core.deform.rig import landmark_surface
from core.face.arkit import INDEX
from core.face.head import load_head
from core.face.ibug import GROUPS
from core.geometry.meshio import read_mesh
from core.geometry.ops import outward_normals, triangles
from core.geometry.surface import closest_points
from core.training.deform_eval import jaw_metrics, subdivided_head, surface_targets

SHAPES = ("jawOpen", "mouthPucker", "mouthSmileLeft", "mouthSmileRight")




def decimated_head(reduction: float = 0.5):
    """The built-in head's triangles decimated (quadric error) to half: new topology and vertex
    positions; ground truth carried by surface correspondence (`carried`)."""
    import fast_simplification

    head = load_head()
    tris = triangles(head.faces)
    V, F = fast_simplification.simplify(head.vertices.astype(np.float32), tris.astype(np.int32),
                                        target_reduction=reduction)
    return (V, F) + carried(V, F, tris)


def carried(V: np.ndarray, F: np.ndarray, tris: np.ndarray):
    """(targets K×N×3, closest points N×3): the built-in head's targets (on its triangles `tris`) at each
    vertex's closest point on it that faces the same way: by the mouth slit a re-meshed vertex of one lip
    can lie nearer the other lip's underside, and the way its own surface faces says which lip it is on."""
    head = load_head()
    tri, w = closest_points(V, head.vertices.astype(np.float64), tris, outward_normals(V, triangles(F)))
    ids = tris[tri]
    return np.einsum("nk,cnkd->cnd", w, head.deltas[:, ids]), (head.vertices[ids] * w[..., None]).sum(1)


def blender_remeshed(mode: str):
    """The built-in head's skin re-meshed by Blender; ground truth carried by surface correspondence.

    'VOXEL_CLOSED': the neck hole filled first, as a sculptor's closed mesh, then 3 mm voxels (the whole
    head; the lips fuse); 'QUADRIFLOW': about 4000 quads. (The voxel remesher needs a closed mesh: on
    the open skin it only fills the closed pockets, the mouth's inside and the eye sockets.)"""
    import bpy  # noqa: I001 (first: bmesh is importable only once bpy is loaded)
    import bmesh

    head = load_head()
    skin = np.nonzero(head.parts == 0)[0]
    remap = -np.ones(len(head.vertices), int)
    remap[skin] = np.arange(len(skin))
    quads = remap[head.faces[(head.parts[head.faces] == 0).all(1)]]
    mesh = bpy.data.meshes.new("remesh")
    mesh.from_pydata(head.vertices[skin].tolist(), [], quads.tolist())
    obj = bpy.data.objects.new("remesh", mesh)
    bpy.context.scene.collection.objects.link(obj)
    if mode == "VOXEL_CLOSED":
        bm = bmesh.new()
        bm.from_mesh(mesh)
        bmesh.ops.holes_fill(bm, edges=[e for e in bm.edges if e.is_boundary], sides=0)
        bm.to_mesh(mesh)
        bm.free()
        obj.modifiers.new("remesh", "REMESH").voxel_size = 0.003
        ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
        out = ev.to_mesh()
    else:
        bpy.context.view_layer.objects.active = obj
        obj.select_set(True)
        bpy.ops.object.quadriflow_remesh(target_faces=4000, use_mesh_symmetry=False, seed=0)
        out = obj.data
    V = np.array([v.co[:] for v in out.vertices])
    out.calc_loop_triangles()
    F = np.array([t.vertices[:] for t in out.loop_triangles])
    bpy.data.objects.remove(obj)
    return (V, F) + carried(V, F, head.skin_triangles())


def cut_apart(V: np.ndarray, F: np.ndarray):
    """The mesh after the extension's own *Cut Lips Apart* (the real operator, in bpy), with ground truth
    carried again: the slit's two copies of each cut vertex take the upper or the lower lip's target,
    by the side their faces lie on (plain closest points cannot tell the two apart)."""
    import bpy

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
    from talkinghead_cli import load_package

    pkg = load_package()
    pkg.register()
    mesh = bpy.data.meshes.new("glued")
    mesh.from_pydata(V.tolist(), [], F.tolist())
    obj = bpy.data.objects.new("glued", mesh)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    assert bpy.ops.talkinghead.cut_lips() == {"FINISHED"}
    V2 = np.array([v.co[:] for v in mesh.vertices])
    F2 = np.array([p.vertices[:] for p in mesh.polygons])
    bpy.data.objects.remove(obj)
    pkg.unregister()
    head = load_head()
    tris = head.skin_triangles()
    D, base = carried(V2, F2, tris)
    # the cut's vertices: the new copies and the originals they were split from (same position)
    new = np.arange(len(V), len(V2))
    split = np.unique(np.r_[new, cKDTree(V2[:len(V)]).query(V2[new])[1]])
    centre, count, face_z = np.zeros(len(V2)), np.zeros(len(V2)), V2[F2].mean(1)[:, 2]
    for k in range(3):
        np.add.at(centre, F2[:, k], face_z)
        np.add.at(count, F2[:, k], 1.0)
    below = centre / np.maximum(count, 1) < V2[:, 2]  # its faces lie under it: the lower lip's copy
    jaw = np.linalg.norm(head.deltas[INDEX["jawOpen"]], axis=1)
    moving = jaw[tris].mean(1) > 0.5 * jaw[head.landmarks[66]]
    for lower in (True, False):
        ids = split[below[split] == lower]
        D[:, ids], base[ids] = surface_targets(head.vertices, tris[moving == lower], head.deltas, V2[ids])
    return V2, F2, D, base


def group_row(label: str, err: np.ndarray) -> list:
    """[label, per-group means, mean] of H×68 errors (mm)."""
    return [label] + [float(np.nanmean(err[:, list(r)])) for r in GROUPS.values()] + [float(np.nanmean(err))]


def deform_net_command() -> str:
    from core.deform import diffusionnet

    return diffusionnet.load().meta["command"]


def speech_frames(count: int) -> np.ndarray:
    """`count` frames of ARKit weights (count×52) drawn from the phonetic engine on synthetic speech,
    the frames where the mouth moves."""
    from core.engines import animate
    from core.speech.espeak import synthesise, write_wav

    path = os.path.join(os.path.dirname(REPORT), "..", "out", "deform_bench_speech.wav")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    text = "Bob, please move the big map by the window; we will be home for supper."
    speech = synthesise(text)
    write_wav(path, speech.samples, speech.sample_rate)
    w = animate(path, text, "phonetic", 30.0, {}).weights  # aligned to the text: every viseme is there
    w = w[w.max(1) > 0.05]
    return w[np.random.default_rng(0).choice(len(w), count, replace=len(w) < count)]


def main() -> None:
    data = need_data()
    head = load_head()
    flame_dir = os.path.join(data, "meshes", "flame")
    # 1 + 3 on the real heads
    lm_rows, real_rows, corrected_rows = [], [], []
    flame_heads, surface_errors, at_vertex, floors = [], [], [], []  # FLAME-topology heads; their landmark errors
    fits = []  # every head: (name, vertices, faces, its rig) to place FLAME's convention on
    meshes = sorted(glob.glob(os.path.join(data, "meshes", "*", "*.ply")) +
                    glob.glob(os.path.join(data, "meshes", "*", "*.obj")))
    for path in meshes:
        V, F = read_mesh(path)
        t = time.perf_counter()
        rig = transfer(V, F)
        secs = time.perf_counter() - t
        t = time.perf_counter()
        learned = learned_transfer(V, F, registration=rig.registration)
        secs_b = time.perf_counter() - t
        name = os.path.relpath(path, os.path.join(data, "meshes"))
        fits.append((name, V, F, rig))
        flame_topology = len(V) == 5023 and F is not None
        embedding = None
        if flame_topology:
            embedding = flame_embedding(F, flame_dir)
            gt = flame_landmarks(V, F, flame_dir)
            err = 1000 * np.linalg.norm(rig.landmark_points() - gt, axis=1)
            lm_rows.append([name] + [float(err[list(r)].mean()) for r in GROUPS.values()]
                           + [float(err[17:].mean()), float(err.mean())])
            flame_heads.append((V, F, gt))
            surface_errors.append(err)
            at_vertex.append(1000 * np.linalg.norm(V[rig.landmarks] - gt, axis=1))
            floors.append(1000 * cKDTree(V).query(gt)[0])
            # the same head with its 51 face landmarks given, as a user would correct them in Blender
            given = np.where(np.arange(68)[:, None] >= 17, gt, np.nan)
            fixed = transfer(V, F, landmarks=given)
            corrected_rows.append([name, jaw_metrics(rig, embedding)[0], jaw_metrics(fixed, embedding)[0],
                                   jaw_metrics(fixed, embedding)[1]])
        for method, r, s in (("a", rig, secs), ("b", learned, secs_b)):
            gap, still = jaw_metrics(r, embedding)
            parts = 1000 * lips_part(V, F, r.deltas[INDEX["jawOpen"]], rig.registration, head) if F is not None else 0.
            real_rows.append([name, len(V), method, gap if embedding is not None else "-", parts, still, s])
            print(real_rows[-1], flush=True)
    # landmarks in FLAME's convention: learned from the other FLAME heads (what `landmarks learn --flame` does)
    flame_convention, loo = learn(flame_heads, "flame")
    # how far FLAME's convention (learned from all seven) moves each head's landmarks from the built-in ones, in
    # mm at the built-in head's scale: on other topologies it should move them as it does on FLAME's
    shift_rows = []
    for name, V, F, rig in fits:
        reg = replace(rig.registration, convention=flame_convention)
        ids, w = landmark_surface(V, F, reg, head)
        moved = np.einsum("nk,nkd->nd", w, V[ids]) - rig.landmark_points()
        shift_rows.append(group_row(name, 1000 * reg.similarity.scale * np.linalg.norm(moved, axis=1)[None]))
    convention_rows = [group_row(row[0], e[None]) for row, e in zip(lm_rows, loo)]
    convention_rows.append(group_row(f"mean of {len(loo)}", loo))
    compare_rows = [group_row("built-in convention, at a mesh vertex (as reported before)", np.array(at_vertex)),
                    group_row("built-in convention, on the surface", np.array(surface_errors)),
                    group_row("FLAME's convention learned from the other heads, on the surface", loo),
                    group_row("nearest vertex to the true point (floor of a landmark at a vertex)", np.array(floors))]
    # a 1M-vertex scan: the scan subdivided three times (fitted on a 30k-vertex proxy)
    import resource

    import trimesh

    V, F = read_mesh(os.path.join(data, "meshes", "scans", "scantalk_demo_mesh.ply"))
    for _ in range(3):
        V, F = trimesh.remesh.subdivide(V, F)
    t = time.perf_counter()
    rig = transfer(V, F)
    secs = time.perf_counter() - t
    big = ["scan subdivided ×3", len(V), "a", "-",
           1000 * lips_part(V, F, rig.deltas[INDEX["jawOpen"]], rig.registration, head), jaw_metrics(rig)[1], secs]
    real_rows.append(big)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    del rig
    # 2 on re-meshed versions of the built-in head
    Vs, Fs, Ds, parts = subdivided_head()
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(Vs))
    inv = np.argsort(perm)
    yup = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], float)  # Blender → Y-up, face towards +Z
    Vd, Fd, Dd, on_surface = decimated_head()
    variants = {"subdivided": (Vs, Fs, Ds, np.eye(3), 1.0, Vs),
                "subdivided, shuffled, Y-up, cm": (100 * Vs[perm] @ yup.T, inv[Fs], Ds[:, perm], yup, 100.0, Vs[perm]),
                f"decimated to {len(Vd)} vertices": (Vd, Fd, Dd, np.eye(3), 1.0, on_surface)}
    for mode, label in (("VOXEL_CLOSED", "voxel-remeshed closed skin (3 mm)"),
                        ("QUADRIFLOW", "quad-remeshed skin (QuadriFlow)")):
        V, F, D, on_surface = blender_remeshed(mode)
        variants[f"{label}, {len(V)} vertices"] = (V, F, D, np.eye(3), 1.0, on_surface)
        if mode == "VOXEL_CLOSED":
            V, F, D, on_surface = cut_apart(V, F)
            variants[f"{label}, after *Cut Lips Apart*, {len(V)} vertices"] = (V, F, D, np.eye(3), 1.0, on_surface)
    mouth_c = head.vertices[head.landmarks[48:68]].mean(0)
    remesh_rows = []
    weights = speech_frames(200)
    for label, (V, F, D, R, scale, base) in variants.items():
        t = time.perf_counter()
        rig = transfer(V, F)
        secs = time.perf_counter() - t
        t = time.perf_counter()
        learned = learned_transfer(V, F, registration=rig.registration)
        secs_b = time.perf_counter() - t
        region_mouth = np.linalg.norm(base - mouth_c, axis=1) < 0.035
        region_static = (base[:, 2] > 0.2) | (base[:, 1] > 0.0)  # scalp and back of head / neck
        for method, r, s in (("a", rig, secs), ("b", learned, secs_b)):
            pred = r.deltas @ R / scale  # back to Blender metres
            fields = [(shape, pred[INDEX[shape]], D[INDEX[shape]]) for shape in SHAPES]
            frames = [(np.tensordot(w, pred, 1), np.tensordot(w, D, 1)) for w in weights]
            for shape, p, g in fields + [("200 speech frames", *zip(*frames))]:
                err = 1000 * np.linalg.norm(np.asarray(p) - np.asarray(g), axis=-1)
                m, st = err[..., region_mouth], err[..., region_static]
                remesh_rows.append([label, method, shape, float(m.mean()), float(m.max()),
                                    float(st.mean()), float(st.max()), s])
                print(remesh_rows[-1], flush=True)
    body = ("## Any mesh: the two deformers (`python bench/deform.py`)\n\n"
            "Method **a**, correspondence (the default): similarity fit from the 24 axis orientations and each "
            "tilted 30° about one or two axes (see the tilt section), the best settled by two-way ICP with soft "
            "matches over a narrowing reach, "
            "Laplacian-regularised non-rigid fit of the built-in head to the target's surface, ARKit targets read "
            "off the fitted head's skin at each vertex's closest point on it (on a triangle facing the same way, "
            "a triangle turned from the vertex's own surface counting as farther) and, near glued or cut lips, "
            "diffused over the target's own surface; with no landmarks given, the "
            "fit seeks closest points in position + 5 mm × normal. Method **b**, learned: the same similarity "
            "fit poses and scales the mesh, then our DiffusionNet (`core/deform/diffusionnet.py`, weights from "
            f"`{deform_net_command()}`) predicts the 52 targets from the mesh's own Laplacian spectrum and "
            "tangent gradients; its seconds exclude the shared registration. Landmarks come from the "
            "registration for both. Sparse2Dense (for templates) has its own section.\n\n"
            "Landmark error (mm) against the FLAME embedding (jaw: the dynamic contour's row 0, which is "
            "frontal: it is the symmetric row, and FLAME's code indexes rows by yaw 0…39°, then −1…−39°):\n\n"
            + table(["mesh"] + list(GROUPS) + ["mean w/o jaw", "mean"],
                    lm_rows + [[f"mean of {len(lm_rows)}"] + list(np.mean([r[1:] for r in lm_rows], axis=0))])
            + "\n\nMost of that error is where FLAME puts each point against where the built-in head's own rules "
            "do (its jaw contour 15 mm further back, its eyelid points nearer the middle of the lid): an offset the "
            "heads share. A landmark convention learned from meshes whose landmarks are known removes it (core/deform/"
            "landmarks.py; `python -m core landmarks learn --meshes DIR --flame FLAME_DIR --out flame.npz`, then "
            "`--landmark-convention flame.npz` or the panel's Landmarks file). Each head's error with the convention "
            "learned from the other six (leave-one-out, as on a new mesh; the learned file stays with the user, as "
            "FLAME's licence asks):\n\n"
            + table(["mesh"] + list(GROUPS) + ["mean"], convention_rows)
            + "\n\nSide by side (mean of the same heads, mm):\n\n"
            + table(["landmarks"] + list(GROUPS) + ["mean"], compare_rows)
            + "\n\nThe other topologies have no true landmarks, but FLAME's convention (learned from all seven) should "
            "move their landmarks from the built-in ones as it moves the FLAME heads' (mm, at the built-in head's "
            "scale; BIWI's faces end in front of the ears, where FLAME's jaw contour starts):\n\n"
            + table(["mesh"] + list(GROUPS) + ["mean"], shift_rows)
            + "\n\nBuilt-in head re-meshed into topologies neither method trained on (subdivided: ground truth exact "
            "through the subdivision; decimated and Blender's remeshers: carried by each vertex's closest point on "
            "the original surface that faces the same way, so that a vertex of one lip lying nearer the other "
            "lip's underside stays on its own lip); error of the targets in mm (mouth: within 35 mm of the lips; "
            "static: scalp, back of head, neck). Blender's voxel remesher is given the skin with its neck hole "
            "filled (a closed mesh, as sculptors voxel-remesh; on the open skin it only fills the closed pockets, "
            "the mouth's inside and the eye sockets, which is no head): it keeps the whole head, its closed lips fused "
            "into one surface, so jawOpen cannot part them without *Cut Lips Apart* (the extension's operator, "
            "run on it in the next rows; the slit's two copies of each cut vertex carry the upper or the lower "
            "lip's ground truth by the side their faces lie on); QuadriFlow bridges the "
            "mouth slit in places, which costs (a) and more so (b):\n\n"
            + table(["topology", "method", "shape", "mouth mean", "mouth max", "static mean", "static max", "s"],
                    remesh_rows)
            + "\n\nReal heads, jawOpen = 1: lip gap opened at the FLAME embedding's landmarks 62/66 (FLAME "
            "topology only); 'lips part' = the largest separation jawOpen makes between points within 2 mm of "
            "each other near the lip line that are not joined by skin (0 = the lips do not part); largest "
            "motion of the 20 % of vertices farthest from the mouth; seconds to fit and transfer:\n\n"
            + table(["mesh", "vertices", "method", "lip gap at embedding mm", "lips part mm", "far-region motion mm",
                     "s"],
                    real_rows)
            + f"\n\nPeak memory of this benchmark process (the 1.1M-vertex transfer dominates): {peak_gb:.1f} GB."
            + "\n\nWith landmarks given (the embedding's 51 face points, as a user corrects them after *Detect "
            "Landmarks*; they pin the fit), jawOpen lip gap in mm:\n\n"
            + table(["mesh", "found landmarks", "given landmarks", "far-region motion mm"], corrected_rows))
    write_section("deform", body)
    print(body)


if __name__ == "__main__":
    main()

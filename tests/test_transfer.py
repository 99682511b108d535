"""Any mesh: registration and ARKit transfer on re-meshed and real heads, and bad meshes."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, data_path

from core.deform.correspondence import transfer
from core.deform.deformers import rig_mesh
from core.deform.landmarks import flame_embedding, flame_landmarks
from core.deform.registration import fit_head, fit_similarity, turn_degrees
from core.errors import InputError
from core.face.arkit import INDEX
from core.face.head import load_head
from core.geometry.meshio import read_mesh, write_obj
from core.training.deform_eval import jaw_metrics, subdivided_head


@pytest.fixture(scope="module")
def remeshed():
    """The built-in head subdivided, shuffled, turned Y-up and scaled to centimetres, with exact ground truth."""
    V, F, D, _ = subdivided_head()
    rng = np.random.default_rng(1)
    perm = rng.permutation(len(V))
    yup = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], float)
    rig = transfer(100 * V[perm] @ yup.T, np.argsort(perm)[F])
    return rig, D[:, perm] @ yup.T * 100, V[perm]


MIRROR = [(k, 16 - k) for k in range(8)] + [(17 + k, 26 - k) for k in range(5)] + [
    (31, 35), (32, 34), (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46), (48, 54), (49, 53),
    (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67)]
MIDLINE = [8, 27, 28, 29, 30, 33, 51, 57, 62, 66]


def test_built_in_landmarks_follow_the_ibug_layout():
    """The 68 points on the built-in head: mirror pairs mirror, contours run in iBUG order, and the
    nose base lies on the face (not inside a nostril), between the nose tip and the upper lip."""
    head = load_head()
    L = head.vertices[head.landmarks] * 1000  # mm, Blender frame: x left, -y front, z up
    for a, b in MIRROR:
        assert np.abs(L[a] * [-1, 1, 1] - L[b]).max() < 1.0, (a, b)
    assert np.abs(L[MIDLINE, 0]).max() < 1.0
    assert np.all(np.diff(L[0:8, 2]) < 0) and L[8, 2] < L[6, 2]              # jaw: eye height down to the chin
    assert L[0, 2] > L[36, 2] - 5 and L[8, 2] < L[57, 2] - 20
    assert np.all(np.diff(L[17:22, 0]) > 0) and np.all(np.diff(L[31:36, 0]) > 0)
    assert L[17, 0] < L[36, 0] and L[21, 0] > L[39, 0]                       # brows span the eye
    assert L[51, 2] < L[33, 2] < L[30, 2] and L[30, 1] - L[33, 1] > -15      # subnasale within 15 mm of the tip


def test_pose_scale_and_order_are_recovered(remeshed):
    rig, _, _ = remeshed
    sim = rig.registration.similarity
    assert sim.scale == pytest.approx(0.01, rel=0.05)  # centimetres → metres
    # the Y-up mesh is turned back: its +Z (face) maps to the head's -Y
    assert (sim.rotation @ np.array([0, 0, 1.0]))[1] < -0.9


def test_transferred_targets_match_ground_truth(remeshed):
    rig, truth, base = remeshed
    head = load_head()
    mouth = np.linalg.norm(base - head.vertices[head.landmarks[48:68]].mean(0), axis=1) < 0.035
    static = (base[:, 2] > 0.2) | (base[:, 1] > 0.0)
    for shape in ("jawOpen", "mouthPucker", "mouthSmileLeft"):
        err = np.linalg.norm(rig.deltas[INDEX[shape]] - truth[INDEX[shape]], axis=1) * 10  # cm → mm
        # jawOpen: 0.43 mm when it blended the 8 nearest head vertices, 0.20 when the fit matched vertices
        assert err[mouth].mean() < 0.1, shape
        assert err[static].max() < 0.1, shape


@pytest.mark.parametrize("name", ["flame/FLAME_sample.ply", "vocaset/FaceTalk_170725_00137_TA.ply"])
def test_real_flame_heads_open_their_lips(name):
    V, F = read_mesh(data_path("meshes", name))
    rig = transfer(V, F)
    flame = data_path("meshes", "flame")
    gap, still = jaw_metrics(rig, flame_embedding(F, flame))
    assert gap > 30.0 and still < 0.1  # jawOpen parts the real lips by over 3 cm (touching lips too); the back stays
    gt = flame_landmarks(V, F, flame)
    err = np.linalg.norm(V[rig.landmarks] - gt, axis=1)
    assert np.median(err) < 0.006 and err[60:].mean() < 0.003  # the features, by FLAME's definition (~4 and ~2 mm)


def test_a_mouth_that_sits_higher_still_opens_where_it_is():
    """FaceTalk_170728_03272 rests with parted lips and its mouth 11 mm above the head's after the pose fit.
    With a 1 cm closest-point reach, and its eyeballs pulling on the skin, the head's upper lip settled on its
    lower lip: jawOpen opened 5 mm at its mouth and the inner-lip landmarks were 4.7 mm off."""
    V, F = read_mesh(data_path("meshes", "vocaset", "FaceTalk_170728_03272_TA.ply"))
    flame = data_path("meshes", "flame")
    rig = transfer(V, F)
    assert jaw_metrics(rig, flame_embedding(F, flame))[0] > 30.0
    assert np.linalg.norm(V[rig.landmarks[60:]] - flame_landmarks(V, F, flame)[60:], axis=1).mean() < 0.003


@pytest.mark.parametrize("euler", [(-45, 40, 20), (25, -15, 35)])
def test_a_head_tilted_in_its_mesh_data_is_posed_and_rigged(euler):
    """FLAME's head turned in its own data by yaw, pitch and roll together (scans and sculpts come tilted): the
    fit from the 24 axis-aligned starts alone posed (-45°, 40°, 20°) 136° wrong, the face on the back of the head.
    Now the landmarks land on FLAME's own, the jaw opens the lips, and the fit has no doubt about the pose."""
    from scipy.spatial.transform import Rotation

    V, F = read_mesh(data_path("meshes", "flame", "FLAME_sample.ply"))
    flame = data_path("meshes", "flame")
    R = Rotation.from_euler("xyz", euler, degrees=True).as_matrix()
    c = V.mean(0)
    rig = transfer((V - c) @ R.T + c, F)
    back = (rig.landmark_points() - c) @ R + c
    gt = flame_landmarks(V, F, flame)
    assert np.linalg.norm(back[17:] - gt[17:], axis=1).mean() < 0.005  # upright: 3.6 mm
    assert jaw_metrics(rig, flame_embedding(F, flame))[0] > 30.0
    assert rig.registration.pose_doubt == ""


@pytest.fixture(scope="module")
def flame_upright():
    """FLAME's head as it comes, and its rig."""
    V, F = read_mesh(data_path("meshes", "flame", "FLAME_sample.ply"))
    return V.astype(np.float64), F, transfer(V, F)


@pytest.mark.parametrize("seed", [3, 4])
def test_a_head_tilted_at_random_gets_its_upright_pose_and_targets(flame_upright, seed):
    """FLAME turned in its own data by a random yaw, pitch and roll (each within ±45°) gets its upright rig's pose
    and scale, and its 52 ARKit targets within 2 %, turned with it (issue 17, item 7). Before, trimmed ICP settled
    most such tilts 3–4.6° from the upright pose (the 52 targets 8–17 % off, eyeBlinkLeft 71 %), and the non-rigid
    fit turned a tenth of a degree of pose into millimetres of its vertices."""
    from scipy.spatial.transform import Rotation

    V, F, upright = flame_upright
    c = V.mean(0)
    R = Rotation.from_euler("xyz", np.random.default_rng(seed).uniform(-45, 45, 3), degrees=True).as_matrix()
    tilted = transfer((V - c) @ R.T + c, F)
    a, b = tilted.registration.similarity, upright.registration.similarity
    assert turn_degrees(a.rotation @ R @ b.rotation.T) < 0.1
    assert abs(a.scale / b.scale - 1) < 0.002
    assert np.linalg.norm(tilted.deltas @ R - upright.deltas) < 0.02 * np.linalg.norm(upright.deltas)


def test_a_mesh_moved_in_its_data_is_fitted_the_same():
    """BIWI's face scan moved 3 m in its own data gets the same pose and scale. Its fitted scale is held within
    25 % of metric; ICP solved the translation for the scale it would have taken instead, so the error grew with
    the distance from the mesh's origin (moved, this scan was fitted 0.2 m off, at scale 0)."""
    V, _ = read_mesh(data_path("meshes", "biwi6", "F2.obj"))
    V = V.astype(np.float64)
    shift = np.array([3.0, -2.0, 1.5])
    a, _ = fit_similarity(V, load_head(), np.random.default_rng(0))
    b, _ = fit_similarity(V + shift, load_head(), np.random.default_rng(0))
    assert np.abs(b.apply(V + shift) - a.apply(V)).max() < 1e-6


@pytest.mark.parametrize(("mesh", "euler"), [(("scans", "scantalk_demo_mesh.ply"), (10, 0, 0)),
                                             (("biwi6", "M1.obj"), (-40, 45, 45))])
def test_a_tilted_scan_whose_short_fits_look_alike_is_posed_upright_without_doubt(mesh, euler):
    """Where another pose's short fit costs within 5 % of the best's (the scan at x 10°: a face-down pose 3 %
    worse; BIWI M1 at (-40, 45, 45): the face-down one cheaper), both are settled and judged settled: the upright
    pose wins, by 37-43 %, and is not doubted. Before, the scan warned of its right pose and M1 was posed
    face-down (177°) with a warning."""
    from scipy.spatial.transform import Rotation

    V, _ = read_mesh(data_path("meshes", *mesh))
    V = V.astype(np.float64)
    c = V.mean(0)
    R = Rotation.from_euler("xyz", euler, degrees=True).as_matrix()
    upright, _ = fit_similarity(V, load_head(), np.random.default_rng(0))
    tilted, doubt = fit_similarity((V - c) @ R.T + c, load_head(), np.random.default_rng(0))
    assert turn_degrees(tilted.rotation @ R @ upright.rotation.T) < 0.1
    assert doubt == ""


def test_a_shape_with_no_one_pose_is_doubted():
    """A cylinder of a head's size fits the head as well turned about its axis: the fit says its pose is
    doubtful, and why (settled, its other pose is within 1 %; a real head's best other pose, settled, is 37-43 %
    worse: the scan at x 10°, BIWI M1 at (-40, 45, 45))."""
    turn, height = np.meshgrid(np.linspace(0, 2 * np.pi, 60, endpoint=False), np.linspace(-0.12, 0.12, 30))
    cylinder = np.stack([0.09 * np.cos(turn).ravel(), 0.09 * np.sin(turn).ravel(), height.ravel()], -1)
    _, doubt = fit_similarity(cylinder, load_head(), np.random.default_rng(0))
    assert "fits the built-in head almost as well" in doubt
    V, _ = read_mesh(data_path("meshes", "flame", "FLAME_sample.ply"))
    assert fit_similarity(V, load_head(), np.random.default_rng(0))[1] == ""


def test_given_landmarks_pin_the_fit():
    """Landmarks a user corrected: the fit follows them (here the FLAME embedding's 51 face points)."""
    V, F = read_mesh(data_path("meshes", "vocaset", "FaceTalk_170811_03275_TA.ply"))
    flame = data_path("meshes", "flame")
    gt = flame_landmarks(V, F, flame)
    given = np.where(np.arange(68)[:, None] >= 17, gt, np.nan)
    rig = transfer(V, F, landmarks=given)
    head = load_head()
    fitted_back = (rig.registration.fitted[head.landmarks[17:]] - rig.registration.similarity.translation) \
        @ rig.registration.similarity.rotation / rig.registration.similarity.scale
    assert np.median(np.linalg.norm(fitted_back - gt[17:], axis=1)) < 0.002
    assert jaw_metrics(rig, flame_embedding(F, flame))[0] > 10.0


def test_the_pose_matches_surfaces_not_vertices():
    """The head re-meshed finer is posed onto itself to a fraction of a millimetre (0.96 mm when each of its
    points was matched to the nearest head vertex rather than the nearest point of the head's surface)."""
    V, _, _, _ = subdivided_head()
    sim, _ = fit_similarity(V, load_head(), np.random.default_rng(0))
    assert np.linalg.norm(sim.apply(V) - V, axis=1).mean() < 0.0004


def test_a_cropped_head_is_posed_the_right_way_up():
    """A scan of the face and neck only (cut below the brows), Y-up: fitted from the head's centre alone it
    settled upside down on the scalp (47 mm off); it also starts at the head's bottom and top now."""
    head = load_head()
    skin = np.nonzero(head.parts == 0)[0]
    V = head.vertices[skin[head.vertices[skin, 2] < 0.19]].astype(np.float64)
    yup = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], float)
    sim, _ = fit_similarity(V @ yup.T, head, np.random.default_rng(0))
    assert np.linalg.norm(sim.apply(V @ yup.T) - V, axis=1).mean() < 0.001


def test_point_cloud_without_faces_works():
    V, _ = read_mesh(data_path("meshes", "flame", "FLAME_sample.ply"))
    rig = transfer(V, None)
    assert rig.deltas.shape == (52, len(V), 3) and np.isfinite(rig.deltas).all()


@pytest.mark.parametrize("vertices,message", [
    (np.zeros((10, 3)), "at least 100"),
    (np.full((500, 3), np.nan), "invalid"),
    (np.ones((500, 3)), "no extent"),
])
def test_bad_meshes_have_clear_messages(vertices, message):
    with pytest.raises(InputError, match=message):
        fit_head(vertices, load_head())


def test_export_head_round_trip(tmp_path):
    out = tmp_path / "head.obj"
    res = subprocess.run([sys.executable, "-m", "core", "export-head", "--out", str(out)], cwd=ROOT,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    V, F = read_mesh(str(out))
    head = load_head()
    assert np.allclose(V, head.vertices, atol=1e-6) and len(F) == 2 * len(head.faces)


def test_animate_npz_on_another_mesh(tmp_path, synth_clip):
    mesh = data_path("meshes", "biwi6", "F1.obj")
    out = tmp_path / "f1.npz"
    res = subprocess.run([sys.executable, "-m", "core", "animate", "--audio", synth_clip[0], "--text", synth_clip[1],
                          "--mesh", mesh, "--vertices", "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "do not part" not in res.stderr  # BIWI lips part: no glued-lips warning
    z = np.load(out)
    V, _ = read_mesh(mesh)
    assert z["vertices"].shape[1:] == V.shape and z["landmarks"].shape[1:] == (68, 3)
    assert np.abs(z["vertices"] - V).max(axis=(1, 2)).max() > 0.002  # the face moves


def test_glued_lips_are_flagged():
    """Multiface heads' lips are one surface: the rig says so (the operator and the CLI then point to the cut)."""
    assert rig_mesh(*read_mesh(data_path("meshes", "multiface", "20171024.ply"))).lips_glued
    assert not rig_mesh(*read_mesh(data_path("meshes", "flame", "FLAME_sample.ply"))).lips_glued


def test_missing_and_unsupported_mesh_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_mesh(str(tmp_path / "none.obj"))
    (tmp_path / "x.stl").write_text("solid")
    with pytest.raises(InputError, match="Unsupported"):
        read_mesh(str(tmp_path / "x.stl"))
    write_obj(str(tmp_path / "empty.obj"), np.zeros((0, 3)), np.zeros((0, 3), int))
    with pytest.raises(InputError, match="no vertices"):
        read_mesh(str(tmp_path / "empty.obj"))


def test_islands_move_as_their_part():
    """The built-in head as a user mesh (no mark, shuffled): eyes and teeth are islands; they stay rigid parts."""
    head = load_head()
    rng = np.random.default_rng(3)
    perm = rng.permutation(len(head.vertices))
    inv = np.argsort(perm)
    rig = transfer(head.vertices[perm] * 2.0, inv[head.faces])  # twice the size, vertex order shuffled
    parts = head.parts[perm]
    jaw = rig.deltas[INDEX["jawOpen"]] / 2.0
    for name, moves in (("upper_teeth", False), ("eye_left", False), ("lower_teeth", True), ("tongue", True)):
        m = parts == head.part_names.index(name)
        motion = np.linalg.norm(jaw[m], axis=1)
        truth = np.linalg.norm(head.deltas[INDEX["jawOpen"]][perm][m], axis=1)
        if moves:
            assert motion.mean() > 0.5 * truth.mean() > 0.005, name  # they follow the jaw
        else:
            assert motion.max() < 0.0005, name  # they stay with the skull


def test_flame_s_eyeballs_turn_with_the_eyes_and_stay_out_of_the_blink():
    """FLAME's eyeballs (two islands of 546 vertices) sit inside the head's, which have 72 vertices against the
    skin's thousands, and the fit had squashed the head's to a third of their depth: nearer skin vertices,
    they took the eyelids' motion, 11 mm at their fronts when the lid closed, on one side of the lid line or
    the other as the pose moved by a fraction of a degree."""
    from core.geometry.ops import piece_labels, triangles

    V, F = read_mesh(data_path("meshes", "flame", "FLAME_sample.ply"))
    rig = transfer(V, F)
    _, label = piece_labels(len(V), triangles(F))
    eyes = label != np.bincount(label).argmax()
    assert eyes.sum() == 2 * 546
    for blink in ("eyeBlinkLeft", "eyeBlinkRight"):
        assert np.linalg.norm(rig.deltas[INDEX[blink]][eyes], axis=1).max() < 1e-4, blink
        lid = np.linalg.norm(rig.deltas[INDEX[blink]][~eyes], axis=1).max()
        assert lid > 0.005, blink  # the lid itself still closes
    look = np.linalg.norm(rig.deltas[INDEX["eyeLookUpLeft"]][eyes], axis=1)
    assert (look > 1e-4).sum() > 400  # one eyeball turns up, all of it


@pytest.mark.parametrize("case", ["inverted normals", "non-manifold"])
def test_awkward_meshes_still_open_their_lips(case):
    V, F = read_mesh(data_path("meshes", "flame", "FLAME_sample.ply"))
    flame = data_path("meshes", "flame")
    embedding = flame_embedding(F, flame)
    if case == "inverted normals":
        F = F[:, ::-1]
    else:  # fins: extra faces sharing edges of the real ones, three faces to an edge
        F = np.concatenate([F, np.c_[F[:200, 0], F[:200, 1], np.arange(200) + 1000]])
    gap, still = jaw_metrics(transfer(V, F), embedding)
    assert gap > 10.0 and still < 0.1

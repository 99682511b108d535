"""Landmark conventions: learned from meshes whose landmarks are known, they move the landmarks found on others."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, data_path

from core.deform import landmarks, landmarks_learn
from core.deform.correspondence import transfer
from core.errors import InputError
from core.face.head import load_head
from core.geometry.meshio import read_mesh, write_obj
from core.geometry.ops import midpoint_subdivide, triangles

YUP = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], float)  # Blender → Y-up, face towards +Z


@pytest.fixture(scope="module")
def dataset():
    """A made-up dataset that puts every landmark 4 mm or more away from the head's own (on one of the 5 skin
    vertices nearest it beyond that), and three meshes of the
    head's shape in other frames and vertex orders (two to learn from, a finer one to find them on), each
    with that dataset's landmarks: [(vertices, faces, 68×3 landmarks)]."""
    head = load_head()
    V, tris = head.vertices.astype(np.float64), triangles(head.faces)
    skin = np.nonzero(head.parts == 0)[0]
    rng = np.random.default_rng(3)
    points = np.empty((68, 3))
    for i, v in enumerate(head.landmarks):
        d = np.linalg.norm(V[skin] - V[v], axis=1)
        beyond = skin[d > 0.004]
        points[i] = V[rng.choice(beyond[np.argsort(d[d > 0.004])[:5]])]
    meshes = []
    for k, (frame, scale) in enumerate(((YUP, 1.0), (np.eye(3), 100.0))):
        perm = np.random.default_rng(k).permutation(len(V))
        meshes.append((scale * V[perm] @ frame.T, np.argsort(perm)[tris], scale * points @ frame.T))
    Vs, Fs, _ = midpoint_subdivide(V, tris)
    meshes.append((Vs @ YUP.T, Fs, points @ YUP.T))
    return meshes


@pytest.fixture(scope="module")
def learned(dataset):
    return landmarks_learn.learn(dataset[:2], "made-up")


def test_a_learned_convention_finds_the_datasets_points_on_a_new_mesh(dataset, learned):
    conv, loo = learned
    assert conv.name == "made-up" and np.nanmax(loo) < 1.0  # each example found from the other to < 1 mm
    V, F, truth = dataset[2]
    found = transfer(V, F, convention=conv).landmark_points()
    own = transfer(V, F).landmark_points()
    err = 1000 * np.linalg.norm(found - truth, axis=1)
    assert err.mean() < 0.5 and err.max() < 1.5
    assert 1000 * np.linalg.norm(own - truth, axis=1).mean() > 4.0  # the head's own rules put them elsewhere
    # the rest of the rig does not depend on where the landmarks are
    assert np.allclose(transfer(V, F, convention=conv).deltas, transfer(V, F).deltas, atol=1e-4)


def test_given_landmarks_pin_the_conventions_points(dataset, learned):
    """Points a user moved 5 mm: the head's convention points follow them, not the head's landmark vertices."""
    conv, _ = learned
    V, F, truth = dataset[2]
    moved = truth + np.array([0.0, 0.005, 0.0])
    given = np.where(np.arange(68)[:, None] >= 17, moved, np.nan)
    reg = transfer(V, F, landmarks=given, convention=conv).registration
    on_fit = (conv.on(reg.fitted) - reg.similarity.translation) @ reg.similarity.rotation / reg.similarity.scale
    assert np.median(1000 * np.linalg.norm(on_fit[17:] - moved[17:], axis=1)) < 1.5


def test_a_convention_file_round_trips_and_bad_files_say_so(learned, tmp_path):
    conv, _ = learned
    path = str(tmp_path / "made-up.npz")
    landmarks.save(conv, path)
    back = landmarks.load(path)
    assert back.name == "made-up" and np.array_equal(back.vertices, conv.vertices)
    assert np.allclose(back.weights, conv.weights)
    (tmp_path / "junk.npz").write_bytes(b"not a convention")
    with pytest.raises(InputError, match="not a landmark convention"):
        landmarks.load(str(tmp_path / "junk.npz"))
    np.savetxt(tmp_path / "short.txt", np.zeros((10, 3)))
    with pytest.raises(InputError, match="68 rows"):
        landmarks.read_points(str(tmp_path / "short.txt"))
    with pytest.raises(InputError, match="No example meshes"):
        landmarks_learn.learn([], "empty")


def test_the_cli_learns_a_convention_and_finds_landmarks_with_it(dataset, tmp_path):
    folder = tmp_path / "annotated"
    folder.mkdir()
    for k, (V, F, truth) in enumerate(dataset[:2]):
        write_obj(str(folder / f"head{k}.obj"), V, F)
        np.savetxt(folder / f"head{k}.landmarks.txt", np.where(np.arange(68)[:, None] == 5, np.nan, truth))
    write_obj(str(folder / "no_landmarks.obj"), *dataset[0][:2])
    (folder / "broken.ply").write_bytes(b"ply\nformat ascii 1.0\nelement vertex 3\nend_header\n1 2\n")
    conv = str(tmp_path / "made-up.npz")
    run = lambda *a: subprocess.run([sys.executable, "-m", "core", *a], cwd=ROOT,  # noqa: E731
                                    capture_output=True, text=True, timeout=300)
    r = run("landmarks", "learn", "--meshes", str(folder), "--out", conv)
    assert r.returncode == 0, r.stderr
    assert "skipped no_landmarks.obj" in r.stderr and "skipped broken.ply" in r.stderr
    assert "leave-one-out" in r.stdout and os.path.exists(conv)
    V, F, truth = dataset[2]
    write_obj(str(tmp_path / "fine.obj"), V, F)
    r = run("landmarks", "find", "--mesh", str(tmp_path / "fine.obj"), "--convention", conv,
            "--out", str(tmp_path / "found.txt"))
    assert r.returncode == 0, r.stderr
    found = np.loadtxt(tmp_path / "found.txt")
    err = 1000 * np.linalg.norm(found - truth, axis=1)
    assert np.median(np.delete(err, 5)) < 0.5  # landmark 5, unknown in every example, stays the head's own
    r = run("landmarks", "learn", "--meshes", str(tmp_path / "nowhere"), "--out", conv)
    assert r.returncode == 2 and "error:" in r.stderr


def test_flames_convention_learned_from_the_other_heads():
    """Leave-one-out on the FLAME template and the six VOCASET heads, against FLAME's embedding: the target
    of the any-mesh issue (mean ≤ 3 mm, inner lips ≤ 2 mm). The built-in convention gives about 4.8 mm."""
    flame = data_path("meshes", "flame")
    paths = [os.path.join(flame, "FLAME_sample.ply")] + sorted(
        os.path.join(data_path("meshes", "vocaset"), f) for f in os.listdir(data_path("meshes", "vocaset")))
    examples = []
    for p in paths:
        V, F = read_mesh(p)
        examples.append((V, F, landmarks.flame_landmarks(V, F, flame)))
    _, loo = landmarks_learn.learn(examples, "flame")
    assert loo.shape == (7, 68) and np.isfinite(loo).all()
    assert loo.mean() < 3.0 and loo[:, 60:].mean() < 2.0

"""The learned (DiffusionNet) deformer: operators, training, the shipped weights, wiring."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT, data_path

from core.deform import diffusionnet as dn
from core.deform.deformers import rig_mesh
from core.deform.learned import learned_transfer
from core.errors import InputError
from core.face.arkit import INDEX
from core.face.head import load_head
from core.geometry.meshio import read_mesh
from core.geometry.ops import triangles
from core.geometry.spectral import operators
from core.training import train_deform

sys.path.insert(0, f"{ROOT}/bench")
from deform import jaw_metrics, subdivided_head  # noqa: E402


def test_operators_follow_the_surface():
    head = load_head()
    tris = triangles(head.faces)
    ops = operators(head.vertices * dn.IN_SCALE, tris)
    # one zero eigenvalue per separate piece: skin, two teeth rows, tongue, two eyes
    assert int((ops.evals < 1e-4).sum()) == len(head.part_names)
    gram = ops.evecs.T @ (ops.mass[:, None] * ops.evecs)
    assert np.allclose(gram, np.eye(len(ops.evals)), atol=1e-3)
    # the tangent gradient of the height z is the tangential part of +Z: length ≤ 1, and 1 on vertical skin
    z = head.vertices[:, 2] * dn.IN_SCALE
    g = np.hypot(ops.grad_x @ z, ops.grad_y @ z)
    vertical = np.abs(ops.normals[:, 2]) < 0.1
    assert np.median(g[vertical]) == pytest.approx(1.0, abs=0.05)
    assert np.percentile(g, 95) < 1.1


def test_tiny_training_run_lowers_the_loss():
    pool = train_deform.build_pool(2, seed=3)
    model, history = train_deform.fit(pool, steps=40, seed=3, log=lambda s: None, width=32, blocks=2)
    assert np.mean(history[-5:]) < 0.5 * np.mean(history[:5])


def test_shipped_weights_load_safely_and_are_equivariant():
    ck = torch.load(dn.WEIGHTS, weights_only=True)
    assert ck["meta"]["command"].startswith("python -m core train deform")
    model = dn.load()
    head = load_head()
    V, tris = head.vertices.astype(np.float64), triangles(head.faces)
    perm = np.random.default_rng(0).permutation(len(V))
    out = dn.predict(model, V, tris)
    shuffled = dn.predict(model, V[perm], np.argsort(perm)[tris])
    assert out.shape == (52, len(V), 3)
    assert np.allclose(shuffled, out[:, perm], atol=1e-5)  # vertex order does not matter


def test_learned_deformer_on_an_unseen_topology():
    """The built-in head subdivided (a topology it never trained on): its targets come out close to the artist's."""
    V, F, D, _ = subdivided_head()
    head = load_head()
    rig = learned_transfer(V, F)
    mouth = np.linalg.norm(V - head.vertices[head.landmarks[48:68]].mean(0), axis=1) < 0.035
    static = (V[:, 2] > 0.2) | (V[:, 1] > 0.0)
    for shape in ("jawOpen", "mouthPucker", "mouthSmileLeft"):
        err = 1000 * np.linalg.norm(rig.deltas[INDEX[shape]] - D[INDEX[shape]], axis=1)
        assert err[mouth].mean() < 1.5, shape
        assert err[static].mean() < 0.2, shape


def test_learned_deformer_opens_a_real_head():
    V, F = read_mesh(data_path("meshes", "vocaset", "FaceTalk_170725_00137_TA.ply"))
    rig = learned_transfer(V, F)
    jaw = np.linalg.norm(rig.deltas[INDEX["jawOpen"]], axis=1)
    assert jaw.max() > 0.005  # the jaw drops by millimetres to centimetres
    assert jaw_metrics(rig)[1] < 1.0  # the back and top of the head barely move (mm)


def test_deformer_choice_and_limits():
    with pytest.raises(InputError, match="Unknown deformer"):
        rig_mesh(np.zeros((10, 3)), deformer="magic")
    with pytest.raises(InputError, match="correspondence deformer"):
        learned_transfer(np.random.default_rng(0).normal(size=(dn.MAX_VERTICES + 1, 3)))


def test_cli_animates_a_mesh_with_the_learned_deformer(tmp_path, synth_clip):
    mesh = data_path("meshes", "biwi6", "F1.obj")
    out = tmp_path / "f1.npz"
    res = subprocess.run([sys.executable, "-m", "core", "animate", "--audio", synth_clip[0], "--mesh", mesh,
                          "--deformer", "learned", "--vertices", "--out", str(out)], cwd=ROOT, capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr
    z = np.load(out)
    V, _ = read_mesh(mesh)
    assert z["vertices"].shape[1:] == V.shape
    assert np.abs(z["vertices"] - V).max(axis=(1, 2)).max() > 0.001  # the face moves

"""A mesh's own operators for DiffusionNet: Laplacian spectrum, vertex areas, tangent gradients.

Heat diffusion is done in the spectral basis of the robust Laplacian (L φ = λ M φ),
so it follows the surface: the upper and lower lip of a mesh with a mouth slit do not
mix. Gradients are per-vertex least-squares fits in each vertex's tangent plane,
over its mesh neighbours (or its k nearest points for a point cloud).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.spatial import cKDTree

from .ops import edges, laplacian, vertex_normals

N_EIG = 96  # spectral basis size
POINT_NEIGHBOURS = 8


@dataclass
class Operators:
    mass: np.ndarray  # N, lumped vertex area
    evals: np.ndarray  # K
    evecs: np.ndarray  # N×K, M-orthonormal
    grad_x: sp.csr_matrix  # N×N: scalar field → tangent gradient, first frame axis
    grad_y: sp.csr_matrix  # N×N: second frame axis
    normals: np.ndarray  # N×3


def _neighbour_pairs(x: np.ndarray, tris: np.ndarray | None) -> np.ndarray:
    """Directed (i, j) pairs: mesh edges both ways, or k nearest points."""
    if tris is not None and len(tris):
        e = edges(tris)
        e = np.unique(np.concatenate([e, e[:, ::-1]]), axis=0)  # sorted: the gradients sum in a fixed order
        return e[e[:, 0] != e[:, 1]]
    _, nn = cKDTree(x).query(x, k=POINT_NEIGHBOURS + 1)
    return np.stack([np.repeat(np.arange(len(x)), POINT_NEIGHBOURS), nn[:, 1:].ravel()], 1)


def _gradients(x: np.ndarray, normals: np.ndarray, pairs: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Least-squares tangent gradient at each vertex from the differences to its neighbours."""
    n = len(x)
    ref = np.where(np.abs(normals[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    e1 = np.cross(normals, ref)
    e1 /= np.maximum(np.linalg.norm(e1, axis=1, keepdims=True), 1e-12)
    e2 = np.cross(normals, e1)
    i, j = pairs.T
    d = x[j] - x[i]
    a = np.stack([np.einsum("nd,nd->n", d, e1[i]), np.einsum("nd,nd->n", d, e2[i])], 1)
    w = 1.0 / np.maximum((a ** 2).sum(1), 1e-12)  # near neighbours count more
    ata = np.zeros((n, 2, 2))
    np.add.at(ata, i, w[:, None, None] * a[:, :, None] * a[:, None, :])
    scale = np.trace(ata, axis1=1, axis2=2)[:, None, None]
    inv = np.linalg.inv(ata + 1e-6 * scale * np.eye(2) + 1e-12 * np.eye(2))
    c = np.einsum("nab,nb->na", inv[i], a) * w[:, None]  # per pair: ∇f_i += c (f_j - f_i)
    mats = []
    for axis in range(2):
        g = sp.coo_matrix((c[:, axis], (i, j)), shape=(n, n)).tocsr()
        mats.append((g - sp.diags(np.asarray(g.sum(1)).ravel())).tocsr())
    return mats[0], mats[1]


def operators(x: np.ndarray, tris: np.ndarray | None, k: int = N_EIG) -> Operators:
    """Operators of the mesh (or point cloud) with vertices `x` (N×3) and triangles `tris`."""
    x = np.asarray(x, np.float64)
    L, M = laplacian(x, tris)
    normals = vertex_normals(x, tris) if tris is not None and len(tris) else _point_normals(x)
    k = min(k, len(x) - 2)
    mass = M.diagonal()
    eps = 1e-8 * mass.mean()
    evals, evecs = spla.eigsh(L + sp.diags(np.full(len(x), eps)), k=k, M=M, sigma=0.0, which="LM")
    order = np.argsort(evals)
    gx, gy = _gradients(x, normals, _neighbour_pairs(x, tris))
    return Operators(mass.astype(np.float32), np.maximum(evals[order], 0).astype(np.float32),
                     evecs[:, order].astype(np.float32), gx.astype(np.float32), gy.astype(np.float32),
                     normals.astype(np.float32))


def _point_normals(x: np.ndarray) -> np.ndarray:
    """PCA normals of a point cloud, turned away from its centre."""
    _, nn = cKDTree(x).query(x, k=POINT_NEIGHBOURS + 1)
    local = x[nn] - x[nn].mean(1, keepdims=True)
    _, _, vt = np.linalg.svd(local, full_matrices=False)
    n = vt[:, -1]
    return np.where(np.einsum("nd,nd->n", n, x - x.mean(0))[:, None] < 0, -n, n)

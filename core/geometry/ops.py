"""Mesh operations every stage shares: triangles, edges, connected pieces, normals, Laplacian, subdivision.

Faces may be triangles or quads (the built-in head's); a mesh is vertices N×3 float64 plus faces F×3|4 int.
"""
from __future__ import annotations

import numpy as np
import robust_laplacian
import scipy.sparse as sp
import scipy.sparse.csgraph  # noqa: F401  (sp.csgraph)


def triangles(faces: np.ndarray) -> np.ndarray:
    """Quads (or triangles) → triangles."""
    faces = np.asarray(faces)
    return faces if faces.shape[1] == 3 else np.concatenate([faces[:, [0, 1, 2]], faces[:, [0, 2, 3]]])


def piece_labels(n: int, tris: np.ndarray) -> tuple[int, np.ndarray]:
    """(count, label per vertex) of the mesh's connected pieces; a vertex no triangle uses is its own piece."""
    graph = sp.coo_matrix((np.ones(tris.size), (tris.ravel(), np.roll(tris, 1, axis=1).ravel())), shape=(n, n))
    return sp.csgraph.connected_components(graph, directed=False)


def unit(v: np.ndarray) -> np.ndarray:
    """`v` (…×3) scaled to unit length along its last axis; a zero vector stays zero."""
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-30)


def vertex_normals(vertices: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals."""
    fn = np.cross(vertices[tris[:, 1]] - vertices[tris[:, 0]], vertices[tris[:, 2]] - vertices[tris[:, 0]])
    n = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(n, tris[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def outward_triangles(vertices: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """`tris`, reversed as a whole if the mesh's faces wind inwards (inverted normals): the volume they
    enclose about the mesh's centre comes out negative."""
    c = vertices - vertices.mean(0)
    volume = np.einsum("nd,nd->n", np.cross(c[tris[:, 0]], c[tris[:, 1]]), c[tris[:, 2]]).sum()
    return tris[:, ::-1] if volume < 0 else tris


def outward_normals(vertices: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Vertex normals, flipped as a whole if the mesh's faces wind inwards (inverted normals)."""
    return vertex_normals(vertices, outward_triangles(vertices, tris))


def edges(tris: np.ndarray) -> np.ndarray:
    """The mesh's undirected edges, each once as (low id, high id), E×2."""
    e = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]])
    return np.unique(np.sort(e, axis=1), axis=0)


def largest_piece(n: int, tris: np.ndarray) -> np.ndarray:
    """Boolean mask (n,) of the vertices of the largest connected piece."""
    label = piece_labels(n, tris)[1]
    return label == np.bincount(label[tris.ravel()]).argmax()


def laplacian(vertices: np.ndarray, tris: np.ndarray | None) -> tuple[sp.csr_matrix, sp.dia_matrix]:
    """The robust Laplacian (Sharp & Crane 2020) of a mesh, or of a point cloud when `tris` is None:
    (L N×N stiffness, M N×N lumped mass). It stays well-behaved on the bad triangles of scans and
    remeshes, where the cotangent Laplacian does not."""
    x = np.asarray(vertices, np.float64)
    if tris is not None and len(tris):
        L, M = robust_laplacian.mesh_laplacian(x, np.asarray(tris))
    else:
        L, M = robust_laplacian.point_cloud_laplacian(x)
    return L.tocsr(), M


def midpoint_subdivide(V: np.ndarray, F: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each triangle into four at its edge midpoints; also returns the (i, j) parents of each new vertex."""
    all_edges = np.sort(np.concatenate([F[:, [0, 1]], F[:, [1, 2]], F[:, [2, 0]]]), axis=1)
    uniq, inv = np.unique(all_edges, axis=0, return_inverse=True)
    n = len(V)
    mid = n + inv.reshape(3, -1).T
    a, b, c = F.T
    ab, bc, ca = mid.T
    F2 = np.concatenate([np.stack(x, 1) for x in ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))])
    return np.concatenate([V, V[uniq].mean(1)]), F2, uniq

"""Reading and writing face meshes in their own vertex order (.obj, .ply)."""
from __future__ import annotations

import os

import numpy as np

from ..errors import InputError


def read_mesh(path: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(vertices N×3 float64, triangles M×3 or None for a point cloud), in the file's vertex order."""
    if not os.path.isfile(path):
        raise InputError(f"Mesh file not found: {path}")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".obj":
        verts, faces = [], []
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("v "):
                    verts.append([float(x) for x in line.split()[1:4]])
                elif line.startswith("f "):
                    idx = [int(t.split("/")[0]) for t in line.split()[1:]]
                    idx = [i - 1 if i > 0 else len(verts) + i for i in idx]
                    faces += [[idx[0], idx[k], idx[k + 1]] for k in range(1, len(idx) - 1)]
        V, F = np.array(verts, np.float64).reshape(-1, 3), np.array(faces, np.int64).reshape(-1, 3)
    elif ext == ".ply":
        import trimesh

        try:
            m = trimesh.load(path, process=False)
        except Exception as exc:
            raise InputError(f"Could not read mesh {os.path.basename(path)}: {exc}") from None
        V = np.asarray(m.vertices, np.float64)
        F = np.asarray(getattr(m, "faces", np.zeros((0, 3))), np.int64).reshape(-1, 3)
    else:
        raise InputError(f"Unsupported mesh format '{ext}': use .obj or .ply.")
    if len(V) == 0:
        raise InputError(f"Mesh {os.path.basename(path)} has no vertices.")
    return V, (F if len(F) else None)


def write_obj(path: str, vertices: np.ndarray, faces: np.ndarray) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("# Talking Head built-in head (CC0, see core/assets/NOTICE.md); metres, Z up, face towards -Y\n")
        np.savetxt(fh, vertices, fmt="v %.6f %.6f %.6f")
        np.savetxt(fh, np.asarray(faces) + 1, fmt="f" + " %d" * np.asarray(faces).shape[1])

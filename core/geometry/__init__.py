"""Mesh geometry every stage shares: reading meshes, triangles and normals, closest surface points, spectra."""

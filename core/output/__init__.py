"""Motion out: the `Animation` that crosses into Blender, and its baked (SVD) form."""

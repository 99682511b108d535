"""Any mesh gets a rig: registration of the built-in head, landmark conventions, and the deformers."""

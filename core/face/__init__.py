"""The face vocabulary: the 52 ARKit names, the built-in head, the 68 iBUG landmarks, emotion poses."""

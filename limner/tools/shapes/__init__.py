"""The embedded shapes world: scenes, captions, an exact parser, ShapesEval, and the tiny models trained on it."""

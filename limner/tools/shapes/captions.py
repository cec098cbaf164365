"""Captions of shapes-world scenes in several phrasings: GenEval's ("a photo of two red circles",
"a photo of a circle left of a square") and freer ones ("three squares", "a purple triangle below a
black circle"). Colour is sometimes left out, as in real captions. Every caption is true of its scene:
counts are exact, and a relation is used only when GenEval's rule says it holds.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from limner.tools.shapes.geneval import relative_position

NUMBERS = {1: "a", 2: "two", 3: "three", 4: "four"}
PREFIXES = ("a photo of ", "a photo of ", "a photo of ", "", "", "an image of ")


def plural(shape: str) -> str:
    return shape + "s"


def phrase(shape: str, count: int, color: str | None) -> str:
    noun = shape if count == 1 else plural(shape)
    return " ".join(w for w in (NUMBERS[count], color, noun) if w)


def caption(truth: list[dict], rng: np.random.Generator) -> str:
    """A random true caption of a scene given its ground-truth objects (from ``world.render``)."""
    prefix = PREFIXES[rng.integers(len(PREFIXES))]
    with_color = rng.random() < 0.75
    if len(truth) == 2 and rng.random() < 0.5:
        a, b = (truth[0], truth[1]) if rng.random() < 0.5 else (truth[1], truth[0])
        rels = sorted(relative_position(a["bbox"], b["bbox"]))
        if rels:
            rel = rels[rng.integers(len(rels))]
            left = phrase(a["shape"], 1, a["color"] if with_color else None)
            right = phrase(b["shape"], 1, b["color"] if with_color else None)
            return f"{prefix}{left} {rel} {right}"
    keys = Counter((o["shape"], o["color"] if with_color else None) for o in truth)
    groups = list(keys.items())
    order = rng.permutation(len(groups))
    parts = [phrase(shape, count, color) for (shape, color), count in (groups[i] for i in order)]
    return prefix + " and ".join(parts)

"""ShapesEval prompt suites in GenEval's metadata format, and a scene that satisfies any of them.

``python -m limner.tools.shapes.suite --seed 43 --per-tag 50 > limner/tools/shapes/data/shapes_eval.jsonl`` writes the
shipped suite (a test checks that the shipped file is exactly what this command makes). The world has
three classes, so tags with few distinct combinations (single_object: 3 classes) get fewer prompts; the
phrasing varies ("a photo of ..." or bare), as the training captions do.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from limner.tools.shapes.geneval import TAGS
from limner.tools.shapes.world import COLORS, SHAPES

NUMBERS = ["zero", "one", "two", "three", "four"]
POSITIONS = ["left of", "right of", "above", "below"]
SHIPPED = Path(__file__).parent / "data" / "shapes_eval.jsonl"


def _prefix(rng) -> str:
    return "a photo of " if rng.random() < 0.7 else ""


def _one(tag: str, rng: np.random.Generator) -> dict:
    pre = _prefix(rng)
    if tag == "single_object":
        s = SHAPES[rng.integers(3)]
        return {"tag": tag, "include": [{"class": s, "count": 1}], "prompt": f"{pre}a {s}"}
    if tag == "two_object":
        a, b = rng.choice(3, size=2, replace=False)
        return {"tag": tag, "include": [{"class": SHAPES[a], "count": 1}, {"class": SHAPES[b], "count": 1}],
                "prompt": f"{pre}a {SHAPES[a]} and a {SHAPES[b]}"}
    if tag == "counting":
        s, n = SHAPES[rng.integers(3)], int(rng.integers(2, 5))
        return {"tag": tag, "include": [{"class": s, "count": n}], "exclude": [{"class": s, "count": n + 1}],
                "prompt": f"{pre}{NUMBERS[n]} {s}s"}
    if tag == "colors":
        s, c = SHAPES[rng.integers(3)], COLORS[rng.integers(len(COLORS))]
        return {"tag": tag, "include": [{"class": s, "count": 1, "color": c}], "prompt": f"{pre}a {c} {s}"}
    if tag == "position":
        a, b = rng.choice(3, size=2, replace=False)
        rel = POSITIONS[rng.integers(4)]
        return {"tag": tag, "include": [{"class": SHAPES[b], "count": 1},
                                        {"class": SHAPES[a], "count": 1, "position": [rel, 0]}],
                "prompt": f"{pre}a {SHAPES[a]} {rel} a {SHAPES[b]}"}
    if tag == "color_attr":
        a, b = rng.choice(3, size=2, replace=False)
        ca, cb = rng.choice(len(COLORS), size=2, replace=False)
        return {"tag": tag, "include": [{"class": SHAPES[a], "count": 1, "color": COLORS[ca]},
                                        {"class": SHAPES[b], "count": 1, "color": COLORS[cb]}],
                "prompt": f"{pre}a {COLORS[ca]} {SHAPES[a]} and a {COLORS[cb]} {SHAPES[b]}"}
    raise ValueError(f"unknown tag {tag!r}")


def make_suite(seed: int = 43, per_tag: int = 50) -> list[dict]:
    """Up to ``per_tag`` distinct prompts per tag (draws are de-duplicated, as GenEval does)."""
    rng = np.random.default_rng(seed)
    return [row for tag in TAGS for row in distinct_draws(lambda k: _one(tag, rng), per_tag, per_tag * 20)]


def distinct_draws(draw, n: int, tries: int) -> list[dict]:
    """Up to ``n`` rows of ``draw(k)`` (k = 0, 1, ...) with distinct prompts, in the order drawn, within
    ``tries`` draws."""
    out, seen = [], set()
    for k in range(tries):
        if len(seen) >= n:
            break
        row = draw(k)
        if row["prompt"] not in seen:
            seen.add(row["prompt"])
            out.append(row)
    return out


def load_suite(path: str | Path | None = None) -> list[dict]:
    path = Path(path) if path else SHIPPED
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def limit_per_tag(suite: list[dict], limit: int | None) -> list[dict]:
    """The first ``limit`` prompts of each tag, in suite order (all of them when ``limit`` is falsy)."""
    if not limit:
        return suite
    seen: dict[str, int] = {}
    out = []
    for m in suite:
        if seen.get(m["tag"], 0) < limit:
            out.append(m)
            seen[m["tag"]] = seen.get(m["tag"], 0) + 1
    return out


def satisfying_scene(metadata: dict, rng: np.random.Generator, tries: int = 2000):
    """A random scene that meets the metadata by GenEval's rules (for testing scorer and parser)."""
    from limner.tools.shapes.geneval import evaluate
    from limner.tools.shapes.world import place, render

    pairs = []
    for req in metadata["include"]:
        for _ in range(req["count"]):
            pairs.append((req["class"], req.get("color") or COLORS[rng.integers(len(COLORS))]))
    for _ in range(tries):
        scene = place(rng, pairs)
        if scene is None:
            continue
        objects = sorted(render(scene)[1], key=lambda o: (-o["area"], o["bbox"]))  # the parser's order
        if evaluate(objects, metadata)[0]:
            return scene
    raise RuntimeError(f"no scene found for {metadata['prompt']!r}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seed", type=int, default=43)
    ap.add_argument("--per-tag", type=int, default=50)
    args = ap.parse_args(argv)
    for sample in make_suite(args.seed, args.per_tag):
        sys.stdout.write(json.dumps(sample) + "\n")


if __name__ == "__main__":
    main()

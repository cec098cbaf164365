"""The compositional ShapesEval suite: briefs one step past GenEval's templates, with a development and a test
split of phrasings decided before any tuning.

Tags: ``three_plus`` (three or more objects), ``count_color`` (counts with colours), ``attr_relation`` (a
relation between coloured objects), ``same_class`` (two objects of one shape told apart by colour),
``count_relation`` (counts inside a relation), ``chain`` (two relations, the second referring back),
``exclusion`` (what must not appear). Each tag has its own phrasings; ``DEV`` ones may be used to tune the
planners, ``TEST`` ones only to measure. Each row is GenEval metadata (scored by the exact parser with
``geneval.evaluate``, whose extensions cover same-class binding, exact counts, several relations and coloured
exclusions) plus the scene graph the brief states (``graph``), to score a planner's reading without generating.

``python -m limner.tools.shapes.compose --split dev > limner/tools/shapes/data/compose_dev.jsonl`` (and ``test``)
writes the shipped files; a test checks they are exactly what this makes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from limner.tools.shapes.suite import distinct_draws
from limner.tools.shapes.world import COLORS, SHAPES

TAGS = ("three_plus", "count_color", "attr_relation", "same_class", "count_relation", "chain", "exclusion")
WORDS = {1: "a", 2: "two", 3: "three", 4: "four"}
DATA = Path(__file__).parent / "data"

# phrasings per tag and split: the test ones are never used to tune anything
DEV = {
    "three_plus": ["{a}, {b} and {c}", "{a} and {b} and {c}", "a photo of {a}, {b} and {c}"],
    "count_color": ["{a} and {b}", "a photo of {a} and {b}"],
    "attr_relation": ["{a} {rel} {b}", "a photo of {a} {rel} {b}", "{a_post} {rel} {b}"],
    "same_class": ["{a} and {b}", "{a} {rel} {b}"],
    "count_relation": ["{a} {rel} {b}", "a photo of {a} {rel} {b}"],
    "chain": ["{a} {rel} {b}, and {c} {rel2} {the_b}"],
    "exclusion": ["{a} and no {x}", "{a}, without any {x}", "{a} but no {x}"],
}
TEST = {
    "three_plus": ["{a}, {b}, and {c}", "{a} plus {b} plus {c}", "{a} as well as {b} and {c}",
                   "{a}, along with {b} and {c}"],
    "count_color": ["{a_digits} and {b_digits}", "exactly {a} and exactly {b}", "{a}, plus {b}"],
    "attr_relation": ["{a} {rel_t} {b}", "{a_colored} {rel_t} {b}", "{a} is {rel_t} {b}"],
    "same_class": ["one {a_bare} and one {b_bare}", "{a} {rel_t} {b}", "{a}, and {b} {rel_it}"],
    "count_relation": ["{a_digits} {rel_t} {b}", "{a} {rel_t} {b}", "{a} sitting {rel_t} {b}"],
    "chain": ["{a} {rel} {b}, which is {rel2_t} {c}", "{a} is {rel_t} {b}. {The_b} is {rel2_t} {c}."],
    "exclusion": ["{a} with no {x} at all", "only {a}, not a single {x1}", "{a}. Do not include any {x}.",
                  "{a}; there should be no {x}"],
}
# written after the test split's first look had exposed defects (fixed since), and run once: the held-out split
HOLDOUT = {
    "three_plus": ["{a} together with {b} and {c}", "{a}, {b} & {c}", "a picture with {a}, {b} and {c}"],
    "count_color": ["{a_digits}, {b_digits}", "draw {a} and {b}", "{a} along with {b}"],
    "attr_relation": ["{a} placed {rel_h} {b}", "there is {a} {rel_h} {b}", "{a} that sits {rel_h} {b}"],
    "same_class": ["two {shape}s, one {ca} and one {cb}", "{a} and another {b_bare}", "{a} {rel_h} {b}"],
    "count_relation": ["{a} located {rel_h} {b}", "{a_digits} directly {rel_h} {b}"],
    "chain": ["{a} {rel_h} {b}; {c} is {rel2_h} it", "{a} {rel_h} {b}, with {c} {rel2_h} {the_b}"],
    "exclusion": ["{a}, and make sure there are no {x}", "{a} (no {x})", "{a} without a single {x1}"],
}
RELATIONS = ("left of", "right of", "above", "below")
DEV_WORDS = {"left of": ["left of", "to the left of"], "right of": ["right of", "to the right of"],
             "above": ["above"], "below": ["below"]}
TEST_WORDS = {"left of": ["on the left side of", "to the left side of"],
              "right of": ["on the right side of", "to the right side of"],
              "above": ["on top of", "over"], "below": ["under", "beneath", "underneath"]}
HOLDOUT_WORDS = {"left of": ["on the left-hand side of", "at the left of"],
                 "right of": ["on the right-hand side of", "at the right of"],
                 "above": ["atop", "higher than", "up above"], "below": ["lower than", "down below"]}
IT_WORDS = {"left of": "to its left", "right of": "to its right", "above": "above it", "below": "below it"}


def _np(shape: str, count: int, color: str | None, *, digits: bool = False, the: bool = False) -> str:
    noun = shape + ("s" if count > 1 else "")
    head = "the" if the else (str(count) if digits and count > 1 else WORDS[count])
    return " ".join(w for w in (head, color, noun) if w)


def _graph_metadata(tag: str, prompt: str, entities: list[dict], relations: list[list], exclusions: list[dict]) -> dict:
    """GenEval metadata for the graph: includes ordered so each relation's object comes before its subject."""
    order: list[int] = []
    pending = list(range(len(entities)))
    while pending:
        for i in pending:
            needs = [o for s, _, o in relations if s == i]
            if all(o in order for o in needs):
                order.append(i)
                pending.remove(i)
                break
        else:
            raise ValueError(f"relations of {prompt!r} form a cycle")
    include = []
    for i in order:
        e = entities[i]
        req = {"class": e["name"], "count": e["count"]}
        if e.get("color"):
            req["color"] = e["color"]
        if e["count"] > 1:
            req["exact"] = True
        rels = [[rel, order.index(o)] for s, rel, o in relations if s == i]
        if rels:
            req["positions"] = rels
        include.append(req)
    exclude = [{"class": x["name"], "count": 1, **({"color": x["color"]} if x.get("color") else {})}
               for x in exclusions]
    return {"tag": tag, "prompt": prompt, "include": include, **({"exclude": exclude} if exclude else {}),
            "graph": {"entities": entities, "relations": relations, "exclusions": exclusions}}


def _one(tag: str, template: str, rel_words: dict, rng: np.random.Generator) -> dict:
    shapes = [SHAPES[i] for i in rng.permutation(3)]
    colors = [COLORS[i] for i in rng.permutation(len(COLORS))]
    rel, rel2 = (RELATIONS[i] for i in rng.integers(4, size=2))
    pick = lambda r: rel_words[r][rng.integers(len(rel_words[r]))]  # noqa: E731
    counts = [1, 1, 1]
    relations: list[list] = []
    exclusions: list[dict] = []
    if tag == "same_class":
        shapes = [shapes[0], shapes[0], shapes[1]]
    if tag in ("count_color",):
        counts = [int(rng.integers(1, 4)), int(rng.integers(1, 3)), 1]
        if counts[0] == counts[1] == 1:
            counts[0] = 2
    if tag == "count_relation":
        counts = [int(rng.integers(2, 4)), 1, 1]
    n = {"three_plus": 3, "chain": 3}.get(tag, 2)
    entities = [{"name": shapes[i], "count": counts[i], "color": colors[i]} for i in range(n)]
    if tag == "exclusion":
        entities = entities[:1]
        color_x = colors[1] if rng.random() < 0.3 else None
        exclusions = [{"name": shapes[1], "color": color_x}]
    if tag in ("attr_relation", "count_relation") or (tag == "same_class" and "rel" in template):
        relations = [[0, rel, 1]]
    if tag == "same_class" and "rel_it" in template:
        relations = [[1, rel, 0]]
    if tag == "chain":
        back = "{c} {rel2" in template or "{c} is {rel2" in template  # the third object relates to the second
        relations = [[0, rel, 1], [2, rel2, 1] if back else [1, rel2, 2]]
    a, b = entities[0], entities[1] if len(entities) > 1 else None
    fields = {
        "a": _np(a["name"], a["count"], a["color"]), "a_digits": _np(a["name"], a["count"], a["color"], digits=True),
        "a_bare": f"{a['color']} {a['name']}", "a_post": f"{WORDS[a['count']]} {a['name']} that is {a['color']}",
        "a_colored": f"{WORDS[a['count']]} {a['name']} colored {a['color']}", "rel": pick(rel), "rel_t": pick(rel),
        "rel2": pick(rel2), "rel2_t": pick(rel2), "rel_it": IT_WORDS[rel], "shape": a["name"], "ca": a["color"],
    }
    if "_h}" in template:  # drawn only for the held-out phrasings, so the dev and test draws stay as they were
        fields |= {"rel_h": pick(rel), "rel2_h": pick(rel2)}
    if b is not None:
        fields["cb"] = b["color"]
        fields |= {"b": _np(b["name"], b["count"], b["color"]), "b_bare": f"{b['color']} {b['name']}",
                   "b_digits": _np(b["name"], b["count"], b["color"], digits=True),
                   "the_b": _np(b["name"], 1, b["color"], the=True),
                   "The_b": _np(b["name"], 1, b["color"], the=True).capitalize()}
    if n > 2:
        c = entities[2]
        fields["c"] = _np(c["name"], c["count"], c["color"])
    if exclusions:
        x = exclusions[0]
        fields["x"] = " ".join(w for w in (x["color"], x["name"] + "s") if w)
        fields["x1"] = " ".join(w for w in (x["color"], x["name"]) if w)
    prompt = template.format(**fields)
    return _graph_metadata(tag, prompt, entities, relations, exclusions)


def make_split(split: str, seed: int = 7, per_tag: int = 12) -> list[dict]:
    """``per_tag`` distinct prompts per tag in the split's phrasings (templates taken in turn)."""
    templates = {"dev": DEV, "test": TEST, "holdout": HOLDOUT}[split]
    words = {"dev": DEV_WORDS, "test": TEST_WORDS, "holdout": HOLDOUT_WORDS}[split]
    rng = np.random.default_rng(seed + {"dev": 0, "test": 1000, "holdout": 2000}[split])

    def draw(tag: str, k: int) -> dict:
        template = templates[tag][k % len(templates[tag])]  # the tag's phrasings taken in turn
        return {**_one(tag, template, words, rng), "split": split, "phrasing": template}

    return [row for tag in TAGS for row in distinct_draws(lambda k: draw(tag, k), per_tag, per_tag * 30)]


def shipped(split: str) -> Path:
    return DATA / f"compose_{split}.jsonl"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("dev", "test", "holdout"), required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--per-tag", type=int, default=12)
    args = ap.parse_args(argv)
    for row in make_split(args.split, args.seed, args.per_tag):
        sys.stdout.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()

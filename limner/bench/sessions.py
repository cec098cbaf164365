"""Scripted chat sessions on the embedded model, judged by the independent shapes parser (issue 35).

Each session: a two-object brief of the shapes world, the plan approved, one round, then one edit turn in
words (a phrasing drawn from ``PHRASINGS`` for its kind, about objects of that round's image), read by the
rules reader (or the LLM's, with ``--reader llm``), carried out, verified; then, for every fourth session,
"undo". The parser reads the image the session stands on before and after the turn and says whether the
change happened and everything else was kept:

- recolor: the object, same shape and place, in the new colour; resize: its area x1.25 or more (x0.8 or
  less); move: its centre on the side asked for (or in the relation asked for); add: a new object of that
  shape and colour; remove: no object of that shape and colour near where it was; replace: the new shape
  where it was; regenerate: the object still there, same shape and colour; restyle: every object kept (the
  shapes world has no styles: only the "kept" half is judged); undo: the head is the image before the edit.
- kept: every other object found again, same shape and colour, its centre within 3 pixels.

A turn is *right* when the parser confirms both; Limner *said done* when the image it stands on after the turn
passes its own verdict (score, checks, and preservation outside what was painted). A *false pass*: said done,
parser disagrees. The parser is the exact reader of this world (the scorer, independent of the loop); in the
loop, the questions verifier answers with the embedded detector shapes-owl, trained on rendered scenes and on
session images the parser labelled: it is *distilled* from the scorer, not independent of it. The preservation
check compares pixels.

Seed 0 is the development draw (fixes were tried on it). Each held-out draw is run once, after the changes it
measures, and is not used again: seed 1, then 4, 5, 7, 8, 9, 14, 15, 16, 17 and 18 (seeds 10-13 are the detector's
training draws; seed 6 measured resizes alone). Seed 18 was drawn after seed 17 missed the false-pass target by one
turn, on the same code, to measure it on more turns: both are reported, each and together. The latest held-out
draw, and the development draw:

    limner bench sessions --per-kind 30 --seed 18 --results benchmarks/results/sessions.json     # held out
    limner bench sessions --per-kind 30 --seed 0 --results benchmarks/results/sessions_dev.json  # development

The next held-out draw takes a seed none of these used.
"""

from __future__ import annotations

import time

KINDS = ("recolor", "resize", "move", "add", "remove", "replace", "restyle", "regenerate")
PHRASINGS = {
    "recolor": ["make the {o} {c}", "the {o} should be {c}", "colour the {o} {c}", "can you make the {o} {c}"],
    "resize": ["make the {o} bigger", "make the {o} smaller", "enlarge the {o}", "shrink the {o}",
               "the {o} is too small", "the {o} is too big"],
    "move": ["move the {o} to the {side}", "shift the {o} to the {side}", "put the {o} at the {side}"],
    "add": ["add a {c} {n} on the {side}", "put a {c} {n} at the {side}", "include a {c} {n} on the {side}"],
    "remove": ["remove the {o}", "delete the {o}", "get rid of the {o}", "erase the {o}"],
    "replace": ["replace the {o} with a {n}", "turn the {o} into a {n}", "swap the {o} for a {n}"],
    "restyle": ["make it look like a watercolor painting", "in the style of a pencil sketch", "make it pop art style"],
    "regenerate": ["regenerate the {o}", "redo the {o}", "try the {o} again"],
}
CENTRE_PX = 3


def _brief(rng) -> tuple[str, list[tuple[str, str]]]:
    from limner.tools.shapes.world import COLORS, SHAPES

    shapes = rng.choice(SHAPES, 2, replace=False)
    colors = rng.choice(COLORS, 2, replace=False)
    objs = [(str(shapes[0]), str(colors[0])), (str(shapes[1]), str(colors[1]))]
    return f"a {objs[0][1]} {objs[0][0]} left of a {objs[1][1]} {objs[1][0]}", objs


def _turn(kind: str, rng, objs: list[tuple[str, str]], k: int) -> tuple[str, dict]:
    """The words of the edit turn and what it should do (``target``: object index; ``color``, ``shape``,
    ``side``, ``grow``)."""
    from limner.tools.shapes.world import COLORS, SHAPES

    template = PHRASINGS[kind][k % len(PHRASINGS[kind])]
    i = int(rng.integers(2))
    shape, color = objs[i]
    new_color = str(rng.choice([c for c in COLORS if c not in (objs[0][1], objs[1][1])]))
    new_shape = str(rng.choice([s for s in SHAPES if s not in (objs[0][0], objs[1][0])]))
    side = {"move": "top" if k % 2 else "bottom", "add": "top" if k % 2 else "bottom"}.get(kind)
    words = template.format(o=shape, c=new_color, n=new_shape, side=side)
    grow = None
    if kind == "resize":
        grow = not any(w in words for w in ("smaller", "shrink", "too big"))
    return words, {"kind": kind, "target": i, "color": new_color, "shape": new_shape, "side": side, "grow": grow}


def _parse(path):
    from PIL import Image

    from limner.tools.shapes.parser import parse

    with Image.open(path) as im:
        return parse(im.convert("RGB"))


def _centre(o: dict) -> tuple[float, float]:
    x0, y0, x1, y1 = o["bbox"]
    return (x0 + x1) / 2, (y0 + y1) / 2


def _match(o: dict, found: list[dict], px: float = CENTRE_PX) -> dict | None:
    cx, cy = _centre(o)
    for f in found:
        fx, fy = _centre(f)
        if f["shape"] == o["shape"] and f["color"] == o["color"] and abs(fx - cx) <= px and abs(fy - cy) <= px:
            return f
    return None


def judge(before: list[dict], after: list[dict], want: dict, objs: list[tuple[str, str]]) -> tuple[bool, bool, str]:
    """``(changed, kept, why)`` for one turn, from the parser's readings of the images before and after."""
    from limner.tools.shapes.world import CANVAS

    kind, i = want["kind"], want["target"]
    shape, color = objs[i]
    subject = next((o for o in before if o["shape"] == shape and o["color"] == color), None)
    if subject is None and kind not in ("add", "restyle"):
        return False, False, f"the {color} {shape} was not in the image before the turn"
    others = [o for o in before if o is not subject]
    if kind in ("add", "restyle"):
        others = list(before)
    kept = all(_match(o, after) for o in others)
    rest = [o for o in after if not any(_match(b, [o]) for b in others)]  # what the turn made or left
    if kind == "recolor":
        changed = any(o["shape"] == shape and o["color"] == want["color"] and _match({**subject, "color": o["color"]},
                                                                                     [o], 6) for o in rest)
    elif kind == "resize":
        same = [o for o in rest if o["shape"] == shape and o["color"] == color]
        area = max((o["area"] for o in same), default=0)
        changed = bool(same) and (area >= 1.25 * subject["area"] if want["grow"] else 0 < area <= 0.8 * subject["area"])
    elif kind == "move":
        same = [o for o in rest if o["shape"] == shape and o["color"] == color]
        half = CANVAS / 2
        changed = len(same) == 1 and (_centre(same[0])[1] < half if want["side"] == "top" else
                                      _centre(same[0])[1] > half)
    elif kind == "add":
        changed = any(o["shape"] == want["shape"] and o["color"] == want["color"] for o in rest)
    elif kind == "remove":
        changed = not any(o["shape"] == shape and o["color"] == color for o in after)
    elif kind == "replace":
        changed = any(o["shape"] == want["shape"] and _match({**subject, "shape": o["shape"], "color": o["color"]},
                                                             [o], 8) for o in rest) and \
            not any(o["shape"] == shape and o["color"] == color for o in after)
    elif kind == "regenerate":
        changed = any(o["shape"] == shape and o["color"] == color for o in rest)
    else:  # restyle: the shapes world has no style to see; the objects must all still be there
        changed = True
    extra = len(after) > len(before) + (1 if kind == "add" else 0)
    kept = kept and not extra
    why = f"changed={changed} kept={kept}: before {[(o['color'], o['shape']) for o in before]}, " \
          f"after {[(o['color'], o['shape']) for o in after]}"
    return changed, kept, why


def session(kind: str, k: int, out, seed: int = 0, reader: str = "rules") -> dict:
    """One scripted session with one edit turn of ``kind`` (and, every fourth, an undo after it)."""
    from pathlib import Path

    import numpy as np

    from limner.agent._run.checks import passes
    from limner.agent.runner import answer, run

    rng = np.random.default_rng([seed, KINDS.index(kind), k])
    brief, objs = _brief(rng)
    words, want = _turn(kind, rng, objs, k)
    start = time.perf_counter()
    r = run(brief, out=out, seed=int(rng.integers(1 << 30)), interactive=True, policy="chat", candidates=2,
            planner=reader)
    r = answer(r.run_id, "yes")
    run_dir = Path(r.run_dir)
    head = r.question["best_id"]
    before = _parse(run_dir / f"candidates/{head}.png")
    r = answer(r.run_id, words)
    row = {"kind": kind, "k": k, "brief": brief, "turn": words, "from": head, "seconds": None}
    if r.status != "waiting" or r.question.get("kind") != "round" or r.question.get("round", 0) < 2:
        asked = (r.question or {}).get("asks", "")
        row.update(right=False, said_done=False, why=f"no edit round: {r.status} {asked}"[:300], read_as=None)
        return row
    after_id = r.question["best_id"]
    after = _parse(run_dir / f"candidates/{after_id}.png")
    threshold = r.question["threshold"]
    best = next(c for c in r.candidates if c.id == after_id).record()
    row["read_as"] = next((t for t in reversed(r.question.get("history") or [])), {}).get("kind")
    changed, kept, why = judge(before, after, want, objs)
    from limner.agent._run.checks import check_tally

    tally = check_tally(best)  # done = what ``finish`` calls passed: the threshold, no failed, none unanswered
    row.update(head=after_id, right=changed and kept, changed=changed, kept=kept,
               said_done=passes(best, threshold) and not tally["unanswered"], why=why,
               failed=tally["failed"], unanswered=tally["unanswered"])
    if k % 4 == 0:  # an undo after the edit: back to the image before it
        r = answer(r.run_id, "undo")
        row["undo_right"] = r.question.get("best_id") == head
    answer(r.run_id, "accept")
    row["seconds"] = round(time.perf_counter() - start, 2)
    return row


def run_sessions(out, per_kind: int = 30, kinds=KINDS, seed: int = 0, reader: str = "rules",
                 on_row=None) -> dict:
    rows = []
    for kind in kinds:
        for k in range(per_kind):
            row = session(kind, k, out, seed, reader)
            rows.append(row)
            if on_row:
                on_row(row)
    return {"rows": rows, **summary(rows)}


def summary(rows: list[dict]) -> dict:
    table = {}
    for kind in dict.fromkeys(r["kind"] for r in rows):
        rs = [r for r in rows if r["kind"] == kind]
        table[kind] = {"turns": len(rs), "right": sum(r["right"] for r in rs),
                       "said_done": sum(r["said_done"] for r in rs),
                       "false_passes": sum(r["said_done"] and not r["right"] for r in rs),
                       "kept": sum(bool(r.get("kept")) for r in rs)}
    undos = [r["undo_right"] for r in rows if "undo_right" in r]
    n = len(rows)
    return {"by_kind": table, "turns": n, "right": round(sum(r["right"] for r in rows) / max(1, n), 4),
            "false_passes": sum(r["said_done"] and not r["right"] for r in rows),
            "false_pass_rate": round(sum(r["said_done"] and not r["right"] for r in rows) / max(1, n), 4),
            "said_done": sum(r["said_done"] for r in rows),
            "undo": {"turns": len(undos), "right": sum(undos)}}

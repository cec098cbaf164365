"""What an ``Intent`` does: the plan it changes (objects, relations, exclusions, layout, checks) and the round
that carries it out (the repair target it paints, or a variation, or a new round).

Each kind picks its tool:

- recolor, replace, regenerate (of an object): the object's found box repainted (inpainting, grounded where
  the family is), with the new phrase;
- resize: the box grown or shrunk about its centre (a smaller object's old box erased first);
- move: the old box erased, the object painted at the new one (a side of the image, or beside an anchor),
  grounded in it and painted with a margin round it;
- add: the new object painted in a free box on the side asked for; the plan gains it and its checks;
- remove: the box repainted with what else the plan shows; the plan gains an exclusion ("no ...") and its check;
- restyle: the plan's style changes; a variation (img2img) of the current image carries it;
- regenerate (no object): a new round of the plan.

Plain functions of the plan and the candidates (no graph): ``limner.agent._graph.nodes.chat`` calls them.
"""

from __future__ import annotations

from limner.agent.edits.intent import Intent

EDGE = 0.04  # a moved or added object's box keeps this far from the image's edge
MIN_GROWTH = 1.15  # the least a "bigger" grows an object's side (area x1.32): below it, there is no room
SCALE_MARGIN = 0.04  # a resized object's box grows by this much more, so its edge blends in
PLACE = {"left": (0.22, None), "right": (0.78, None), "top": (None, 0.22), "bottom": (None, 0.78),
         "center": (0.5, 0.5), "top left": (0.22, 0.22), "top right": (0.78, 0.22), "bottom left": (0.22, 0.78),
         "bottom right": (0.78, 0.78)}


def found_boxes(candidate: dict | None) -> dict[int, list[float]]:
    """Where the verifier found each plan object in ``candidate`` (object index -> box)."""
    from limner.agent._graph.repair import candidate_findings

    return {f["index"]: f["box"] for f in candidate_findings(candidate or {})
            if f["kind"] == "object" and f.get("box") and f.get("status") != "missing"}


def _box(plan: dict, index: int, boxes: dict[int, list[float]]) -> list[float] | None:
    if index in boxes:
        return list(boxes[index])
    for region in (plan.get("layout") or {}).get("regions", []):
        if region.get("object") == index:
            return list(region["box"])
    return None


def _phrase(obj: dict) -> str:
    """'a green triangle', 'an orange circle': one object, as a region's phrase says it."""
    from limner.agent.plan import entity_words
    from limner.agent.planners.words import article

    text = entity_words(obj)
    return f"{article(text)} {text}"


def _growths(scale: float) -> list[float]:
    """The scales a "bigger" tries, largest first: the asked one, then down by 0.05 to the least that still
    reads as bigger (MIN_GROWTH), or to the asked one when it is smaller than that."""
    steps = [scale]
    while round(steps[-1] - 0.05, 2) >= min(scale, MIN_GROWTH) - 1e-9:
        steps.append(round(steps[-1] - 0.05, 2))
    return steps


def _scaled(box: list[float], scale: float, margin: float = SCALE_MARGIN) -> list[float]:
    """``box`` scaled about its centre (slid back inside the image, ``EDGE`` from its sides, where it would
    cross one: a bigger object by the edge grows inward, not cut off), then grown by ``margin``."""
    w, h = min((box[2] - box[0]) * scale, 1 - 2 * EDGE), min((box[3] - box[1]) * scale, 1 - 2 * EDGE)
    x0 = min(max((box[0] + box[2]) / 2 - w / 2, EDGE), 1 - EDGE - w)
    y0 = min(max((box[1] + box[3]) / 2 - h / 2, EDGE), 1 - EDGE - h)
    return [round(max(0.0, x0 - margin), 4), round(max(0.0, y0 - margin), 4), round(min(1.0, x0 + w + margin), 4),
            round(min(1.0, y0 + h + margin), 4)]


def placed(size: tuple[float, float], where: str | None, taken: list[list[float]],
           relation: str | None = None, anchor: list[float] | None = None, edge: float = EDGE,
           least: float = 0.0) -> list[float] | None:
    """A box of ``size`` (w, h) at ``where`` (a side, a corner, the centre) or ``relation`` to ``anchor``, clear
    of every ``taken`` box (shrunk to fit if it must, to 0.4 of its size at most, and never to a side under
    ``least``: the smallest object the model paints); with neither, the free spot farthest from every taken
    box; ``edge`` from the image's sides. None when nothing fits."""
    from limner.agent._graph.repair import moved_box

    w, h = min(size[0], 0.45), min(size[1], 0.45)
    for shrink in _shrinks(min(w, h), least):
        sw, sh = w * shrink, h * shrink
        if relation and anchor:
            spots = [moved_box([0, 0, sw, sh], anchor, relation)]
        else:
            spots = [_at(sw, sh, cx, cy, edge) for cx, cy in _centres(where, sw, sh, edge)]
        clear = [b for b in spots if b is not None and all(_apart(b, t) for t in taken)]
        if clear:
            return max(clear, key=lambda b: min([_gap(((b[0] + b[2]) / 2, (b[1] + b[3]) / 2), t) for t in taken]
                                                or [1]))
    return None


def _shrinks(side: float, least: float) -> list[float]:
    """The scales a placed box tries, largest first: 1, 0.85, 0.7, 0.55, 0.4, those that keep its smaller
    ``side`` at ``least`` or more, then the one that makes it exactly ``least`` (when that is between). A box
    already under ``least`` (a small object moved) keeps its size."""
    least = min(least, side)
    ladder = [s for s in (1.0, 0.85, 0.7, 0.55, 0.4) if side * s >= least - 1e-9]
    floor = least / side if side > 0 else 1.0
    if least and 0.4 < floor < 1.0 and floor not in ladder:
        ladder.append(floor)
    return ladder


def _centres(where: str | None, w: float, h: float, edge: float = EDGE) -> list[tuple[float, float]]:
    """Where a ``w`` x ``h`` box may be centred for ``where``: on a side, anywhere along it (as close to that
    edge as the box goes, then a little in from it); None: anywhere."""
    steps = [0.22, 0.36, 0.5, 0.64, 0.78]
    if where is None:
        return [(x, y) for x in steps for y in steps]
    flush = {"left": edge + w / 2, "right": 1 - edge - w / 2, "top": edge + h / 2, "bottom": 1 - edge - h / 2}
    out = []
    for x_or_y in (flush, PLACE):
        cx, cy = PLACE[where]
        for part in where.split():
            if part in ("left", "right"):
                cx = x_or_y[part] if x_or_y is flush else PLACE[part][0]
            elif part in ("top", "bottom"):
                cy = x_or_y[part] if x_or_y is flush else PLACE[part][1]
        out += [(cx if cx is not None else x, cy if cy is not None else y)
                for x in (steps if cx is None else [cx]) for y in (steps if cy is None else [cy])]
    return out


def _at(w: float, h: float, cx: float, cy: float, edge: float = EDGE) -> list[float]:
    x0 = min(max(cx - w / 2, edge), 1 - edge - w)
    y0 = min(max(cy - h / 2, edge), 1 - edge - h)
    return [round(x0, 4), round(y0, 4), round(x0 + w, 4), round(y0 + h, 4)]


def _apart(a: list[float], b: list[float], gap: float = 0.05) -> bool:  # room for the painted margin
    return a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1]


def _gap(spot: tuple[float, float], box: list[float]) -> float:
    dx = max(box[0] - spot[0], 0, spot[0] - box[2])
    dy = max(box[1] - spot[1], 0, spot[1] - box[3])
    return (dx * dx + dy * dy) ** 0.5



def _where(plan: dict, intent: Intent) -> str:
    """Where the person asked for, in words: "left of the circle", "at the bottom", or "there"."""
    objects = plan.get("objects", [])
    if intent.relation and intent.anchor is not None and intent.anchor < len(objects):
        return f"{intent.relation} the {objects[intent.anchor]['name']}"
    return f"at the {intent.where}" if intent.where else "there"


def _reindex(i: int, gone: int) -> int:
    return i - 1 if i > gone else i


def edited_plan(plan: dict, intent: Intent, version: int, box: list[float] | None = None) -> dict:
    """The plan after ``intent`` (its objects, relations, exclusions, layout and checks), as version ``version``.
    ``box``: where a moved or added object now goes. ``ValueError`` when the result contradicts itself."""
    from limner.agent.plan import Plan
    from limner.agent.planners.rules import make_checks, scene_text

    objects = [dict(o) for o in plan["objects"]]
    relations = [dict(r) for r in plan.get("relations", [])]
    exclusions = [dict(e) for e in plan.get("exclusions", [])]
    regions = [dict(r) for r in (plan.get("layout") or {}).get("regions", [])]
    i, kind = intent.object, intent.kind
    said = ""
    if kind == "recolor":
        old = objects[i]
        objects[i] = {**old, "color": intent.color}
        said = f"the {old['name']} {intent.color}"
    elif kind == "replace":
        old = objects[i]
        objects[i] = {**old, "name": intent.name, "color": intent.color or old.get("color"), "count": 1,
                      "attributes": [], "span": None}
        exclusions = [e for e in exclusions if e["name"] != intent.name]
        said = f"a {intent.name} instead of the {old['name']}"
    elif kind == "remove":
        old = objects.pop(i)
        relations = [{**r, "subject": _reindex(r["subject"], i), "object": _reindex(r["object"], i)}
                     for r in relations if i not in (r["subject"], r["object"])]
        regions = [{**r, "object": _reindex(r["object"], i) if r.get("object") is not None else None}
                   for r in regions if r.get("object") != i]
        if not any(o["name"] == old["name"] for o in objects):
            exclusions.append({"name": old["name"], "color": None, "attributes": [], "span": None})
        said = f"no {old['name']}"
    elif kind == "add":
        new = {"name": intent.name, "count": 1, "color": intent.color, "exact": True, "attributes": [], "span": None}
        objects.append(new)
        exclusions = [e for e in exclusions if e["name"] != intent.name]
        if intent.relation and intent.anchor is not None:
            relations.append({"subject": len(objects) - 1, "relation": intent.relation, "object": intent.anchor,
                              "span": None})
        if box is not None:
            regions.append({"phrase": _phrase(new), "box": box, "object": len(objects) - 1})
        said = f"and {_phrase(new)}"
    elif kind == "move":
        if intent.relation and intent.anchor is not None:
            relations = [r for r in relations if {r["subject"], r["object"]} != {i, intent.anchor}]
            relations.append({"subject": i, "relation": intent.relation, "object": intent.anchor, "span": None})
        if box is not None:
            regions = [{**r, "box": box} if r.get("object") == i else r for r in regions]
        said = f"the {objects[i]['name']} " + (f"{intent.relation} the {objects[intent.anchor]['name']}"
                                               if intent.relation else f"on the {intent.where}")
    style = plan.get("style", "")
    if kind == "restyle":
        style = intent.style or style
    for r in regions:  # a region's phrase names its object as it now is
        if r.get("object") is not None and r["object"] < len(objects):
            r["phrase"] = _phrase(objects[r["object"]])
    from limner.agent.plan import Exclusion, PlanObject, Relation

    objs = [PlanObject(**o) for o in objects]
    rels = [Relation(**r) for r in relations]
    excls = [Exclusion(**e) for e in exclusions]
    if plan.get("planner") == "rules":
        rewritten = scene_text(objs, rels)
        prompt = rewritten
    else:
        rewritten = f"{plan['rewritten_prompt']}, {said}" if said else plan["rewritten_prompt"]
        prompt = f"{plan['prompt']} ({said})" if said else plan["prompt"]
    if kind == "restyle":
        rewritten = f"{rewritten}, {style}"
    from limner.agent.planners.rules import negative_text

    layout = plan.get("layout")
    if layout is not None:
        layout = {**layout, "regions": regions}
    checks = [c.model_dump() for c in make_checks(objs, rels, excls)]
    if objs:  # what an edit paints must be only what was asked: nothing besides the plan's objects
        listed = ", ".join(_phrase(o.model_dump()) for o in objs)
        checks.append({"id": "only", "question": f"Does the image show nothing besides {listed}?", "kind": "only",
                       "object": None, "relation": None, "exclusion": None, "depends_on": []})
    new = {**plan, "objects": [o.model_dump() for o in objs], "relations": [r.model_dump() for r in rels],
           "exclusions": [e.model_dump() for e in excls], "checks": checks,
           "layout": layout, "style": style, "rewritten_prompt": rewritten, "prompt": prompt, "judge_prompt": "",
           "negative_prompt": ", ".join(p for p in (negative_text(excls),) if p) if kind == "remove" or excls
           else plan.get("negative_prompt", ""),
           "version": version, "rationale": f"the person asked: {intent.reply or kind}"}
    return Plan.model_validate(new).model_dump()


def target(plan: dict, new_plan: dict, intent: Intent, parent: dict,
           least: float = 0.0) -> tuple[dict | None, list[float] | None]:
    """The repair target that carries out ``intent`` on ``parent`` (``(None, None)`` for kinds done by a whole
    round: restyle, regenerate of the whole image), and the box a moved or added object goes to (its side not
    under ``least``, the model's ``least_object``). ``ValueError`` with the reason when there is no place to
    paint it."""
    from limner.agent._graph.repair import MARGIN, _grow, erase_text

    boxes = found_boxes(parent)
    kind, i = intent.kind, intent.object
    base = {"parent": parent["id"], "object": f"person:{kind}:{i if i is not None else 'new'}", "status": "requested"}
    if kind == "restyle" or (kind == "regenerate" and i is None):
        return None, None
    if kind == "add":
        sizes = [(b[2] - b[0], b[3] - b[1]) for b in boxes.values()] or [(0.3, 0.3)]
        size = (sum(s[0] for s in sizes) / len(sizes), sum(s[1] for s in sizes) / len(sizes))
        anchor = _box(plan, intent.anchor, boxes) if intent.anchor is not None else None
        # the mask and the grounding box are the placed box grown by a margin: placed that much farther in where
        # it fits, so the model's object does not run into the image's edge (cut off by it, its shape misread)
        box = placed(size, intent.where, list(boxes.values()), intent.relation, anchor, edge=EDGE + MARGIN / 2,
                     least=least) or placed(size, intent.where, list(boxes.values()), intent.relation, anchor,
                                            least=least)
        if box is None:
            raise ValueError(f"there is no room {_where(plan, intent)} for a {intent.name}"
                             + (" the model can paint" if least else ""))
        obj = new_plan["objects"][-1]
        # the other objects' names: what an added object is painted as when a neighbour's leaks in (``edit_avoid``)
        avoid = list(dict.fromkeys(o["name"] for o in new_plan["objects"] if o["name"] != obj["name"]))
        # grounded in the mask's box, margin and all: told the placed box itself, the embedded model painted
        # nothing in 7 of 30 development adds (limner bench sessions --kinds add --seed 0: 17 right against 24)
        return {**base, "avoid": avoid, "box": _grow(box, MARGIN / 2), "phrase": _phrase(obj),
                "why": f"the person asked to add {_phrase(obj)}",
                "expect": {"object": len(new_plan["objects"]) - 1, "inside": box}}, box
    box = _box(plan, i, boxes)
    if box is None:
        raise ValueError(f"the {plan['objects'][i]['name']} was not found in {parent['id']}")
    name = plan["objects"][i]["name"]
    if kind == "remove":
        return {**base, "box": _grow(box, MARGIN / 2), "phrase": erase_text(plan),
                "why": f"the person asked to remove the {name}"}, None
    phrase = _phrase(new_plan["objects"][i])
    if kind == "move":
        w, h = box[2] - box[0], box[3] - box[1]
        anchor = _box(plan, intent.anchor, boxes) if intent.anchor is not None else None
        others = [b for k, b in boxes.items() if k != i]
        to = placed((w, h), intent.where, others, intent.relation, anchor, least=least)
        if to is None:
            raise ValueError(f"the {name} does not fit {_where(plan, intent)}")
        # painted in a margin round the new box, grounded in the box (as an object changed in place is): told
        # a mask it had to fill edge to edge, the embedded model painted patches of other colours in 4 of 90
        # development moves, all passed (limner bench sessions --kinds move --per-kind 90 --seed 0: 86 right
        # and 4 false passes -> 90 and 0)
        return {**base, "box": _grow(to, MARGIN / 2), "ground": to, "phrase": phrase,
                "why": f"the person asked to move the {name}",
                "erase": {"box": _grow(box, MARGIN / 2), "prompt": erase_text(plan)},
                "expect": {"object": i, "inside": to}}, to
    if kind == "resize":
        # the new size is the box's: the object is grounded in the scaled box and painted in it with a margin;
        # its phrase names it as it is ("a large ..." is a word a model may not know, and says no more)
        scale = intent.scale
        if scale > 1:  # as large as asked, or as large as it goes without painting over what is next to it
            others = [b for k, b in boxes.items() if k != i]
            scale = next((s for s in _growths(scale) if all(_apart(_scaled(box, s), o, 0.0) for o in others)),
                         None)
            if scale is None:
                raise ValueError(f"there is no room to make the {name} bigger without painting over what is "
                                 "next to it")
        out = {**base, "box": _scaled(box, scale), "ground": _scaled(box, scale, 0.0), "phrase": phrase,
               "why": f"the person asked for a {'bigger' if intent.scale > 1 else 'smaller'} {name}",
               "expect": {"object": i, "area_from": box, "grow": intent.scale > 1}}
        if intent.scale < 1:  # the old, larger object goes first
            out["erase"] = {"box": _grow(box, SCALE_MARGIN), "prompt": erase_text(plan)}
        return out, None
    out = {**base, "box": _grow(box), "ground": box, "phrase": phrase,
           "why": f"the person asked to {kind} the {name}" if kind != "recolor" else
           f"the person asked for a {intent.color} {name}"}
    if kind == "recolor":
        out["recolor"] = True  # the object stays where and what it is: only its colour changes
    return out, None

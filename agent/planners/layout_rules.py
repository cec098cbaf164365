"""Box placement by rules: one region per object instance, satisfying counts and one spatial relation.

With a relation, the subject's instances go in one half of the canvas and the object's in the other (left
of: subject left; above: subject on top); every other instance shares the canvas in a grid. Each box is the
largest square that fits its grid cell with ``MARGIN`` on every side, at most ``MAX_SIDE`` wide, centred in
the cell, so boxes never touch and their centres satisfy GenEval's relative-position rule.
"""

from __future__ import annotations

import math

from limner.agent.layout import Layout, Region
from limner.agent.plan import PlanObject, Relation
from limner.agent.planners.words import describe

MARGIN = 0.04
MAX_SIDE = 0.42
SPLITS = {"left of": ("x", 0), "right of": ("x", 1), "above": ("y", 0), "below": ("y", 1)}


def _grid(n: int, area: tuple[float, float, float, float]) -> list[tuple[float, float, float, float]]:
    """``n`` cells over ``area`` (x0, y0, x1, y1): one row for up to 3 (one column if the area is tall)."""
    x0, y0, x1, y1 = area
    w, h = x1 - x0, y1 - y0
    if n <= 3:
        cols, rows = (n, 1) if w >= h else (1, n)
    else:
        cols = math.ceil(math.sqrt(n))
        rows = math.ceil(n / cols)
    cells = []
    for k in range(n):
        r, c = divmod(k, cols)
        cells.append((x0 + c * w / cols, y0 + r * h / rows, x0 + (c + 1) * w / cols, y0 + (r + 1) * h / rows))
    return cells


def _square(cell, max_side: float) -> list[float]:
    x0, y0, x1, y1 = cell
    side = min(x1 - x0 - 2 * MARGIN, y1 - y0 - 2 * MARGIN, max_side)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return [cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]


def place(objects: list[PlanObject], relations: list[Relation], *, max_side: float = MAX_SIDE,
          background: str = "", base_ratio: float = 0.3) -> Layout:
    """A layout for the plan's objects (``ValueError`` when there is nothing to place)."""
    if not objects:
        raise ValueError("no objects to place")
    instances = [i for i, obj in enumerate(objects) for _ in range(obj.count)]
    groups: list[tuple[list[int], tuple]] = []
    if relations:
        rel = relations[0]
        axis, subject_first = SPLITS[rel.relation]
        first, second = ((0, 0, 0.5, 1), (0.5, 0, 1, 1)) if axis == "x" else ((0, 0, 1, 0.5), (0, 0.5, 1, 1))
        if subject_first == 1:
            first, second = second, first
        subject = [i for i in instances if i == rel.subject]
        target = [i for i in instances if i == rel.object]
        others = [i for i in instances if i not in (rel.subject, rel.object)]
        groups = [(subject + others[: len(others) // 2], first), (target + others[len(others) // 2:], second)]
    else:
        groups = [(instances, (0, 0, 1, 1))]
    regions = []
    for members, area in groups:
        for index, cell in zip(members, _grid(len(members), area)):
            obj = objects[index]
            single = PlanObject(name=obj.name, count=1, color=obj.color)
            regions.append(Region(phrase=describe(single), box=_square(cell, max_side), object=index,
                                  attributes=[obj.color] if obj.color else []))
    return Layout(regions=regions, background=background, base_ratio=base_ratio)

"""Box placement by rules: one region per object instance, with every relation of the plan holding at once.

Without relations, every instance shares the canvas in a grid. With relations, each entity gets a cell of a
small grid (the smallest that fits: as many columns as the longest left-right chain, as many rows as the
longest above-below chain), found by a search that satisfies every relation by the cells' order and prefers
entities related left-right in one row and above-below in one column; an entity's instances share its cell.
Each box is the largest square that fits its cell with ``MARGIN`` on every side, at most ``MAX_SIDE`` wide, so
boxes never touch. The result is checked with GenEval's relative-position rule on every pair of instances;
a layout that would break a relation is not returned.
"""

from __future__ import annotations

import itertools
import math

from limner.agent.layout import Layout, Region
from limner.agent.plan import AXES, PlanObject, Relation, contradiction
from limner.agent.planners.words import describe

MARGIN = 0.04
MAX_SIDE = 0.42
MAX_GRID = 4  # at most this many columns and rows of entity cells
SEARCH_NODES = 60_000  # the assignment search gives up after this many partial assignments


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


def _chain(n: int, relations: list[Relation], axis: str) -> int:
    """The most entities in one chain of relations along ``axis`` (1 when none)."""
    after: dict[int, list[int]] = {}
    for rel in relations:
        ax, flip = AXES[rel.relation]
        if ax == axis:
            a, b = (rel.object, rel.subject) if flip else (rel.subject, rel.object)
            after.setdefault(a, []).append(b)
    depth: dict[int, int] = {}

    def longest(i: int) -> int:
        if i not in depth:
            depth[i] = 1 + max((longest(j) for j in after.get(i, [])), default=0)
        return depth[i]

    return max((longest(i) for i in range(n)), default=1)


def _holds(rel: Relation, cells: dict[int, tuple[int, int]]) -> bool:
    (ca, ra), (cb, rb) = cells[rel.subject], cells[rel.object]
    return {"left of": ca < cb, "right of": ca > cb, "above": ra < rb, "below": ra > rb}[rel.relation]


def _penalty(rel: Relation, cells: dict[int, tuple[int, int]]) -> int:
    """Off-axis distance: entities related left-right belong in one row, above-below in one column."""
    (ca, ra), (cb, rb) = cells[rel.subject], cells[rel.object]
    return abs(ra - rb) if AXES[rel.relation][0] == "x" else abs(ca - cb)


def assign_cells(n: int, relations: list[Relation], cols: int, rows: int) -> dict[int, tuple[int, int]] | None:
    """Distinct (column, row) cells for ``n`` entities where every relation holds, with the least off-axis
    distance; None if there is none (or the search runs out of nodes)."""
    order = sorted(range(n), key=lambda i: -sum(i in (r.subject, r.object) for r in relations))
    free = [(c, r) for r in range(rows) for c in range(cols)]
    best: list = [None, math.inf]
    nodes = [0]

    def search(k: int, cells: dict[int, tuple[int, int]], cost: int) -> None:
        nodes[0] += 1
        if cost >= best[1] or nodes[0] > SEARCH_NODES:
            return
        if k == n:
            best[0], best[1] = dict(cells), cost
            return
        entity = order[k]
        for cell in free:
            if cell in cells.values():
                continue
            cells[entity] = cell
            added, ok = 0, True
            for rel in relations:
                if entity in (rel.subject, rel.object) and rel.subject in cells and rel.object in cells:
                    if not _holds(rel, cells):
                        ok = False
                        break
                    added += _penalty(rel, cells)
            if ok:
                search(k + 1, cells, cost + added)
            del cells[entity]

    search(0, {}, 0)
    return best[0]


def _regions(objects: list[PlanObject], slots: list[tuple[int, tuple]], max_side: float) -> list[Region]:
    regions = []
    for index, cell in slots:
        obj = objects[index]
        single = PlanObject(name=obj.name, count=1, color=obj.color)
        phrase = describe(single)
        if obj.attributes:  # "a large wooden chair": the attributes before the colour
            head, rest = phrase.split(" ", 1)
            phrase = " ".join([head, *obj.attributes, rest])
        regions.append(Region(phrase=phrase, box=_square(cell, max_side), object=index,
                              attributes=([obj.color] if obj.color else []) + list(obj.attributes)))
    return regions


def _satisfied(regions: list[Region], relations: list[Relation]) -> str | None:
    """The first relation some pair of instances breaks by GenEval's rule, or None."""
    from limner.tools.shapes.geneval import relative_position

    for rel in relations:
        subjects = [r.box for r in regions if r.object == rel.subject]
        targets = [r.box for r in regions if r.object == rel.object]
        for a, b in itertools.product(subjects, targets):
            if rel.relation not in relative_position(a, b):
                return f"object {rel.subject} {rel.relation} object {rel.object}"
    return None


def place(objects: list[PlanObject], relations: list[Relation], *, max_side: float = MAX_SIDE,
          background: str = "", base_ratio: float = 0.3) -> tuple[Layout | None, str]:
    """``(layout, why)``: a layout for the plan's objects in which every relation holds, or ``(None, why not)``
    (``ValueError`` when there is nothing to place)."""
    if not objects:
        raise ValueError("no objects to place")
    n = len(objects)
    if not relations:
        instances = [i for i, obj in enumerate(objects) for _ in range(obj.count)]
        slots = list(zip(instances, _grid(len(instances), (0, 0, 1, 1))))
        return Layout(regions=_regions(objects, slots, max_side), background=background, base_ratio=base_ratio), ""
    clash = contradiction(objects, relations)
    if clash:  # a cycle along an axis: no arrangement holds them all
        return None, clash
    need_cols, need_rows = _chain(n, relations, "x"), _chain(n, relations, "y")
    grids = sorted(((c, r) for c in range(need_cols, MAX_GRID + 1) for r in range(need_rows, MAX_GRID + 1)
                    if c * r >= n), key=lambda g: (g[0] * g[1], abs(g[0] - g[1])))
    why = f"{n} objects with these relations do not fit a {MAX_GRID}x{MAX_GRID} grid"
    for cols, rows in grids:
        cells = assign_cells(n, relations, cols, rows)
        if cells is None:
            continue
        slots = []
        for entity, (c, r) in cells.items():
            area = (c / cols, r / rows, (c + 1) / cols, (r + 1) / rows)
            slots += [(entity, cell) for cell in _grid(objects[entity].count, area)]
        slots.sort(key=lambda s: s[0])
        regions = _regions(objects, slots, max_side)
        broken = _satisfied(regions, relations)
        if broken is None:
            return Layout(regions=regions, background=background, base_ratio=base_ratio), ""
        why = f"no {cols}x{rows} arrangement keeps {broken} for every instance"
    return None, why

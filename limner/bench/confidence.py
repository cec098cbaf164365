"""Chooses and measures a detector's ``confident`` level: how surely a box must be read (its name's score, and
its colour's where the detector reads colours) to pass a check that something is there.

An edit on the embedded model sometimes paints an object of two colours, or a shape between two shapes.
shapes-owl still reads it as the asked object, above its threshold but less surely than a clean one; the
parser reads it otherwise, and Limner said done: a false pass. Below ``confident`` a box is something there
(it fills its place for 'only' and 'count' checks) but never the asked thing: the check fails at its box and
the loop repairs it.

Candidates: every candidate under the given run folders (``limner bench sessions --keep DIR``) whose checks all
passed when it was made. For each level, the checks are answered again with the detector at that level (the
detector looks once per image) and by the parser (the exact reader of this world, an oracle used here only
to score). A *false pass left*: the detector passes every check, the parser does not. A *pass lost*: the
parser passes every check, the detector at this level no longer does.

The rule, fixed before the first measurement: the level from ``GRID`` that minimises twice the false passes
left plus the passes lost, on the development candidates; then measured once on the test candidates.

    limner bench sessions --per-kind 30 --seed 0 --keep /tmp/conf-dev    # development candidates
    limner bench confidence --dev /tmp/conf-dev
"""

from __future__ import annotations

import json
from pathlib import Path

GRID = (0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)  # after 0, no level


def passed_candidates(folder: Path) -> list[tuple[Path, dict]]:
    """``(image path, the plan it was checked against)`` for every candidate whose checks all passed."""
    out = []
    for manifest in sorted(Path(folder).rglob("manifest.json")):
        m = json.loads(manifest.read_text())
        plans = {p.get("version", 1): p for p in m.get("plans") or [m["plan"]]}
        for c in m.get("candidates", []):
            questions = (c.get("scores") or {}).get("questions")
            plan = plans.get(c.get("plan_version", 1))
            if questions and plan and not questions["detail"]["failed"]:
                out.append((manifest.parent / c["path"], plan))
    return out


def _all_pass(answers: dict, plan: dict) -> bool:
    from limner.tools.verifiers.questions import dsg_score

    _, records = dsg_score(plan["checks"], answers)
    return all(r["passed"] for r in records if r["answer"] is not None)


def measure(items: list[tuple[Path, dict]], grid: tuple[float, ...], detector: str | None = None) -> dict:
    from PIL import Image

    from limner.tools.verifiers.answerers import DetectorAnswerer, ParserAnswerer, answer_from_objects
    from limner.tools.verifiers.detector import Detector, folder_settings
    from limner.tools.verifiers.requirements import BUILTIN_SHAPES_DETECTOR

    ref = detector or BUILTIN_SHAPES_DETECTOR
    shipped = folder_settings(ref)
    answerer = DetectorAnswerer(Detector(ref), color="detector", colors=tuple(shipped["colors"]))
    parser = ParserAnswerer()
    seen = []
    for path, plan in items:
        with Image.open(path) as im:
            image = im.convert("RGB")
        found = answerer.objects(image, plan)
        seen.append((found, plan, _all_pass(parser.answer(image, plan), plan)))
    rows = {}
    for level in grid:
        left = lost = passes = 0
        for found, plan, truth in seen:
            at = [{**f, "confident": f["reading"] >= level} for f in found]  # level 0: none
            says = _all_pass(answer_from_objects([f for f in at if f["sure"]], plan,
                                                 complete=answerer.inventory(plan),
                                                 doubtful=[f for f in at if not f["sure"]]), plan)
            passes += says
            left += says and not truth
            lost += truth and not says
        rows[str(level)] = {"candidates": len(seen), "parser_passes": sum(t for *_, t in seen), "passes": passes,
                            "false_passes": left, "lost": lost, "cost": 2 * left + lost}
    return rows


def choose(dev: dict) -> float:
    """The rule: least ``2 x false passes left + passes lost``; ties to the lower level (fewer passes lost)."""
    return float(min(dev, key=lambda t: (dev[t]["cost"], float(t))))


def grid_for(threshold: float) -> tuple[float, ...]:
    """No level first (0: every box at the threshold reads as what it scores), then every ``GRID`` value
    from the threshold up."""
    return (0.0, *[g for g in GRID if g >= threshold])

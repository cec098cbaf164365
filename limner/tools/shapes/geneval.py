"""GenEval's scoring rules (Ghosh et al. 2023), applied to the exact parser's objects.

- ``include`` clauses are ANDed: at least ``count`` objects of the class; the first ``count`` of them
  (GenEval: the most confident; here: the largest) must have ``color`` if given, and each must stand in
  ``position = [relation, group]`` to every object matched by include clause ``group``.
- ``exclude`` clauses are ORed: ``count`` or more objects of the class fails (exact counts use both).
- Relative position from box centres with a margin of 0.1 x the sum of the boxes' sizes, then the
  normalised direction must exceed 0.5 along the axis (GenEval's ``relative_position``).
- Per-tag accuracy is the mean over images; overall is the mean over tags.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

POSITION_THRESHOLD = 0.1
TAGS = ("single_object", "two_object", "counting", "colors", "position", "color_attr")


def relative_position(box_a, box_b) -> set[str]:
    """Relations of box A to box B (``[x0, y0, x1, y1]``), by GenEval's rule."""
    boxes = np.array([box_a[:4], box_b[:4]], dtype=np.float64).reshape(2, 2, 2)
    center_a, center_b = boxes.mean(axis=-2)
    dim_a, dim_b = np.abs(np.diff(boxes, axis=-2))[..., 0, :]
    offset = center_a - center_b
    revised = np.maximum(np.abs(offset) - POSITION_THRESHOLD * (dim_a + dim_b), 0) * np.sign(offset)
    if np.all(np.abs(revised) < 1e-3):
        return set()
    dx, dy = revised / np.linalg.norm(offset)
    rels = set()
    if dx < -0.5:
        rels.add("left of")
    if dx > 0.5:
        rels.add("right of")
    if dy < -0.5:
        rels.add("above")
    if dy > 0.5:
        rels.add("below")
    return rels


def metadata_problem(metadata: dict) -> str | None:
    """Why ``metadata`` is not a GenEval prompt the rules can score (a string prompt and tag, and an
    ``include`` list of ``{"class", "count", "color"?, "position"?: [relation, earlier index]}``), or None."""
    if not isinstance(metadata.get("prompt"), str) or not isinstance(metadata.get("tag"), str):
        return "its prompt and tag must be strings"
    include = metadata.get("include")
    if not isinstance(include, list):
        return "its include must be a list"
    for i, req in enumerate(include):
        if not isinstance(req, dict) or not isinstance(req.get("class"), str):
            return f"include[{i}] must be an object with a class"
        count = req.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 1000:
            return f"include[{i}].count must be a whole number from 0 to 1000"
        if "color" in req and not isinstance(req["color"], str):
            return f"include[{i}].color must be a string"
        for pos in ([req["position"]] if req.get("position") is not None else []) + list(req.get("positions") or []):
            if not (isinstance(pos, list) and len(pos) == 2 and isinstance(pos[0], str)
                    and isinstance(pos[1], int) and not isinstance(pos[1], bool) and 0 <= pos[1] < i):
                return f"include[{i}].position must be [relation, index of an earlier include]"
    return None


def evaluate(objects: list[dict], metadata: dict) -> tuple[bool, str]:
    """GenEval's verdict for one image's objects (dicts with shape, color, bbox; largest first).

    Limner's compositional suite extends the metadata, and the extensions never change a GenEval prompt's
    verdict: several include clauses of one class (told apart by colour) each match only objects of their
    colour; ``"exact": true`` asks for exactly ``count`` of them; ``"positions": [[relation, group], ...]``
    gives several relations; an exclude clause may name a ``color``.
    """
    by_class: dict[str, list[dict]] = defaultdict(list)
    for obj in objects:
        by_class[obj["shape"]].append(obj)
    shared = defaultdict(int)
    for req in metadata.get("include", []):
        shared[req["class"]] += 1
    correct, reasons, matched_groups = True, [], []
    for req in metadata.get("include", []):
        cls, count = req["class"], req["count"]
        pool = by_class.get(cls, [])
        if shared[cls] > 1 and "color" in req:  # same-class entities are bound by their colour
            pool = [o for o in pool if o["color"] == req["color"]]
        found = pool[:count]
        matched = True
        if len(found) < count:
            correct = matched = False
            reasons.append(f"expected {cls}>={count}, found {len(found)}")
        elif req.get("exact") and len(pool) != count:
            correct = matched = False
            reasons.append(f"expected exactly {count} {req.get('color', '')} {cls}, found {len(pool)}".replace("  ", " "))
        if matched and "color" in req:
            colors = [o["color"] for o in found]
            if colors.count(req["color"]) < count:
                correct = matched = False
                reasons.append(f"expected {req['color']} {cls}>={count}, found {colors.count(req['color'])} "
                               f"{req['color']}; and " + ", ".join(f"{colors.count(c)} {c}" for c in sorted(set(colors))))
        positions = list(req.get("positions", [])) + ([req["position"]] if "position" in req else [])
        for rel, group in positions:
            if not matched:
                break
            if matched_groups[group] is None:
                correct = matched = False
                reasons.append(f"no target for {cls} to be {rel}")
                break
            for obj in found:
                for target in matched_groups[group]:
                    true_rels = relative_position(obj["bbox"], target["bbox"])
                    if rel not in true_rels:
                        correct = matched = False
                        reasons.append(f"expected {cls} {rel} target, found {' and '.join(sorted(true_rels))} target")
                        break
                if not matched:
                    break
        matched_groups.append(found if matched else None)
    for req in metadata.get("exclude", []):
        cls = req["class"]
        there = [o for o in by_class.get(cls, []) if "color" not in req or o["color"] == req["color"]]
        if len(there) >= req["count"]:
            correct = False
            what = f"{req['color']} {cls}" if "color" in req else cls
            reasons.append(f"expected {what}<{req['count']}, found {len(there)}")
    return correct, "\n".join(reasons)


def score_image(image, metadata: dict) -> dict:
    from limner.tools.shapes.parser import parse

    objects = parse(image)
    correct, reason = evaluate(objects, metadata)
    return {"tag": metadata["tag"], "prompt": metadata["prompt"], "correct": correct, "reason": reason,
            "objects": objects}


def summarize(results: list[dict]) -> dict:
    """``{"overall": mean over tags, "tags": {tag: accuracy}, "counts": {tag: [correct, total]}, ...}``."""
    per_tag: dict[str, list[bool]] = defaultdict(list)
    for r in results:
        per_tag[r["tag"]].append(bool(r["correct"]))
    tags = {t: float(np.mean(v)) for t, v in per_tag.items()}
    ordered = {t: tags[t] for t in TAGS if t in tags} | {t: v for t, v in tags.items() if t not in TAGS}
    return {
        "overall": float(np.mean(list(tags.values()))) if tags else 0.0,
        "tags": ordered,
        "counts": {t: [int(sum(per_tag[t])), len(per_tag[t])] for t in ordered},
        "images": len(results),
    }


def read_geneval_folder(folder: str | Path) -> list[tuple[dict, list[Path]]]:
    """GenEval's layout: ``<folder>/<00000>/metadata.jsonl`` (one JSON object) + ``samples/0000.png``..."""
    folder = Path(folder)
    out = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and p.name.isdigit()):
        meta_path = sub / "metadata.jsonl"
        if not meta_path.is_file():
            continue
        try:
            metadata = json.loads(meta_path.read_text(encoding="utf-8").strip().splitlines()[0])
        except (OSError, ValueError, IndexError) as exc:  # empty, not UTF-8, not JSON
            raise ValueError(f"{meta_path} is not one JSON object per line: {str(exc)[:80] or 'empty'}") from None
        if not isinstance(metadata, dict):
            raise ValueError(f"{meta_path} holds a {type(metadata).__name__}, not GenEval's JSON object")
        samples = sorted(p for p in (sub / "samples").glob("*.png") if p.stem.isdigit())
        out.append((metadata, samples))
    return out


def score_folder(folder: str | Path) -> list[dict]:
    """Every sample scored; ``ValueError`` (one line) for a sample that is not a readable image."""
    from limner.tools.images import read_input_image

    results = []
    for metadata, samples in read_geneval_folder(folder):
        for path in samples:
            r = score_image(read_input_image(path, "sample"), metadata)
            r["filename"] = str(path)
            results.append(r)
    return results

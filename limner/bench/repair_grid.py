"""Before/after grid of the repair loop: for each run of a `limner bench shapes --policy P` result whose final
image came from a repair and is correct by ShapesEval's scorer, the generated image it was repaired from, and
the result with the repaired box outlined.

    python -m limner.bench.repair_grid layout-repair.json --out docs/repair-grid.png [--limit 24]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def pairs(results_path: Path, limit: int) -> list[tuple[dict, Path, Path, list[float]]]:
    data = json.loads(results_path.read_text())
    runs_dir = Path(data["runs_dir"])
    out = []
    for run, scored in zip(data["runs"], data["results"]):  # one result per run, in the same order
        if not scored["correct"]:
            continue
        manifest = json.loads((runs_dir / run["run_id"] / "manifest.json").read_text())
        by_id = {c["id"]: c for c in manifest["candidates"]}
        best = by_id.get((manifest.get("best") or {}).get("id"))
        if best is None or best.get("sampler") != "inpaint":
            continue
        parent = best
        while parent.get("sampler") == "inpaint" and parent.get("parent") in by_id:  # back to the generated image
            parent = by_id[parent["parent"]]
        run_dir = runs_dir / run["run_id"]
        out.append((run, run_dir / parent["path"], run_dir / best["path"], best["edit"]["box"]))
        if len(out) >= limit:
            break
    return out


def grid(items, scale: int = 3, columns: int = 3):
    """Pairs (before | after, the repaired box outlined) in ``columns`` columns, each captioned with its prompt."""
    from PIL import Image, ImageDraw

    cell = 64 * scale
    pair_w, pair_h = 2 * cell + 8, cell + 26
    rows = (len(items) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * (pair_w + 16), rows * pair_h), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (run, before, after, box) in enumerate(items):
        x, y = (k % columns) * (pair_w + 16), (k // columns) * pair_h
        for j, path in enumerate((before, after)):
            with Image.open(path) as im:
                sheet.paste(im.convert("RGB").resize((cell, cell), Image.NEAREST), (x + j * (cell + 8), y))
        x0, y0, x1, y1 = (v * cell for v in box)
        draw.rectangle([x + cell + 8 + x0, y + y0, x + cell + 8 + x1 - 1, y + y1 - 1], outline=(255, 140, 0), width=2)
        draw.text((x + 2, y + cell + 4), run["prompt"].removeprefix("a photo of ")[:56], fill=(0, 0, 0))
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--out", type=Path, default=Path("repair-grid.png"))
    parser.add_argument("--limit", type=int, default=24)
    args = parser.parse_args()
    items = pairs(args.results, args.limit)
    if not items:
        raise SystemExit("no run in these results ended on a correct repaired candidate")
    grid(items).save(args.out)
    print(f"wrote {args.out} ({len(items)} repairs)")


if __name__ == "__main__":
    main()

"""Before/after grid of the repair loop: for each run of a `limner bench shapes --policy P` result whose final
image came from a repair, the image it was repaired from, the repaired box, and the result.

    python bench/repair_grid.py layout-repair.json --out docs/repair-grid.png [--limit 24]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def pairs(results_path: Path, limit: int) -> list[tuple[dict, Path, Path, list[float]]]:
    data = json.loads(results_path.read_text())
    runs_dir = Path(data["runs_dir"])
    out = []
    for run in data["runs"]:
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


def grid(items, scale: int = 3):
    from PIL import Image, ImageDraw

    cell = 64 * scale
    sheet = Image.new("RGB", (2 * cell + 12, len(items) * (cell + 26)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (run, before, after, box) in enumerate(items):
        y = k * (cell + 26)
        for j, path in enumerate((before, after)):
            with Image.open(path) as im:
                sheet.paste(im.convert("RGB").resize((cell, cell), Image.NEAREST), (j * (cell + 12), y))
        x0, y0, x1, y1 = (v * cell for v in box)
        draw.rectangle([cell + 12 + x0, y + y0, cell + 12 + x1 - 1, y + y1 - 1], outline=(255, 140, 0), width=2)
        draw.text((2, y + cell + 4), run["prompt"].removeprefix("a photo of ")[:60], fill=(0, 0, 0))
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--out", type=Path, default=Path("repair-grid.png"))
    parser.add_argument("--limit", type=int, default=24)
    args = parser.parse_args()
    items = pairs(args.results, args.limit)
    if not items:
        raise SystemExit("no run in these results ended on a repaired candidate")
    grid(items).save(args.out)
    print(f"wrote {args.out} ({len(items)} repairs)")


if __name__ == "__main__":
    main()

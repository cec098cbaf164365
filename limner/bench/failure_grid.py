"""Why an agent run on ShapesEval was scored wrong: for each wrong run of a `limner bench shapes --policy P`
result (optionally of one tag), its final image with the plan's boxes outlined (the run's ``layout.png``, else
its final image), captioned with the prompt and the scorer's reason.

    python -m limner.bench.failure_grid grounded-1x.json --out failures.png [--tag counting] [--limit 24]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def failures(results_path: Path, tag: str | None, limit: int) -> list[tuple[dict, dict, Path]]:
    data = json.loads(results_path.read_text())
    runs_dir = Path(data["runs_dir"])
    out = []
    for run, scored in zip(data["runs"], data["results"]):  # one result per run, in the same order
        if scored["correct"] or (tag and scored["tag"] != tag):
            continue
        folder = runs_dir / run["run_id"]
        image = folder / "layout.png" if (folder / "layout.png").is_file() else folder / "final.png"
        out.append((run, scored, image))
        if len(out) >= limit:
            break
    return out


def grid(items, scale: int = 3, columns: int = 4):
    from PIL import Image, ImageDraw

    cell = 64 * scale
    w, h = cell + 16, cell + 40
    rows = (len(items) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * w, rows * h), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (run, scored, path) in enumerate(items):
        x, y = (k % columns) * w, (k // columns) * h
        with Image.open(path) as im:
            sheet.paste(im.convert("RGB").resize((cell, cell), Image.NEAREST), (x, y))
        draw.text((x + 2, y + cell + 3), run["prompt"].removeprefix("a photo of ")[:34], fill=(0, 0, 0))
        draw.text((x + 2, y + cell + 18), scored["reason"][:34], fill=(170, 0, 0))
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--out", type=Path, default=Path("failures.png"))
    parser.add_argument("--tag", help="only this ShapesEval tag")
    parser.add_argument("--limit", type=int, default=24)
    args = parser.parse_args()
    items = failures(args.results, args.tag, args.limit)
    if not items:
        raise SystemExit("no wrong run in these results" + (f" for tag {args.tag}" if args.tag else ""))
    grid(items).save(args.out)
    print(f"wrote {args.out} ({len(items)} wrong runs)")


if __name__ == "__main__":
    main()

"""ShapesEval: generate images for a suite and score them with GenEval's rules on the exact parser.

Generation is pluggable: ``run_bench(source, ...)`` takes any ``source(metadata, seeds) -> [PIL images]``.
``model_source(model)`` is the model alone (one sample per seed, no agent loop).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from limner.tools.shapes.geneval import score_image, summarize

Source = Callable[[dict, list[int]], list]


def model_source(model: str | None = None, device: str | None = None, **overrides) -> Source:
    from limner.tools.generators import resolve_model
    from limner.tools.generators.diffusers_backend import DiffusersGenerator

    spec = resolve_model(model or "shapes-tiny").with_overrides(**overrides)
    gen = DiffusersGenerator(spec, device=device)

    def source(metadata: dict, seeds: list[int]) -> list:
        return gen.generate(metadata["prompt"], seeds).images

    source.describe = lambda: {"model": spec.to_dict(), "device": gen.device}  # type: ignore[attr-defined]
    return source


def run_bench(source: Source, suite: list[dict], samples: int = 4, seed: int = 0, images_dir: str | Path | None = None,
              progress: Callable[[int, int], None] | None = None, keep_images: int = 0) -> dict:
    """Score ``samples`` images per prompt; optionally write them in GenEval's folder layout."""
    start = time.perf_counter()
    results, kept = [], []
    for i, metadata in enumerate(suite):
        seeds = [seed + i * samples + j for j in range(samples)]
        images = source(metadata, seeds)
        if images_dir is not None:
            folder = Path(images_dir) / f"{i:05d}"
            (folder / "samples").mkdir(parents=True, exist_ok=True)
            (folder / "metadata.jsonl").write_text(json.dumps(metadata) + "\n")
            for j, im in enumerate(images):
                im.save(folder / "samples" / f"{j:04d}.png")
        for s, im in zip(seeds, images):
            r = score_image(im, metadata)
            r["seed"] = s
            results.append(r)
            if len(kept) < keep_images:
                kept.append(im)
        if progress is not None:
            progress(i + 1, len(suite))
    summary = summarize(results)
    summary["seconds"] = round(time.perf_counter() - start, 2)
    summary["samples_per_prompt"] = samples
    summary["prompts"] = len(suite)
    return {"summary": summary, "results": results, "images": kept}


def contact_sheet(results: list[dict], images: list, columns: int = 8, scale: int = 2):
    """A grid of images, each captioned with its prompt and a mark for correct (green) or wrong (red)."""
    from PIL import Image, ImageDraw

    w, h = images[0].size
    cw, ch = w * scale, h * scale + 24
    rows = (len(images) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * cw, rows * ch), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (r, im) in enumerate(zip(results, images)):
        x, y = (k % columns) * cw, (k // columns) * ch
        sheet.paste(im.resize((w * scale, h * scale), Image.NEAREST), (x, y))
        draw.rectangle([x, y, x + w * scale - 1, y + h * scale - 1], outline=(40, 170, 60) if r["correct"] else (220, 40, 40), width=2)
        text = r["prompt"].removeprefix("a photo of ")
        draw.text((x + 2, y + h * scale + 1), text[:22], fill=(0, 0, 0))
        draw.text((x + 2, y + h * scale + 12), text[22:44], fill=(0, 0, 0))
    return sheet


def table(summary: dict) -> str:
    lines = [f"{'tag':<14} {'accuracy':>8}  correct/total"]
    for tag, acc in summary["tags"].items():
        c, n = summary["counts"][tag]
        lines.append(f"{tag:<14} {acc:8.3f}  {c}/{n}")
    lines.append(f"{'overall':<14} {summary['overall']:8.3f}  (mean over tags)")
    return "\n".join(lines)

"""A line plot of accuracy against NFE (log scale), drawn with Pillow so benchmarks need no plotting library."""

from __future__ import annotations

import math

COLOURS = {"random": (31, 119, 180), "zero_order": (255, 127, 14), "paths": (44, 160, 44), "reno": (214, 39, 40)}
EXTRA = [(148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
         (0, 0, 128), (128, 0, 0)]


def _dashed(draw, a, b, colour, width, dash=7):
    (x0, y0), (x1, y1) = a, b
    length = math.hypot(x1 - x0, y1 - y0) or 1.0
    steps = int(length // dash)
    for k in range(0, steps + 1, 2):
        s, e = k * dash / length, min(1.0, (k + 1) * dash / length)
        draw.line([(x0 + (x1 - x0) * s, y0 + (y1 - y0) * s), (x0 + (x1 - x0) * e, y0 + (y1 - y0) * e)],
                  fill=colour, width=width)


def accuracy_plot(summary: list[dict], title: str, path, size=(760, 480), frontier=()) -> None:
    """One line per strategy and verifier: x = mean NFE charged (log2), y = overall accuracy; the points of
    ``frontier`` ((nfe, accuracy) pairs, e.g. a Pareto frontier) ringed in black."""
    from PIL import Image, ImageDraw

    w, h = size
    left, right, top, bottom = 60, 190, 36, 50
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    xs = [max(1.0, s["mean_nfe_charged"]) for s in summary]
    lo, hi = math.log2(min(xs)), math.log2(max(xs))
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    lo, hi = lo - 0.1, hi + 0.1  # no point on the frame
    ys = [s["overall"] for s in summary]
    ylo, yhi = math.floor(min(ys) * 10) / 10, min(1.0, math.ceil(max(ys) * 10) / 10)
    if yhi - ylo < 0.1:
        ylo = max(0.0, yhi - 0.1)

    def px(nfe, acc):
        x = left + (math.log2(max(1.0, nfe)) - lo) / (hi - lo) * (w - left - right)
        y = top + (yhi - acc) / (yhi - ylo) * (h - top - bottom)
        return x, y

    d.rectangle([left, top, w - right, h - bottom], outline=(0, 0, 0))
    for k in range(11):
        acc = ylo + (yhi - ylo) * k / 10
        _, y = px(2 ** lo, acc)
        d.line([(left - 4, y), (left, y)], fill=(0, 0, 0))
        d.text((6, y - 6), f"{acc:.2f}", fill=(0, 0, 0))
    for e in range(math.ceil(lo), math.floor(hi) + 1):
        x, _ = px(2 ** e, ylo)
        d.line([(x, h - bottom), (x, h - bottom + 4)], fill=(0, 0, 0))
        d.text((x - 10, h - bottom + 8), str(2 ** e), fill=(0, 0, 0))
    d.text((left + (w - left - right) // 2 - 90, h - 20), "NFE per prompt (log scale)", fill=(0, 0, 0))
    d.text((left, 10), title, fill=(0, 0, 0))
    keys = sorted({(s["strategy"], s["verifier"]) for s in summary}, key=lambda k: (k[0], k[1]))
    strategies = sorted({k[0] for k in keys})
    colour = {s: COLOURS.get(s, EXTRA[i % len(EXTRA)]) for i, s in enumerate(strategies)}
    verifiers = sorted({k[1] for k in keys})
    for n, (strategy, verifier) in enumerate(keys):
        pts = sorted((s["mean_nfe_charged"], s["overall"]) for s in summary
                     if s["strategy"] == strategy and s["verifier"] == verifier)
        coords = [px(x, y) for x, y in pts]
        dashed = verifier == "oracle" if "oracle" in verifiers else verifiers.index(verifier) > 0
        for a, b in zip(coords, coords[1:]):
            (_dashed if dashed else lambda dr, p, q, c, wd: dr.line([p, q], fill=c, width=wd))(d, a, b, colour[strategy], 2)
        for x, y in coords:
            d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour[strategy])
        ly = top + 8 + 18 * n
        lx = w - right + 12
        if dashed:
            _dashed(d, (lx, ly + 6), (lx + 30, ly + 6), colour[strategy], 2, dash=5)
        else:
            d.line([(lx, ly + 6), (lx + 30, ly + 6)], fill=colour[strategy], width=2)
        d.text((lx + 36, ly), f"{strategy} / {verifier}", fill=(0, 0, 0))
    for nfe, acc in frontier:
        x, y = px(nfe, acc)
        d.ellipse([x - 7, y - 7, x + 7, y + 7], outline=(0, 0, 0), width=2)
    if frontier:
        d.text((w - right + 12, h - bottom - 14), "(ringed: Pareto frontier)", fill=(0, 0, 0))
    img.save(path)

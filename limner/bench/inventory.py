"""Chooses and measures a closed-vocabulary detector's ``doubt`` score: how low a box may score and still fail
"nothing else is there" (an 'only' or 'absent' check).

An edit on the embedded model sometimes leaves a speck (40 to 110 pixels of another colour at the edge of
what it painted). The shapes parser counts it as an object; shapes-owl scores it below its threshold (0.4), so
the 'only' check passed, a false pass. Boxes scoring between ``doubt`` and the threshold now count against
'only' and 'absent' checks (never for a check that something is there).

Images: every candidate PNG under the given folders (``limner bench sessions --keep DIR`` keeps a session
bench's runs: first rounds and edits, where the specks are). Truth: the parser's objects (the exact reader of
this world, an oracle used here only to score). For each candidate ``doubt``, the detector lists everything it
knows (as ``DetectorAnswerer`` does for an 'only' check); an image *misses* when a parser object has no box
(an extra object there would pass 'only': a false pass), and *invents* when a box matches no parser object
(a false failure).

The rule, fixed before the first measurement: the ``doubt`` from ``GRID`` that minimises twice the images
that miss plus the images that invent, on the development images; then measured once on the test images.

    limner bench sessions --per-kind 6 --seed 0 --keep /tmp/inv-dev    # development images
    limner bench sessions --per-kind 6 --seed 2 --keep /tmp/inv-test   # test images
    limner bench inventory --dev /tmp/inv-dev --test /tmp/inv-test
"""

from __future__ import annotations

from pathlib import Path

GRID = (0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0.1)  # the first: shapes-owl's threshold (no doubt)


def grid_for(threshold: float) -> tuple[float, ...]:
    """The detector's own threshold first (no doubt), then every ``GRID`` value below it."""
    return (threshold, *[g for g in GRID if g < threshold])


def images(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).rglob("candidates/*.png"))


def _centre(b) -> tuple[float, float]:
    return (b[0] + b[2]) / 2, (b[1] + b[3]) / 2


def _inside(point, b) -> bool:
    return b[0] - 0.5 <= point[0] <= b[2] + 0.5 and b[1] - 0.5 <= point[1] <= b[3] + 0.5


def matched(truth: list[dict], found: list[dict]) -> tuple[int, int]:
    """``(missed, invented)``: parser objects without a box, boxes without a parser object. A box and an
    object match when either's centre lies in the other's box (specks are too small for an IoU rule)."""
    left = list(found)
    missed = 0
    for t in sorted(truth, key=lambda t: -t["area"]):
        hit = next((f for f in left if _inside(_centre(f["bbox"]), t["bbox"]) or _inside(_centre(t["bbox"]), f["bbox"])),
                   None)
        if hit is None:
            missed += 1
        else:
            left.remove(hit)
    return missed, len(left)


def measure(paths: list[Path], grid=None, detector: str | None = None) -> dict:
    from PIL import Image

    from limner.tools.shapes.parser import parse
    from limner.tools.verifiers.answerers import DetectorAnswerer
    from limner.tools.verifiers.detector import Detector, folder_settings
    from limner.tools.verifiers.requirements import BUILTIN_SHAPES_DETECTOR

    ref = detector or BUILTIN_SHAPES_DETECTOR
    shipped = folder_settings(ref)
    grid = grid or grid_for(float(shipped["threshold"]))
    plan = {"objects": [], "checks": [{"id": "only", "kind": "only"}]}
    loaded = [Image.open(p).convert("RGB") for p in paths]
    truth = [parse(im) for im in loaded]
    rows = {}
    for doubt in grid:
        answerer = DetectorAnswerer(Detector(ref, doubt=doubt), color="detector", colors=tuple(shipped["colors"]))
        miss_images = invent_images = missed = invented = 0
        for im, objs in zip(loaded, truth):
            m, i = matched(objs, answerer.objects(im, plan))
            missed, invented = missed + m, invented + i
            miss_images, invent_images = miss_images + (m > 0), invent_images + (i > 0)
        rows[str(doubt)] = {"images": len(loaded), "objects": sum(map(len, truth)), "miss_images": miss_images,
                            "invent_images": invent_images, "missed": missed, "invented": invented,
                            "cost": 2 * miss_images + invent_images}
    return rows


def choose(dev: dict) -> float:
    """The rule: least ``2 x miss_images + invent_images``; ties to the higher doubt (fewer boxes heard)."""
    return float(min(dev, key=lambda t: (dev[t]["cost"], -float(t))))

"""Train ``shapes-owl``: a tiny open-vocabulary detector of the shapes world, of the OWLv2 architecture
(transformers' ``Owlv2ForObjectDetection``), so the embedded world's answerer loads and runs through the same
code as a real OWLv2 (``AutoModelForZeroShotObjectDetection``, ``AutoProcessor``).

    python -m training.train_detector --out /tmp/owl --seed 0 --steps 6000

Data: rendered scenes (exact boxes) and images the shipped ``shapes-tiny`` generated from random captions,
half of them from boxes (the agent's grounded rounds), labelled by the shapes-world parser, which is what
ShapesEval scores with: the detector learns to see what the scorer sees, on the images the agent makes.

Specks (``--specks``): a share of the rendered scenes gets 1-3 small blobs or fragments of a shape in another
colour, often at an object's edge, as an inpainting leaves them; these scenes are labelled by the parser (which
counts a component of 30 pixels or more as an object), so the detector learns to see what would fail "nothing
else is there". ``--extra DIR`` adds every candidate PNG under DIR (``limner bench sessions --keep DIR``: first
rounds and edits), parser-labelled, to the generated images; ``--init DIR`` fine-tunes a trained detector
instead of starting from scratch.

Queries: every "<colour> <shape>" and every "<shape>". Each object is assigned the patches near its centre;
each of them is trained to give the object's box (L1 + GIoU on centre/size) and to match the object's two
phrases (sigmoid focal loss over all phrases and patches); OWLv2's objectness head learns which patches hold
an object. Step counts and the seed define the run; ``train_info.json`` records the command and timings.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from limner.tools.shapes.captions import caption
from limner.tools.shapes.parser import parse
from limner.tools.shapes.tokenizer import MAX_LENGTH, world_tokenizer
from limner.tools.shapes.world import (
    CANVAS,
    COLORS,
    PALETTE,
    GAP,
    MAX_SIZE,
    MIN_SIZE,
    SHAPES,
    Obj,
    Scene,
    place,
    random_scene,
    render,
    shape_mask,
)

QUERIES = [f"{c} {s}" for s in SHAPES for c in COLORS] + list(SHAPES)
PATCH = 8


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def make_detector(tokenizer, hidden: int = 96, layers: int = 4):
    from transformers import Owlv2Config, Owlv2ForObjectDetection

    ids = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
           "pad_token_id": tokenizer.pad_token_id}
    config = Owlv2Config(
        text_config={"vocab_size": len(tokenizer), "hidden_size": 64, "intermediate_size": 128,
                     "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": MAX_LENGTH,
                     **ids},
        vision_config={"image_size": CANVAS, "patch_size": PATCH, "hidden_size": hidden,
                       "intermediate_size": 2 * hidden, "num_hidden_layers": layers, "num_attention_heads": 4},
        projection_dim=64, **ids)
    model = Owlv2ForObjectDetection(config)
    # the heads come with unit-variance weights (made for loading a checkpoint): from scratch they saturate the
    # box sigmoid, so they start from PyTorch's default init, the box head's last layer at zero (every patch
    # starts at its own grid cell: OWLv2's box bias)
    import torch

    for head in (model.box_head, model.class_head, model.objectness_head):
        for layer in head.modules():
            if isinstance(layer, torch.nn.Linear):
                layer.reset_parameters()
    torch.nn.init.zeros_(model.box_head.dense2.weight)
    torch.nn.init.zeros_(model.box_head.dense2.bias)
    return model


def make_processor(tokenizer):
    from transformers import Owlv2ImageProcessor, Owlv2Processor

    images = Owlv2ImageProcessor(size={"height": CANVAS, "width": CANVAS})
    return Owlv2Processor(image_processor=images, tokenizer=tokenizer)


# --- data --------------------------------------------------------------------------------------------

def labels_of(objects: list[dict]) -> list[tuple[list[int], int, int]]:
    """(box, index of "<colour> <shape>", index of "<shape>") per object."""
    return [(o["bbox"], QUERIES.index(f"{o['color']} {o['shape']}"), QUERIES.index(o["shape"])) for o in objects]


def pair_scene(rng) -> Scene:
    """Two objects of one shape and one colour side by side (across, down or diagonally), their boxes 2-5 px
    apart, and 0-2 other objects: "two red circles" as the model paints them, nearly touching."""
    while True:
        shape, color = SHAPES[rng.integers(len(SHAPES))], COLORS[rng.integers(len(COLORS))]
        a, b = (int(v) for v in rng.integers(MIN_SIZE, MAX_SIZE + 1, size=2))
        gap = int(rng.integers(GAP, 6))
        x, y, way = 0, 0, rng.integers(4)  # built at the corner, then moved anywhere it fits
        if way == 0:  # across, centres level
            first, second = Obj(shape, color, x, y, a), Obj(shape, color, x + a + gap, y + (a - b) // 2, b)
        elif way == 1:  # down
            first, second = Obj(shape, color, x, y, a), Obj(shape, color, x + (a - b) // 2, y + a + gap, b)
        elif way == 2:  # diagonally down
            first, second = Obj(shape, color, x, y, a), Obj(shape, color, x + a + gap, y + a + gap, b)
        else:  # diagonally up
            first, second = Obj(shape, color, x, y + b + gap, a), Obj(shape, color, x + a + gap, y, b)
        x0, y0 = min(first.x, second.x), min(first.y, second.y)
        x1, y1 = max(first.x + a, second.x + b), max(first.y + a, second.y + b)
        if x1 - x0 > CANVAS or y1 - y0 > CANVAS:
            continue
        sx = int(rng.integers(0, CANVAS - (x1 - x0) + 1)) - x0
        sy = int(rng.integers(0, CANVAS - (y1 - y0) + 1)) - y0
        objects = [Obj(shape, color, o.x + sx, o.y + sy, o.size) for o in (first, second)]
        for _ in range(int(rng.integers(0, 3))):
            other = place(rng, [(SHAPES[rng.integers(len(SHAPES))], COLORS[rng.integers(len(COLORS))])])
            if other and all(_apart(other.objects[0], o) for o in objects):
                objects.append(other.objects[0])
        return Scene(objects)


def _apart(a: Obj, b: Obj) -> bool:
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = a.footprint, b.footprint
    return ax1 + GAP <= bx0 or bx1 + GAP <= ax0 or ay1 + GAP <= by0 or by1 + GAP <= ay0


def scene(rng, same_shape: float, pairs: float = 0.0):
    """A random scene; with probability ``pairs``, a pair of one shape and colour side by side (``pair_scene``);
    else with probability ``same_shape``, 2-4 objects of one shape in random colours (the scenes a counting
    prompt asks for, rare among fully random ones)."""
    if pairs and rng.random() < pairs:
        return pair_scene(rng)
    if rng.random() >= same_shape:
        return random_scene(rng)
    while True:
        shape, n = SHAPES[rng.integers(len(SHAPES))], int(rng.integers(2, 5))
        placed = place(rng, [(shape, COLORS[rng.integers(len(COLORS))]) for _ in range(n)])
        if placed is not None:
            return placed


def speck_mask(rng, truth: list[dict]) -> tuple[np.ndarray, str | None]:
    """One speck's mask, and the colour it must not take (None: any): a ragged blob (about 20-150 pixels) or a
    fragment of a shape cut by a straight line. Where: at the edge of an object (two in five), anywhere (one in
    five), or inside an object in another colour (two in five: what a recolour leaves of the old colour)."""
    yy, xx = np.mgrid[0:CANVAS, 0:CANVAS] + 0.5
    where, avoid = rng.random(), None
    if truth and where < 0.4:
        x0, y0, x1, y1 = truth[rng.integers(len(truth))]["bbox"]
        side = rng.integers(4)
        cx = (x0 if side == 0 else x1 if side == 1 else rng.uniform(x0, x1)) + rng.normal(0, 2)
        cy = (y0 if side == 2 else y1 if side == 3 else rng.uniform(y0, y1)) + rng.normal(0, 2)
    elif truth and where >= 0.6:
        inside = truth[rng.integers(len(truth))]
        x0, y0, x1, y1 = inside["bbox"]
        cx, cy = rng.uniform(x0 + (x1 - x0) / 4, x1 - (x1 - x0) / 4), rng.uniform(y0 + (y1 - y0) / 4, y1 - (y1 - y0) / 4)
        avoid = inside["color"]
    else:
        cx, cy = rng.uniform(4, CANVAS - 4, size=2)
    if avoid or rng.random() < 0.6:  # a blob: an ellipse with a ragged edge
        rx, ry = rng.uniform(2.5, 7, size=2)
        theta = np.arctan2(yy - cy, xx - cx)
        ragged = 1 + 0.25 * np.sin(rng.integers(2, 5) * theta + rng.uniform(0, 6.3))
        return ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= ragged ** 2, avoid
    size = int(rng.integers(12, 25))  # a fragment: what is left of a shape on one side of a line
    obj = Obj(SHAPES[rng.integers(len(SHAPES))], COLORS[0], int(cx - size / 2), int(cy - size / 2), size)
    mask = shape_mask(obj, CANVAS)
    angle = rng.uniform(0, 2 * np.pi)
    offset = rng.uniform(0.15, 0.4) * size
    return mask & ((xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle) > offset), None


def with_specks(image: np.ndarray, truth: list[dict], rng, blur: float = 0.5) -> np.ndarray:
    """1-3 specks; then, with probability ``blur``, the whole image softened (sigma 0.5-1.2 px) as the
    model's images are."""
    from PIL import Image, ImageFilter

    out = image.copy()
    for _ in range(int(rng.integers(1, 4))):
        mask, avoid = speck_mask(rng, truth)
        colors = [c for c in COLORS if c != avoid]
        out[mask] = PALETTE[colors[rng.integers(len(colors))]]
    if rng.random() < blur:
        out = np.asarray(Image.fromarray(out).filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.2))))
    return out


def rendered_pool(rng, n: int, same_shape: float = 0.0, specks: float = 0.0, pairs: float = 0.0):
    """Rendered scenes with their exact labels; a ``specks`` share with specks added, labelled by the parser."""
    images, labels = [], []
    for _ in range(n):
        image, truth = render(scene(rng, same_shape, pairs))
        if rng.random() < specks:
            image = with_specks(image, truth, rng)
            truth = parse(image)
        images.append(image)
        labels.append(labels_of(truth))
    return images, labels


def extra_pool(folders: list[Path]):
    """Every candidate PNG under the folders (a session bench's kept runs), labelled by the parser."""
    from PIL import Image

    images, labels = [], []
    for folder in folders:
        for path in sorted(Path(folder).rglob("candidates/*.png")):
            image = np.asarray(Image.open(path).convert("RGB").resize((CANVAS, CANVAS)))
            images.append(image)
            labels.append(labels_of(parse(image)))
    return images, labels


def generated_pool(rng, n: int, batch: int = 32, same_shape: float = 0.0):
    """Images of the shipped model from random captions (half of them with the scene's boxes), parsed."""
    import torch
    from diffusers import StableDiffusionGLIGENPipeline, StableDiffusionPipeline

    from limner.tools.shapes.weights import shipped_model

    pipe = StableDiffusionGLIGENPipeline.from_pretrained(str(shipped_model("shapes-tiny")))
    plain = StableDiffusionPipeline.from_pipe(pipe, safety_checker=None, requires_safety_checker=False)
    for p in (pipe, plain):
        p.set_progress_bar_config(disable=True)
    images, labels = [], []
    while len(images) < n:
        scenes = [render(scene(rng, same_shape))[1] for _ in range(batch)]
        prompts = [caption(t, rng) for t in scenes]
        seed = int(rng.integers(2**31))
        grounded = len(images) // batch % 2 == 1
        with torch.no_grad():
            if grounded:  # the GLIGEN pipeline takes one set of boxes per call: one call per scene
                out = []
                for k, (p, t) in enumerate(zip(prompts, scenes)):
                    g = torch.Generator().manual_seed(seed + k)
                    out += pipe(p, num_inference_steps=20, guidance_scale=4.0, generator=g, output_type="np",
                                gligen_phrases=[f"{o['color']} {o['shape']}" for o in t],
                                gligen_boxes=[[v / CANVAS for v in o["bbox"]] for o in t],
                                gligen_scheduled_sampling_beta=0.5).images.tolist()
            else:
                g = torch.Generator().manual_seed(seed)
                out = plain(prompts, num_inference_steps=20, guidance_scale=4.0, generator=g,
                           output_type="np").images.tolist()
        for image in out:
            array = (np.clip(np.asarray(image), 0, 1) * 255).round().astype(np.uint8)
            images.append(array)
            labels.append(labels_of(parse(array)))
        log(f"generated {len(images)}/{n}")
    return images[:n], labels[:n]


def targets(labels: list, flip: bool):
    """Per-patch targets for one image: class (P, Q), box (P, 4) cxcywh in [0, 1], positive mask (P,)."""
    grid = CANVAS // PATCH
    centres = (np.arange(grid) + 0.5) * PATCH
    cls = np.zeros((grid * grid, len(QUERIES)), np.float32)
    box = np.zeros((grid * grid, 4), np.float32)
    dist = np.full(grid * grid, np.inf, np.float32)
    for (x0, y0, x1, y1), q_full, q_shape in labels:
        if flip:
            x0, x1 = CANVAS - x1, CANVAS - x0
        cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
        rx, ry = max(PATCH / 2, w / 4), max(PATCH / 2, h / 4)
        for i, py in enumerate(centres):
            for j, px in enumerate(centres):
                d = ((px - cx) / rx) ** 2 + ((py - cy) / ry) ** 2
                inside = abs(px - cx) <= rx and abs(py - cy) <= ry
                home = int(cx // PATCH) == j and int(cy // PATCH) == i
                k = i * grid + j
                if (inside or home) and d < dist[k]:
                    dist[k] = d
                    cls[k] = 0
                    cls[k, q_full] = cls[k, q_shape] = 1
                    box[k] = (cx / CANVAS, cy / CANVAS, w / CANVAS, h / CANVAS)
    return cls, box, np.isfinite(dist)


def giou(a, b):
    """Generalised IoU of matching rows of two (N, 4) cxcywh tensors."""
    import torch

    def corners(t):
        return torch.cat([t[:, :2] - t[:, 2:] / 2, t[:, :2] + t[:, 2:] / 2], dim=1)

    a, b = corners(a), corners(b)
    inter = (torch.min(a[:, 2:], b[:, 2:]) - torch.max(a[:, :2], b[:, :2])).clamp(min=0).prod(1)
    area = (a[:, 2:] - a[:, :2]).clamp(min=0).prod(1) + (b[:, 2:] - b[:, :2]).clamp(min=0).prod(1)
    union = area - inter
    hull = (torch.max(a[:, 2:], b[:, 2:]) - torch.min(a[:, :2], b[:, :2])).clamp(min=0).prod(1)
    return inter / union.clamp(min=1e-6) - (hull - union) / hull.clamp(min=1e-6)


def focal(logits, target, alpha: float = 0.25, gamma: float = 2.0):
    import torch.nn.functional as F

    p = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    pt = p * target + (1 - p) * (1 - target)
    return (ce * (1 - pt) ** gamma * (alpha * target + (1 - alpha) * (1 - target))).sum()


# --- training ----------------------------------------------------------------------------------------

def train(args) -> dict:
    import torch
    import torch.nn.functional as F

    torch.manual_seed(args.seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    rng = np.random.default_rng(args.seed)
    tokenizer = world_tokenizer()
    processor = make_processor(tokenizer)
    if args.init:
        from transformers import Owlv2ForObjectDetection

        model = Owlv2ForObjectDetection.from_pretrained(str(args.init))
    else:
        model = make_detector(tokenizer, args.hidden, args.layers)
    timings = {}
    t0 = time.perf_counter()
    images, labels = rendered_pool(rng, args.rendered, args.same_shape, args.specks, args.pairs)
    timings["rendered_pool_s"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    gen_images, gen_labels = (generated_pool(rng, args.generated, same_shape=args.same_shape) if args.generated
                              else ([], []))
    timings["generated_pool_s"] = round(time.perf_counter() - t0, 1)
    extra_images, extra_labels = extra_pool(args.extra)
    gen_images, gen_labels = gen_images + extra_images, gen_labels + extra_labels
    images, labels = images + gen_images, labels + gen_labels
    pool = {"images": len(images), "extra_images": len(extra_images), "objects": sum(map(len, labels))}
    log(f"pool: {len(images)} images ({len(gen_images) - len(extra_images)} generated, {len(extra_images)} "
        f"from {len(args.extra)} extra folders), {sum(map(len, labels))} objects")
    pixels = processor.image_processor(images=images, return_tensors="pt")["pixel_values"]
    text = processor.tokenizer(QUERIES, padding="max_length", max_length=MAX_LENGTH, return_tensors="pt")
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.05)
    model.train()
    history = []
    t0 = time.perf_counter()
    q = len(QUERIES)
    for step in range(1, args.steps + 1):
        if gen_images and args.generated_share is not None:  # a fixed share of each batch is generated images
            n_gen = int(rng.binomial(args.batch, args.generated_share))
            idx = np.concatenate([rng.integers(args.rendered, size=args.batch - n_gen),
                                  args.rendered + rng.integers(len(gen_images), size=n_gen)])
        else:
            idx = rng.integers(len(images), size=args.batch)
        flips = rng.random(args.batch) < 0.5
        x = pixels[idx].clone()
        x[flips] = x[flips].flip(-1)
        tgt = [targets(labels[i], bool(f)) for i, f in zip(idx, flips)]
        cls = torch.from_numpy(np.stack([t[0] for t in tgt]))
        box = torch.from_numpy(np.stack([t[1] for t in tgt]))
        pos = torch.from_numpy(np.stack([t[2] for t in tgt]))
        out = model(input_ids=text.input_ids.repeat(args.batch, 1),
                    attention_mask=text.attention_mask.repeat(args.batch, 1), pixel_values=x)
        n_pos = pos.sum().clamp(min=1)
        loss_cls = focal(out.logits[..., :q], cls) / n_pos
        loss_obj = F.binary_cross_entropy_with_logits(out.objectness_logits, pos.float())
        pred, true = out.pred_boxes[pos], box[pos]
        loss_box = F.l1_loss(pred, true, reduction="sum") / n_pos + (1 - giou(pred, true)).sum() / n_pos
        loss = args.cls_weight * loss_cls + loss_box + loss_obj
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 100 == 0 or step == 1:
            history.append({"step": step, "loss": round(loss.item(), 4), "cls": round(loss_cls.item(), 4),
                            "box": round(loss_box.item(), 4), "obj": round(loss_obj.item(), 4)})
            log(f"step {step}/{args.steps} {history[-1]} ({time.perf_counter() - t0:.0f}s)")
    timings["train_s"] = round(time.perf_counter() - t0, 1)
    model.eval()
    return {"model": model, "processor": processor, "history": history, "timings": timings, "pool": pool}


def _plain(value):
    """A setting as JSON: paths (and lists of them, ``--extra``) as strings."""
    if isinstance(value, Path):
        return str(value)
    return [_plain(v) for v in value] if isinstance(value, list) else value


def save(result: dict, out: Path, args, argv: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    result["model"].save_pretrained(out)
    result["processor"].save_pretrained(out)
    info = {"command": "python -m training.train_detector " + " ".join(argv), "settings": {k: _plain(v) for k, v in vars(args).items()},
            "queries": QUERIES, "timings": result["timings"], "pool": result.get("pool"),
            "loss_history": result["history"]}
    if args.init and (args.init / "train_info.json").is_file():  # the run it was fine-tuned from, as it was
        base = json.loads((args.init / "train_info.json").read_text())
        info["init"] = {k: base[k] for k in ("command", "settings", "timings", "pool", "init") if k in base}
    (out / "train_info.json").write_text(json.dumps(info, indent=2) + "\n")


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--rendered", type=int, default=20000)
    ap.add_argument("--generated", type=int, default=1600)
    ap.add_argument("--hidden", type=int, default=96)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--cls-weight", type=float, default=2.0)
    ap.add_argument("--same-shape", type=float, default=0.0,
                    help="share of scenes with 2-4 objects of one shape (counting scenes)")
    ap.add_argument("--pairs", type=float, default=0.0,
                    help="share of scenes with two objects of one shape and colour side by side, nearly touching")
    ap.add_argument("--generated-share", type=float, default=None,
                    help="share of each batch drawn from the generated images (default: as in the pool)")
    ap.add_argument("--specks", type=float, default=0.0,
                    help="share of rendered scenes given 1-3 specks or fragments, labelled by the parser")
    ap.add_argument("--extra", type=Path, action="append", default=[],
                    help="a folder of kept session runs: its candidate PNGs join the generated images, parser-labelled")
    ap.add_argument("--init", type=Path, default=None, help="fine-tune this detector folder instead of a new one")
    args = ap.parse_args(argv)
    result = train(args)
    save(result, args.out, args, argv)
    log(f"saved {args.out}")


if __name__ == "__main__":
    main()

"""Write the model cards of the shipped shapes models from their training records and a fresh ShapesEval run.

    limner bench shapes --results results.json --grid grid.png
    limner bench grounding --model shapes-tiny --scenes 64 --results grounding.json
    python -m training.model_cards --results results.json --grounding grounding.json   # writes both cards
    limner bench verifiers --suite benchmarks/suites/shapes-eval-seed44.jsonl --results agreement.json
    python -m training.model_cards --owl agreement.json                                  # shapes-owl's card
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from limner.tools.shapes.weights import HERE


def _size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*.safetensors")) / 1e6


def grounding_section(info: dict, obedience: dict | None) -> str:
    """The gated layers' training and what they give (``limner bench grounding`` rows), when the folder has them."""
    g = info.get("grounding")
    if not g:
        return ""
    rows = "\n".join(f"| {r['mode']} | {r['obeyed']:.3f} | {r['scenes_exact']:.3f} | {r['nfe'] // r['scenes']} |"
                     for r in (obedience or {}).get("rows", []))
    table = (f"""
Held-out scenes (`limner bench grounding --model shapes-tiny --scenes {obedience['scenes']}`; the exact parser reads
each image, so this is what a perfect detector would say): the share of objects whose centre lies in the box
they were given, and of scenes with every object in its box and nothing else.

| mode | objects in their box | whole scenes | NFE per image |
|---|---|---|---|
{rows}
""" if rows else "")
    return f"""
## Grounding (GLIGEN's gated layers)

The UNet has diffusers' gated self-attention in every transformer block and its text-box position network
(`attention_type="gated"`; the folder is a `StableDiffusionGLIGENPipeline`), trained on every object's phrase
and box with the base weights frozen. The UNet runs the gated layers only when a call passes boxes, so plain
generation is the base model's, bit for bit (the ShapesEval table above).

```
{g['command']}
```

- {g['steps']} steps of batch {g['settings']['batch']}, {g['seconds'] / 60:.1f} min on {g['threads']} CPU threads
  (latent pool: {g['settings']['pool']} scenes, {g['pool_seconds'] / 60:.1f} min); final x0-weighted loss
  {g['final_loss']:.4f}, routing loss {g['final_routing_loss']:.3f}; {g['trained_parameters']:,} trained parameters.
{table}"""


def tiny_card(folder: Path, summary: dict, obedience: dict | None = None) -> str:
    info = json.loads((folder / "train_info.json").read_text())
    unet, vae = info["unet"], info["vae"]
    rows = "\n".join(f"| {t} | {a:.3f} | {summary['counts'][t][0]}/{summary['counts'][t][1]} |"
                     for t, a in summary["tags"].items())
    model = summary["model"]
    return f"""# shapes-tiny

A tiny text-to-image model of the Stable Diffusion architecture (diffusers `StableDiffusionPipeline`:
`AutoencoderKL`, `CLIPTextModel` with a CLIP BPE tokenizer, `UNet2DConditionModel`, DPM-Solver++ scheduler;
with GLIGEN's gated layers it is a `StableDiffusionGLIGENPipeline` folder and takes boxes), trained from scratch on Limner's synthetic shapes world: 64x64 white canvases with 1-4 circles, squares and
upright triangles in six exact colours, captioned in GenEval's phrasing and freer ones.

## Training (reproducible)

```
{info['command']}
```

- Seed {info['settings']['seed']}, {info['threads']} CPU threads, torch {info['torch']}, device `{info['device']}`.
- VAE: {vae['steps']} steps on random 32x32 crops, {vae['seconds'] / 60:.1f} min (final loss {vae['final_loss']:.4f}).
- Latent pool: {info['settings']['pool']} scenes encoded in {info['pool_seconds'] / 60:.1f} min.
- UNet + text encoder: {unet['steps']} steps of batch {info['settings']['unet_batch']}, {unet['seconds'] / 60:.1f} min
  (final loss {unet['final_loss']:.4f}), EMA weights.
- Total training time: {(vae['seconds'] + info['pool_seconds'] + unet['seconds']) / 60:.1f} min.
- Weights: {_size_mb(folder):.1f} MB (safetensors, float32).

## ShapesEval (the model alone, one sample per seed, no agent loop)

`limner bench shapes --samples {summary['samples_per_prompt']}` with {model['steps']} steps, guidance {model['guidance']}
({model.get('scheduler') or 'DPMSolverMultistepScheduler'}; chosen by `python -m limner.bench.sweep_settings` on seeds disjoint from the bench's):
shipped suite, {summary['prompts']} prompts, {summary['images']} images, {summary['seconds']:.0f} s on this machine's CPU.

| tag | accuracy | correct/total |
|---|---|---|
{rows}
| **overall** (mean over tags) | **{summary['overall']:.3f}** | |

Single objects and colours are what the model is for; counting, position and colour attribution are
weaker, and are the room the agent's search, layouts and edits are meant to fill.
{grounding_section(info, obedience)}"""


def clip_card(folder: Path) -> str:
    info = json.loads((folder / "train_info.json").read_text())
    h = info["heldout"]
    return f"""# shapes-clip

A tiny `CLIPModel` (ViT on 64x64 images, 8x8 patches; 2-layer text encoder with the shapes-world tokenizer)
trained contrastively on the shapes world, with a hard negative caption per image (one colour, shape,
count or relation changed). It is a learned verifier with the same interface as CLIPScore
(`make_verifier("shapes-clip")`), so search can be measured with a verifier that is not the scorer.

## Training

```
{info['command']}
```

{info['clip']['steps']} steps of batch {info['settings']['clip_batch']}, {info['clip']['seconds'] / 60:.1f} min on
{info['threads']} CPU threads. Weights: {_size_mb(folder):.1f} MB.

## Held-out retrieval ({h['heldout_scenes']} fresh scenes)

- image -> its caption among {h['hard_negatives_per_image']} hard negatives: top-1 {h['image_to_text_hard_negatives_top1']:.3f}
  (chance {1 / (h['hard_negatives_per_image'] + 1):.3f})
- caption -> its image among 100: top-1 {h['text_to_image_top1_of_100']:.3f} (chance 0.010)

Calibration (`limner_calibration.json`): cosine {h['calibration'][0]:.3f} (5th percentile of hard negatives) -> 0,
{h['calibration'][1]:.3f} (95th percentile of true pairs) -> 1.
"""


def _mix(s: dict) -> str:
    parts = []
    if s.get("same_shape"):
        parts.append(f"{s['same_shape']:.0%} of all scenes hold 2-4 objects of one shape (the scenes counting "
                     "prompts ask for)")
    if s.get("generated_share") is not None:
        parts.append(f"{s['generated_share']:.0%} of each batch drawn from the generated images")
    return "; " + "; ".join(parts) if parts else ""


def _base_run(info: dict) -> str:
    s, t = info["settings"], info["timings"]
    return f"""```
{info['command']}
```

{s['rendered']} rendered scenes (exact boxes) and {s['generated']} images `shapes-tiny` generated from random
captions, half of them from the scenes' boxes, labelled by the shapes-world parser (parser 1: the scorer's view of the
agent's images){_mix(s)}; {s['steps']} steps of batch {s['batch']}, horizontal flips. Each object's phrases ("<colour>
<shape>", "<shape>") are matched at the patches near its centre (sigmoid focal loss), each of them regresses the
object's box (L1 + GIoU). Time on 2 CPU cores: rendering {t['rendered_pool_s']:.0f} s, generating
{t['generated_pool_s'] / 60:.1f} min, training {t['train_s'] / 60:.1f} min."""


def training_section(info: dict, folder: Path) -> str:
    """The run that made the weights: one run, or a base run and the fine-tuning that started from it."""
    if "init" not in info:
        return _base_run(info) + f" Weights: {_size_mb(folder):.1f} MB."
    s, t = info["settings"], info["timings"]
    folders = ", ".join(Path(e).name for e in s["extra"])
    return f"""Two runs. The base run:

{_base_run(info["init"])}

Then fine-tuned from it, to see the specks and remnants an edit leaves (issue 35):

```
{info['command']}
```

{s['rendered']} rendered scenes, {s['specks']:.0%} of them with 1-3 specks added (a ragged blob or a cut-off
fragment of a shape, in another colour: at an object's edge, anywhere, or inside an object; half of these
images then softened by a Gaussian blur) and labelled by the parser, which counts a component of 30 pixels or
more as an object; and every candidate of {len(s['extra'])} scripted session draws (`limner bench sessions
--per-kind 6 --keep`: {folders}, whose seeds `training/README.md` gives, none a seed the benches measure on; first
rounds and edits, {info.get('pool', {}).get('extra_images', 'n/a')} images), labelled by the parser{_mix(s)}; {s['steps']} steps of
batch {s['batch']} at learning rate {s['lr']:g}. Training took {t['train_s'] / 60:.1f} min. The labels are the
scorer's: on these images the detector is **distilled from the scorer**, not independent of it. Weights:
{_size_mb(folder):.1f} MB."""


def _inventory_rows(inventory: dict, label: str = "") -> str:
    return "\n".join(f"| {label}{name} | {t} | {r['images']} | {r['miss_images']} | {r['invent_images']} | "
                     f"{r['missed']} | {r['invented']} |" for name in ("dev", "test") if name in inventory
                     for t, r in inventory[name]["rows"].items())


def doubt_section(inventory: dict, before: dict | None = None) -> str:
    """The 'doubt' setting: what ``limner bench inventory`` measured (development and held-out test images), for
    these weights and, when given, for the weights before them."""
    chosen = inventory["chosen"]
    first = float(next(iter(inventory["dev"]["rows"])))
    verdict = (f"For these weights the rule chose {chosen:g}, the threshold itself: no doubt score (boxes below the "
               "threshold are not looked at): at every lower value the boxes it invents on dev cost more, by the "
               "rule, than the objects it finds." if chosen >= first else
               f"For these weights the rule chose {chosen:g}.")
    earlier = ("" if not before else f"""
Before the retraining (the base run alone) the same bench chose 0.35:

| images | doubt | images | missing an object | with an invented one | objects missed | boxes invented |
|---|---|---|---|---|---|---|
{_inventory_rows(before, "before: ")}

At 0.4, 83 of the 99 objects the base run missed on dev were specks under 120 pixels; even at 0.1 it missed 50:
it did not see them at all. Hence the fine-tuning above.
""")
    return f"""
## Doubt (`doubt` in `limner_detector.json`) and what it misses

A detector folder may state a `doubt` score below its threshold: boxes scoring between the two count against
"nothing else is there" ('only' and 'absent' checks), never for a check that something is there; a weaker box
centred in a sure one, and at least a quarter of its size, is that object again. An edit on `shapes-tiny`
sometimes leaves a speck, a fragment or a patch of the old colour inside what it repainted, which the parser
counts as an object: if the detector does not see it, the 'only' check passes it (a false pass).
`limner bench inventory` chooses the doubt on the candidates of scripted chat sessions (development: seed 0, 6
per kind; test: seed 3, measured once with the chosen value), the parser's objects as truth (an oracle, used
only to score): the value that minimises twice the images missing an object plus the images with an invented
one. {verdict}

| images | doubt | images | missing an object | with an invented one | objects missed | boxes invented |
|---|---|---|---|---|---|---|
{_inventory_rows(inventory)}
{earlier}
What it still misses on dev: mostly patches inside a repainted object (an object of two or three colours that
the parser splits into components) and specks under 60 pixels.
"""


def owl_card(folder: Path, agreement: dict, inventory: dict | None = None, before: dict | None = None) -> str:
    info = json.loads((folder / "train_info.json").read_text())
    tune = info["tuning"]
    sweep = "\n".join(f"| {k} | {tune['check_accuracy'][k]['all']:.3f} | {tune['pairwise_accuracy'][k] or 0:.3f} |"
                      for k in tune["check_accuracy"])
    acc = agreement["check_accuracy"]
    kinds = sorted({k for d in acc.values() for k in d if k != "all"})
    rows = "\n".join(f"| {n}{' (oracle)' if n == 'questions:parser' else ''} | "
                     + " | ".join(f"{acc[n].get(k, 0):.3f}" for k in [*kinds, "all"])
                     + f" | {agreement['pairwise_accuracy'][n]:.3f} |" for n in acc)
    s = info.get("init", info)["settings"]  # the architecture is the base run's
    return f"""# shapes-owl

A tiny open-vocabulary detector of the shapes world, of the OWLv2 architecture (transformers'
`Owlv2ForObjectDetection`: a ViT on 64x64 images in {CANVAS_PATCHES} patches, {s['layers']} layers of width
{s['hidden']}; a 2-layer text encoder with the shapes-world tokenizer; OWLv2's box, class and objectness heads).
It is the embedded world's answerer of the plan's checks (`questions` with `answerer: detector`, the default
there): it loads through the same code as a real OWLv2 (`AutoModelForZeroShotObjectDetection`,
`AutoProcessor`), and answers by GenEval's rules from its boxes, reading colours from its own score of
"<colour> <shape>" at each box. It is learned, so it errs: unlike the exact parser (ShapesEval's scorer),
its answers are not the benchmark's.

## Training

{training_section(info, folder)}

## Settings (`limner_detector.json`)

Chosen on {tune['images']} images of {tune['prompts']} prompts of a second ShapesEval draw (images the detector never saw in training; its prompts are not held out: 20 of
the 24 are prompts of the shipped suite, which holds every possible prompt of five of its six tags) (`{tune['command']}`): the share of checks whose verdict equals the scorer's, and the
pairwise ranking accuracy, per colour mode, threshold and NMS overlap. Chosen: threshold
{tune['chosen']['threshold']:g}, NMS {tune['chosen']['nms']:g}, colour by {tune['chosen']['color']} (ties: the usual NMS 0.5, one model).

| colour @ threshold / NMS | checks as the scorer | pairwise |
|---|---|---|
{sweep}

## Agreement with ShapesEval's scorer

`limner bench verifiers --suite benchmarks/suites/shapes-eval-seed44.jsonl` ({agreement['prompts']} prompts,
{agreement['samples_per_prompt']} samples each): per kind of check, how often the verdict equals the scorer's
parser's; pairwise: how often a correct image is scored above a wrong one.

| verifier | {' | '.join(kinds)} | all checks | pairwise |
|---|{'---|' * (len(kinds) + 2)}
{rows}

Counts are its weakest kind of check. Where it and the scorer disagree on the agent's final images, the
shape is borderline: a generated square with one rounded corner or fuzzy edges, which the exact parser reads
as a circle and the detector (like a person looking at it) as a square. Parser 2 (2026-12-04) reads
most of them as squares too: `benchmarks/results/README.md` has its measurement on degraded renders.
""" + (doubt_section(inventory, before) if inventory else "")


CANVAS_PATCHES = "8x8"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--results", help="results.json of `limner bench shapes` on shapes-tiny")
    ap.add_argument("--grounding", help="grounding.json of `limner bench grounding --model shapes-tiny`")
    ap.add_argument("--owl", help="agreement.json of `limner bench verifiers` (shapes-owl's card)")
    ap.add_argument("--inventory", help="inventory.json of `limner bench inventory` (shapes-owl's doubt)")
    ap.add_argument("--inventory-before", help="the same bench on the weights before these (shown beside)")
    args = ap.parse_args(argv)
    if args.owl:
        inventory = json.loads(Path(args.inventory).read_text()) if args.inventory else None
        before = json.loads(Path(args.inventory_before).read_text()) if args.inventory_before else None
        (HERE / "shapes-owl" / "MODEL_CARD.md").write_text(owl_card(HERE / "shapes-owl",
                                                                    json.loads(Path(args.owl).read_text()), inventory,
                                                                    before))
    if not args.results:
        return
    summary = json.loads(Path(args.results).read_text())
    obedience = json.loads(Path(args.grounding).read_text()) if args.grounding else None
    if summary.get("model", {}).get("alias") != "shapes-tiny":
        raise SystemExit("error: the results are not of shapes-tiny")
    (HERE / "shapes-tiny" / "MODEL_CARD.md").write_text(tiny_card(HERE / "shapes-tiny", summary, obedience))
    (HERE / "shapes-clip" / "MODEL_CARD.md").write_text(clip_card(HERE / "shapes-clip"))
    print(json.dumps({k: summary[k] for k in ("overall", "tags")}, indent=1))


if __name__ == "__main__":
    main()

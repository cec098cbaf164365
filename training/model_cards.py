"""Write the model cards of the shipped shapes models from their training records and a fresh ShapesEval run.

    limner bench shapes --results results.json --grid grid.png
    python -m training.model_cards --results results.json     # writes both cards from that run
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from limner.tools.shapes.weights import HERE


def _size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*.safetensors")) / 1e6


def tiny_card(folder: Path, summary: dict) -> str:
    info = json.loads((folder / "train_info.json").read_text())
    unet, vae = info["unet"], info["vae"]
    rows = "\n".join(f"| {t} | {a:.3f} | {summary['counts'][t][0]}/{summary['counts'][t][1]} |"
                     for t, a in summary["tags"].items())
    model = summary["model"]
    return f"""# shapes-tiny

A tiny text-to-image model of the Stable Diffusion architecture (diffusers `StableDiffusionPipeline`:
`AutoencoderKL`, `CLIPTextModel` with a CLIP BPE tokenizer, `UNet2DConditionModel`, DPM-Solver++ scheduler),
trained from scratch on Limner's synthetic shapes world: 64x64 white canvases with 1-4 circles, squares and
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
({model.get('scheduler') or 'DPMSolverMultistepScheduler'}; chosen by `python -m limner.agent.bench.sweep_settings` on seeds disjoint from the bench's):
shipped suite, {summary['prompts']} prompts, {summary['images']} images, {summary['seconds']:.0f} s on this machine's CPU.

| tag | accuracy | correct/total |
|---|---|---|
{rows}
| **overall** (mean over tags) | **{summary['overall']:.3f}** | |

Single objects and colours are what the model is for; counting, position and colour attribution are
weaker, and are the room the agent's search, layouts and edits are meant to fill.
"""


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


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--results", required=True, help="results.json of `limner bench shapes` on shapes-tiny")
    args = ap.parse_args(argv)
    summary = json.loads(Path(args.results).read_text())
    if summary.get("model", {}).get("alias") != "shapes-tiny":
        raise SystemExit("error: the results are not of shapes-tiny")
    (HERE / "shapes-tiny" / "MODEL_CARD.md").write_text(tiny_card(HERE / "shapes-tiny", summary))
    (HERE / "shapes-clip" / "MODEL_CARD.md").write_text(clip_card(HERE / "shapes-clip"))
    print(json.dumps({k: summary[k] for k in ("overall", "tags")}, indent=1))


if __name__ == "__main__":
    main()

"""Teach the embedded model to take boxes: GLIGEN's gated self-attention on top of ``shapes-tiny``, on a CPU.

    python -m training.train_grounded --out /tmp/g --seed 0 && cp -r /tmp/g/shapes-tiny-grounded/. limner/tools/shapes/weights/shapes-tiny/

The shapes world knows every object's box and phrase, so grounding is supervised directly. The UNet is
``shapes-tiny``'s with ``attention_type="gated"`` (diffusers' ``GatedSelfAttentionDense`` in every transformer
block and its ``GLIGENTextBoundingboxProjection`` position network): the base weights are loaded unchanged
and frozen, as GLIGEN does, and only the new layers learn. The UNet runs the new layers only when a call
passes grounding tokens, so ungrounded generation is the base model's, bit for bit.

Two departures from GLIGEN's recipe, both measured (training/README.md): the attention gates start open
(``--gate-init 1``: tanh 0.76) because behind a zero gate nothing learns (tanh(0) = 0 stops every gradient
to the layer), and the gated attention is supervised directly (``--attn-loss``): every image token inside an
object's box should attend to that object's grounding token, and a token outside every box to none. Without
it, 2,500 steps left the loss flat; with it the grounded loss drops below the ungrounded one within 600.

Each step: scenes from a pool encoded once, a fresh true caption, every object's phrase ("a red circle", or
"a circle") and pixel box; 10% of samples have no caption and no grounding (the unconditional branch of
classifier-free guidance sees null grounding tokens, as diffusers' GLIGEN pipeline sends it). The epsilon
error is weighted as an x0 error (1 / SNR, capped): placement is decided at high noise, which a plain or
min-SNR-weighted epsilon loss barely counts (a first run with min-SNR weights did not move its loss in 1,400
steps). EMA of the trained weights. Saved as a diffusers ``StableDiffusionGLIGENPipeline``
folder ``shapes-tiny-grounded`` with ``train_info.json``: the base model's record, and this run's (command,
settings, timings) under ``grounding``. The shipped ``shapes-tiny`` is that folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from limner.tools.generators.grounding import MAX_OBJS  # diffusers' GLIGEN pipeline pads every call to 30 tokens
from limner.tools.shapes.captions import caption, phrase
from limner.tools.shapes.tokenizer import MAX_LENGTH

from training.train_shapes import (ema_update, encode_pool, log, noise_scheduler_config, optimizer_step,
                                   save_folder)



def gated_unet(base_unet):
    """``base_unet`` with GLIGEN's gated layers added (zero gates); returns the UNet and the new parameters' names."""
    from diffusers import UNet2DConditionModel

    config = {k: v for k, v in base_unet.config.items() if not k.startswith("_")}
    unet = UNet2DConditionModel.from_config({**config, "attention_type": "gated"})
    # a grounded folder as the base (the shipped ``shapes-tiny``) gives its base weights, which training leaves
    # unchanged: the same command on it starts where the first run started
    base = {k: v for k, v in base_unet.state_dict().items() if ".fuser." not in k and not k.startswith("position_net.")}
    missing, unexpected = unet.load_state_dict(base, strict=False)
    assert not unexpected, unexpected
    assert all(".fuser." in k or k.startswith("position_net.") for k in missing), missing
    return unet, set(missing)


def phrase_table(text_encoder, tokenizer, device) -> dict[str, "object"]:
    """Pooled text embedding of every phrase the world has (the frozen encoder, as the pipeline encodes them)."""
    import torch

    from limner.tools.shapes.world import COLORS, SHAPES

    phrases = [phrase(s, 1, c) for s in SHAPES for c in (*COLORS, None)]
    ids = tokenizer(phrases, padding=True, return_tensors="pt").to(device)
    with torch.no_grad():
        pooled = text_encoder(**ids).pooler_output
    return dict(zip(phrases, pooled))


def grounding(truths: list[list[dict]], keep: list[bool], table: dict, rng, device, canvas: int = 64,
              color_p: float = 0.8) -> dict:
    """GLIGEN's inputs for a batch: boxes (B, 30, 4) in [0, 1], phrase embeddings (B, 30, D), masks (B, 30)."""
    import torch

    dim = next(iter(table.values())).shape[-1]
    boxes = torch.zeros(len(truths), MAX_OBJS, 4)
    embeds = torch.zeros(len(truths), MAX_OBJS, dim)
    masks = torch.zeros(len(truths), MAX_OBJS)
    for b, (truth, on) in enumerate(zip(truths, keep)):
        if not on:
            continue
        for k, obj in enumerate(truth[:MAX_OBJS]):
            boxes[b, k] = torch.tensor(obj["bbox"], dtype=torch.float32) / canvas
            embeds[b, k] = table[phrase(obj["shape"], 1, obj["color"] if rng.random() < color_p else None)]
            masks[b, k] = 1.0
    return {"boxes": boxes.to(device), "positive_embeddings": embeds.to(device), "masks": masks.to(device)}


def cell_targets(boxes, masks, side: int):
    """(B, side*side, 30): 1 where an image token's cell lies in an object's box (a third of the cell or the box's
    centre in it), for the real (masked-in) objects."""
    import torch

    cell = 1.0 / side
    start = torch.arange(side, dtype=torch.float32) * cell
    cy = start.view(side, 1).expand(side, side).reshape(1, -1, 1)
    cx = start.view(1, side).expand(side, side).reshape(1, -1, 1)
    x0, y0, x1, y1 = (boxes[..., i].unsqueeze(1) for i in range(4))
    overlap = ((torch.minimum(cx + cell, x1) - torch.maximum(cx, x0)).clamp(min=0)
               * (torch.minimum(cy + cell, y1) - torch.maximum(cy, y0)).clamp(min=0)) / cell ** 2
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    centre = (mx >= cx) & (mx < cx + cell) & (my >= cy) & (my < cy + cell)
    return ((overlap >= 0.3) | centre).float() * masks.unsqueeze(1)


class AttentionProbe:
    """Records the gated attention's probabilities during training (diffusers' plain ``AttnProcessor``, whose
    ``get_attention_scores`` is wrapped on each fuser's ``Attention``); ``loss`` turns them into the routing loss."""

    def __init__(self, unet):
        from diffusers.models.attention_processor import AttnProcessor

        self.seen = []
        self.modules = [m.attn for name, m in unet.named_modules() if name.endswith(".fuser")]
        for attn in self.modules:
            attn.set_processor(AttnProcessor())
            attn.get_attention_scores = self._wrap(attn.get_attention_scores, attn.heads)

    def _wrap(self, scores, heads):
        def recorded(query, key, attention_mask=None):
            probs = scores(query, key, attention_mask)
            self.seen.append((probs, heads))
            return probs
        return recorded

    def loss(self, gligen: dict):
        """Mean over fusers of -log(attention on the token's own objects) inside boxes, -log(1 - attention on
        any object) outside them; nothing for samples without grounding (their masks are zero)."""
        import torch

        total = 0.0
        for probs, heads in self.seen:
            n = probs.shape[1]
            visual = n - MAX_OBJS
            side = int(round(visual ** 0.5))
            attn = probs.view(-1, heads, n, n)[:, :, :visual, visual:].mean(1)
            target = cell_targets(gligen["boxes"], gligen["masks"], side)
            inside = target.sum(-1) > 0
            on, any_obj = (attn * target).sum(-1), attn.sum(-1)
            total = total + (-(torch.log(on + 1e-4))[inside].sum()
                             - torch.log(1 - any_obj + 1e-4)[~inside].sum()) / inside.numel()
        self.seen.clear()
        return total / max(1, len(self.modules))

    def remove(self) -> None:
        from diffusers.models.attention_processor import AttnProcessor2_0

        for attn in self.modules:
            del attn.get_attention_scores
            attn.set_processor(AttnProcessor2_0())


def train(args, rng, device, unet, new_params: set, text_encoder, tokenizer, latents, truths):
    import torch
    from diffusers import DDPMScheduler

    unet.requires_grad_(False)
    named = [(n, p) for n, p in unet.named_parameters() if n in new_params]
    trained = [p for _, p in named]
    for p in trained:
        p.requires_grad_(True)
    with torch.no_grad():  # behind a closed gate nothing learns: tanh(0) = 0 stops every gradient to the attention
        for n, p in named:
            if n.endswith("alpha_attn"):
                p.fill_(args.gate_init)
    probe = AttentionProbe(unet)
    gates = [p for n, p in named if n.endswith(("alpha_attn", "alpha_dense"))]
    rest = [p for n, p in named if not n.endswith(("alpha_attn", "alpha_dense"))]
    base = [p for n, p in unet.named_parameters() if n not in new_params] if args.unfreeze else []
    for p in base:  # --unfreeze: the base UNet learns too (slower), so its features can learn where they are
        p.requires_grad_(True)
    trained = trained + base
    ema = [p.detach().clone() for p in trained]
    table = phrase_table(text_encoder, tokenizer, device)
    sched = DDPMScheduler(**noise_scheduler_config(), clip_sample=False)
    snr = sched.alphas_cumprod / (1 - sched.alphas_cumprod)
    opt = torch.optim.AdamW([{"params": rest, "weight_decay": 1e-2},
                             {"params": gates, "weight_decay": 0.0, "scale": args.gate_lr_scale}]
                            + ([{"params": base, "weight_decay": 1e-2, "scale": args.base_lr_scale}] if base else []),
                            lr=args.lr)
    n, start, losses = latents.shape[0], time.time(), []
    for step in range(1, args.steps + 1):
        idx = rng.integers(0, n, size=args.batch)
        x0 = latents[idx].to(device)
        keep = [bool(rng.random() >= args.uncond_p) for _ in idx]
        caps = [caption(truths[i], rng) if on else "" for i, on in zip(idx, keep)]
        ids = tokenizer(caps, padding="max_length", max_length=MAX_LENGTH, truncation=True,
                        return_tensors="pt").input_ids.to(device)
        t = torch.from_numpy(rng.integers(0, 1000, size=args.batch)).long()
        noise = torch.from_numpy(rng.standard_normal(x0.shape).astype(np.float32)).to(device)
        xt = sched.add_noise(x0, noise, t)
        with torch.no_grad():
            cond = text_encoder(ids)[0]
        plain = args.unfreeze and step % args.plain_every == 0  # the base keeps its ungrounded (fuser-free) job
        gligen = None if plain else {"gligen": grounding([truths[i] for i in idx], keep, table, rng, device)}
        boxes = None if gligen is None else dict(gligen["gligen"])  # the UNet pops its input
        pred = unet(xt, t.to(device), encoder_hidden_states=cond, cross_attention_kwargs=gligen).sample
        # where objects go is decided at high noise, where an epsilon loss hardly sees it (it counts errors in
        # x0 times the SNR): weigh each sample as an x0 loss, 1 / SNR, capped
        weight = torch.clamp(1.0 / snr[t], max=args.max_weight).to(device)
        diffusion = (weight * ((pred - noise) ** 2).mean(dim=(1, 2, 3))).mean()
        routing = probe.loss(boxes) if boxes is not None else torch.zeros(())
        loss = diffusion + args.attn_loss * routing
        lr = optimizer_step(opt, trained, loss, step, args.steps, args.lr, warmup=200)
        ema_update(zip(ema, trained), step, args.ema)
        losses.append((diffusion.item(), float(routing)))
        if step % 50 == 0 or step == args.steps:
            d, r = np.mean(losses[-50:], axis=0)
            gate = np.mean([float(torch.tanh(p)) for n, p in named if n.endswith("alpha_attn")])
            log(f"grounded step {step}/{args.steps} loss {d:.4f} routing {r:.3f} gate {gate:.2f} lr {lr:.2e} "
                f"({time.time() - start:.0f}s)")
    probe.remove()
    with torch.no_grad():
        for e, p in zip(ema, trained):
            p.copy_(e)
    final = np.mean(losses[-200:], axis=0)
    return unet.requires_grad_(False).eval(), {"steps": args.steps, "seconds": round(time.time() - start, 1),
                                               "final_loss": float(final[0]), "final_routing_loss": float(final[1]),
                                               "trained_parameters": int(sum(p.numel() for p in trained))}


def save(folder: Path, base, unet, info: dict) -> None:
    from diffusers import StableDiffusionGLIGENPipeline

    pipe = StableDiffusionGLIGENPipeline(vae=base.vae, text_encoder=base.text_encoder, tokenizer=base.tokenizer,
                                         unet=unet, scheduler=base.scheduler, safety_checker=None,
                                         feature_extractor=None, requires_safety_checker=False)
    save_folder(pipe, folder, info)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="limner/tools/shapes/weights/shapes-tiny")
    ap.add_argument("--out", default="limner/tools/shapes/weights")
    ap.add_argument("--name", default="shapes-tiny-grounded")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pool", type=int, default=12000, help="scenes encoded for training")
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--gate-lr-scale", type=float, default=1.0, help="the gates' learning rate, times --lr")
    ap.add_argument("--gate-init", type=float, default=1.0, help="the attention gates' start (GLIGEN: 0, shut)")
    ap.add_argument("--attn-loss", type=float, default=1.0, help="weight of the gated attention's routing loss")
    ap.add_argument("--uncond-p", type=float, default=0.1)
    ap.add_argument("--unfreeze", action="store_true", help="train the base UNet too (ungrounded output changes)")
    ap.add_argument("--base-lr-scale", type=float, default=0.2)
    ap.add_argument("--plain-every", type=int, default=3, help="with --unfreeze: every Nth step is ungrounded")
    ap.add_argument("--max-weight", type=float, default=30.0, help="cap of the x0 weighting 1 / SNR")
    ap.add_argument("--ema", type=float, default=0.995)
    return ap.parse_args(argv)


def main(argv=None) -> None:
    import torch
    from diffusers import StableDiffusionPipeline

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    command = "python -m training.train_grounded " + " ".join(argv if argv is not None else sys.argv[1:])
    base = StableDiffusionPipeline.from_pretrained(args.base, safety_checker=None, requires_safety_checker=False)
    base.text_encoder.to(args.device).eval()
    start = time.time()
    latents, truths = encode_pool(base.vae.to(args.device).eval(), np.random.default_rng([args.seed, 12]), args.pool,
                                  args.device)
    latents = latents * base.vae.config.scaling_factor
    pool_seconds = round(time.time() - start, 1)
    log(f"encoded {len(truths)} scenes in {pool_seconds:.0f}s")
    torch.manual_seed(args.seed + 1)
    unet, new = gated_unet(base.unet)
    unet, info = train(args, np.random.default_rng([args.seed, 13]), args.device, unet.to(args.device), new,
                       base.text_encoder, base.tokenizer, latents, truths)
    # the base model's record, and this run's under "grounding"
    record = Path(args.base) / "train_info.json"
    meta = json.loads(record.read_text()) if record.is_file() else {}
    meta["grounding"] = {"command": command, "settings": vars(args), "torch": torch.__version__,
                         "threads": torch.get_num_threads(), "device": args.device, "base": args.base,
                         "pool_seconds": pool_seconds, **info}
    save(Path(args.out) / args.name, base, unet.cpu(), meta)
    log(f"saved {Path(args.out) / args.name}")


if __name__ == "__main__":
    main()

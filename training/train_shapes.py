"""Train the shapes-world models from synthetic data, reproducibly, on a CPU.

    python -m training.train_shapes --out limner/tools/shapes/weights --seed 0

Stages (each saved as soon as it is done, so an interrupted run keeps what it finished):
1. ``vae``: an ``AutoencoderKL`` (64x64 RGB -> 16x16x4 latents) on random 32x32 crops of fresh scenes.
2. ``unet``: a ``UNet2DConditionModel`` and a ``CLIPTextModel`` (trained jointly from scratch, with the
   world tokenizer) on a pool of encoded scenes with fresh random captions each time, epsilon prediction,
   min-SNR weighting, 10% empty captions for classifier-free guidance, EMA weights. Saved as a diffusers
   ``StableDiffusionPipeline`` folder ``shapes-tiny``.
3. ``clip``: ``shapes-clip``, a tiny ``CLIPModel`` trained contrastively with hard negative captions
   (one attribute, count or relation changed), saved with its score calibration.

Step counts (not wall-clock budgets) define the run, so the same command and seed give the same models
on the same hardware. ``train_info.json`` in each folder records the command, settings and timings.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from limner.tools.shapes.captions import caption
from limner.tools.shapes.tokenizer import MAX_LENGTH, world_tokenizer
from limner.tools.shapes.world import perturb, random_scene, render  # noqa: F401


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def scenes_batch(rng, n):
    """n random scenes: images as float tensor (n, 3, 64, 64) in [-1, 1] and their ground truths."""
    import torch

    imgs, truths = [], []
    for _ in range(n):
        img, truth = render(random_scene(rng))
        imgs.append(img)
        truths.append(truth)
    x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
    return x, truths


# --- models ------------------------------------------------------------------------------------------

def make_vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, sample_size=64, layers_per_block=1,
        block_out_channels=(32, 64, 64), down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3, norm_num_groups=16, mid_block_add_attention=False,
    )


def text_config(tokenizer, hidden=64, layers=3):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=4 * hidden, num_attention_heads=4,
        num_hidden_layers=layers, max_position_embeddings=MAX_LENGTH, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, projection_dim=hidden,
    )


def make_unet():
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64, 128),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=64, attention_head_dim=8, norm_num_groups=8,
    )


def optimizer_step(opt, params, loss, step: int, total: int, base_lr: float, warmup: int) -> float:
    """One step at a linear warm-up then cosine learning rate (down to 10%), gradients clipped to norm 1."""
    import torch

    lr = base_lr * min(1.0, step / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / total)))
    for g in opt.param_groups:
        g["lr"] = lr * g.get("scale", 1.0)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    return lr


def ema_update(pairs, step: int, ema: float) -> None:
    """Move each (average, live) parameter pair's average towards the live value (warm-started decay)."""
    import torch

    decay = min(ema, (1 + step) / (10 + step))
    with torch.no_grad():
        for avg, live in pairs:
            avg.lerp_(live, 1 - decay)


def noise_scheduler_config() -> dict:
    return dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                prediction_type="epsilon", steps_offset=1)


# --- stage 1: VAE ------------------------------------------------------------------------------------

def train_vae(args, rng, device):
    import torch

    vae = make_vae().to(device)
    opt = torch.optim.AdamW(vae.parameters(), lr=args.vae_lr, weight_decay=0.0)
    start = time.time()
    for step in range(1, args.vae_steps + 1):
        x, _ = scenes_batch(rng, args.vae_batch)
        i, j = rng.integers(0, 33, size=2)
        x = x[:, :, i: i + 32, j: j + 32].to(device)
        lr = args.vae_lr * min(1.0, step / 100)
        for g in opt.param_groups:
            g["lr"] = lr
        post = vae.encode(x).latent_dist
        rec = vae.decode(post.sample()).sample
        loss = torch.nn.functional.mse_loss(rec, x) + 0.5 * (rec - x).abs().mean() + 1e-6 * post.kl().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        if step % 100 == 0 or step == args.vae_steps:
            log(f"vae step {step}/{args.vae_steps} loss {loss.item():.4f} ({time.time() - start:.0f}s)")
    return vae.eval(), {"steps": args.vae_steps, "seconds": round(time.time() - start, 1), "final_loss": loss.item()}


def encode_pool(vae, rng, n, device, chunk=256):
    """Encode n fresh scenes (posterior means); returns latents (unscaled) and ground truths."""
    import torch

    latents, truths = [], []
    with torch.no_grad():
        for k in range(0, n, chunk):
            x, t = scenes_batch(rng, min(chunk, n - k))
            latents.append(vae.encode(x.to(device)).latent_dist.mean.cpu())
            truths.extend(t)
    return torch.cat(latents), truths


# --- stage 2: UNet + text encoder -------------------------------------------------------------------

def train_unet(args, rng, device, latents, truths, tokenizer):
    import torch
    from diffusers import DDPMScheduler
    from transformers import CLIPTextModel

    torch.manual_seed(args.seed + 1)
    unet = make_unet().to(device)
    text_encoder = CLIPTextModel(text_config(tokenizer)).to(device)
    ema_unet, ema_text = copy.deepcopy(unet).requires_grad_(False), copy.deepcopy(text_encoder).requires_grad_(False)
    sched = DDPMScheduler(**noise_scheduler_config(), clip_sample=False)
    alphas = sched.alphas_cumprod.to(device)
    snr = alphas / (1 - alphas)
    params = list(unet.parameters()) + list(text_encoder.parameters())
    opt = torch.optim.AdamW(params, lr=args.unet_lr, weight_decay=1e-2)
    n = latents.shape[0]
    start = time.time()
    losses = []
    for step in range(1, args.unet_steps + 1):
        idx = rng.integers(0, n, size=args.unet_batch)
        x0 = latents[idx].to(device)
        caps = [caption(truths[i], rng) if rng.random() >= args.uncond_p else "" for i in idx]
        ids = tokenizer(caps, padding="max_length", max_length=MAX_LENGTH, truncation=True,
                        return_tensors="pt").input_ids.to(device)
        t = torch.from_numpy(rng.integers(0, 1000, size=args.unet_batch)).long().to(device)
        noise = torch.from_numpy(rng.standard_normal(x0.shape).astype(np.float32)).to(device)
        xt = sched.add_noise(x0, noise, t)
        cond = text_encoder(ids)[0]
        pred = unet(xt, t, encoder_hidden_states=cond).sample
        weight = torch.clamp(snr[t], max=args.min_snr) / snr[t]  # min-SNR-gamma for epsilon prediction
        loss = (weight * ((pred - noise) ** 2).mean(dim=(1, 2, 3))).mean()
        lr = optimizer_step(opt, params, loss, step, args.unet_steps, args.unet_lr, warmup=300)
        ema_update([(pe, pl) for ema, live in ((ema_unet, unet), (ema_text, text_encoder))
                    for pe, pl in zip(ema.parameters(), live.parameters())], step, args.ema)
        losses.append(loss.item())
        if step % 100 == 0 or step == args.unet_steps:
            log(f"unet step {step}/{args.unet_steps} loss {np.mean(losses[-100:]):.4f} lr {lr:.2e} "
                f"({time.time() - start:.0f}s)")
        if args.checkpoint_every and step % args.checkpoint_every == 0 and step < args.unet_steps:
            yield "checkpoint", ema_unet, ema_text, step
    yield "done", ema_unet, ema_text, {"steps": args.unet_steps, "seconds": round(time.time() - start, 1),
                                       "final_loss": float(np.mean(losses[-200:]))}


def save_pipeline(folder: Path, vae, unet, text_encoder, tokenizer, info: dict):
    from diffusers import DPMSolverMultistepScheduler, StableDiffusionPipeline

    pipe = StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
        scheduler=DPMSolverMultistepScheduler(**noise_scheduler_config()),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    save_folder(pipe, folder, info)


def save_folder(pipe, folder: Path, info: dict) -> None:
    """``pipe`` saved as ``folder`` with ``train_info.json``, written beside it first and swapped in whole."""
    tmp = folder.with_name(folder.name + ".tmp")
    pipe.save_pretrained(tmp)
    (tmp / "train_info.json").write_text(json.dumps(info, indent=2) + "\n")
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    tmp.rename(folder)


# --- stage 3: shapes-clip ---------------------------------------------------------------------------

def make_clip(tokenizer):
    from transformers import CLIPConfig, CLIPModel, CLIPVisionConfig

    vision = CLIPVisionConfig(image_size=64, patch_size=8, hidden_size=96, intermediate_size=384,
                              num_attention_heads=4, num_hidden_layers=3, projection_dim=64)
    config = CLIPConfig(text_config=text_config(tokenizer, hidden=64, layers=2).to_dict(),
                        vision_config=vision.to_dict(), projection_dim=64)
    return CLIPModel(config)


def _clip_pixels(x):
    """[-1, 1] images -> CLIP-normalised pixels (the same normalisation CLIPScore applies)."""
    import torch

    from limner.tools.verifiers.clipscore import CLIP_MEAN, CLIP_STD

    x = (x + 1) / 2
    return (x - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)) / torch.tensor(CLIP_STD).view(1, 3, 1, 1)


def _clip_embed(model, tokenizer, pixels, texts, device):
    import torch.nn.functional as F

    ids = tokenizer(texts, padding=True, truncation=True, return_tensors="pt").to(device)
    img = model.get_image_features(pixel_values=pixels.to(device))
    txt = model.get_text_features(**ids)
    img = getattr(img, "pooler_output", img)
    txt = getattr(txt, "pooler_output", txt)
    return F.normalize(img, dim=-1), F.normalize(txt, dim=-1)


def train_clip(args, rng, device, tokenizer):
    import torch
    import torch.nn.functional as F

    torch.manual_seed(args.seed + 2)
    model = make_clip(tokenizer).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.clip_lr, weight_decay=1e-2)
    start = time.time()
    for step in range(1, args.clip_steps + 1):
        x, truths = scenes_batch(rng, args.clip_batch)
        pos = [caption(t, rng) for t in truths]
        neg = [caption(perturb(t, rng), rng) for t in truths]
        img, txt = _clip_embed(model, tokenizer, _clip_pixels(x), pos + neg, device)
        scale = model.logit_scale.exp().clamp(max=100)
        logits = scale * img @ txt.T  # (B, 2B): true captions first, then hard negatives
        target = torch.arange(len(pos), device=device)
        loss = F.cross_entropy(logits, target) + F.cross_entropy(logits[:, : len(pos)].T, target)
        lr = args.clip_lr * min(1.0, step / 100) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / args.clip_steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == args.clip_steps:
            log(f"clip step {step}/{args.clip_steps} loss {loss.item():.4f} ({time.time() - start:.0f}s)")
    return model.eval(), {"steps": args.clip_steps, "seconds": round(time.time() - start, 1), "final_loss": loss.item()}


def evaluate_clip(model, tokenizer, rng, device, n=500, negatives=4):
    """Held-out retrieval: image -> its caption among hard negatives; text -> image among 100 images."""
    import torch

    with torch.no_grad():
        x, truths = scenes_batch(rng, n)
        pos = [caption(t, rng) for t in truths]
        img, txt = _clip_embed(model, tokenizer, _clip_pixels(x), pos, device)
        pos_cos = (img * txt).sum(-1)
        hard_correct, neg_cos = 0, []
        for k in range(n):
            negs = [caption(perturb(truths[k], rng), rng) for _ in range(negatives)]
            _, ntxt = _clip_embed(model, tokenizer, _clip_pixels(x[k: k + 1]), negs, device)
            c = (img[k: k + 1] * ntxt).sum(-1)
            neg_cos.append(c)
            hard_correct += int(pos_cos[k] > c.max())
        t2i = 0
        for b in range(0, n, 100):
            sims = txt[b: b + 100] @ img[b: b + 100].T
            t2i += int((sims.argmax(1) == torch.arange(sims.shape[0])).sum())
        neg_cos = torch.cat(neg_cos)
    return {
        "image_to_text_hard_negatives_top1": hard_correct / n,
        "hard_negatives_per_image": negatives,
        "text_to_image_top1_of_100": t2i / n,
        "heldout_scenes": n,
        "calibration": [float(torch.quantile(neg_cos, 0.05)), float(torch.quantile(pos_cos, 0.95))],
    }


# --- main --------------------------------------------------------------------------------------------

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="limner/tools/shapes/weights")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stages", default="vae,unet,clip")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--vae-steps", type=int, default=2000)
    ap.add_argument("--vae-batch", type=int, default=32)
    ap.add_argument("--vae-lr", type=float, default=1e-3)
    ap.add_argument("--pool", type=int, default=32000, help="scenes encoded for UNet training")
    ap.add_argument("--unet-steps", type=int, default=6000)
    ap.add_argument("--unet-batch", type=int, default=64)
    ap.add_argument("--unet-lr", type=float, default=5e-4)
    ap.add_argument("--uncond-p", type=float, default=0.1)
    ap.add_argument("--min-snr", type=float, default=5.0)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--checkpoint-every", type=int, default=1000)
    ap.add_argument("--clip-steps", type=int, default=1500)
    ap.add_argument("--clip-batch", type=int, default=128)
    ap.add_argument("--clip-lr", type=float, default=1e-3)
    return ap.parse_args(argv)


def main(argv=None) -> None:
    import torch
    from diffusers import AutoencoderKL

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stages = args.stages.split(",")
    device = args.device
    command = "python -m training.train_shapes " + " ".join(argv if argv is not None else sys.argv[1:])
    base_info = {"command": command, "settings": vars(args), "torch": torch.__version__,
                 "threads": torch.get_num_threads(), "device": device}
    tokenizer = world_tokenizer()
    vae_dir = out / "vae-stage"
    if "vae" in stages:
        vae, vae_info = train_vae(args, np.random.default_rng([args.seed, 1]), device)
        vae_dir.mkdir(parents=True, exist_ok=True)
        vae.save_pretrained(vae_dir)
        (vae_dir / "train_info.json").write_text(json.dumps(vae_info, indent=2))
    if "unet" in stages:
        vae = AutoencoderKL.from_pretrained(vae_dir).to(device).eval()
        vae_info = json.loads((vae_dir / "train_info.json").read_text())
        start = time.time()
        latents, truths = encode_pool(vae, np.random.default_rng([args.seed, 2]), args.pool, device)
        scaling = float(1.0 / latents.std())
        vae.register_to_config(scaling_factor=scaling)
        log(f"encoded {len(truths)} scenes in {time.time() - start:.0f}s; scaling factor {scaling:.4f}")
        pool_seconds = round(time.time() - start, 1)
        for kind, unet, text_encoder, info in train_unet(args, np.random.default_rng([args.seed, 3]), device,
                                                         latents * scaling, truths, tokenizer):
            folder = out / ("shapes-tiny" if kind == "done" else "shapes-tiny-checkpoint")
            meta = {**base_info, "vae": vae_info, "pool_seconds": pool_seconds,
                    "unet": info if kind == "done" else {"steps_so_far": info}}
            save_pipeline(folder, vae, unet.cpu(), text_encoder.cpu(), tokenizer, meta)
            unet.to(device), text_encoder.to(device)
            log(f"saved {folder}")
    if "clip" in stages:
        model, info = train_clip(args, np.random.default_rng([args.seed, 4]), device, tokenizer)
        metrics = evaluate_clip(model, tokenizer, np.random.default_rng([args.seed, 5]), device)
        log(f"shapes-clip held-out retrieval: {metrics}")
        folder = out / "shapes-clip"
        folder.mkdir(parents=True, exist_ok=True)
        model.cpu().save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        (folder / "limner_calibration.json").write_text(json.dumps({"calibration": metrics["calibration"]}) + "\n")
        (folder / "train_info.json").write_text(json.dumps({**base_info, "clip": info, "heldout": metrics}, indent=2))


if __name__ == "__main__":
    main()

"""Tiny random-weight models of real architectures, built in code.

They stand in for real weights where none can be downloaded (tests, the offline
default). The components are the ones diffusers and transformers use for the
real models, at toy sizes, so every code path that works on them works on the
real thing. Weights come from a fixed seed: the same call builds the same files.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

CLIP_MAX_LENGTH = 77


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible map from bytes to printable unicode characters."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("\u00a1"), ord("\u00ac") + 1))
        + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    )
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes)))


def byte_level_vocab() -> dict[str, int]:
    """A CLIP vocabulary of the 256 byte characters, the same with ``</w>``, and the two special tokens."""
    chars = list(_bytes_to_unicode().values())
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return vocab


def clip_tokenizer():
    """A working CLIP tokenizer built from the local byte-level vocabulary (no merges)."""
    from transformers import CLIPTokenizer

    return CLIPTokenizer(vocab=byte_level_vocab(), merges=[], model_max_length=CLIP_MAX_LENGTH)


def _text_config(hidden: int = 32, layers: int = 2):
    from transformers import CLIPTextConfig

    tok_vocab = byte_level_vocab()
    return CLIPTextConfig(
        vocab_size=len(tok_vocab),
        bos_token_id=tok_vocab["<|startoftext|>"],
        eos_token_id=tok_vocab["<|endoftext|>"],
        pad_token_id=tok_vocab["<|endoftext|>"],
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_attention_heads=4,
        num_hidden_layers=layers,
        max_position_embeddings=CLIP_MAX_LENGTH,
        projection_dim=hidden,
    )


def build_tiny_sd(seed: int = 0):
    """A ``StableDiffusionPipeline`` with tiny random components (64x64 images, 32x32 latents)."""
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=32,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=8,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(16, 32),
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=8,
        sample_size=64,
    )
    text_encoder = CLIPTextModel(_text_config())
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
        steps_offset=1,
    )
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=clip_tokenizer(),
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def build_tiny_clip(seed: int = 0):
    """A tiny random ``CLIPModel`` with its processor (32x32 images)."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPVisionConfig

    torch.manual_seed(seed)
    vision = CLIPVisionConfig(
        image_size=32, patch_size=4, hidden_size=32, intermediate_size=64,
        num_attention_heads=4, num_hidden_layers=2, projection_dim=32,
    )
    config = CLIPConfig(text_config=_text_config().to_dict(), vision_config=vision.to_dict(), projection_dim=32)
    model = CLIPModel(config)
    processor = CLIPProcessor(
        image_processor=CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
        tokenizer=clip_tokenizer(),
    )
    return model, processor


def _write_once(target: Path, write) -> Path:
    """Build into a temporary folder, then rename: a crash never leaves a half-written model."""
    if (target / ".complete").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        write(tmp)
        (tmp / ".complete").write_text(json.dumps({"builder": "limner.tools.generators.tiny", "seed": 0}))
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def ensure_tiny_sd(folder: Path) -> Path:
    """Build the tiny random SD pipeline into ``folder`` (once) and return it."""
    return _write_once(folder, lambda tmp: build_tiny_sd().save_pretrained(tmp))


def ensure_tiny_clip(folder: Path) -> Path:
    """Build the tiny random CLIP model into ``folder`` (once) and return it."""

    def write(tmp: Path) -> None:
        model, processor = build_tiny_clip()
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)

    return _write_once(folder, write)

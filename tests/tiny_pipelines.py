"""Tiny random pipelines of the real model families (configs after diffusers' own tests), saved as folders."""

from __future__ import annotations

from pathlib import Path


def save_tiny_sdxl(folder: Path) -> Path:
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    from tools.generators.tiny import _text_config, clip_tokenizer

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=32, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=8, transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=6 * 8 + 32, cross_attention_dim=64, norm_num_groups=8,
    )
    vae = AutoencoderKL(
        block_out_channels=(16, 32), in_channels=3, out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), latent_channels=4, norm_num_groups=8, sample_size=64,
    )
    pipe = StableDiffusionXLPipeline(
        vae=vae, unet=unet,
        text_encoder=CLIPTextModel(_text_config()), tokenizer=clip_tokenizer(),
        text_encoder_2=CLIPTextModelWithProjection(_text_config()), tokenizer_2=clip_tokenizer(),
        scheduler=EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                         steps_offset=1, timestep_spacing="leading"),
    )
    pipe.save_pretrained(folder)
    return folder


def save_tiny_instruct_pix2pix(folder: Path) -> Path:
    """InstructPix2Pix: an SD pipeline whose UNet takes the noisy latent and the image latent (8 channels)."""
    from tools.generators.tiny import build_tiny_sd

    import torch
    from diffusers import StableDiffusionInstructPix2PixPipeline, UNet2DConditionModel

    sd = build_tiny_sd()
    torch.manual_seed(0)
    unet = UNet2DConditionModel(**{**sd.unet.config, "in_channels": 8})
    pipe = StableDiffusionInstructPix2PixPipeline(
        vae=sd.vae, text_encoder=sd.text_encoder, tokenizer=sd.tokenizer, unet=unet, scheduler=sd.scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.save_pretrained(folder)
    return folder

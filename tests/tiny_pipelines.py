"""Tiny random pipelines of the real model families (configs after diffusers' own tests), saved as folders."""

from __future__ import annotations

from pathlib import Path


def save_tiny_sdxl(folder: Path) -> Path:
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    from limner.tools.generators.tiny import _text_config, clip_tokenizer

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
    from limner.tools.generators.tiny import build_tiny_sd

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


def t5_tokenizer():
    """A working T5 (Unigram) tokenizer built locally: one piece per printable character, with and without '▁'."""
    from transformers import T5Tokenizer

    chars = [chr(c) for c in range(33, 127)]
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [("\u2581" + c, -2.0) for c in chars] + [(c, -3.0) for c in chars] + [("\u2581", -4.0)]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def _tiny_t5(d_model: int = 32):
    from transformers import T5Config, T5EncoderModel

    tok = t5_tokenizer()
    return T5EncoderModel(T5Config(vocab_size=len(tok), d_model=d_model, d_kv=8, d_ff=2 * d_model, num_layers=2,
                                   num_heads=4, relative_attention_num_buckets=8, decoder_start_token_id=0,
                                   pad_token_id=0, eos_token_id=1))


def _flow_vae(latent_channels: int):
    from diffusers import AutoencoderKL

    return AutoencoderKL(sample_size=64, in_channels=3, out_channels=3, block_out_channels=(8, 16),
                         down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
                         up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), layers_per_block=1,
                         latent_channels=latent_channels, norm_num_groups=8, use_quant_conv=False,
                         use_post_quant_conv=False, shift_factor=0.0609, scaling_factor=1.5035)


def save_tiny_sd3(folder: Path) -> Path:
    """SD3 (MMDiT): two CLIP encoders with projection, a T5 encoder, flow matching."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline
    from transformers import CLIPTextModelWithProjection

    from limner.tools.generators.tiny import _text_config, clip_tokenizer

    torch.manual_seed(0)
    transformer = SD3Transformer2DModel(sample_size=32, patch_size=2, in_channels=16, num_layers=1,
                                        attention_head_dim=8, num_attention_heads=4, caption_projection_dim=32,
                                        joint_attention_dim=64, pooled_projection_dim=64, out_channels=16)
    pipe = StableDiffusion3Pipeline(  # 16 latent channels, as SD3's VAE has (its inpainting pipeline checks)
        transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0), vae=_flow_vae(16),
        text_encoder=CLIPTextModelWithProjection(_text_config()), tokenizer=clip_tokenizer(),
        text_encoder_2=CLIPTextModelWithProjection(_text_config()), tokenizer_2=clip_tokenizer(),
        text_encoder_3=_tiny_t5(64), tokenizer_3=t5_tokenizer(),
    )
    pipe.save_pretrained(folder)
    return folder


def save_tiny_flux(folder: Path) -> Path:
    """FLUX.1: a CLIP encoder (pooled), a T5 encoder, packed 2x2 latents, guidance-distilled (schnell-like)."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextModel

    from limner.tools.generators.tiny import _text_config, clip_tokenizer

    torch.manual_seed(0)
    transformer = FluxTransformer2DModel(patch_size=1, in_channels=64, num_layers=1, num_single_layers=1,
                                         attention_head_dim=16, num_attention_heads=2, joint_attention_dim=32,
                                         pooled_projection_dim=32, axes_dims_rope=[4, 4, 8])
    pipe = FluxPipeline(  # 16 latent channels packed 2x2 into 64, as FLUX.1 has
        transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(shift=1.0), vae=_flow_vae(16),
        text_encoder=CLIPTextModel(_text_config()), tokenizer=clip_tokenizer(),
        text_encoder_2=_tiny_t5(32), tokenizer_2=t5_tokenizer(),
    )
    pipe.save_pretrained(folder)
    return folder


def save_tiny_pixart_sigma(folder: Path) -> Path:
    """PixArt-Sigma: a DiT with a T5 encoder and learned variance."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, PixArtSigmaPipeline, PixArtTransformer2DModel

    torch.manual_seed(0)
    transformer = PixArtTransformer2DModel(sample_size=32, num_layers=2, patch_size=2, attention_head_dim=8,
                                           num_attention_heads=3, caption_channels=32, in_channels=4,
                                           cross_attention_dim=24, out_channels=8, attention_bias=True,
                                           activation_fn="gelu-approximate", num_embeds_ada_norm=1000,
                                           norm_type="ada_norm_single", norm_elementwise_affine=False, norm_eps=1e-6)
    vae = AutoencoderKL(sample_size=64, in_channels=3, out_channels=3, block_out_channels=(8, 16),
                        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
                        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), layers_per_block=1,
                        latent_channels=4, norm_num_groups=8)
    pipe = PixArtSigmaPipeline(tokenizer=t5_tokenizer(), text_encoder=_tiny_t5(32), vae=vae,
                               transformer=transformer, scheduler=DDIMScheduler())
    pipe.save_pretrained(folder)
    return folder


def save_tiny_gligen(folder: Path) -> Path:
    """GLIGEN: the tiny SD pipeline with a gated UNet (``attention_type="gated"``: GatedSelfAttentionDense and
    the text-box position net), its gates opened so that random grounding tokens visibly act."""
    import torch
    from diffusers import StableDiffusionGLIGENPipeline, UNet2DConditionModel

    from limner.tools.generators.tiny import build_tiny_sd

    sd = build_tiny_sd()
    torch.manual_seed(0)
    config = {k: v for k, v in sd.unet.config.items() if not k.startswith("_")}
    unet = UNet2DConditionModel(**{**config, "attention_type": "gated"})
    unet.load_state_dict(sd.unet.state_dict(), strict=False)
    with torch.no_grad():
        for name, param in unet.named_parameters():
            if name.endswith(("alpha_attn", "alpha_dense")):
                param.fill_(1.0)
    pipe = StableDiffusionGLIGENPipeline(
        vae=sd.vae, text_encoder=sd.text_encoder, tokenizer=sd.tokenizer, unet=unet, scheduler=sd.scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.save_pretrained(folder)
    return folder


def save_tiny_sd(folder: Path) -> Path:
    from limner.tools.generators.tiny import build_tiny_sd

    build_tiny_sd().save_pretrained(folder)
    return folder


def place_in_hf_cache(folder: Path, cache: Path, repo_id: str, revision: str = "0123456789abcdef0123456789abcdef01234567") -> Path:
    """Lay a saved model out as the Hugging Face cache holds a download: refs/main -> snapshots/<revision>/."""
    import shutil

    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / revision
    if not snapshot.exists():
        shutil.copytree(folder, snapshot)
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(revision)
    return snapshot


def save_tiny_gligen_inpaint(folder: Path) -> Path:
    """GLIGEN's inpainting checkpoint: the tiny gated UNet with 9 input channels (latents, the image's latents
    outside the boxes, the mask), its gates opened; the VAE's sample size is the image size the pipeline crops to."""
    import torch
    from diffusers import StableDiffusionGLIGENPipeline, UNet2DConditionModel

    from limner.tools.generators.tiny import build_tiny_sd

    sd = build_tiny_sd()
    torch.manual_seed(0)
    config = {k: v for k, v in sd.unet.config.items() if not k.startswith("_")}
    unet = UNet2DConditionModel(**{**config, "attention_type": "gated", "in_channels": 9})
    with torch.no_grad():
        for name, param in unet.named_parameters():
            if name.endswith(("alpha_attn", "alpha_dense")):
                param.fill_(1.0)
    sd.vae.register_to_config(sample_size=64)
    pipe = StableDiffusionGLIGENPipeline(
        vae=sd.vae, text_encoder=sd.text_encoder, tokenizer=sd.tokenizer, unet=unet, scheduler=sd.scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.save_pretrained(folder)
    return folder


def save_tiny_owlv2(folder: Path, seed: int = 0) -> Path:
    """A tiny random ``Owlv2ForObjectDetection`` with its processor (64x64 images, CLIP's tokenizer built here),
    saved as a hub folder holds it."""
    import torch
    from transformers import Owlv2Config, Owlv2ForObjectDetection, Owlv2ImageProcessor, Owlv2Processor

    from limner.tools.generators.tiny import clip_tokenizer

    torch.manual_seed(seed)
    tokenizer = clip_tokenizer()
    ids = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
           "pad_token_id": tokenizer.pad_token_id}
    config = Owlv2Config(
        text_config={"vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64,
                     "num_hidden_layers": 1, "num_attention_heads": 4, "max_position_embeddings": 77, **ids},
        vision_config={"image_size": 64, "patch_size": 16, "hidden_size": 32, "intermediate_size": 64,
                       "num_hidden_layers": 1, "num_attention_heads": 4},
        projection_dim=32, **ids)
    model = Owlv2ForObjectDetection(config)
    for head in (model.box_head, model.class_head, model.objectness_head):  # unit-variance heads saturate
        for layer in head.modules():
            if isinstance(layer, torch.nn.Linear):
                layer.reset_parameters()
    model.save_pretrained(folder)
    Owlv2Processor(image_processor=Owlv2ImageProcessor(size={"height": 64, "width": 64}),
                   tokenizer=tokenizer).save_pretrained(folder)
    return folder


def save_tiny_grounding_dino(folder: Path, words: tuple[str, ...] = (), seed: int = 0) -> Path:
    """A tiny random ``GroundingDinoForObjectDetection`` (a 2-stage Swin backbone, BERT text encoder with a
    WordPiece vocabulary of ``words`` built here) with its processor."""
    import torch
    from transformers import (BertConfig, BertTokenizerFast, GroundingDinoConfig, GroundingDinoForObjectDetection,
                              GroundingDinoImageProcessor, GroundingDinoProcessor, SwinConfig)

    torch.manual_seed(seed)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", *words]
    tokenizer = BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)})
    text = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                      intermediate_size=37, max_position_embeddings=64)
    backbone = SwinConfig(image_size=64, patch_size=4, embed_dim=8, depths=[1, 1], num_heads=[1, 1], window_size=4,
                          out_features=["stage1", "stage2"])
    config = GroundingDinoConfig(
        backbone_config=backbone, text_config=text, d_model=32, encoder_layers=1, decoder_layers=2,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
        num_queries=10, num_feature_levels=2, encoder_n_points=2, decoder_n_points=2, max_text_len=32,
        use_timm_backbone=False)
    GroundingDinoForObjectDetection(config).save_pretrained(folder)
    GroundingDinoProcessor(image_processor=GroundingDinoImageProcessor(size={"shortest_edge": 64, "longest_edge": 96}),
                           tokenizer=tokenizer).save_pretrained(folder)
    return folder

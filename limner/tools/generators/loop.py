"""Limner's own denoising loop for UNet pipelines (SD 1.x/2.x, SDXL, shapes-tiny).

Search strategies need what a pipeline call hides: stopping at an intermediate step, predicting the clean
image there, re-noising, and gradients through the whole generation (a pipeline call runs under no-grad).
This loop reuses the loaded pipeline's modules and scheduler and, run from the first step to the last,
gives the same pixels as the pipeline call (tested). Prompts are encoded once per loop.

Usable alone::

    loop = DenoiseLoop(generator, "a red circle")
    x = loop.run(loop.initial([noise]), 0, loop.steps)      # latents after the last step
    images = loop.to_pil(loop.decode(x))
"""

from __future__ import annotations

import copy

from limner.tools.generators.diffusers_backend import NFECounter


class DenoiseLoop:
    def __init__(self, generator, prompt: str, negative_prompt: str = "", *, steps: int | None = None,
                 guidance: float | None = None):
        spec = generator.spec
        if spec.caps.lacks("loop"):
            raise ValueError(spec.caps.lacks("loop"))
        self.generator = generator
        self.pipe = pipe = generator.pipe
        for module in (pipe.unet, pipe.vae):  # only the noise ever gets a gradient
            module.requires_grad_(False)
        self.steps = int(steps or spec.steps)
        self.guidance = float(spec.guidance if guidance is None else guidance)
        self.cfg = self.guidance > 1.0
        self.device, self.dtype = generator.device, generator.dtype
        self.template = self._scheduler_template()
        self.template.set_timesteps(self.steps, device=self.device)
        self.timesteps = self.template.timesteps
        self.counter = NFECounter(pipe.unet)
        self.grad_forward = 0  # forward passes run with gradients enabled (each is later backpropagated)
        self._encode(prompt, negative_prompt)

    def close(self) -> None:
        self.counter.close()

    @property
    def nfe(self) -> int:
        """Denoiser forward passes so far, per sample (classifier-free guidance counts twice)."""
        return self.counter.count

    def _scheduler_template(self):
        sched = copy.deepcopy(self.pipe.scheduler)
        # Sigma-space schedulers (Euler, Heun, ...) scale the initial noise; variance-preserving ones do not.
        self.sigma_space = float(getattr(sched, "init_noise_sigma", 1.0)) != 1.0
        return sched

    def describe(self) -> dict:
        return {"sampler": "limner-loop", "loop_scheduler": type(self.template).__name__, "steps": self.steps,
                "guidance": self.guidance}

    # --- conditioning ------------------------------------------------------------------------------
    def _encode(self, prompt: str, negative_prompt: str) -> None:
        self._prompt, self._negative = prompt, negative_prompt
        self._by_batch: dict[int, tuple] = {}
        self._cond(1)

    def _encode_batch(self, batch: int):
        """Embeddings for ``batch`` copies of the prompt, encoded as one batch, as the pipeline call encodes them
        (a batched text encoder can round differently from a repeated single encoding)."""
        import torch

        pipe, prompt = self.pipe, [self._prompt] * batch
        negative = [self._negative] * batch if self._negative else None
        with torch.no_grad():
            if self.generator.spec.caps.pooled_text:
                pe, ne, pooled, npooled = pipe.encode_prompt(prompt, device=self.device, num_images_per_prompt=1,
                                                             do_classifier_free_guidance=self.cfg,
                                                             negative_prompt=negative)
                spec = self.generator.spec
                proj = (pipe.text_encoder_2.config.projection_dim if pipe.text_encoder_2 is not None
                        else int(pooled.shape[-1]))
                size = (spec.height, spec.width)
                time_ids = pipe._get_add_time_ids(size, (0, 0), size, dtype=pe.dtype, text_encoder_projection_dim=proj)
                time_ids = time_ids.repeat(batch, 1)
                if self.cfg:
                    pe, pooled, time_ids = torch.cat([ne, pe]), torch.cat([npooled, pooled]), torch.cat([time_ids, time_ids])
                added = {"text_embeds": pooled.to(self.device), "time_ids": time_ids.to(self.device)}
            else:
                pe, ne = pipe.encode_prompt(prompt, self.device, 1, self.cfg, negative)
                if self.cfg:
                    pe = torch.cat([ne, pe])
                added = None
        return pe.to(self.device), added

    def _cond(self, batch: int):
        """Embeddings for a batch: ``[uncond]*batch + [cond]*batch`` under CFG."""
        if batch not in self._by_batch:
            self._by_batch[batch] = self._encode_batch(batch)
        return self._by_batch[batch]

    # --- the loop ------------------------------------------------------------------------------
    def initial(self, noise):
        """Initial latents from a float32 CPU noise batch (as drawn by ``limner.tools.generators.noise``)."""
        return noise.to(self.device, self.dtype) * self.template.init_noise_sigma

    def _sigma(self, index: int) -> float:
        """Noise level of step ``index`` as sigma = sqrt((1 - alpha_bar) / alpha_bar); 0 for the clean image."""
        if index >= self.steps:
            return 0.0
        if self.sigma_space:
            return float(self.template.sigmas[index])
        a = float(self.template.alphas_cumprod[int(self.timesteps[index])])
        return ((1 - a) / a) ** 0.5

    def model_output(self, x, t):
        import torch

        batch = x.shape[0]
        embeds, added = self._cond(batch)
        inp = torch.cat([x, x]) if self.cfg else x
        inp = self._sched.scale_model_input(inp, t)
        kwargs = {"added_cond_kwargs": added} if added else {}
        out = self.pipe.unet(inp, t, encoder_hidden_states=embeds, **kwargs).sample
        if torch.is_grad_enabled():
            self.grad_forward += inp.shape[0]
        if not self.cfg:
            return out
        uncond, cond = out.chunk(2)
        return uncond + self.guidance * (cond - uncond)

    def predict_x0(self, x, out, t):
        """The clean-latent prediction of a variance-preserving step (for schedulers that do not return one)."""
        a = float(self.template.alphas_cumprod[int(t)])
        kind = self.template.config.prediction_type
        if kind == "epsilon":
            return (x - (1 - a) ** 0.5 * out) / a ** 0.5
        if kind == "v_prediction":
            return a ** 0.5 * x - (1 - a) ** 0.5 * out
        return out

    def run(self, x, start: int, stop: int, *, want_x0: bool = False):
        """Denoise ``x`` (latents at step ``start``) through steps ``start..stop-1``.

        A fresh scheduler state starts at ``start`` (multistep solvers take a first-order step there).
        Returns the latents at ``stop``, and with ``want_x0`` also the clean-latent prediction of the last step.
        """
        self._sched = copy.deepcopy(self.template)
        if hasattr(self._sched, "set_begin_index"):
            self._sched.set_begin_index(start)
        x0 = None
        for i in range(start, stop):
            t = self.timesteps[i]
            out = self.model_output(x, t)
            result = self._sched.step(out, t, x)
            if want_x0 and i == stop - 1:
                x0 = getattr(result, "pred_original_sample", None)
                if x0 is None:
                    x0 = self.predict_x0(x, out, t)
            x = result.prev_sample
        return (x, x0) if want_x0 else x

    def renoise(self, x, from_index: int, to_index: int, noise):
        """Move latents at step ``from_index`` back to the noisier step ``to_index`` with fresh ``noise``
        (the forward process q(x_to | x_from), in the scheduler's own parametrisation)."""
        s_from, s_to = self._sigma(from_index), self._sigma(to_index)
        noise = noise.to(x.device, x.dtype)
        if self.sigma_space:
            return x + max(s_to**2 - s_from**2, 0.0) ** 0.5 * noise
        a_from, a_to = 1 / (1 + s_from**2), 1 / (1 + s_to**2)
        ratio = a_to / a_from
        return ratio ** 0.5 * x + (1 - ratio) ** 0.5 * noise

    # --- decoding ------------------------------------------------------------------------------
    def decode(self, latents):
        """Latents -> pixels (N, 3, H, W) in [0, 1], differentiable."""
        import torch

        vae = self.pipe.vae
        cfg = vae.config
        # as the pipelines do: a half-precision VAE that asks for it (SDXL's) decodes in float32, else it
        # overflows and the images come out black
        upcast = vae.dtype == torch.float16 and bool(getattr(cfg, "force_upcast", False))
        if upcast:
            vae.to(torch.float32)
        try:
            return self._decode(vae, cfg, latents.to(vae.dtype))
        finally:
            if upcast:
                vae.to(torch.float16)

    @staticmethod
    def _decode(vae, cfg, z):
        import torch

        if getattr(cfg, "latents_mean", None) is not None and getattr(cfg, "latents_std", None) is not None:
            mean = torch.tensor(cfg.latents_mean).view(1, -1, 1, 1).to(z)
            std = torch.tensor(cfg.latents_std).view(1, -1, 1, 1).to(z)
            z = z * std / cfg.scaling_factor + mean
        else:
            z = z / cfg.scaling_factor
        return (vae.decode(z).sample / 2 + 0.5).clamp(0, 1)

    @staticmethod
    def to_pil(pixels) -> list:
        """Pixels in [0, 1] -> PIL images, rounded as diffusers' image processor does."""
        from PIL import Image

        arr = (pixels.detach().float().cpu().permute(0, 2, 3, 1).numpy() * 255).round().astype("uint8")
        return [Image.fromarray(a) for a in arr]

    def sample(self, noise) -> list:
        """Noise batch -> PIL images (no gradients); equal to the pipeline call for a run over all steps."""
        import torch

        with torch.no_grad():
            return self.to_pil(self.decode(self.run(self.initial(noise), 0, self.steps)))

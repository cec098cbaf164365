"""``reno``: gradient ascent on the initial noise through the whole generation (ReNO, CARINOX).

Generation and decoding run in Limner's own loop with gradients on, the differentiable reward
(``ctx.reward``, a weighted sum of CLIP-family verifiers) is maximised by SGD with Nesterov momentum, the
gradient is clipped, and a regulariser keeps the noise's norm where Gaussian noise lives (the negative log
density of the chi-square distribution of its squared norm). Every iterate is scored (``ctx.scorer`` when
given, else the reward) and the best one is returned, with its noise saved beside it. The model is frozen
and the prompt encoded once; only the noise has a gradient.

Cost: each iterate is one generation (``steps`` forward passes, doubled under CFG); every iterate but the
last is backpropagated, which budgets charge as two more forward passes each (``nfe_charged``).
"""

from __future__ import annotations

import time

from limner.tools.generators.noise import gaussian, materialise
from limner.tools.search.base import Found, RoundResult, Strategy, best_of

# ReNO's defaults, as a starting point.
DEFAULTS = {"lr": 5.0, "momentum": 0.9, "grad_clip": 0.1, "max_iterations": 50, "reg_weight": 0.01, "steps": None}


def norm_regulariser(z):
    """Negative log density (up to a constant, per dimension) of ||z||^2 under chi-square with numel d.o.f."""
    import torch

    d = z.numel()
    r2 = (z.float() ** 2).sum()
    return (r2 / 2 - (d / 2 - 1) * torch.log(r2)) / d


def iterations_for(allowance: int, per_forward: int, max_iterations: int) -> int:
    """Iterates that fit: the first costs ``3f`` if another follows, the last costs ``f``."""
    if allowance < 4 * per_forward:
        return 0
    return min(max_iterations, 1 + (allowance - per_forward) // (3 * per_forward))


class ReNO(Strategy):
    name = "reno"
    description = "gradient ascent on the initial noise through the generation, on differentiable verifiers"
    needs_loop = True
    needs_explicit_noise = True
    needs_reward = True
    uses_scorer = True  # picks its iterates with the verifiers' score when it can
    option_names = frozenset(DEFAULTS)

    def _per_forward(self, spec, opts) -> int:
        steps = int(opts.get("steps") or spec.steps)
        return steps * (2 if spec.uses_cfg else 1)

    def min_nfe(self, spec, options=None):
        return 4 * self._per_forward(spec, {**DEFAULTS, **(options or {})})

    def unavailable(self, spec, *, has_scorer=True, has_reward=False, options=None):
        why = super().unavailable(spec, has_scorer=has_scorer, has_reward=has_reward, options=options)
        if why is None and spec.steps > 4 and options is None:
            why = (f"reno is for few-step models ({spec.alias} runs {spec.steps} steps): give "
                   "strategy_options.reno in the policy to use it anyway")
        return why

    def round(self, ctx, n, nfe_allowance, history, memo):
        import torch

        from limner.tools.generators.loop import DenoiseLoop

        start_time = time.perf_counter()
        opts = {**DEFAULTS, **ctx.options}
        f = self._per_forward(ctx.spec, opts)
        iters = iterations_for(nfe_allowance, f, int(opts["max_iterations"]))
        if iters < 2:
            return RoundResult([], 0, 0, 0, 0.0, {"iterations": 0}, memo)
        shape = ctx.generator.latent_shape()
        start = best_of(history, need_explicit=True)
        if start is not None:
            z0, origin = materialise(start["noise"], shape, ctx.base_dir), {"start": start["id"]}
        else:
            seed = ctx.seeds.take(1)[0]
            z0, origin = gaussian(seed, shape), {"start_seed": seed}
        z = z0.clone()[None].requires_grad_(True)
        opt = torch.optim.SGD([z], lr=float(opts["lr"]), momentum=float(opts["momentum"]), nesterov=True)
        loop = DenoiseLoop(ctx.generator, ctx.prompt, ctx.negative_prompt, steps=opts.get("steps"))
        trace, best, calls = [], None, 0
        try:
            for k in range(iters):
                last = k == iters - 1
                with torch.set_grad_enabled(not last):
                    pixels = loop.decode(loop.run(loop.initial(z), 0, loop.steps))
                    reward = ctx.reward(pixels)
                image = loop.to_pil(pixels)[0]
                calls += 1
                selected = float(reward[0].detach())
                if ctx.scorer is not None:
                    selected = float(ctx.scorer([image])[0])
                    calls += 1
                trace.append({"iterate": k, "reward": round(float(reward[0].detach()), 6), "score": round(selected, 6)})
                if best is None or selected > best[0]:
                    best = (selected, k, z.detach().clone()[0], image)
                if not last:
                    loss = -reward.sum() + float(opts["reg_weight"]) * norm_regulariser(z)
                    opt.zero_grad()
                    loss.backward()
                    grad_norm = float(torch.nn.utils.clip_grad_norm_([z], float(opts["grad_clip"])))
                    trace[-1]["grad_norm"] = round(grad_norm, 6)
                    opt.step()
            nfe, backward = loop.nfe, loop.grad_forward
        finally:
            loop.close()
        _, k, tensor, image = best
        found = Found(image=image, noise={"kind": "file"}, sampler="limner-loop", tensor=tensor,
                      details={"iterate": k, **origin}, settings=loop.describe())
        params = {**{k_: v for k_, v in opts.items() if k_ != "steps"}, "steps": loop.steps, "iterations": iters,
                  "best_iterate": k, "trace": trace, **origin}
        return RoundResult([found], nfe, nfe + 2 * backward, calls, time.perf_counter() - start_time, params, memo)

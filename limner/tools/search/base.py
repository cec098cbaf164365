"""What every search strategy takes and returns.

A strategy runs one *round*: given the candidates scored so far (``history``: JSON dicts with ``id``,
``noise``, ``score``), its own notes from earlier rounds (``memo``, JSON) and an NFE allowance, it makes
new candidates and says exactly what they cost. Scoring the returned candidates is the caller's job (the
agent's verify step, or ``limner.tools.search.search``); strategies that need scores *inside* a round (paths,
reno) use ``ctx.scorer`` / ``ctx.reward`` and count those calls. After scoring, the caller sets
``memo["last_ids"]`` to the ids it gave the round's candidates, so the next round knows which were its own.

NFE: ``nfe`` counts denoiser forward passes per sample (classifier-free guidance counts twice), measured
by a hook on the denoiser. ``nfe_charged`` is what budgets are charged: the same, plus two forward
passes' worth for every forward pass that is backpropagated (reno), since a backward pass costs about
twice a forward one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from limner.tools.generators.noise import derive_seed

Scorer = Callable[[list], list[float]]  # PIL images -> scores in [0, 1], higher is better


@dataclass
class SeedSource:
    """Fresh seeds for a run: the ``i``-th seed drawn is ``derive_seed(base, i)``."""

    base: int
    cursor: int = 0

    def take(self, k: int) -> list[int]:
        seeds = [derive_seed(self.base, self.cursor + i) for i in range(k)]
        self.cursor += k
        return seeds


@dataclass
class SearchContext:
    generator: object  # limner.tools.generators.diffusers_backend.DiffusersGenerator
    prompt: str
    seeds: SeedSource
    negative_prompt: str = ""
    scorer: Scorer | None = None  # scores inside a round (paths' checkpoints, reno's iterates)
    reward: Callable | None = None  # differentiable: pixels (N, 3, H, W) in [0, 1] -> (N,) higher is better
    base_dir: Path | None = None  # where file noises in the history are relative to
    options: dict = field(default_factory=dict)  # strategy options (the policy's strategy_options[name])
    population: int = 1  # how many of the best candidates so far a local search may start from
    on_step: Callable[[int, int], None] | None = None
    saved: Callable[[int], bool] | None = None  # candidate i of this round is already on disk (a killed run made it)

    @property
    def spec(self):
        return self.generator.spec


@dataclass
class Found:
    """One candidate a round made."""

    image: object  # PIL
    noise: dict  # its noise spec (limner.tools.generators.noise), or a path spec for paths
    sampler: str = "pipeline"  # "pipeline": one pipeline call; "limner-loop": limner.tools.generators.loop
    details: dict = field(default_factory=dict)  # parent ids, iterate number, tree node, ...
    tensor: object | None = None  # noise to save beside the candidate (reno); the caller fills noise["path"]
    batch: list[dict] | None = None  # the noise specs of the pipeline call it was made in (bit-exact replay)
    settings: dict = field(default_factory=dict)  # sampler settings that differ from the model's (steps, ...)


@dataclass
class RoundResult:
    found: list[Found | None]  # None: candidate i was already saved (``ctx.saved(i)``), so it was not made again
    nfe: int  # denoiser forward passes run (per sample, CFG counts twice)
    nfe_charged: int  # what the budget is charged (backpropagated passes count three times in all)
    verifier_calls: int  # images scored inside the round
    seconds: float
    params: dict  # what the strategy did, for the manifest
    memo: dict  # the strategy's notes for its next round (JSON)
    oom: dict | None = None  # {"lost_nfe", "batch"}: a pipeline call ran out of memory and was split (counted in nfe)


class Strategy:
    """Base class. Subclasses set ``name``/``description`` and implement ``round`` and ``min_nfe``."""

    name = ""
    description = ""
    needs_explicit_noise = False  # the model must take explicit initial latents
    needs_loop = False  # needs Limner's denoising loop (UNet pipelines)
    needs_scorer = False
    uses_scorer = False  # scores inside a round when ``ctx.scorer`` is given (needs_scorer: it must be)
    needs_reward = False  # needs a differentiable verifier
    option_names: frozenset[str] = frozenset()  # options a policy may set (strategy_options)

    def unavailable(self, spec, *, has_scorer: bool = True, has_reward: bool = False,
                    options: dict | None = None) -> str | None:
        """Why this strategy cannot run here, or None (``options``: the policy's, None when it gives none)."""
        if self.needs_loop and spec.caps.lacks("loop"):
            return f"{self.name}: {spec.caps.lacks('loop')}"
        if self.needs_explicit_noise and spec.caps.lacks("explicit_noise"):
            return f"{self.name}: {spec.caps.lacks('explicit_noise')}"
        if self.needs_scorer and not has_scorer:
            return f"{self.name} needs a verifier that runs without an LLM"
        if self.needs_reward and not has_reward:
            return f"{self.name} needs a differentiable verifier (clipscore, shapes-clip, pickscore, hpsv2, aesthetic)"
        return None

    def min_nfe(self, spec, options: dict | None = None) -> int:
        """The smallest allowance one round can use."""
        return spec.nfe_per_candidate()

    def round(self, ctx: SearchContext, n: int, nfe_allowance: int, history: list[dict], memo: dict) -> RoundResult:
        raise NotImplementedError


def explicit(entry: dict) -> bool:
    """Whether a candidate's noise can seed noise search (a pivot or a start for gradients)."""
    return entry.get("noise", {}).get("kind") in {"gaussian", "neighbour", "file"} and \
        entry.get("sampler", "pipeline") in {"pipeline", "limner-loop"}


def best_of(history: list[dict], ids: set[str] | None = None, *, need_explicit: bool = False) -> dict | None:
    """The best-scoring entry (earliest on ties), optionally among ``ids`` and with explicit noise."""
    pool = [h for h in history if (ids is None or h["id"] in ids) and (not need_explicit or explicit(h))
            and h.get("score") is not None]
    if not pool:
        return None
    return max(enumerate(pool), key=lambda kv: (kv[1]["score"], -kv[0]))[1]

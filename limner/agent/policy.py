"""Policies: YAML files that say how hard to try, which verifiers judge, and which actions are allowed."""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from limner import policies as shipped
from limner.agent.errors import UsageError


class Budgets(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nfe: int = Field(default=2000, ge=1, description="denoiser forward passes (per sample, CFG counts twice)")
    llm_calls: int = Field(default=10, ge=0)
    seconds: float = Field(default=900.0, gt=0)


class VerifierRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    weight: float = Field(default=1.0, gt=0)
    options: dict = Field(default_factory=dict)


class GenerationOverrides(BaseModel):
    model_config = ConfigDict(extra="forbid")
    steps: int | None = Field(default=None, ge=1, le=1000)
    guidance: float | None = Field(default=None, ge=0)
    width: int | None = Field(default=None, ge=8, le=4096, multiple_of=8)
    height: int | None = Field(default=None, ge=8, le=4096, multiple_of=8)


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    planner: Literal["auto", "rules", "llm"] = "auto"
    threshold: float = Field(default=0.8, ge=0.0, le=1.0)
    max_rounds: int = Field(default=4, ge=1, le=1000)
    candidates_per_round: int = Field(default=4, ge=1, le=64)
    budgets: Budgets = Field(default_factory=Budgets)
    verifiers: list[VerifierRef] = Field(default_factory=lambda: [VerifierRef(name="clipscore")], min_length=1)
    ensemble: Literal["mean", "rank"] = Field(
        default="mean", description="how the best candidate is chosen: weighted mean of calibrated scores, or "
        "weighted mean of ranks among all candidates so far (Ma et al.); the threshold always uses the mean")
    actions: list[str] = Field(default_factory=lambda: ["replan", "random"], min_length=1, description=(
        "allowed actions in the order they are considered: repair, layout, variation, replan and the search "
        "strategies (random, zero_order, paths, reno); the first usable strategy runs, and the next after a round without progress"))
    strategy_options: dict[str, dict] = Field(default_factory=dict, description=(
        "options per strategy, e.g. {zero_order: {lambda: 0.6}, paths: {branches: 2, checkpoints: [0.5], "
        "backtrack: 2}, reno: {lr: 5, max_iterations: 10, steps: 4}}; giving reno options also allows reno on "
        "models with more than 4 steps"))
    layout: bool | Literal["auto"] = Field(default=False, description=(
        "generate every round from the plan's layout: grounded on models trained to take boxes (GLIGEN), else "
        "region by region (regional attention on SD-family UNets; other pipelines fall back to the prompt alone "
        "and say so); `auto`: only on grounded models, which honour it; the `layout` action does it for one round"))
    layout_mode: Literal["auto", "grounded", "regional"] = Field(default="auto", description=(
        "how a round is made from the layout: `auto` grounded where the model takes boxes, else regional "
        "attention; `regional` regional attention even on a grounded model (to compare); `grounded` only "
        "grounded (elsewhere the round falls back to the prompt and says why)"))

    def layout_every_round(self, caps) -> bool:
        """Whether every round of a model with these capabilities is generated from the plan's layout."""
        return self.layout is True or (self.layout == "auto" and caps.grounded)
    population: int = Field(default=3, ge=1, le=64, description=(
        "the best k candidates so far (of the current plan) a repair may start from, the best first: a "
        "candidate whose failures were tried twice gives way to the next; a zero-order round shares its "
        "neighbours between the best k noises"))
    max_repairs: int = Field(default=4, ge=0, description="most rounds of the `repair` action (inpainting a failing region)")
    variation_strength: float = Field(default=0.6, gt=0.0, le=1.0, description=(
        "how far the `variation` action re-noises the best candidate (img2img strength)"))
    recolor_strength: float = Field(default=0.7, gt=0.0, le=1.0, description=(
        "inpainting strength of a repair that only changes an object's colour (it keeps some of the object, so "
        "its shape survives; `python -m limner.bench.repairs` measured 0.7 best for inpainting alone, 0.71 of "
        "48 right against 0.42 at full strength) on a model that cannot be told the box"))
    grounded_recolor_strength: float = Field(default=1.0, gt=0.0, le=1.0, description=(
        "the same, on a model told the box (GLIGEN's inputs): `python -m limner.bench.repairs` measured 0.92 of "
        "48 right at full strength against 0.85 at 0.7; in chat sessions, 0.7 left the old colour showing "
        "(recolours right 9 of 30 in `limner bench sessions`)"))
    edit_retries: int = Field(default=0, ge=0, le=8, description=(
        "in a chat: rounds the agent adds on its own, the person's edit again with fresh seeds, when the edit's "
        "best image fails its checks, before it shows the result and asks (0: ask at once)"))
    rates: str = Field(default="auto", description=(
        "measured pass rates per action and failure kind that size rounds and choose among actions: `auto` the "
        "table shipped for the model (limner/policies/rates/<model>.json, made by `limner bench agent --write-rates`), "
        "`none` (full rounds, the policy's order), or a path to a table"))
    round_confidence: float = Field(default=0.9, gt=0.0, lt=1.0, description=(
        "with known rates, a round has the fewest candidates of which at least one passes with this probability "
        "(never more than candidates_per_round)"))
    replan_after: int = Field(default=2, ge=1, description="rounds without improvement before a re-plan")
    max_replans: int = Field(default=2, ge=0)
    generation: GenerationOverrides = Field(default_factory=GenerationOverrides)

    @model_validator(mode="after")
    def _known_names(self) -> "Policy":
        from limner.agent._graph.actions import ACTIONS
        from limner.tools.search import STRATEGIES
        from limner.tools.verifiers import VERIFIERS

        for ref in self.verifiers:
            if ref.name not in VERIFIERS:
                raise ValueError(f"unknown verifier '{ref.name}' (known: {', '.join(VERIFIERS)})")
        for action in self.actions:
            if action not in ACTIONS:
                raise ValueError(f"unknown action '{action}' (known: {', '.join(ACTIONS)})")
        for name, options in self.strategy_options.items():
            if name not in STRATEGIES:
                raise ValueError(f"strategy_options names unknown strategy '{name}' (known: {', '.join(STRATEGIES)})")
            unknown = sorted(set(options) - STRATEGIES[name].option_names)
            if unknown:
                known = ", ".join(sorted(STRATEGIES[name].option_names)) or "none"
                raise ValueError(f"strategy_options.{name}: unknown option '{unknown[0]}' (known: {known})")
        return self

    def recursion_limit(self) -> int:
        """Graph steps one stretch of a run may take: intake, plan, its review, finish, and at most 6 nodes a round
        (re-plan, plan review, generate, verify, review, decide), with slack. A chat's every answer starts a new
        stretch."""
        return 8 + 6 * (self.max_rounds + 1)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "policy"
    return f"{where}: {err['msg']}"


@lru_cache(maxsize=32)
def _parse_yaml(text: str):
    """Parsed once per process and text (a batch or a server loads the same policy for every run)."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def load_policy(name_or_path: str) -> Policy:
    """A shipped policy by name, or a YAML file by path. Raises ``UsageError`` with one line."""
    text = shipped.read(name_or_path) if "/" not in name_or_path and not name_or_path.endswith((".yaml", ".yml")) else None
    source = f"policy '{name_or_path}'"
    if text is None:
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise UsageError(
                f"no policy '{name_or_path}': use a shipped one ({', '.join(shipped.names())}) or a YAML file path"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read policy file {path}: {exc}") from None
        source = f"policy file {path}"
    try:
        data = copy.deepcopy(_parse_yaml(text))
    except yaml.YAMLError as exc:
        raise UsageError(f"{source} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{source} must be a YAML mapping of settings")
    data.setdefault("name", Path(name_or_path).stem)
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"{source} is invalid: {_first_error(exc)}") from None

"""What a run holds and what it decides, kept apart: ``Toolbox`` holds the live objects its nodes use (generator,
verifiers, planner, LLM client, store); ``Policy`` decides (budgets, thresholds, the actions' order). The graph's
runtime context ``RunContext`` carries the two side by side, and every node is handed both, separately.

Built from the state's JSON (brief, policy, model), so a resumed run rebuilds exactly the tools it started with.
Nothing here goes into the state.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from limner.agent.config import Settings
from limner.agent.policy import Policy
from limner.agent._run.store import RunStore
from limner.tools.generators import ModelSpec
from limner.tools.verifiers import VERIFIERS


@dataclass(frozen=True)
class RunContext:
    """LangGraph's runtime context for one run: its tools and its policy (``graph.stream(..., context=...)``)."""

    tools: "Toolbox"
    policy: Policy

    @classmethod
    def of(cls, state: dict, settings: Settings, cancel=None) -> "RunContext":
        """``cancel``: a function that says whether the run was asked to stop (checked at every denoising step
        and node)."""
        policy = Policy.model_validate(state["policy"])
        return cls(Toolbox(state, settings, verifiers=policy.verifiers, rates=policy.rates, cancel=cancel), policy)


class Toolbox:
    """The objects a run holds: its model (``spec``, ``generator``), its verifiers (``refs``: the policy's list, fixed
    when the run started), the table of measured pass rates the policy named, its planner and LLM client, and its
    store. Decisions are not made here."""

    def __init__(self, state: dict, settings: Settings, verifiers: list, rates: str = "none", cancel=None):
        self.settings = settings
        self._cancel = cancel
        self.refs = list(verifiers)
        self._rates_setting = rates
        self.spec = ModelSpec(**state["model"])
        self.planner_kind = state["planner_kind"]
        self.store = RunStore(Path(state["run_dir"]))
        self.run_id = state["run_id"]
        self._brief_prompt: str = state["brief"]["prompt"]
        self._generator = self._verifiers = self._planner = self._llm = None

    def check_cancel(self, where: str) -> None:
        """Raise ``Cancelled`` if the run was asked to stop; ``where`` says at what point (for the stop reason)."""
        if self._cancel is not None and self._cancel():
            from limner.agent.errors import Cancelled

            raise Cancelled(f"cancelled {where}")

    def goal(self, plan: dict | None) -> str:
        """What the image should show: the plan's prompt (a person may change it in a chat), else the brief's."""
        return (plan or {}).get("prompt") or self._brief_prompt

    @property
    def llm(self):
        if self._llm is None and self.settings.llm_configured:
            from limner.agent.llm import home_client

            self._llm = home_client(self.settings, run_id=self.run_id)
        return self._llm

    @contextmanager
    def llm_session(self, allowance: int):
        """Lend the LLM client with ``allowance`` calls left (the policy's budget less what was spent); yields the
        calls it made."""
        llm = self.llm
        used = {"calls": 0}
        if llm is None:
            yield used
            return
        llm.allowance = allowance
        llm.calls = 0
        try:
            yield used
        finally:
            used["calls"] = llm.calls

    @property
    def where(self):
        """Where this run's verifiers run: the model's world, whether the exact parser can read its images (the
        embedded shapes model draws them), whether an LLM endpoint is configured."""
        from limner.tools.verifiers import Where

        return Where.of(self.spec, llm=self.settings.llm_configured)

    def prepared(self, ref):
        """How verifier ``ref`` is set up in this run (its declaration's answer: ``Declared.prepare``)."""
        return VERIFIERS[ref.name].prepare(ref.options, self.where)

    def llm_calls_per_candidate(self, plan: dict | None) -> int:
        """LLM calls scoring one candidate under ``plan`` takes, as the verifiers declare them."""
        n_checks = len((plan or {}).get("checks", []))
        return sum(self.prepared(ref).llm_calls(n_checks) for ref in self.refs)

    @cached_property
    def rates(self):
        """The measured pass rates the decide step reads (``_graph.rates``), or None (the policy's order)."""
        from limner.agent._graph.rates import rates_for

        return rates_for(self._rates_setting, self.spec.alias)

    @property
    def generator(self):
        if self._generator is None:
            from limner.tools.generators.diffusers_backend import DiffusersGenerator, configure_cache

            if self.settings.offload:
                configure_cache(max_models=None, offload=self.settings.offload, keep_limit=True)

            self._generator = DiffusersGenerator(self.spec, device=self.settings.device, dtype=self.settings.dtype)
        return self._generator

    def _made(self) -> list:
        """``[(VerifierRef, verifier or None), ...]``: verifiers that need no plan, made once per run (their
        weights once per process); ``None`` for those that ask about a plan, made per call by ``verifiers``."""
        if self._verifiers is None:
            from limner.tools.verifiers import make_verifier

            made = []
            for ref in self.refs:
                options = self.prepared(ref).options
                if options is None:  # nothing can run it here (see notices())
                    continue
                made.append((ref, None if VERIFIERS[ref.name].needs_plan
                             else make_verifier(ref.name, llm=self.llm, **options)))
            self._verifiers = made
        return self._verifiers

    def verifiers(self, plan: dict | None) -> list:
        """``[(VerifierRef, verifier), ...]`` in the policy's order; those that ask about a plan ask about ``plan``
        (it travels as an argument: nothing is kept between nodes)."""
        from limner.tools.verifiers import make_verifier

        return [(ref, v if v is not None else make_verifier(ref.name, llm=self.llm, plan_fn=lambda _prompt: plan,
                                                            **self.prepared(ref).options))
                for ref, v in self._made()]

    @property
    def planner(self):
        if self._planner is None:
            from limner.agent.planners import make_planner

            self._planner = make_planner(self.planner_kind, llm=self.llm, target=self.spec)
        return self._planner

    def notices(self) -> list[str]:
        """Plain warnings for the user, e.g. when a stand-in with random weights is in use."""
        out = []
        if self.spec.source == "builtin:tiny-random-sd":
            out.append("model tiny-random-sd has random weights (the offline stand-in): its images are noise-like; "
                       "use --model for a real model")
        out += [p.notice for p in map(self.prepared, self.refs) if p.notice]
        return out

    def plan_notice(self, plan: dict) -> str | None:
        """A warning when the plan asks the embedded shapes model for what it cannot draw, or None."""
        from limner.agent.planners.preview import outside_notice

        return outside_notice(plan, self.spec)

    # --- search -------------------------------------------------------------------------------------
    def strategy_unavailable(self, name: str, options: dict | None = None) -> str | None:
        """Why the strategy (with the policy's ``options`` for it) cannot run with this run's model and verifiers."""
        from limner.tools.search import STRATEGIES

        return STRATEGIES[name].unavailable(self.spec, has_scorer=bool(self._scoring(None)),
                                            has_reward=bool(self._rewarding(None)),
                                            options=options)

    def _scoring(self, plan: dict | None) -> list:
        """The verifiers a search round may call: those whose scores call no LLM."""
        return [(ref, v) for ref, v in self.verifiers(plan) if not self.prepared(ref).uses_llm]

    def _rewarding(self, plan: dict | None) -> list:
        return [(ref, v) for ref, v in self.verifiers(plan)
                if VERIFIERS[ref.name].differentiable and hasattr(v, "reward")]

    def search_scorer(self, plan: dict | None):
        """Scores images inside a search round: the weighted mean of the policy's verifiers that need no LLM."""
        chosen = self._scoring(plan)
        if not chosen:
            return None
        total = sum(ref.weight for ref, _ in chosen)
        goal = self.goal(plan)

        def score(images: list) -> list[float]:
            prompts = [goal] * len(images)
            sums = [0.0] * len(images)
            for ref, v in chosen:
                for i, s in enumerate(v.score(images, prompts)):
                    sums[i] += ref.weight * s.score
            return [x / total for x in sums]

        return score

    def search_reward(self, plan: dict | None):
        """A differentiable reward (pixels -> (N,)): the weighted mean of the policy's CLIP-family verifiers,
        calibrated but not clamped (clamping would stop the gradient)."""
        chosen = self._rewarding(plan)
        if not chosen:
            return None
        total = sum(ref.weight for ref, _ in chosen)
        goal = self.goal(plan)

        def reward(pixels):
            prompts = [goal] * pixels.shape[0]
            return sum(ref.weight * v.reward(pixels, prompts) for ref, v in chosen) / total

        return reward

    def rules_planner(self):
        from limner.agent.planners import make_planner

        return make_planner("rules")

"""The live objects a run's nodes use (generator, verifiers, planner, LLM client, store).

Built from the state's JSON (brief, policy, model), so a resumed run rebuilds
exactly the tools it started with. Nothing here goes into the state.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from limner.agent.config import Settings
from limner.agent.policy import Policy
from limner.agent._run.store import RunStore
from limner.tools.generators import ModelSpec
from limner.tools.verifiers import VERIFIERS


class Toolbox:
    def __init__(self, state: dict, settings: Settings):
        self.settings = settings
        self.policy = Policy.model_validate(state["policy"])
        self.spec = ModelSpec(**state["model"])
        self.planner_kind = state["planner_kind"]
        self.store = RunStore(Path(state["run_dir"]))
        self.run_id = state["run_id"]
        self._brief_prompt: str = state["brief"]["prompt"]
        self._generator = self._verifiers = self._planner = self._llm = None

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
    def llm_session(self, state: dict):
        """Lend the LLM client with the run's remaining call allowance; yields the calls it made."""
        llm = self.llm
        used = {"calls": 0}
        if llm is None:
            yield used
            return
        llm.allowance = self.policy.budgets.llm_calls - state["spent"]["llm_calls"]
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
        return sum(self.prepared(ref).llm_calls(n_checks) for ref in self.policy.verifiers)

    @property
    def rates(self):
        """The measured pass rates the decide step reads (``_graph.rates``), or None (the policy's order)."""
        if not hasattr(self, "_rates"):
            from limner.agent._graph.rates import rates_for

            self._rates = rates_for(self.policy.rates, self.spec.alias)
        return self._rates

    @property
    def generator(self):
        if self._generator is None:
            from limner.tools.generators.diffusers_backend import DiffusersGenerator

            self._generator = DiffusersGenerator(self.spec, device=self.settings.device, dtype=self.settings.dtype)
        return self._generator

    def _made(self) -> list:
        """``[(VerifierRef, verifier or None), ...]``: verifiers that need no plan, made once per run (their
        weights once per process); ``None`` for those that ask about a plan, made per call by ``verifiers``."""
        if self._verifiers is None:
            from limner.tools.verifiers import make_verifier

            made = []
            for ref in self.policy.verifiers:
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
        out += [p.notice for p in map(self.prepared, self.policy.verifiers) if p.notice]
        return out

    def plan_notice(self, plan: dict) -> str | None:
        """A warning when the plan asks the embedded shapes model for what it cannot draw, or None."""
        from limner.agent.planners.preview import outside_notice

        return outside_notice(plan, self.spec)

    # --- search -------------------------------------------------------------------------------------
    def strategy_unavailable(self, name: str) -> str | None:
        """Why the strategy cannot run in this run, or None."""
        from limner.tools.search import STRATEGIES

        return STRATEGIES[name].unavailable(self.spec, has_scorer=bool(self._scoring(None)),
                                            has_reward=bool(self._rewarding(None)),
                                            options=self.policy.strategy_options.get(name))

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

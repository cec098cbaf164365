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
from limner.tools._home import limner_home
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
        self.images: dict[str, object] = {}  # candidate id -> PIL image made in this process
        self.current_plan: dict | None = state.get("plan")  # what question-based verifiers ask about
        self._brief_prompt: str = state["brief"]["prompt"]
        self._generator = self._verifiers = self._planner = self._llm = None

    @property
    def brief_prompt(self) -> str:
        """What the image should show: the current plan's prompt (a person may change it in a chat), else the brief's."""
        return (self.current_plan or {}).get("prompt") or self._brief_prompt

    @property
    def llm(self):
        if self._llm is None and self.settings.llm_configured:
            from limner.agent.llm import LLMClient
            from limner.agent.llm.log import CallLog

            self._llm = LLMClient(self.settings, log=CallLog(limner_home() / "logs.sqlite"), run_id=self.run_id)
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

    def llm_calls_per_candidate(self, plan: dict | None) -> int:
        """LLM calls scoring one candidate under ``plan`` takes: one per VLM judgement; for a VLM answering
        the plan's checks, one per candidate (batched) or one per check (``mode: per_question``)."""
        calls = 0
        n_checks = len((plan or {}).get("checks", [])) or 1
        for ref in self.policy.verifiers:
            if VERIFIERS[ref.name].needs_llm:
                calls += 1
            elif ref.name == "questions" and self._question_answerer(ref) == "vlm":
                calls += 1 if ref.options.get("mode", "batched") == "batched" else n_checks
        return calls

    def _question_answerer(self, ref) -> str | None:
        """``auto``: the exact parser for the shapes world, a VLM when an endpoint is configured, else none."""
        answerer = ref.options.get("answerer", "auto")
        if answerer != "auto":
            return answerer
        if self.spec.source == "builtin:shapes-tiny":
            return "parser"
        return "vlm" if self.settings.llm_configured else None

    @property
    def generator(self):
        if self._generator is None:
            from limner.tools.generators.diffusers_backend import DiffusersGenerator

            self._generator = DiffusersGenerator(self.spec, device=self.settings.device, dtype=self.settings.dtype)
        return self._generator

    @property
    def verifiers(self) -> list:
        """``[(VerifierRef, verifier), ...]`` in the policy's order."""
        if self._verifiers is None:
            from limner.tools.verifiers import make_verifier

            made = []
            for ref in self.policy.verifiers:
                options = dict(ref.options)
                if ref.name == "clipscore" and not options.get("model"):  # a real CLIP for real images
                    from limner.tools.verifiers.requirements import default_clip_model, world_of

                    options["model"] = default_clip_model(world_of(self.spec.source))
                if ref.name == "questions":
                    options["answerer"] = self._question_answerer(ref)
                    if options["answerer"] is None:
                        continue  # nothing can answer questions about these images (see notices())
                if VERIFIERS[ref.name].needs_plan:  # ask about the run's current plan, not a fresh one
                    options["plan_fn"] = lambda prompt: self.current_plan
                made.append((ref, make_verifier(ref.name, llm=self.llm, **options)))
            self._verifiers = made
        return self._verifiers

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
        shapes_world = self.spec.source == "builtin:shapes-tiny"
        for ref in self.policy.verifiers:
            if ref.name == "questions" and self._question_answerer(ref) is None:
                out.append("the questions verifier is skipped: outside the shapes world it needs a VLM to answer "
                           "(set LIMNER_LLM_BASE_URL)")
            if ref.name == "clipscore" and not ref.options.get("model") and not shapes_world:
                from limner.tools.verifiers.clipscore import BUILTIN_SHAPES, default_clip_model
                from limner.tools.verifiers.requirements import world_of

                if default_clip_model(world_of(self.spec.source)) == BUILTIN_SHAPES:
                    out.append("clipscore uses shapes-clip, which knows only the shapes world: set "
                               "LIMNER_CLIP_MODEL (e.g. openai/clip-vit-large-patch14) to judge real images")
        return out

    # --- search -------------------------------------------------------------------------------------
    def strategy_unavailable(self, name: str) -> str | None:
        """Why the strategy cannot run in this run, or None."""
        from limner.tools.search import STRATEGIES

        why = STRATEGIES[name].unavailable(self.spec, has_scorer=self.search_scorer is not None,
                                           has_reward=self.search_reward is not None)
        if why is None and name == "reno" and self.spec.steps > 4 and "reno" not in self.policy.strategy_options:
            why = (f"reno is for few-step models ({self.spec.alias} runs {self.spec.steps} steps): give "
                   "strategy_options.reno in the policy to use it anyway")
        return why

    def _weighted(self, names_ok) -> list:
        return [(ref, v) for ref, v in self.verifiers if names_ok(ref, v)]

    @property
    def search_scorer(self):
        """Scores images inside a search round: the weighted mean of the policy's verifiers that need no LLM."""
        chosen = self._weighted(lambda ref, v: not VERIFIERS[ref.name].needs_llm and not (
            ref.name == "questions" and self._question_answerer(ref) == "vlm"))
        if not chosen:
            return None
        total = sum(ref.weight for ref, _ in chosen)

        def score(images: list) -> list[float]:
            prompts = [self.brief_prompt] * len(images)
            sums = [0.0] * len(images)
            for ref, v in chosen:
                for i, s in enumerate(v.score(images, prompts)):
                    sums[i] += ref.weight * s.score
            return [x / total for x in sums]

        return score

    @property
    def search_reward(self):
        """A differentiable reward (pixels -> (N,)): the weighted mean of the policy's CLIP-family verifiers,
        calibrated but not clamped (clamping would stop the gradient)."""
        chosen = self._weighted(lambda ref, v: getattr(v, "differentiable", False) and hasattr(v, "reward"))
        if not chosen:
            return None
        total = sum(ref.weight for ref, _ in chosen)

        def reward(pixels):
            prompts = [self.brief_prompt] * pixels.shape[0]
            return sum(ref.weight * v.reward(pixels, prompts) for ref, v in chosen) / total

        return reward

    def rules_planner(self):
        from limner.agent.planners import make_planner

        return make_planner("rules")

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
        self._brief_prompt: str = state["brief"]["prompt"]
        self._generator = self._verifiers = self._planner = self._llm = None

    def goal(self, plan: dict | None) -> str:
        """What the image should show: the plan's prompt (a person may change it in a chat), else the brief's."""
        return (plan or {}).get("prompt") or self._brief_prompt

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

    def _options(self, ref) -> dict | None:
        """The options a verifier is made with here (None: nothing can run it, see ``notices``)."""
        options = dict(ref.options)
        if ref.name == "clipscore" and not options.get("model"):  # a real CLIP for real images
            from limner.tools.verifiers.requirements import default_clip_model, world_of

            options["model"] = default_clip_model(world_of(self.spec.source))
        if ref.name == "questions":
            options["answerer"] = self._question_answerer(ref)
            if options["answerer"] is None:
                return None  # nothing can answer questions about these images (see notices())
        return options

    def _made(self) -> list:
        """``[(VerifierRef, verifier or None), ...]``: verifiers that need no plan, made once per run (their
        weights once per process); ``None`` for those that ask about a plan, made per call by ``verifiers``."""
        if self._verifiers is None:
            from limner.tools.verifiers import make_verifier

            made = []
            for ref in self.policy.verifiers:
                options = self._options(ref)
                if options is None:
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
                                                            **self._options(ref)))
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

        why = STRATEGIES[name].unavailable(self.spec, has_scorer=bool(self._scoring(None)),
                                           has_reward=bool(self._rewarding(None)))
        if why is None and name == "reno" and self.spec.steps > 4 and "reno" not in self.policy.strategy_options:
            why = (f"reno is for few-step models ({self.spec.alias} runs {self.spec.steps} steps): give "
                   "strategy_options.reno in the policy to use it anyway")
        return why

    def _scoring(self, plan: dict | None) -> list:
        """The verifiers a search round may call: those that need no LLM."""
        return [(ref, v) for ref, v in self.verifiers(plan) if not VERIFIERS[ref.name].needs_llm and not (
            ref.name == "questions" and self._question_answerer(ref) == "vlm")]

    def _rewarding(self, plan: dict | None) -> list:
        return [(ref, v) for ref, v in self.verifiers(plan) if getattr(v, "differentiable", False) and hasattr(v, "reward")]

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

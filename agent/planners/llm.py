"""The LLM planner: asks an OpenAI-compatible model for a ``PlanDraft`` (validated) and wraps it in a ``Plan``."""

from __future__ import annotations

import prompts
from agent.plan import Plan, PlanDraft


class LLMPlanner:
    def __init__(self, llm):
        if llm is None:
            raise ValueError("the llm planner needs an LLM endpoint: set LIMNER_LLM_BASE_URL and LIMNER_LLM_MODEL")
        self.llm = llm
        self.name = f"llm:{llm.model}"

    def _ask(self, user: str, purpose: str) -> PlanDraft:
        messages = [
            {"role": "system", "content": prompts.load("plan_system")},
            {"role": "user", "content": user},
        ]
        return self.llm.structured(messages, PlanDraft, purpose=purpose)

    def plan(self, prompt: str) -> Plan:
        draft = self._ask(prompts.render("plan_user", prompt=prompt), "plan")
        return Plan(prompt=prompt, planner=self.name, version=1, **draft.model_dump())

    def replan(self, previous: Plan, critique: str) -> Plan:
        user = prompts.render(
            "replan_user", prompt=previous.prompt, version=previous.version,
            previous_plan=PlanDraft(**previous.model_dump(include=set(PlanDraft.model_fields))).model_dump_json(indent=1),
            critique=critique,
        )
        draft = self._ask(user, "replan")
        return Plan(prompt=previous.prompt, planner=self.name, version=previous.version + 1, **draft.model_dump())

    def revise(self, previous: Plan, request: str) -> Plan:
        """A person's change to the plan, in their words."""
        user = prompts.render(
            "revise_user", prompt=previous.prompt, request=request,
            previous_plan=PlanDraft(**previous.model_dump(include=set(PlanDraft.model_fields))).model_dump_json(indent=1),
        )
        draft = self._ask(user, "revise")
        return Plan(prompt=f"{previous.prompt} ({request})", planner=self.name, version=previous.version + 1,
                    **draft.model_dump())

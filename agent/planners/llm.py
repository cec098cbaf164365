"""The LLM planner: asks an OpenAI-compatible model for a ``PlanDraft`` (validated) and wraps it in a ``Plan``.

It is told the target model's family and limits (prompt length, prompt style, negative prompts), and a
re-plan sees the critique of the best image and every earlier plan's prompt and score, and must not repeat one.
"""

from __future__ import annotations

from limner import prompts
from limner.agent.plan import Plan, PlanDraft

_STYLE = {
    "clip": "a CLIP-encoded model: a short, keyword-dense prompt with the subject first works best",
    "natural": "a T5-encoded model: long, natural-language sentences that spell out every object, count, colour "
               "and position work best",
}


def target_text(spec) -> str:
    """What the planner is told about the model that will draw the plan."""
    if spec is None:
        return "a text-to-image diffusion model (unknown family): keep the prompt under 77 tokens"
    caps = spec.caps
    words = int(spec.max_text_tokens * 0.7)  # tokens per English word: about 1.3
    negative = ("it takes a negative prompt" if caps.negative_prompt and spec.uses_cfg
                else "it ignores negative prompts (leave negative_prompt empty; say what you want instead)")
    return (f"{caps.label} ({spec.alias}): {_STYLE[caps.prompt_style]}; the text encoder reads at most "
            f"{spec.max_text_tokens} tokens (about {words} words), the rest is cut off; {negative}")


class LLMPlanner:
    def __init__(self, llm, target=None):
        if llm is None:
            raise ValueError("the llm planner needs an LLM endpoint: set LIMNER_LLM_BASE_URL and LIMNER_LLM_MODEL")
        self.llm = llm
        self.target = target
        self.name = f"llm:{llm.model}"

    def _messages(self, user: str) -> list[dict]:
        return [{"role": "system", "content": prompts.load("plan_system")}, {"role": "user", "content": user}]

    def _ask(self, user: str, purpose: str) -> PlanDraft:
        return self.llm.structured(self._messages(user), PlanDraft, purpose=purpose)

    def plan(self, prompt: str) -> Plan:
        draft = self._ask(prompts.render("plan_user", prompt=prompt, target=target_text(self.target)), "plan")
        return Plan(prompt=prompt, planner=self.name, version=1, **draft.model_dump())

    def replan(self, previous: Plan, critique: str, history: list[dict] | None = None) -> Plan:
        history = history or [{"version": previous.version, "rewritten_prompt": previous.rewritten_prompt}]
        earlier = {h["rewritten_prompt"].strip().lower() for h in history}
        listing = "\n".join(f"- version {h['version']}: \"{h['rewritten_prompt']}\""
                             + (f" (best score {h['best_score']:.3f})" if h.get("best_score") is not None else "")
                             for h in history)
        user = prompts.render(
            "replan_user", prompt=previous.prompt, version=previous.version, target=target_text(self.target),
            previous_plan=PlanDraft(**previous.model_dump(include=set(PlanDraft.model_fields))).model_dump_json(indent=1),
            critique=critique, history=listing,
        )
        draft = self._ask(user, "replan")
        if draft.rewritten_prompt.strip().lower() in earlier and self.llm.can_call():
            from limner.agent.errors import LLMError

            again = user + ("\n\nYour rewritten_prompt repeats an earlier one word for word. Write a different one.")
            try:
                draft = self._ask(again, "replan:repeat")
            except LLMError:
                pass  # the first answer stands: a repeated prompt with fresh noise is still a round
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

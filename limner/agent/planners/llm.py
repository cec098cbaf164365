"""The LLM planner: asks an OpenAI-compatible model for a ``PlanDraft`` (validated) and wraps it in a ``Plan``.

It is told the target model's family and limits (prompt length, prompt style, negative prompts), and a
re-plan sees the critique of the best image and every earlier plan's prompt and score, and must not repeat one.
"""

from __future__ import annotations

import functools
import json

import yaml

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from limner import prompts
from limner.agent.layout import Layout
from limner.agent.plan import (Check, Exclusion, Plan, PlanDraft, PlanObject, Relation, Unplanned, contradiction,
                               entity_words, excludes, graph_problem)


# A check the LLM adds beyond the graph's own (kind "other"); any other kind is written from the graph.
class OtherCheck(BaseModel):

    model_config = ConfigDict(extra="ignore")
    id: str = "q"
    question: str
    kind: str = "other"


# What the LLM planner is asked for: the scene graph, strictly validated, with checks and a layout it may leave
# out. A layout that fails validation is kept as a plain object here and replaced by the rules solver's (the plan
# says why), so one bad box never costs the whole plan. (No docstring: it would become the schema's description.)
class PlanAnswer(BaseModel):

    model_config = ConfigDict(extra="forbid")
    reasoning: str = Field(default="", max_length=4000)
    rewritten_prompt: str = Field(min_length=1)
    negative_prompt: str = ""
    objects: list[PlanObject] = Field(default_factory=list)
    relations: list[Relation] = Field(default_factory=list)
    exclusions: list[Exclusion] = Field(default_factory=list)
    background: str = ""
    style: str = ""
    unplanned: list[Unplanned] = Field(default_factory=list)
    checks: list[OtherCheck] = Field(default_factory=list)
    layout: Layout | dict | None = None
    rationale: str = ""

    @model_validator(mode="after")
    def _graph(self) -> "PlanAnswer":
        problem = graph_problem(self.objects, self.relations)
        if problem:
            raise ValueError(problem)
        return self

    def to_plan(self, prompt: str, planner: str, version: int) -> "Plan":
        notes = []
        layout = self.layout
        problem = layout_problem(self)
        if problem is not None:
            notes.append(f"the LLM's layout was not valid ({problem[:160]}): placed by rules instead")
            layout = None
        plan = Plan(prompt=prompt, planner=planner, version=version, reasoning=self.reasoning,
                    rewritten_prompt=self.rewritten_prompt, negative_prompt=self.negative_prompt,
                    objects=self.objects, relations=self.relations, exclusions=self.exclusions,
                    background=self.background, style=self.style, unplanned=self.unplanned, layout=layout,
                    rationale=self.rationale, crosscheck=notes,
                    checks=[Check(id=c.id, question=c.question, kind="other") for c in _unique(self.checks)
                            if c.kind == "other"])
        return plan


def layout_problem(answer: "PlanAnswer") -> str | None:
    """Why the answer's layout is not valid, or None (no layout, or a valid one)."""
    if isinstance(answer.layout, dict):
        try:
            Layout.model_validate(answer.layout)
        except ValidationError as exc:
            err = exc.errors()[0]
            return err["msg"].removeprefix("Value error, ")
    if isinstance(answer.layout, Layout) and any(
            r.object is not None and r.object >= len(answer.objects) for r in answer.layout.regions):
        return "a region names an object index that is not in objects"
    return None


def _unique(checks: list[OtherCheck]) -> list[OtherCheck]:
    out, seen = [], set()
    for k, c in enumerate(checks):
        cid = c.id if c.id not in seen else f"{c.id}-{k}"
        seen.add(cid)
        out.append(c.model_copy(update={"id": cid}))
    return out

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
    def __init__(self, llm, target=None, crosscheck: bool = True):
        if llm is None:
            raise ValueError("the llm planner needs an LLM endpoint: set LIMNER_LLM_BASE_URL and LIMNER_LLM_MODEL")
        self.llm = llm
        self.target = target
        self.crosscheck = crosscheck
        self.name = f"llm:{llm.model}"

    def _messages(self, user: str) -> list[dict]:
        return [{"role": "system", "content": prompts.load("plan_system")}, *few_shot(),
                {"role": "user", "content": user}]

    def _ask(self, user: str, purpose: str) -> PlanAnswer:
        """The LLM's answer; a layout that fails validation is sent back once with the reason (when the budget
        allows), and if it fails again the plan goes on without it (``to_plan`` records why)."""
        messages = self._messages(user)
        answer = self.llm.structured(messages, PlanAnswer, purpose=purpose)
        problem = layout_problem(answer)
        if problem is None or not self.llm.can_call():
            return answer
        from limner.agent.errors import LLMError

        again = messages + [{"role": "assistant", "content": answer.model_dump_json(exclude_defaults=True)},
                            {"role": "user", "content": f"The layout is not valid: {problem}. Answer again with the "
                                                        "whole plan and a valid layout (or layout null)."}]
        try:
            return self.llm.structured(again, PlanAnswer, purpose=purpose + ":layout")
        except LLMError:
            return answer

    def plan(self, prompt: str) -> Plan:
        draft = self._ask(prompts.render("plan_user", prompt=prompt, target=target_text(self.target)), "plan")
        return complete(draft.to_plan(prompt, self.name, 1), crosscheck=self.crosscheck)

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
        return complete(draft.to_plan(previous.prompt, self.name, previous.version + 1), crosscheck=self.crosscheck)

    def revise(self, previous: Plan, request: str) -> Plan:
        """A person's change to the plan, in their words."""
        user = prompts.render(
            "revise_user", prompt=previous.prompt, request=request,
            previous_plan=PlanDraft(**previous.model_dump(include=set(PlanDraft.model_fields))).model_dump_json(indent=1),
        )
        draft = self._ask(user, "revise")
        return complete(draft.to_plan(f"{previous.prompt} ({request})", self.name, previous.version + 1),
                        crosscheck=False)


@functools.lru_cache(maxsize=1)
def _examples() -> tuple:
    return tuple(yaml.safe_load(prompts.load("plan_examples")))


def few_shot() -> list[dict]:
    """``limner/prompts/plan_examples.yaml`` as user/assistant turns (small models plan well only with examples)."""
    turns = []
    for ex in _examples():
        draft = PlanAnswer(**ex["plan"]).model_dump(exclude_defaults=True)
        turns += [{"role": "user", "content": f'User prompt: "{ex["brief"]}"\n\nWrite the plan.'},
                  {"role": "assistant", "content": json.dumps(draft)}]
    return turns


def _same(a, b) -> bool:
    from limner.agent.planners.words import singular

    return singular(a.name.lower()) == singular(b.name.lower()) and (a.color or None) == (b.color or None)


def _crosscheck(plan: Plan, rules: Plan) -> tuple[list[PlanObject], list[Relation], list[Exclusion], list[str]]:
    """The LLM's entities, relations and exclusions with what the rules reader found and the LLM dropped added
    (unless the LLM listed it as unplanned, or adding it would contradict the LLM's plan), and a note for
    every difference."""
    objects, relations, exclusions, notes = list(plan.objects), list(plan.relations), list(plan.exclusions), []
    said = " ".join(u.text.lower() for u in plan.unplanned)
    for obj in rules.objects:
        if any(_same(obj, o) for o in objects):
            continue
        if obj.name.lower() in said:
            notes.append(f"the rules reader found '{obj.name}', which the LLM left unplanned")
            continue
        objects.append(PlanObject(**obj.model_dump()))
        notes.append(f"added '{entity_words(obj)}': the rules reader found it and the LLM dropped it")
    for excl in rules.exclusions:
        if any(excludes(excl, o) for o in objects):
            notes.append(f"the rules reader reads 'no {excl.name}' as an exclusion, but the LLM planned a "
                         f"{excl.name}: left as the LLM planned it")
        elif not any(_same(excl, e) for e in exclusions):
            exclusions.append(Exclusion(**excl.model_dump()))
            notes.append(f"added the exclusion 'no {excl.name}': the rules reader found it and the LLM dropped it")
    notes += [f"the LLM found '{obj.name}', which the rules reader did not" for obj in plan.objects
              if not any(_same(obj, o) for o in rules.objects)]
    for rel in rules.relations:
        a, b = rules.objects[rel.subject], rules.objects[rel.object]
        ia = next((i for i, o in enumerate(objects) if _same(a, o)), None)
        ib = next((i for i, o in enumerate(objects) if _same(b, o)), None)
        if ia is None or ib is None or ia == ib or any(
                (r.subject, r.relation, r.object) == (ia, rel.relation, ib) for r in relations):
            continue
        added = relations + [Relation(subject=ia, relation=rel.relation, object=ib)]
        if contradiction(objects, added):
            notes.append(f"the rules reader reads '{a.name} {rel.relation} {b.name}', which contradicts the LLM's "
                         "relations: left as the LLM planned them")
            continue
        relations = added
        notes.append(f"added the relation '{a.name} {rel.relation} {b.name}': the rules reader found it and the LLM "
                     "dropped it")
    return objects, relations, exclusions, notes


def complete(plan: Plan, crosscheck: bool = True) -> Plan:
    """The LLM's plan made whole: cross-checked with the rules reader (``_crosscheck``; every difference in
    ``crosscheck``); checks written from the scene graph (existence, count, colour, attributes, relations,
    exclusions) with the LLM's own "other" checks kept; a missing layout, or one the cross-check outdated,
    placed by the rules solver; the unplanned spans' offsets checked against the brief."""
    from limner.agent.errors import UsageError
    from limner.agent.layout import MAX_REGIONS
    from limner.agent.planners.layout_rules import place
    from limner.agent.planners.reading import Reader
    from limner.agent.planners.rules import RulesPlanner, make_checks, negative_text, without_exclusions

    reading = Reader().read(plan.prompt)  # read once: the cross-check and the judge prompt both need it
    objects, relations, exclusions, notes = list(plan.objects), list(plan.relations), list(plan.exclusions), []
    if crosscheck:
        try:
            rules = RulesPlanner().plan(plan.prompt, reading=reading)
        except UsageError:
            rules = None
        if rules is not None:
            objects, relations, exclusions, notes = _crosscheck(plan, rules)
    checks = make_checks(objects, relations, exclusions)
    taken = {c.id for c in checks}
    checks += [Check(id=c.id if c.id not in taken else f"llm-{c.id}", question=c.question, kind="other")
               for c in plan.checks if c.kind == "other"]
    layout = plan.layout
    if objects != list(plan.objects) or relations != list(plan.relations) or (layout is None and objects):
        fits = objects and sum(o.count for o in objects) <= MAX_REGIONS
        layout = place(objects, relations, background=plan.background)[0] if fits else None
    unplanned = []
    for u in plan.unplanned:  # the LLM's offsets, checked against the brief (found by its text when wrong)
        span = u.span
        if span is None or plan.prompt[span[0]:span[1]].lower() != u.text.lower():
            at = plan.prompt.lower().find(u.text.lower())
            span = [at, at + len(u.text)] if at >= 0 and u.text else None
        unplanned.append({**u.model_dump(), "span": span})
    return Plan(**{**plan.model_dump(), "objects": [o.model_dump() for o in objects],
                   "relations": [r.model_dump() for r in relations],
                   "exclusions": [e.model_dump() for e in exclusions], "checks": [c.model_dump() for c in checks],
                   "layout": layout.model_dump() if layout is not None else None,
                   "negative_prompt": plan.negative_prompt or negative_text(exclusions),
                   "judge_prompt": plan.judge_prompt or (without_exclusions(plan.prompt, reading) if exclusions else ""),
                   "unplanned": unplanned, "crosscheck": list(plan.crosscheck) + notes})

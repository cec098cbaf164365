"""Question-based verification (DSG, Cho et al. 2024): atomic yes/no questions with dependencies.

The plan's checks (``{id, question, kind, object, relation, depends_on}``) are answered by an answerer:
``ParserAnswerer`` (the exact shapes-world parser), ``DetectorAnswerer`` (an open-vocabulary detector's
boxes, GenEval's rules), ``VLMAnswerer`` (a VLM's P(yes)) or ``CombinedAnswerer`` (one of them per kind of check). Score = the
mean over questions of P(yes), where a question whose parent was answered "no" counts as "no" (DSG's
rule). The result lists every failed question with its object and, when known, a box: the repair loop
uses it to decide what to fix.

Questions come from ``plan_fn(prompt) -> plan dict`` (a planner's plan: the agent passes its current plan;
``limner.agent.planners.rules.rules_plan`` writes one offline). The tools layer knows no planner.
"""

from __future__ import annotations

from typing import Callable

from limner.tools.verifiers.base import Score
from limner.tools.verifiers.findings import findings

YES = 0.5  # P(yes) at or above this counts as "yes"


def dsg_score(checks: list[dict], answers: dict[str, dict]) -> tuple[float, list[dict]]:
    """Apply DSG's dependency rule. ``answers[id] = {"p_yes": float | None, "box": [...] | None}``.

    Questions are visited in dependency order; one whose parent was answered "no" counts as "no".
    Unanswerable questions (``p_yes`` None) are left out of the mean.
    """
    by_id = {c["id"]: c for c in checks}
    effective: dict[str, float | None] = {}
    records: list[dict] = []

    def visit(cid: str, stack: tuple = ()) -> float | None:
        if cid in effective:
            return effective[cid]
        if cid in stack:
            raise ValueError(f"checks depend on each other in a cycle through {cid!r}")
        check = by_id[cid]
        parents = [visit(p, stack + (cid,)) for p in check.get("depends_on", []) if p in by_id]
        answer = answers.get(cid, {})
        p = answer.get("p_yes")
        blocked = any(q is not None and q < YES for q in parents)
        value = 0.0 if blocked else p
        effective[cid] = value
        records.append({
            "id": cid, "question": check["question"], "kind": check.get("kind", "other"),
            "object": check.get("object"), "answer": p, "counted": value, "skipped_by_parent": blocked,
            "passed": value is not None and value >= YES, "box": answer.get("box"),
        })
        return value

    for check in checks:
        visit(check["id"])
    order = {c["id"]: i for i, c in enumerate(checks)}
    records.sort(key=lambda r: order[r["id"]])
    counted = [r["counted"] for r in records if r["counted"] is not None]
    return (sum(counted) / len(counted) if counted else 0.0), records


class QuestionVerifier:
    name = "questions"
    differentiable = False

    def __init__(self, answerer, plan_fn: Callable[[str], dict] | None = None):
        self.answerer = answerer
        if plan_fn is None:
            raise ValueError("the questions verifier needs plan_fn (prompt -> plan dict): e.g. "
                             "limner.agent.planners.rules.rules_plan, or the agent's current plan")
        self.plan_fn = plan_fn

    def calls_per_image(self, n_checks: int) -> int:
        """LLM calls scoring one image with ``n_checks`` checks takes (0 for the parser)."""
        per = getattr(self.answerer, "calls_per_image", None)
        return per(n_checks) if per else 0

    @property
    def llm_calls_per_image(self) -> int:
        return self.calls_per_image(1)

    def describe(self) -> dict:
        out = {"name": self.name, "answerer": self.answerer.name}
        if getattr(self.answerer, "mode", None):
            out["mode"] = self.answerer.mode
        if getattr(self.answerer, "oracle", False):
            out["oracle"] = True  # the scorer's own method answers: an upper bound, never a headline
        if hasattr(self.answerer, "describe"):
            out["answerer_options"] = self.answerer.describe()
        return out

    def score(self, images: list, prompts: list[str]) -> list[Score]:
        if len(images) != len(prompts):
            raise ValueError("score() needs one prompt per image")
        plans: dict[str, dict] = {}
        out = []
        for image, prompt in zip(images, prompts):
            plan = plans.setdefault(prompt, self.plan_fn(prompt))
            answers = dict(self.answerer.answer(image, plan))
            critique = answers.pop("_critique", None)
            value, records = dsg_score(plan["checks"], answers)
            failed = [r for r in records if not r["passed"]]
            size = getattr(image, "size", None) or (image.shape[1], image.shape[0])
            detail = {"questions": records, "failed": [r["id"] for r in failed], "findings": findings(plan, records, size)}
            if critique and critique.get("text"):
                detail["critique"] = critique["text"]
            out.append(Score(score=value, raw=value, detail=detail))
        return out

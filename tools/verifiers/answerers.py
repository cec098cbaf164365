"""Answerers for question-based verification: ``answer(image, plan) -> {check id: {"p_yes", "box"}}``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from limner import prompts


class ParserAnswerer:
    """Answers structured checks (exists, count, colour, relation) with the exact shapes-world parser.

    A count is of the object's shape (and colour, when the plan has several objects of that shape), as
    GenEval counts. Checks of kind "other" get no answer.
    """

    name = "parser"
    llm_calls_per_image = 0

    def answer(self, image, plan: dict) -> dict[str, dict]:
        from limner.tools.shapes.geneval import relative_position
        from limner.tools.shapes.parser import parse

        found = parse(image)
        objects = plan.get("objects", [])
        relations = plan.get("relations", [])

        def matches(i: int, by_color: bool) -> list[dict]:
            obj = objects[i]
            same_shape = sum(o["name"] == obj["name"] for o in objects)
            use_color = obj.get("color") and (by_color or same_shape > 1)
            return [f for f in found if f["shape"] == obj["name"] and (not use_color or f["color"] == obj["color"])]

        answers: dict[str, dict] = {}
        for check in plan.get("checks", []):
            kind, i = check.get("kind", "other"), check.get("object")
            if kind == "other" or (i is None and kind != "relation"):
                answers[check["id"]] = {"p_yes": None, "box": None}
                continue
            if kind == "exists":
                hits = matches(i, by_color=False)
                ok = bool(hits)
            elif kind == "count":
                hits = matches(i, by_color=False)
                ok = len(hits) == objects[i]["count"]
            elif kind == "color":
                hits = matches(i, by_color=True)
                ok = len(hits) >= objects[i]["count"]
                if not ok:  # point at the wrongly coloured one
                    hits = [f for f in matches(i, by_color=False) if f not in hits] or hits
            else:  # relation
                rel = relations[check["relation"]] if check.get("relation") is not None else relations[0]
                subjects, targets = matches(rel["subject"], True), matches(rel["object"], True)
                pairs = [(s, t) for s in subjects for t in targets
                         if s is not t and rel["relation"] in relative_position(s["bbox"], t["bbox"])]
                ok = bool(pairs)
                hits = [pairs[0][0]] if pairs else subjects
            answers[check["id"]] = {"p_yes": 1.0 if ok else 0.0, "box": hits[0]["bbox"] if hits else None}
        return answers


class YesNo(BaseModel):
    answer: str = Field(pattern="^(yes|no)$")


class CheckAnswer(BaseModel):
    id: str
    reasoning: str = Field(default="", max_length=2000)  # before the answer: the model reasons, then answers
    answer: Literal["yes", "no"]


class CheckAnswers(BaseModel):
    description: str = Field(default="", max_length=4000)  # what the image shows: the re-planner's critique
    answers: list[CheckAnswer] = Field(max_length=64)


VLM_MODES = ("batched", "per_question")


class VLMAnswerer:
    """Asks a VLM about the image.

    - ``batched`` (default): one request per image, the image first (so a server's prefix cache reuses it),
      every question in it, answered as validated JSON with a description of what the image shows (the
      re-planner's critique). One LLM call per image.
    - ``per_question``: one request per question, P(yes) from log-probabilities where the server gives
      them (VQAScore-style). One LLM call per question.
    """

    name = "vlm"

    def __init__(self, llm, model: str | None = None, mode: str = "batched"):
        if llm is None:
            raise ValueError("the vlm answerer needs an LLM endpoint: set LIMNER_LLM_BASE_URL")
        if mode not in VLM_MODES:
            raise ValueError(f"unknown vlm answerer mode '{mode}': use {' or '.join(VLM_MODES)}")
        self.llm = llm
        self.model = model
        self.mode = mode

    def calls_per_image(self, n_checks: int) -> int:
        return 1 if self.mode == "batched" else max(1, n_checks)

    def answer(self, image, plan: dict) -> dict[str, dict]:
        if self.mode == "batched":
            return self._batched(image, plan)
        return self._per_question(image, plan)

    def _batched(self, image, plan: dict) -> dict[str, dict]:
        from limner.tools.images import data_url

        checks = plan.get("checks", [])
        if not checks:
            return {}
        listing = "\n".join(f"- {c['id']}: {c['question']}" for c in checks)
        messages = [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": data_url(image)}},
            {"type": "text", "text": prompts.render("vqa_checks", questions=listing)},
        ]}]
        reply = self.llm.structured(messages, CheckAnswers, purpose="vqa", model=self.model, vision=True)
        by_id = {a.id: a for a in reply.answers}
        out: dict[str, dict] = {}
        for c in checks:  # a question the model left out counts as "no": never a pass by omission
            a = by_id.get(c["id"])
            out[c["id"]] = {"p_yes": 1.0 if a is not None and a.answer == "yes" else 0.0, "box": None,
                            **({"reasoning": a.reasoning} if a is not None and a.reasoning else {})}
        out["_critique"] = {"text": reply.description}
        return out

    def _per_question(self, image, plan: dict) -> dict[str, dict]:
        from limner.tools.images import data_url

        url = data_url(image)
        out = {}
        for check in plan.get("checks", []):
            messages = [{"role": "user", "content": [
                {"type": "text", "text": prompts.render("vqa_yes_no", question=check["question"])},
                {"type": "image_url", "image_url": {"url": url}},
            ]}]
            out[check["id"]] = {"p_yes": self.llm.yes_probability(messages, purpose="vqa", model=self.model),
                                "box": None}
        return out

"""Answerers for question-based verification: ``answer(image, plan) -> {check id: {"p_yes", "box"}}``."""

from __future__ import annotations

from pydantic import BaseModel, Field

import prompts


class ParserAnswerer:
    """Answers structured checks (exists, count, colour, relation) with the exact shapes-world parser.

    A count is of the object's shape (and colour, when the plan has several objects of that shape), as
    GenEval counts. Checks of kind "other" get no answer.
    """

    name = "parser"
    llm_calls_per_image = 0

    def answer(self, image, plan: dict) -> dict[str, dict]:
        from tools.shapes.geneval import relative_position
        from tools.shapes.parser import parse

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


class VLMAnswerer:
    """Asks a VLM each question about the image; P(yes) from log-probabilities where the server gives them."""

    name = "vlm"
    llm_calls_per_image = 0  # set per plan: one call per question (see QuestionVerifier)

    def __init__(self, llm, model: str | None = None):
        if llm is None:
            raise ValueError("the vlm answerer needs an LLM endpoint: set LIMNER_LLM_BASE_URL")
        self.llm = llm
        self.model = model

    def answer(self, image, plan: dict) -> dict[str, dict]:
        from tools.images import data_url

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

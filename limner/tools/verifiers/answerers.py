"""Answerers for question-based verification: ``answer(image, plan) -> {check id: {"p_yes", "box"}}``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from limner import prompts


GENEVAL_COLORS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white")


def extras(found: list[dict], plan: dict) -> list[dict]:
    """The objects found beyond what the plan's objects allow (each its count of its name, and colour when
    it has one; a bare plural any number): what an 'only' check fails on."""
    allowed = [[o["name"], o.get("color"), None if not o.get("exact", True) else o.get("count", 1)]
               for o in plan.get("objects", [])]
    out = []
    for f in sorted(found, key=lambda f: (f.get("color") is None, not f.get("sure", True))):
        slot = next((a for a in allowed if a[0] == f["name"] and a[1] in (None, f.get("color"))
                     and (a[2] is None or a[2] > 0)), None)
        if slot is None:
            out.append(f)
        elif slot[2] is not None:
            slot[2] -= 1
    return out


def answer_from_objects(found: list[dict], plan: dict, complete: bool = True,
                        doubtful: list[dict] = ()) -> dict[str, dict]:
    """Answer the plan's structured checks (exists, count, colour, relation) from the objects an image holds,
    ``[{"name", "color", "bbox": [x0, y0, x1, y1]}]``, the way GenEval's rules do: presence and count from the
    boxes of the object's name (and colour, when the plan has several objects of that name), colour from the
    objects found, position from box centres. Checks of kind "other" get no answer (``p_yes`` None); nor do
    'only' checks unless ``complete`` (the reader finds every object there is, as the shapes parser does, not
    only those it was asked for, as a detector does). ``doubtful``: weaker findings that count only against
    "nothing else is there" ('only' and 'absent' checks), where a miss would be a false pass. A finding with
    ``confident`` False (read with too little certainty) counts as something there, never as the asked thing:
    a check it alone would pass fails, pointing at it."""
    from limner.tools.shapes.geneval import relative_position

    objects = plan.get("objects", [])
    relations = plan.get("relations", [])

    def matches(i: int, by_color: bool) -> list[dict]:
        obj = objects[i]
        same_name = sum(o["name"] == obj["name"] for o in objects)
        use_color = obj.get("color") and (by_color or same_name > 1)
        return [f for f in found if f["name"] == obj["name"] and (not use_color or f["color"] == obj["color"])]

    answers: dict[str, dict] = {}
    exclusions = plan.get("exclusions", [])
    for check in plan.get("checks", []):
        kind, i = check.get("kind", "other"), check.get("object")
        if kind == "absent" and check.get("exclusion") is not None and check["exclusion"] < len(exclusions):
            excl = exclusions[check["exclusion"]]
            hits = [f for f in [*found, *doubtful]
                    if f["name"] == excl["name"] and (not excl.get("color") or f["color"] == excl["color"])]
            answers[check["id"]] = {"p_yes": 0.0 if hits else 1.0, "box": hits[0]["bbox"] if hits else None}
            continue
        if kind == "only":
            extra = extras([*found, *doubtful], plan) if complete else None
            answers[check["id"]] = ({"p_yes": None, "box": None} if extra is None else
                                    {"p_yes": 0.0 if extra else 1.0, "box": extra[0]["bbox"] if extra else None})
            continue
        if kind in ("other", "attribute", "absent") or (i is None and kind != "relation"):
            answers[check["id"]] = {"p_yes": None, "box": None}
            continue
        if kind == "exists":
            hits = matches(i, by_color=False)
            ok = any(map(_firm, hits))
        elif kind == "count":
            hits = matches(i, by_color=False)
            ok = len(hits) == objects[i]["count"] and all(map(_firm, hits))
        elif kind == "color":
            hits = matches(i, by_color=True)
            ok = sum(map(_firm, hits)) >= objects[i]["count"]
            if not ok and all(map(_firm, hits)):  # point at the wrongly coloured one
                hits = [f for f in matches(i, by_color=False) if f not in hits] or hits
        else:  # relation
            rel = relations[check["relation"]] if check.get("relation") is not None else relations[0]
            subjects, targets = matches(rel["subject"], True), matches(rel["object"], True)
            wrong = [s for s in subjects for t in targets
                     if s is not t and rel["relation"] not in relative_position(s["bbox"], t["bbox"])]
            ok = any(map(_firm, subjects)) and any(map(_firm, targets)) and not wrong
            hits = wrong or subjects
            if not ok and not wrong and subjects and targets:  # both there, one read unsurely: at that one
                hits = [f for f in subjects + targets if not _firm(f)] or hits
        if not ok:  # a reading too uncertain to pass the check is where it failed
            hits = [f for f in hits if not _firm(f)] + [f for f in hits if _firm(f)]
        answers[check["id"]] = {"p_yes": 1.0 if ok else 0.0, "box": hits[0]["bbox"] if hits else None}
    return answers


def _firm(found: dict) -> bool:
    """Whether a finding is read surely enough to pass a check that something is there (a detector's box whose
    reading scores under its ``confident`` level still counts as something there, never as the asked thing)."""
    return found.get("confident", True)


def _centre(box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def _area(box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def _rereads(weak, sure) -> bool:
    """Whether a weak box is another reading of a sure one: centred in it and at least ``REREAD_AREA`` of its
    size (a much smaller box in its corner is something else: a speck an edit left there)."""
    (cx, cy) = _centre(weak)
    return sure[0] <= cx <= sure[2] and sure[1] <= cy <= sure[3] and _area(weak) >= REREAD_AREA * _area(sure)


REREAD_AREA = 0.25


class ParserAnswerer:
    """Answers structured checks with the exact shapes-world parser (what ShapesEval scores with: an oracle
    wherever it answers the agent's checks). A count is of the object's shape (and colour, when the plan has
    several objects of that shape), as GenEval counts."""

    name = "parser"
    oracle = True
    llm_calls_per_image = 0

    def objects(self, image, plan: dict) -> list[dict]:
        from limner.tools.shapes.parser import parse

        return [{"name": f["shape"], "color": f["color"], "bbox": f["bbox"]} for f in parse(image)]

    def answer(self, image, plan: dict) -> dict[str, dict]:
        return answer_from_objects(self.objects(image, plan), plan)


COLOR_MODES = ("clip", "detector")


class DetectorAnswerer:
    """Answers structured checks from an open-vocabulary detector's boxes (``limner.tools.verifiers.detector``),
    by GenEval's rules (``answer_from_objects``): each plan object's name is a query, and a box counts for the
    name that scores highest at it (one label per box, as GenEval's closed-set detector gives); its colour is
    read by ``color``:

    - ``clip`` (GenEval's way): a CLIP zero-shot classification of the box's crop among ``colors`` (GenEval's
      ten and the plan's), "a photo of a <colour> <name>";
    - ``detector``: the detector's own score of "<colour> <name>" at the box (the embedded shapes-owl's way:
      measured better there than its CLIP's crops).
    """

    name = "detector"
    llm_calls_per_image = 0

    def __init__(self, detector, color: str = "clip", clip=None, colors: tuple[str, ...] = GENEVAL_COLORS):
        if color not in COLOR_MODES:
            raise ValueError(f"unknown colour mode '{color}': use {' or '.join(COLOR_MODES)}")
        if color == "clip" and clip is None:
            raise ValueError("colour by CLIP needs a CLIP model (clip=CLIPScore(...))")
        self.detector, self.color, self.clip, self.colors = detector, color, clip, tuple(colors)

    def describe(self) -> dict:
        return {**self.detector.describe(), "color": self.color,
                **({"clip": self.clip.model_id} if self.color == "clip" else {})}

    def _palette(self, plan: dict) -> list[str]:
        said = [o["color"] for key in ("objects", "exclusions") for o in plan.get(key, []) if o.get("color")]
        return list(dict.fromkeys([*self.colors, *said]))

    def inventory(self, plan: dict) -> bool:
        """Whether to ask for every name the detector knows, not only the plan's: an 'only' check needs all
        there is, which a closed-vocabulary detector can list (an open-vocabulary one cannot)."""
        vocabulary = getattr(self.detector, "vocabulary", None)
        return vocabulary is not None and any(c.get("kind") == "only" for c in plan.get("checks", []))

    def doubts(self, plan: dict) -> bool:
        """Whether weaker boxes are looked at too: for 'only' and 'absent' checks, when the detector has a
        ``doubt`` score below its threshold (a box there fails "nothing else is there" rather than pass it)."""
        return getattr(self.detector, "doubt", 1.0) < getattr(self.detector, "threshold", 0.0) and any(
            c.get("kind") in ("only", "absent") for c in plan.get("checks", []))

    def objects(self, image, plan: dict) -> list[dict]:
        """The objects found: ``{"name", "bbox", "score", "color", "sure", "reading", "confident"}``; ``sure``
        False for a box scoring between the detector's ``doubt`` and its threshold (only asked for when
        ``doubts(plan)``), and kept where no sure box already is (``_rereads``); ``reading``: the lesser of its
        name's score and (when the detector reads colours) its colour's; ``confident``: that reading is at least
        the detector's ``confident`` level (when it states one), below which it passes no check that something
        is there."""
        names = list(dict.fromkeys([*(o["name"] for o in plan.get("objects", [])),
                                    *(e["name"] for e in plan.get("exclusions", []))]))
        if self.inventory(plan):
            names = list(dict.fromkeys([*names, *sorted(self.detector.vocabulary)]))
        palette = self._palette(plan)
        colored = [f"{c} {n}" for n in names for c in palette] if self.color == "detector" else []
        least = self.detector.doubt if self.doubts(plan) else None
        detections = self.detector.detect(image, names + colored, **({"threshold": least} if least else {}))
        found = []
        for name in names:
            for d in detections[name]:
                if any(d["scores"].get(other, 0.0) > d["score"] for other in names if other != name):
                    continue  # one box, one object: it counts for the name that scores highest there
                found.append({"name": name, "bbox": d["bbox"], "score": d["score"], "scores": d["scores"],
                              "sure": d["score"] >= getattr(self.detector, "threshold", 0.0)})
        sure = [f for f in found if f["sure"]]
        found = sure + [f for f in found if not f["sure"] and not any(_rereads(f["bbox"], s["bbox"]) for s in sure)]
        level = getattr(self.detector, "confident", None)
        for f in found:
            f["color"] = self._color_of(image, f, f["name"], palette)
            # how surely it is read: its name's score, and its colour's where the detector reads colours
            f["reading"] = min(f["score"], f["scores"].get(f"{f['color']} {f['name']}", 1.0)
                               if self.color == "detector" else 1.0)
            f["confident"] = level is None or f["reading"] >= level
            del f["scores"]
        return found

    def _color_of(self, image, found: dict, name: str, palette: list[str]) -> str:
        if self.color == "detector":
            scores = found["scores"]
            return max(palette, key=lambda c: scores.get(f"{c} {name}", 0.0))
        import torch

        from limner.tools.images import to_tensor

        x0, y0, x1, y1 = found["bbox"]
        crop = image.convert("RGB").crop((int(x0), int(y0), max(int(x0) + 1, round(x1)), max(int(y0) + 1, round(y1))))
        with torch.no_grad():
            sims = self.clip.image_embeds(to_tensor([crop])) @ self.clip.text_embeds(
                [f"a photo of a {c} {name}" for c in palette]).T
        return palette[int(sims[0].argmax())]

    def answer(self, image, plan: dict) -> dict[str, dict]:
        """Every check answered from the detections; a check about an object the detector was never taught
        (outside its ``vocabulary``) has no answer (``p_yes`` None, left out of the score), not a guess."""
        # it finds what it is asked for: everything only when it can list all it knows (``inventory``)
        found = self.objects(image, plan)
        answers = answer_from_objects([f for f in found if f["sure"]], plan, complete=self.inventory(plan),
                                      doubtful=[f for f in found if not f["sure"]])
        vocabulary = getattr(self.detector, "vocabulary", None)
        if vocabulary is None:
            return answers
        objects = plan.get("objects", [])
        relations = plan.get("relations", [])
        exclusions = plan.get("exclusions", [])
        for check in plan.get("checks", []):
            about = {check.get("object")}
            if check.get("relation") is not None and check["relation"] < len(relations):
                rel = relations[check["relation"]]
                about |= {rel["subject"], rel["object"]}
            unknown = sorted({objects[i]["name"] for i in about if i is not None and i < len(objects)
                              and objects[i]["name"] not in vocabulary})
            x = check.get("exclusion")
            if check.get("kind") == "absent" and x is not None and x < len(exclusions) \
                    and exclusions[x]["name"] not in vocabulary:
                unknown.append(exclusions[x]["name"])
            if unknown:
                answers[check["id"]] = {"p_yes": None, "box": None, "note": (
                    f"the detector knows only {', '.join(sorted(vocabulary))}, not {', '.join(unknown)}")}
        return answers


class CombinedAnswerer:
    """One answerer per kind of check: ``by_kind`` maps a kind ("exists", "count", "color", "relation",
    "other") to the answerer of its checks; every other kind goes to ``default``. The detector localises, a
    VLM answers what it cannot (attributes beyond colour, the "other" checks)."""

    def __init__(self, default, by_kind: dict[str, object]):
        self.default, self.by_kind = default, dict(by_kind)
        self.name = "+".join(dict.fromkeys([default.name, *(a.name for a in self.by_kind.values())]))

    def describe(self) -> dict:
        mine = self.default.describe() if hasattr(self.default, "describe") else {}
        return {**mine, "default": self.default.name, "by_kind": {k: a.name for k, a in self.by_kind.items()}}

    def calls_per_image(self, n_checks: int) -> int:
        per = [getattr(a, "calls_per_image", None) for a in {id(a): a for a in self.by_kind.values()}.values()]
        return sum(p(n_checks) for p in per if p)

    def answer(self, image, plan: dict) -> dict[str, dict]:
        groups: dict[int, tuple[object, list[dict]]] = {}
        for check in plan.get("checks", []):
            answerer = self.by_kind.get(check.get("kind", "other"), self.default)
            groups.setdefault(id(answerer), (answerer, []))[1].append(check)
        out: dict[str, dict] = {}
        for answerer, checks in groups.values():
            out.update(answerer.answer(image, {**plan, "checks": checks}))
        return out


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

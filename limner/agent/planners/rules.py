"""The offline ``rules`` planner: a deterministic parser for GenEval-style prompts, no network.

It reads counts, colours, objects and spatial relations ("a photo of two red
circles and a blue square", "a circle left of a triangle") into the same ``Plan``
the LLM planner produces, with DSG-style yes/no checks. A prompt it cannot parse
gets a plan with no objects and one overall check, and says so in its rationale.
"""

from __future__ import annotations

import re

import yaml

from limner import prompts
from limner.agent.errors import UsageError
from limner.agent.layout import MAX_REGIONS
from limner.agent.plan import (MAX_COUNT, Check, Exclusion, Plan, PlanObject, Relation, Unplanned, contradiction,
                               entity_words, excludes)
from limner.agent.planners.layout_rules import place
from limner.agent.planners.reading import Reader, Reading
from limner.agent.planners.words import (IRREGULAR_PLURALS, NUMBER_WORDS, article, describe, plural,  # noqa: F401
                                         plural_name, singular)

COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
          "seven": 7, "eight": 8, "nine": 9, "ten": 10}
COLORS = {"red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white",
          "gray", "grey"}
PREFIXES = ("a photo of", "a photograph of", "an image of", "a picture of", "a drawing of",
            "an illustration of", "a rendering of")
# A person's change to the scene ("make it two green triangles"): what follows is the new scene.
REQUEST_PREFIXES = ("make it", "make them", "make this", "change it to", "change this to", "turn it into",
                    "i want", "i'd like", "i would like", "instead", "now", "please", "show me", "show", "draw",
                    "paint", "generate", "give me", "try", "rather", "actually", "no,", "no")


SHAPES_WORLD = ("circle", "square", "triangle")  # the objects of the embedded shapes world


def in_shapes_world(objects: list[PlanObject]) -> bool:
    return bool(objects) and all(o.name in SHAPES_WORLD for o in objects)


def read(prompt: str, reader: Reader | None = None) -> Reading:
    """The reader's scene graph of ``prompt`` (see ``limner.agent.planners.reading``)."""
    return (reader or Reader()).read(prompt)


def parse(prompt: str) -> tuple[list[PlanObject], list[Relation]]:
    """Objects and relations of a prompt; raises ``ValueError`` when it names no object."""
    reading = read(prompt)
    objects = [PlanObject(**o) for o in reading.objects if 1 <= o["count"] <= MAX_COUNT]
    if not objects or len(objects) != len(reading.objects):
        raise ValueError(f"no objects read in {prompt!r}")
    return objects, [Relation(**r) for r in reading.relations]


def scene_text(objects: list[PlanObject], relations: list[Relation]) -> str:
    """The scene in the words the embedded model was trained on: objects joined by 'and', and one relation
    between the last object before it and the first after it; the layout carries any further relations."""
    parts = [describe(o) for o in objects]
    if len(relations) == 1:
        rel = relations[0]
        if rel.object == rel.subject + 1:
            left = " and ".join(parts[: rel.subject + 1])
            right = " and ".join(parts[rel.object :])
            return f"{left} {rel.relation} {right}"
    return " and ".join(parts)


def make_checks(objects: list[PlanObject], relations: list[Relation], exclusions: list[Exclusion] = ()) -> list[Check]:
    """DSG-style atomic questions from the whole scene graph: existence first, then count, colour and other
    attributes depending on it; each relation between the two entities it names; each exclusion."""
    checks: list[Check] = []
    for i, obj in enumerate(objects):
        exists = f"o{i}"
        what = " ".join([*obj.attributes, obj.name])  # the colour has its own check
        question = (f"Are there {plural_name(what)}?" if not obj.exact else f"Is there {article(what)} {what}?")
        checks.append(Check(id=exists, question=question, kind="exists", object=i))
        if obj.count > 1 and obj.exact:
            checks.append(Check(id=f"o{i}-count", question=f"Are there exactly {obj.count} {plural_name(obj.name)}?",
                                kind="count", object=i, depends_on=[exists]))
        if obj.color:
            checks.append(Check(id=f"o{i}-color", question=f"Is the {obj.name} {obj.color}?", kind="color",
                                object=i, depends_on=[exists]))
        for k, attr in enumerate(obj.attributes):
            checks.append(Check(id=f"o{i}-a{k}", question=f"Is the {obj.name} {attr}?", kind="attribute", object=i,
                                depends_on=[exists]))
    for k, rel in enumerate(relations):
        a, b = objects[rel.subject], objects[rel.object]
        checks.append(Check(id=f"r{k}", question=f"Is the {entity_words(a)} {rel.relation} the {entity_words(b)}?",
                            kind="relation", object=rel.subject, relation=k,
                            depends_on=[f"o{rel.subject}", f"o{rel.object}"]))
    for k, excl in enumerate(exclusions):
        checks.append(Check(id=f"x{k}", question=f"Is the image free of {plural_name(entity_words(excl))}?", kind="absent",
                            exclusion=k))
    return checks


def negative_text(exclusions: list[Exclusion]) -> str:
    return ", ".join(plural_name(entity_words(e)) for e in exclusions)


def without_exclusions(prompt: str, reading: Reading) -> str:
    """The prompt with its exclusion phrases cut out ("a red square and no circles" -> "a red square"): a text
    encoder reads 'no circles' as circles."""
    if not reading.cuts:
        return prompt
    out, pos = [], 0
    for start, end in sorted(reading.cuts):
        out.append(prompt[pos:start])
        pos = max(pos, end)
    out.append(prompt[pos:])
    text = re.sub(r"\s+([,.;])", r"\1", " ".join("".join(out).split()))
    text = re.sub(r"([,;.])(\s*[,;.])+", r"\1", text)
    return text.strip(" ,;") or prompt


class PlanContradiction(UsageError):
    """The brief asks for things that cannot all hold ('a left of b, b left of a'); names them."""


def scene_graph(prompt: str, reading: Reading) -> tuple[list[PlanObject], list[Relation], list[Exclusion],
                                                        list[Unplanned]]:
    """The reading as plan parts: entities with a count over ``MAX_COUNT`` (and their relations) become
    unplanned spans; unplanned spans in the order of the brief."""
    unplanned = [Unplanned(**u) for u in reading.unplanned]
    objects, relations, keep = [], [], {}
    for i, o in enumerate(reading.objects):
        if 1 <= o["count"] <= MAX_COUNT:
            keep[i] = len(objects)
            objects.append(PlanObject(**o))
        else:
            span = o["span"]
            unplanned.append(Unplanned(text=prompt[span[0]:span[1]], span=span,
                                       reason=f"a count over {MAX_COUNT} is not planned"))
    for r in reading.relations:
        if r["subject"] in keep and r["object"] in keep:
            relations.append(Relation(subject=keep[r["subject"]], relation=r["relation"], object=keep[r["object"]],
                                      span=r.get("span")))
    unplanned.sort(key=lambda u: u.span)
    return objects, relations, [Exclusion(**e) for e in reading.exclusions], unplanned


def _refuse_contradiction(objects: list[PlanObject], relations: list[Relation], exclusions: list[Exclusion]) -> None:
    clash = contradiction(objects, relations) or _excluded_and_asked(objects, exclusions)
    if clash:
        raise PlanContradiction(f"the brief cannot be drawn: {clash}")


def check_brief(prompt: str) -> None:
    """Raise ``PlanContradiction`` (one line naming the parts) when the brief contradicts itself; no layout or
    checks are made (``runner.prepare`` calls it before anything is written)."""
    objects, relations, exclusions, _ = scene_graph(prompt, read(prompt))
    _refuse_contradiction(objects, relations, exclusions)


def _rewrites() -> list[str]:
    return yaml.safe_load(prompts.load("rules_rewrites"))


class RulesPlanner:
    """The offline planner. ``reader``: ``Reader()`` (word lists and suffixes, the default) or ``SpacyReader()``
    (the same grammar with spaCy's part-of-speech tags)."""

    name = "rules"

    def __init__(self, reader: Reader | None = None):
        self.reader = reader

    def _build(self, prompt: str, version: int, critique: str = "", reading: Reading | None = None) -> Plan:
        """The scene graph the reader finds, its checks and a layout that satisfies every relation. Only briefs
        of the shapes world are rewritten (by ``limner/prompts/rules_rewrites.yaml``); any other keeps the user's words
        less its exclusion phrases, which go to the negative prompt. Raises ``PlanContradiction`` when the
        relations cannot all hold, or the brief asks for something and its absence."""
        template = _rewrites()[(version - 1) % len(_rewrites())]
        reading = reading or read(prompt, self.reader)
        objects, relations, exclusions, unplanned = scene_graph(prompt, reading)
        if not objects and not exclusions:
            return Plan(
                prompt=prompt, planner=self.name, version=version, rewritten_prompt=prompt,
                checks=[Check(id="q0", question="Does the image show what the prompt describes?")],
                background=reading.background, style=_style(reading), unplanned=unplanned,
                rationale="free-form prompt: the rules planner found no objects to check; the prompt is kept as "
                          "written" + (f"; unplanned: {_listing(unplanned)}" if unplanned else ""),
            )
        _refuse_contradiction(objects, relations, exclusions)
        shapes = in_shapes_world(objects) and all(e.name in SHAPES_WORLD for e in exclusions)
        judge = without_exclusions(prompt, reading) if exclusions else ""
        if shapes:
            scene = scene_text(objects, relations)
            rewritten = template.format(scene=scene) + (f", {reading.style}" if reading.style else "")
            said = " ".join(prompt.lower().replace(".", " ").split())
            said = next((said[len(p) + 1:] for p in PREFIXES if said.startswith(p + " ")), said)
            if said != scene.lower():  # a brief not in caption form: reward models read the words they know
                judge = scene
            rationale = "read objects, counts, colours, relations and exclusions"
        else:
            rewritten = without_exclusions(prompt, reading)
            rationale = ("read objects, counts, colours, relations and exclusions; outside the shapes world the "
                         "prompt is kept as written" + (", less its exclusions" if exclusions else ""))
        instances = sum(o.count for o in objects)
        layout = None
        if not objects:
            rationale += "; no layout: no object to place"
        elif instances > MAX_REGIONS:
            rationale += f"; no layout: {instances} instances, a layout places at most {MAX_REGIONS}"
        else:
            layout, why = place(objects, relations, background=reading.background)
            if layout is None:
                rationale += f"; no layout: {why}"
        checks = make_checks(objects, relations, exclusions)
        if unplanned:
            checks.append(Check(id="q0", question="Does the image show everything the prompt describes?"))
            rationale += f"; unplanned (left to the whole-image check): {_listing(unplanned)}"
        if critique:
            rationale += f"; re-plan {version} after: {critique}"
        return Plan(
            prompt=prompt, planner=self.name, version=version, rewritten_prompt=rewritten,
            judge_prompt=judge,
            negative_prompt=negative_text(exclusions), objects=objects, relations=relations, exclusions=exclusions,
            background=reading.background, style=_style(reading), unplanned=unplanned, checks=checks,
            layout=layout, rationale=rationale,
        )

    def plan(self, prompt: str, reading: Reading | None = None) -> Plan:
        """The plan of ``prompt`` (from ``reading``, when the caller has already read it)."""
        return self._build(prompt, 1, reading=reading)

    def replan(self, previous: Plan, critique: str, history: list[dict] | None = None) -> Plan:
        return self._build(previous.prompt, previous.version + 1, critique)

    def revise(self, previous: Plan, request: str) -> Plan:
        """A person's change: a new description of the scene ("two green triangles", "make it two green
        triangles") replaces the prompt; other words re-plan."""
        scene = scene_request(request)
        if scene is None:
            return self._build(previous.prompt, previous.version + 1, f"the person asked: {request}")
        return self._build(scene, previous.version + 1)


def _style(reading: Reading) -> str:
    return ", ".join(p for p in (reading.medium, reading.style) if p)


def _listing(unplanned: list[Unplanned]) -> str:
    return "; ".join(f"'{u.text}' ({u.reason})" for u in unplanned[:6]) + (" ..." if len(unplanned) > 6 else "")


def _excluded_and_asked(objects: list[PlanObject], exclusions: list[Exclusion]) -> str | None:
    for excl in exclusions:
        for obj in objects:
            if excludes(excl, obj):
                return f"it asks for {describe(obj)} and for no {plural_name(entity_words(excl))}"
    return None


def scene_request(request: str) -> str | None:
    """The new scene a person's words describe, without the request around it ("make it two green triangles"
    -> "two green triangles"); None when they describe no scene the parser reads."""
    text = " ".join(request.strip().rstrip(".!").split())
    while True:
        low = text.lower()
        prefix = next((p for p in REQUEST_PREFIXES if low == p or low.startswith(p + " ")), None)
        if prefix is None:
            break
        text = text[len(prefix):].lstrip(" ,:")
    for suffix in (" please", " instead", " now", " too"):
        if text.lower().endswith(suffix):
            text = text[: -len(suffix)].rstrip(" ,")
    first = (text.split() or [""])[0].lower()
    if not (first in COUNTS or first.isdigit() or first in COLORS or text.lower().startswith(PREFIXES)):
        return None  # "brighter", "more contrast": words about the image, not a new scene
    try:
        parse(text)
    except ValueError:
        return None
    return text


def rules_plan(prompt: str) -> dict:
    """The offline rules planner's plan for ``prompt``, as the dict the questions verifier takes."""
    return RulesPlanner().plan(prompt).model_dump()


def recolored(previous: Plan, index: int, color: str) -> Plan:
    """The plan with one object's colour changed: objects, checks, layout phrase and rewritten prompt follow."""
    objects = [o.model_copy(update={"color": color}) if i == index else o for i, o in enumerate(previous.objects)]
    old = previous.objects[index]
    old_words = " ".join(w for w in (old.color, old.name) if w)
    scene = scene_text(objects, previous.relations)
    rewritten = (previous.rewritten_prompt.replace(scene_text(previous.objects, previous.relations), scene)
                 if previous.planner == "rules" else
                 previous.rewritten_prompt.replace(old_words, f"{color} {old.name}", 1))
    layout = previous.layout
    if layout is not None:
        regions = [r.model_copy(update={"phrase": r.phrase.replace(old_words, f"{color} {old.name}")})
                   if r.object == index else r for r in layout.regions]
        layout = layout.model_copy(update={"regions": regions})
    return previous.model_copy(update={
        "objects": objects, "checks": make_checks(objects, previous.relations, previous.exclusions), "layout": layout,
        "prompt": scene if previous.planner == "rules" else f"{previous.prompt} (the {old.name} {color})",
        "rewritten_prompt": rewritten if rewritten != previous.rewritten_prompt or old.color == color
        else f"{rewritten}, the {old.name} is {color}",
        "version": previous.version + 1, "rationale": f"the person asked for a {color} {old.name}"})

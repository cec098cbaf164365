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
from limner.agent.layout import MAX_REGIONS
from limner.agent.plan import MAX_COUNT, Check, Plan, PlanObject, Relation
from limner.agent.planners.layout_rules import place
from limner.agent.planners.words import (IRREGULAR_PLURALS, NUMBER_WORDS, article, describe, plural,  # noqa: F401
                                         plural_name, singular)

COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
          "seven": 7, "eight": 8, "nine": 9, "ten": 10}
COLORS = {"red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white",
          "gray", "grey"}
# Longest phrases first so "to the left of" wins over "left of".
RELATION_PHRASES = [
    ("to the left of", "left of"), ("on the left of", "left of"), ("left of", "left of"),
    ("to the right of", "right of"), ("on the right of", "right of"), ("right of", "right of"),
    ("on top of", "above"), ("above", "above"), ("over", "above"),
    ("below", "below"), ("beneath", "below"), ("under", "below"), ("underneath", "below"),
]
PREFIXES = ("a photo of", "a photograph of", "an image of", "a picture of", "a drawing of",
            "an illustration of", "a rendering of")
# Words that mean the phrase is free text, not "count colour noun".
NOT_NOUNS = {"in", "on", "at", "with", "of", "by", "near", "from", "into", "for", "the", "is", "are",
             "and", "to", "while", "during", "some", "many", "several", "very", "was", "were", "be", "been",
             "being", "has", "have", "had", "does", "do", "did", "can", "will", "would", "it", "its", "this",
             "that", "these", "those", "there", "their", "they", "them", "he", "she", "his", "her", "my",
             "your", "our", "as", "like", "not", "no", "or", "but", "if", "so", "up", "down", "out", "off",
             "make", "made", "show", "draw", "paint", "then", "than", "where", "what", "who", "which"}
# Verbs between a subject and its relation ("the hat was on top of the rack", "a cat sitting left of a dog"):
# dropped from the subject's phrase; any other verb-like word makes the phrase free text.
LINKING = {"is", "are", "was", "were", "sits", "sit", "sitting", "stands", "stand", "standing", "lies", "lie",
           "lying", "placed", "located", "positioned", "hangs", "hanging", "floats", "floating", "rests",
           "resting", "appears", "seen", "shown", "just", "directly", "right", "slightly", "being"}
# A person's change to the scene ("make it two green triangles"): what follows is the new scene.
REQUEST_PREFIXES = ("make it", "make them", "make this", "change it to", "change this to", "turn it into",
                    "i want", "i'd like", "i would like", "instead", "now", "please", "show me", "show", "draw",
                    "paint", "generate", "give me", "try", "rather", "actually", "no,", "no")
COLOR_NOUNS = {"orange"}  # colour words that are also objects ("an orange")
class _Unparsed(ValueError):
    pass


def _parse_phrase(text: str) -> PlanObject:
    """'two red circles' -> PlanObject(circle, 2, red); raises ``_Unparsed`` on anything else. A colour word
    that ends the phrase is the noun ('an orange'); a plural without a number is a bare plural (some, count
    not checked); words that are not plain English letters make the phrase free text."""
    words = [w for w in text.split() if w]
    if words and words[0] == "the":
        words = words[1:]
    count = None
    if words and (words[0] in COUNTS or words[0].isdigit()):
        count = COUNTS.get(words[0]) or int(words[0])
        words = words[1:]
    color = None
    if len(words) > 1 and words[0] in COLORS:
        color = "gray" if words[0] == "grey" else words[0]
        words = words[1:]
    if len(words) == 1 and words[0] in COLORS and words[0] not in COLOR_NOUNS:
        raise _Unparsed(text)  # "make it blue": a colour, not an object
    if (not words or len(words) > 3 or any(w in NOT_NOUNS or not (w.isascii() and w.isalpha()) for w in words)
            or any(w in COLORS for w in words[:-1])):
        raise _Unparsed(text)
    last = singular(words[-1])
    is_plural = last != words[-1]
    exact = count is not None or not is_plural
    if count is None:
        count = 2 if is_plural else 1
    if not 1 <= count <= MAX_COUNT:  # a larger count is free text
        raise _Unparsed(text)
    return PlanObject(name=" ".join(words[:-1] + [last]), count=count, color=color, exact=exact)


def _parse_list(text: str) -> list[PlanObject]:
    parts = [p.strip() for p in re.split(r"\band\b", text) if p.strip()]
    if not parts:
        raise _Unparsed(text)
    return [_parse_phrase(p) for p in parts]


SHAPES_WORLD = ("circle", "square", "triangle")  # the objects of the embedded shapes world


def split_style(prompt: str) -> tuple[str, str]:
    """``"a corgi astronaut, studio photo"`` -> ``("a corgi astronaut", "studio photo")``: what follows the first
    comma, semicolon or line break is style, kept as the user wrote it, never read as objects (a line that
    starts with 'and' or a relation continues the scene)."""
    lines = [line.strip() for line in prompt.strip().splitlines() if line.strip()]
    joined = lines[:1]
    for line in lines[1:]:
        low = line.lower()
        continues = low.startswith(("and ", "with ")) or any(low.startswith(p + " ") for p, _ in RELATION_PHRASES)
        joined.append((" " if continues else ", ") + line)
    text = "".join(joined)
    cut = min((i for i in (text.find(","), text.find(";")) if i >= 0), default=-1)
    if cut < 0:
        return text.strip(), ""
    return text[:cut].strip(), text[cut + 1:].strip()


def in_shapes_world(objects: list[PlanObject]) -> bool:
    return bool(objects) and all(o.name in SHAPES_WORLD for o in objects)


def parse(prompt: str) -> tuple[list[PlanObject], list[Relation]]:
    """Objects and relations of a GenEval-style prompt (its part before any comma); raises ``ValueError`` on
    free text."""
    text = " ".join(split_style(prompt)[0].lower().replace(".", " ").split())
    for prefix in PREFIXES:
        if text.startswith(prefix + " "):
            text = text[len(prefix) + 1 :]
            break
    for phrase, relation in RELATION_PHRASES:
        match = re.search(rf"\b{re.escape(phrase)}\b", text)
        if match:
            subject = text[: match.start()].split()
            while subject and subject[-1] in LINKING:  # "the hat was | on top of": the verb is not the hat's
                subject.pop()
            left = _parse_list(" ".join(subject))
            right = _parse_list(text[match.end() :])
            objects = left + right
            rel = Relation(subject=len(left) - 1, relation=relation, object=len(left))
            return objects, [rel]
    return _parse_list(text), []


def scene_text(objects: list[PlanObject], relations: list[Relation]) -> str:
    if relations:
        rel = relations[0]
        parts = [describe(o) for o in objects]
        left = " and ".join(parts[: rel.subject + 1])
        right = " and ".join(parts[rel.object :])
        return f"{left} {rel.relation} {right}"
    return " and ".join(describe(o) for o in objects)


def make_checks(objects: list[PlanObject], relations: list[Relation]) -> list[Check]:
    """DSG-style atomic questions: existence first, then count, colour and relations depending on it."""
    checks: list[Check] = []
    for i, obj in enumerate(objects):
        exists = f"o{i}"
        question = f"Are there {plural_name(obj.name)}?" if not obj.exact else f"Is there {article(obj.name)} {obj.name}?"
        checks.append(Check(id=exists, question=question, kind="exists", object=i))
        if obj.count > 1 and obj.exact:
            checks.append(Check(id=f"o{i}-count", question=f"Are there exactly {obj.count} {plural_name(obj.name)}?", kind="count",
                                object=i, depends_on=[exists]))
        if obj.color:
            checks.append(Check(id=f"o{i}-color", question=f"Is the {obj.name} {obj.color}?", kind="color", object=i,
                                depends_on=[exists]))
    for k, rel in enumerate(relations):
        a, b = objects[rel.subject], objects[rel.object]
        checks.append(Check(id=f"r{k}", question=f"Is the {a.name} {rel.relation} the {b.name}?", kind="relation",
                            object=rel.subject, relation=k, depends_on=[f"o{rel.subject}", f"o{rel.object}"]))
    return checks


def _rewrites() -> list[str]:
    return yaml.safe_load(prompts.load("rules_rewrites"))


class RulesPlanner:
    name = "rules"

    def _build(self, prompt: str, version: int, critique: str = "") -> Plan:
        """Only prompts of the shapes world are rewritten (by ``prompts/rules_rewrites.yaml``); any other prompt
        is kept as the user wrote it, style words included, and gets the checks the parser can read from it."""
        template = _rewrites()[(version - 1) % len(_rewrites())]
        try:
            objects, relations = parse(prompt)
        except ValueError:
            return Plan(
                prompt=prompt, planner=self.name, version=version, rewritten_prompt=prompt,
                checks=[Check(id="q0", question="Does the image show what the prompt describes?")],
                rationale="free-form prompt: the rules planner found no 'count colour object' phrases to check; "
                          "the prompt is kept as written",
            )
        shapes = in_shapes_world(objects)
        style = split_style(prompt)[1]
        if shapes:
            rewritten = template.format(scene=scene_text(objects, relations)) + (f", {style}" if style else "")
            rationale = "parsed objects, counts, colours and relations"
        else:
            rewritten = prompt
            rationale = ("parsed objects, counts, colours and relations; outside the shapes world the prompt is "
                         "kept as written")
        instances = sum(o.count for o in objects)
        layout = place(objects, relations) if instances <= MAX_REGIONS else None
        if layout is None:
            rationale += f"; no layout: {instances} instances, a layout places at most {MAX_REGIONS}"
        if critique:
            rationale += f"; re-plan {version} after: {critique}"
        return Plan(
            prompt=prompt, planner=self.name, version=version, rewritten_prompt=rewritten,
            objects=objects, relations=relations, checks=make_checks(objects, relations),
            layout=layout, rationale=rationale,
        )

    def plan(self, prompt: str) -> Plan:
        return self._build(prompt, 1)

    def replan(self, previous: Plan, critique: str, history: list[dict] | None = None) -> Plan:
        return self._build(previous.prompt, previous.version + 1, critique)

    def revise(self, previous: Plan, request: str) -> Plan:
        """A person's change: a new description of the scene ("two green triangles", "make it two green
        triangles") replaces the prompt; other words re-plan."""
        scene = scene_request(request)
        if scene is None:
            return self._build(previous.prompt, previous.version + 1, f"the person asked: {request}")
        return self._build(scene, previous.version + 1)


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
        "objects": objects, "checks": make_checks(objects, previous.relations), "layout": layout,
        "prompt": scene if previous.planner == "rules" else f"{previous.prompt} (the {old.name} {color})",
        "rewritten_prompt": rewritten if rewritten != previous.rewritten_prompt or old.color == color
        else f"{rewritten}, the {old.name} is {color}",
        "version": previous.version + 1, "rationale": f"the person asked for a {color} {old.name}"})

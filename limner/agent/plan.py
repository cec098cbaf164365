"""The plan: what the image must show and the checks it must pass. Planners (rules or LLM) produce it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from limner.agent.layout import Layout

RelationName = Literal["left of", "right of", "above", "below"]

MAX_COUNT = 20  # the most instances of one object a plan asks for
SCHEMA = 2  # 1: objects and relations only; 2: attributes, exclusions, global parts and unplanned spans


class PlanObject(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, description="singular noun, e.g. 'circle' or 'teddy bear'")
    count: int = Field(default=1, ge=1, le=MAX_COUNT)
    color: str | None = None
    exact: bool = Field(default=True, description=(
        "false for a bare plural ('rubber gloves'): some, at least two; the count is not checked"))
    attributes: list[str] = Field(default_factory=list, description=(
        "what else the brief says of it besides colour: size, material, texture, style ('large', 'wooden')"))
    span: list[int] | None = Field(default=None, min_length=2, max_length=2, description=(
        "[start, end) character offsets of the words in the brief that name it"))


class Exclusion(BaseModel):
    """What must not appear: 'no circles', 'without any red squares'."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, description="singular noun of what must not appear, e.g. 'circle'")
    color: str | None = Field(default=None, description="only this colour is excluded ('no red squares')")
    attributes: list[str] = Field(default_factory=list)
    span: list[int] | None = Field(default=None, min_length=2, max_length=2)


class Unplanned(BaseModel):
    """Words of the brief the plan does not represent, so no check tests them: listed, never dropped."""

    model_config = ConfigDict(extra="forbid")
    text: str
    span: list[int] | None = Field(default=None, min_length=2, max_length=2,
                                   description="[start, end) character offsets in the brief")
    reason: str = ""


class Relation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject: int = Field(ge=0, description="index into objects")
    relation: RelationName
    object: int = Field(ge=0, description="index into objects")
    span: list[int] | None = Field(default=None, min_length=2, max_length=2, description=(
        "[start, end) character offsets of the words that state it"))


class Check(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    question: str = Field(description="a yes/no question about the image")
    kind: Literal["exists", "count", "color", "attribute", "relation", "absent", "only", "other"] = Field(
        default="other", description=(
            "what the question tests, so structured answerers can answer it ('only': nothing besides the "
            "plan's objects is in the image; an edit's plan asks it, so that what an edit painted is only "
            "what was asked)"))
    object: int | None = Field(default=None, description="index into objects it concerns")
    relation: int | None = Field(default=None, description="index into relations, for kind 'relation'")
    exclusion: int | None = Field(default=None, description="index into exclusions, for kind 'absent'")
    depends_on: list[str] = Field(default_factory=list)


class PlanDraft(BaseModel):
    """What a planner writes (the LLM's structured output schema)."""

    model_config = ConfigDict(extra="forbid")
    reasoning: str = Field(default="", max_length=4000, description=(
        "written first: what the prompt asks for and how to prompt the target model for it"))
    rewritten_prompt: str = Field(min_length=1, description="the prompt the generator will get")
    negative_prompt: str = ""
    objects: list[PlanObject] = Field(default_factory=list)
    relations: list[Relation] = Field(default_factory=list)
    exclusions: list[Exclusion] = Field(default_factory=list, description=(
        "what must not appear: each gets a check that none is there, and goes into negative_prompt"))
    background: str = Field(default="", description="what the background is, as the brief says it")
    style: str = Field(default="", description="style, medium and words about the whole image")
    unplanned: list[Unplanned] = Field(default_factory=list, description=(
        "every part of the brief this plan does not represent, with its span"))
    checks: list[Check] = Field(default_factory=list)
    layout: Layout | None = Field(default=None, description=(
        "where each object goes: one region per object instance, boxes as fractions of the image"))
    rationale: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> "PlanDraft":
        n = len(self.objects)
        problem = graph_problem(self.objects, self.relations)
        if problem:
            raise ValueError(problem)
        for excl in self.exclusions:
            for obj in self.objects:
                if excludes(excl, obj):
                    raise ValueError(f"contradictory brief: it asks for the {entity_words(obj)} and for no "
                                     f"{entity_words(excl)}")
        ids = [c.id for c in self.checks]
        if len(set(ids)) != len(ids):
            raise ValueError("check ids must be unique")
        for check in self.checks:
            if check.object is not None and check.object >= n:
                raise ValueError(f"check {check.id} names object {check.object}, which is not in the plan")
            if check.relation is not None and check.relation >= len(self.relations):
                raise ValueError(f"check {check.id} names relation {check.relation}, which is not in the plan")
            if check.exclusion is not None and check.exclusion >= len(self.exclusions):
                raise ValueError(f"check {check.id} names exclusion {check.exclusion}, which is not in the plan")
            if check.kind == "absent" and check.exclusion is None:
                raise ValueError(f"check {check.id} is of kind 'absent' but names no exclusion")
            missing = [d for d in check.depends_on if d not in ids]
            if missing:
                raise ValueError(f"check {check.id} depends on unknown checks {missing}")
        cycle = _cycle({c.id: c.depends_on for c in self.checks})
        if cycle:
            raise ValueError(f"checks depend on each other in a cycle: {' -> '.join(cycle)}")
        if self.layout is not None:
            for k, region in enumerate(self.layout.regions):
                if region.object is not None and region.object >= n:
                    raise ValueError(f"layout region {k} ('{region.phrase}') names object {region.object}, "
                                     "which is not in the plan")
        return self


class Plan(PlanDraft):
    prompt: str = Field(description="the user's prompt as given")
    planner: str = Field(description="which planner made this plan: 'rules' or 'llm:<model>'")
    version: int = Field(default=1, ge=1, description="1 for the first plan, +1 per re-plan")
    judge_prompt: str = Field(default="", description=(
        "the brief as reward models read it: exclusion phrases cut out, since a text encoder reads 'no circles' as "
        "circles ('' = the prompt as given)"))
    crosscheck: list[str] = Field(default_factory=list, description=(
        "where the LLM's reading and the rules reader's differ, and what was done about it"))
    schema_version: int = Field(default=SCHEMA, description="the plan schema it was written in (see upgrade_plan)")


def upgrade_plan(plan: dict | None) -> dict | None:
    """A stored plan in the current schema: a plan of schema 1 (objects and relations only, no
    ``schema_version``) gains empty attributes, exclusions, global parts and unplanned spans; its checks and
    layout are kept as they were. Idempotent; None stays None."""
    if not plan or plan.get("schema_version", 1) >= SCHEMA:
        return plan
    out = {**plan, "objects": [{"attributes": [], "span": None, **o} for o in plan.get("objects", [])],
           "checks": [{"exclusion": None, **c} for c in plan.get("checks", [])]}
    for key, empty in (("exclusions", []), ("background", ""), ("style", ""), ("unplanned", []), ("crosscheck", [])):
        out.setdefault(key, empty)
    out["schema_version"] = SCHEMA
    return out


def describe_parts(plan: dict) -> dict[str, list[str]]:
    """The plan's scene graph as lines for people: ``{"entities", "relations", "exclusions", "global",
    "unplanned"}`` (a terminal and the report show the same words)."""
    plan = upgrade_plan(plan) or {}
    objs = plan.get("objects", [])
    words = entity_words
    entities = [f"{o['count'] if o.get('exact', True) else 'some'} x {words(o)}" for o in objs]
    relations = [f"{words(objs[r['subject']])} {r['relation']} {words(objs[r['object']])}"
                 for r in plan.get("relations", []) if r["subject"] < len(objs) and r["object"] < len(objs)]
    exclusions = [f"no {words(e)}" for e in plan.get("exclusions", [])]
    parts = [f"{k}: {plan[k]}" for k in ("background", "style") if plan.get(k)]
    unplanned = [f"'{u['text']}'" + (f" [{u['span'][0]}:{u['span'][1]}]" if u.get("span") else "")
                 + f": {u['reason']}" for u in plan.get("unplanned", [])]
    return {"entities": entities, "relations": relations, "exclusions": exclusions, "global": parts,
            "unplanned": unplanned, "crosscheck": list(plan.get("crosscheck", []))}


AXES = {"left of": ("x", False), "right of": ("x", True), "above": ("y", False), "below": ("y", True)}


def _get(thing, key: str, default=None):
    return thing.get(key, default) if isinstance(thing, dict) else getattr(thing, key, default)


def entity_words(thing) -> str:
    """'large wooden chair', 'purple triangle': the words that pick out one entity or exclusion, without its
    count (a ``PlanObject``, an ``Exclusion`` or either as a dict)."""
    color = _get(thing, "color")
    return " ".join([*(_get(thing, "attributes") or []), *([color] if color else []), _get(thing, "name")])


def excludes(exclusion, obj) -> bool:
    """Whether ``exclusion`` rules out ``obj``: the same name, the exclusion's colour (if it gives one) and its
    attributes all the object's."""
    return (obj.name == exclusion.name and exclusion.color in (None, obj.color)
            and set(exclusion.attributes) <= set(obj.attributes))


def graph_problem(objects, relations) -> str | None:
    """Why relations cannot stand between these objects: an index not in ``objects``, an object related to
    itself, or relations that cannot all hold (``contradiction``); None when they can."""
    n = len(objects)
    for rel in relations:
        if rel.subject >= n or rel.object >= n or rel.subject == rel.object:
            return f"relation {rel.subject} {rel.relation} {rel.object} names objects not in the plan"
    return contradiction(objects, relations)


def contradiction(objects, relations) -> str | None:
    """Why the relations cannot all hold at once ("'the circle left of the square' and 'the square left of
    the circle' contradict each other"), or None. Relations order objects along x (left of, right of) and y
    (above, below); a cycle along one axis is a contradiction."""
    for axis in ("x", "y"):
        edges: dict[int, list[tuple[int, int]]] = {}
        for k, rel in enumerate(relations):
            ax, flip = AXES[rel.relation]
            if ax == axis:
                a, b = (rel.object, rel.subject) if flip else (rel.subject, rel.object)
                edges.setdefault(a, []).append((b, k))
        cycle = _cycle({str(a): [str(b) for b, _ in out] for a, out in edges.items()})
        if cycle:
            nodes = [int(c) for c in cycle]
            used = []
            for a, b in zip(nodes, nodes[1:]):
                used.append(next(k for t, k in edges[a] if t == b))
            said = [f"'the {_called(objects, relations[k].subject)} {relations[k].relation} the "
                    f"{_called(objects, relations[k].object)}'" for k in used]
            joined = " and ".join(said) if len(said) <= 2 else ", ".join(said[:-1]) + " and " + said[-1]
            return f"contradictory relations: {joined} cannot all hold"
    return None


ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")


def _called(objects, i: int) -> str:
    """The object's words, with "first", "second"... when other objects share them ("the second cat")."""
    words = entity_words(objects[i])
    same = [j for j, o in enumerate(objects) if entity_words(o) == words]
    if len(same) < 2:
        return words
    k = same.index(i)
    return f"{ORDINALS[k] if k < len(ORDINALS) else f'#{k + 1}'} {words}"


def _cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A dependency cycle among the checks (``[a, b, a]``), or None; iterative, so long chains are fine."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in graph:
        if state.get(root):
            continue
        path, stack = [root], [iter(graph[root])]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt) and nxt in graph:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(graph[nxt]))
    return None

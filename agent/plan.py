"""The plan: what the image must show and the checks it must pass. Planners (rules or LLM) produce it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from limner.agent.layout import Layout

RelationName = Literal["left of", "right of", "above", "below"]


MAX_COUNT = 20  # the most instances of one object a plan asks for


class PlanObject(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, description="singular noun, e.g. 'circle' or 'teddy bear'")
    count: int = Field(default=1, ge=1, le=MAX_COUNT)
    color: str | None = None
    exact: bool = Field(default=True, description=(
        "false for a bare plural ('rubber gloves'): some, at least two; the count is not checked"))


class Relation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subject: int = Field(ge=0, description="index into objects")
    relation: RelationName
    object: int = Field(ge=0, description="index into objects")


class Check(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    question: str = Field(description="a yes/no question about the image")
    kind: Literal["exists", "count", "color", "relation", "other"] = Field(
        default="other", description="what the question tests, so structured answerers can answer it")
    object: int | None = Field(default=None, description="index into objects it concerns")
    relation: int | None = Field(default=None, description="index into relations, for kind 'relation'")
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
    checks: list[Check] = Field(default_factory=list)
    layout: Layout | None = Field(default=None, description=(
        "where each object goes: one region per object instance, boxes as fractions of the image"))
    rationale: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> "PlanDraft":
        n = len(self.objects)
        for rel in self.relations:
            if rel.subject >= n or rel.object >= n or rel.subject == rel.object:
                raise ValueError(f"relation {rel.subject} {rel.relation} {rel.object} names objects not in the plan")
        ids = [c.id for c in self.checks]
        if len(set(ids)) != len(ids):
            raise ValueError("check ids must be unique")
        for check in self.checks:
            if check.object is not None and check.object >= n:
                raise ValueError(f"check {check.id} names object {check.object}, which is not in the plan")
            if check.relation is not None and check.relation >= len(self.relations):
                raise ValueError(f"check {check.id} names relation {check.relation}, which is not in the plan")
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

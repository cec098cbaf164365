"""What a person's turn in a chat means, as one typed ``Intent``: the schema both readers write.

The rules reader (``edits.rules``) and the LLM reader (``edits.llm``, JSON-schema output) produce the same
model; ``Scene`` is what both are told: the plan's objects with where they are, the candidates by id, and the
conversation's earlier intents (for "no, make it blue", "the other one", and the answer to a question).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Stage = Literal["plan", "round"]
Action = Literal["accept", "cancel", "pick", "more", "edit", "undo", "back", "ask", "replan"]
Kind = Literal["recolor", "resize", "move", "add", "remove", "replace", "restyle", "regenerate"]
Where = Literal["left", "right", "top", "bottom", "center", "top left", "top right", "bottom left", "bottom right"]
Relation = Literal["left of", "right of", "above", "below"]

ALLOWED: dict[str, set[str]] = {
    "plan": {"accept", "cancel", "edit", "ask", "replan"},
    "round": {"accept", "cancel", "pick", "more", "edit", "undo", "back", "ask", "replan"},
}
# what each kind needs besides its object: the rules reader and the checks in ``read`` use one table
NEEDS_OBJECT = {"recolor", "resize", "move", "remove", "replace"}


class Intent(BaseModel):
    """One turn of a person, read. The fields are in the order a reading is written ("add", then the noun, then
    its colour and place): a JSON-schema grammar (llama.cpp's) keeps this order, so an LLM that writes the noun
    first can still give the colour and the place after it."""

    model_config = ConfigDict(extra="forbid")
    action: Action = Field(description=(
        "accept: approve the plan / take the best image; cancel: stop now; pick: finish with a named candidate; "
        "more: another round with the same plan and fresh noise; edit: change the image (see kind); undo: go back "
        "to the image before the last edit; back: go back to a named candidate and go on from it; ask: the words "
        "are ambiguous (which object?): ask one short question; replan: a new description of the whole scene, "
        "naming its objects (a new look for the same picture is an edit of kind restyle)"))
    kind: Kind | None = Field(default=None, description=(
        "edit only. recolor: an object's colour; resize: its size; move: its place; add: a new object; remove: "
        "an object goes; replace: an object becomes another thing; restyle: the whole image's style; regenerate: "
        "an object (or, with no object, the whole image) made again"))
    candidate: str | None = Field(default=None, description=(
        "the candidate id it applies to (pick, back, or the image an edit starts from); empty = the current one"))
    object: int | None = Field(default=None, ge=0, description="index into the scene's objects the edit changes")
    name: str | None = Field(default=None, description="add/replace: the new object's noun, singular")
    color: str | None = Field(default=None, description="recolor: the new colour; add: the new object's colour")
    scale: float = Field(default=1.0, ge=0.3, le=3.0, description="resize: above 1 bigger, below 1 smaller")
    where: Where | None = Field(default=None, description="move/add: where in the image")
    relation: Relation | None = Field(default=None, description="move/add: placed in this relation to 'anchor'")
    anchor: int | None = Field(default=None, ge=0, description="move/add: index of the object it is placed by")
    style: str | None = Field(default=None, description="restyle: the style, in the person's words")
    question: str = Field(default="", description="ask: the one short question to put to the person")
    pending: dict | None = Field(default=None, description=(
        "ask: the edit as far as it was understood, completed by the person's answer"))
    request: str = Field(default="", description="replan: what the person wants, in their words")
    reply: str = Field(default="", description="one short sentence telling the person what happens next")


class SceneObject(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    color: str | None = None
    count: int = 1
    box: list[float] | None = Field(default=None, description="where it is in the current image, as fractions")


class Scene(BaseModel):
    """What a reader is told about the session."""

    model_config = ConfigDict(extra="forbid")
    objects: list[SceneObject] = Field(default_factory=list)
    candidates: list[str] = Field(default_factory=list, description="candidate ids, oldest first")
    history: list[dict] = Field(default_factory=list, description="earlier intents of this session, oldest first")

    @classmethod
    def of(cls, plan: dict, candidates: list[dict], history: list[dict] | None = None,
           boxes: dict[int, list[float]] | None = None) -> "Scene":
        """From a plan, the candidates so far and where each object was found (``boxes``, by object index;
        the plan's layout fills in the rest)."""
        regions = {r.get("object"): r["box"] for r in (plan.get("layout") or {}).get("regions", [])}
        objects = [SceneObject(name=o["name"], color=o.get("color"), count=o.get("count", 1),
                               box=(boxes or {}).get(i) or regions.get(i)) for i, o in enumerate(plan.get("objects", []))]
        return cls(objects=objects, candidates=[c["id"] for c in candidates], history=list(history or []))


def expected_match(intent: Intent, expect: dict) -> list[str]:
    """The fields of ``expect`` (the phrasing table's) that ``intent`` gets wrong; [] when it is right."""
    got = intent.model_dump()
    wrong = []
    for key, want in expect.items():
        have = got.get(key)
        if key == "scale":
            ok = (have > 1) if want == ">1" else (have < 1) if want == "<1" else have == want
        elif key == "style":
            ok = have is not None and str(want).lower() in have.lower()
        else:
            ok = have == want
        if not ok:
            wrong.append(f"{key}: {have!r} (want {want!r})")
    return wrong

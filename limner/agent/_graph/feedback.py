"""A person's answer in a chat session, read as one ``Feedback`` action.

With an LLM endpoint the LLM reads the answer (JSON-schema output, validated); offline, ``read_rules`` reads
the plain words a person most often uses: yes/ok, cancel, "pick c0003", "more", "make the square bigger",
"the circle should be red", or a new description of the scene. Either way the result is a ``Feedback``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from limner import prompts

Stage = Literal["plan", "round"]

COLOR_WORDS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "gray",
               "grey", "cyan", "magenta")
YES = {"y", "yes", "ok", "okay", "approve", "approved", "accept", "accepted", "go", "good", "great", "done",
       "fine", "perfect", "lgtm", "keep"}
CANCEL = {"cancel", "quit", "stop", "abort", "exit"}
MORE = {"more", "again", "another", "retry", "different", "others", "new"}
BIGGER = {"bigger", "larger", "enlarge", "grow"}
SMALLER = {"smaller", "shrink", "tinier"}
HISTORY = 10  # earlier turns of the conversation the LLM sees


class Feedback(BaseModel):
    """What the person wants next."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["accept", "cancel", "pick", "more", "edit", "replan"] = Field(description=(
        "accept: approve the plan / take the best image; cancel: stop now; pick: finish with the named candidate; "
        "more: another round of fresh noise; edit: repaint one object of a candidate; replan: change the plan"))
    candidate: str | None = Field(default=None, description="candidate id for pick or edit (default: the best)")
    object: int | None = Field(default=None, ge=0, description="edit: index into the plan's objects")
    color: str | None = Field(default=None, description="edit: the object's new colour, if it changes")
    scale: float = Field(default=1.0, ge=0.3, le=3.0, description="edit: grow (>1) or shrink (<1) the object")
    request: str = Field(default="", description="replan: what the person wants changed, in their words")
    reply: str = Field(default="", description="one short sentence telling the person what happens next")


ALLOWED = {"plan": {"accept", "cancel", "replan"}, "round": {"accept", "cancel", "pick", "more", "edit", "replan"}}


def _words(text: str) -> list[str]:
    return "".join(c.lower() if c.isalnum() or c == "-" else " " for c in text).replace(" - ", " ").split()


def _candidate_id(word: str, ids: list[str]) -> str | None:
    """A candidate named in full (``r02-c01``) or by its ending (``c01``: the latest round's)."""
    if word in ids:
        return word
    ends = [cid for cid in ids if cid.endswith("-" + word)]
    return ends[-1] if ends else None  # several rounds have a c01: the latest round's, which the person just saw


def read_rules(text: str, stage: Stage, plan: dict, candidate_ids: list[str]) -> Feedback:
    """The offline reading of a person's words (no LLM)."""
    words = _words(text)
    if not words or (set(words) <= YES | {"it", "this", "one", "the", "plan", "looks", "please"}):
        return Feedback(action="accept", reply="accepted")
    if words[0] in CANCEL:
        return Feedback(action="cancel", reply="stopping; the best image so far is kept")
    if stage == "round":
        if words[0] in {"pick", "choose", "take", "use"}:
            for w in words[1:]:
                cid = _candidate_id(w, candidate_ids)
                if cid:
                    return Feedback(action="pick", candidate=cid, reply=f"finishing with {cid}")
        if set(words) & MORE and len(words) <= 4:
            return Feedback(action="more", reply="another round of fresh noise")
        names = [o["name"] for o in plan.get("objects", [])]
        mentioned = [i for i, n in enumerate(names) if n in words or n + "s" in words]
        if len(mentioned) == 1:
            i = mentioned[0]
            colors = [w for w in words if w in COLOR_WORDS]
            scale = 1.5 if set(words) & BIGGER else 0.7 if set(words) & SMALLER else 1.0
            color = colors[-1] if colors else None
            if color or scale != 1.0:
                cid = next((c for w in words if (c := _candidate_id(w, candidate_ids))), None)
                what = ", ".join(x for x in (f"make it {color}" if color else "",
                                             "bigger" if scale > 1 else "smaller" if scale < 1 else "") if x)
                return Feedback(action="edit", object=i, color=color, scale=scale, candidate=cid,
                                reply=f"repainting the {names[i]} ({what})")
    return Feedback(action="replan", request=" ".join(text.split()), reply="changing the plan")


def read_llm(llm, text: str, stage: Stage, plan: dict, candidates: list[dict],
             history: list[dict] | None = None) -> Feedback:
    """The LLM's reading of a person's words, validated against ``Feedback`` (one repair turn).

    ``history``: the conversation so far (``state["chat"]``); its last turns go along as context.
    """
    import json

    earlier = [{"stage": t["stage"], "answer": t["answer"], "read_as": t["read_as"].get("action")}
               for t in (history or [])[-HISTORY:]]
    context = {"stage": stage, "allowed_actions": sorted(ALLOWED[stage]), "conversation_so_far": earlier,
               "plan": {k: plan.get(k) for k in ("rewritten_prompt", "objects", "relations")},
               "candidates": [{"id": c["id"], "score": round(c["score"], 3)} for c in candidates]}
    messages = [{"role": "system", "content": prompts.load("feedback_system")},
                {"role": "user", "content": prompts.render("feedback_user", context=json.dumps(context, indent=1),
                                                           answer=text)}]
    return llm.structured(messages, Feedback, purpose="feedback")


def read(text: str, stage: Stage, plan: dict, candidates: list[dict], llm=None,
         history: list[dict] | None = None) -> Feedback:
    """Read an answer with the LLM when there is one, else with the rules; check it fits the stage."""
    ids = [c["id"] for c in candidates]
    fb = (read_llm(llm, text, stage, plan, candidates, history) if llm is not None
          else read_rules(text, stage, plan, ids))
    if fb.action not in ALLOWED[stage]:
        fb = Feedback(action="replan", request=text, reply="changing the plan")
    if fb.candidate is not None and fb.candidate not in ids:
        fb = fb.model_copy(update={"candidate": None})
    if fb.action == "pick" and fb.candidate is None:
        fb = fb.model_copy(update={"action": "accept"})
    if fb.action == "edit" and (fb.object is None or fb.object >= len(plan.get("objects", []))):
        fb = Feedback(action="replan", request=text, reply="changing the plan")
    return fb

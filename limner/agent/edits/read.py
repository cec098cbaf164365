"""Read a person's turn with the LLM when there is one, else with the rules, and check the result fits. An
LLM's reading is also checked against the rules': its choice of one object among several the words fit becomes
the rules reader's question, and its re-plan of what the rules read as a restyle becomes that restyle."""

from __future__ import annotations

import json

from limner import prompts
from limner.agent.edits.intent import ALLOWED, NEEDS_OBJECT, Intent, Scene, Stage
from limner.agent.edits.rules import ask_which, read_rules, unsettled_reference

HISTORY = 10  # earlier intents the LLM sees


def read_llm(llm, text: str, stage: Stage, scene: Scene) -> Intent:
    """The LLM's reading, validated against ``Intent`` (JSON schema; one repair turn)."""
    context = {"stage": stage, "allowed_actions": sorted(ALLOWED[stage]),
               "objects": [{"index": i, **o.model_dump(exclude_none=True)} for i, o in enumerate(scene.objects)],
               "candidates": scene.candidates, "earlier_turns": scene.history[-HISTORY:]}
    messages = [{"role": "system", "content": prompts.load("intent_system")},
                {"role": "user", "content": prompts.render("intent_user", context=json.dumps(context, indent=1),
                                                           answer=text)}]
    return llm.structured(messages, Intent, purpose="intent")


def checked(intent: Intent, text: str, stage: Stage, scene: Scene) -> Intent:
    """``intent`` made to fit the stage and the scene: an action the stage does not allow, a candidate or an
    object that does not exist, an edit missing what it needs: each is a question or a re-plan, never a guess."""
    replan = Intent(action="replan", request=" ".join(text.split()), reply="changing the plan")
    if intent.action not in ALLOWED[stage]:
        return replan
    if intent.candidate is not None and intent.candidate not in scene.candidates:
        if intent.action in ("pick", "back"):
            return Intent(action="ask", question=f"there is no candidate {intent.candidate}: which one do you mean?",
                          reply=f"there is no candidate {intent.candidate}")
        intent = intent.model_copy(update={"candidate": None})
    if intent.action == "pick" and intent.candidate is None:
        return Intent(action="accept", reply="accepted")
    if intent.action == "back" and intent.candidate is None:
        return Intent(action="undo", reply="back to the image before the last edit")
    n = len(scene.objects)
    if intent.object is not None and intent.object >= n or intent.anchor is not None and intent.anchor >= n:
        return replan
    if intent.action == "edit":
        if intent.kind is None:
            return replan
        if intent.kind in NEEDS_OBJECT and intent.object is None:
            return Intent(action="ask", question="which object do you mean?", reply="which object do you mean?",
                          pending=intent.model_dump(exclude_defaults=True))
        if intent.kind in ("add", "replace") and not intent.name:
            return Intent(action="ask", question="what should it be?", reply="what should it be?",
                          pending=intent.model_dump(exclude_defaults=True))
        if intent.kind == "recolor" and not intent.color:
            return Intent(action="ask", question="which colour?", reply="which colour?",
                          pending=intent.model_dump(exclude_defaults=True))
    return intent


def read(text: str, stage: Stage, scene: Scene, llm=None) -> Intent:
    """The reading of one turn (the LLM's when ``llm`` is given), checked (``checked``)."""
    if llm is None:
        return checked(read_rules(text, stage, scene), text, stage, scene)
    intent = checked(read_llm(llm, text, stage, scene), text, stage, scene)
    if intent.action == "replan":  # a new look for the same picture is a restyle (the prompt says so; small
        rules = read_rules(text, stage, scene)  # models start a new plan anyway, losing the session's images)
        if rules.action == "edit" and rules.kind == "restyle":
            return checked(rules, text, stage, scene)
    # an LLM picks an object even when the words fit several ("the circle" of two): that is a question
    options = unsettled_reference(text, intent, scene)
    return ask_which(intent, scene, options) if options else intent

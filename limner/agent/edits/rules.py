"""The offline reader of a person's turn: plain words -> ``Intent`` (no LLM).

It splits the words into noun phrases first: "a/an/another ..." names something new (what is added, what an
object becomes), "the ..."/"it" points at an object of the scene (by name, colour or place: "the left one",
"the red one", "the other one"). Then the verbs and words say which kind of edit it is, and the phrases fill
it in. A pointer that fits several objects asks which one; "no, make it blue" corrects the last edit; the
answer to a question completes the edit that asked it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from limner.agent.edits.intent import Intent, Scene, Stage
from limner.agent.planners.lexicon import BASE_COLORS as COLORS
from limner.agent.planners.lexicon import SIZES as SIZE_WORDS
from limner.agent.planners.words import singular

SIZES = SIZE_WORDS | {"smaller", "bigger", "larger"}
PLACES = {"left", "right", "top", "bottom", "upper", "lower", "middle", "center", "centre"}
YES = {"y", "yes", "ok", "okay", "approve", "approved", "accept", "accepted", "go", "good", "great", "done", "fine",
       "perfect", "lgtm", "keep", "thanks", "nice", "love", "it", "this", "one", "the", "plan", "looks", "please", "i",
       "m", "am", "that", "s", "is", "all", "we", "re", "are", "happy", "with", "finished", "looking"}
CANCEL = {"cancel", "quit", "stop", "abort", "exit"}
MORE = {"more", "another", "others", "other", "different", "new", "some", "show", "me", "round", "images", "options",
        "please", "try", "again"}
BIGGER = {"bigger", "larger", "enlarge", "grow", "increase", "huge", "big", "large", "giant", "wider", "taller"}
SMALLER = {"smaller", "shrink", "tinier", "tiny", "reduce", "little", "narrower", "shorter"}
# words that make a turn a restyle (not the planner's STYLE_WORDS: it also holds the words around a style phrase, "the",
# "of", "like", which every edit has)
STYLE_WORDS = {"style", "watercolor", "watercolour", "painting", "sketch", "drawing", "cartoon", "anime", "pixel",
               "photo", "photograph", "photorealistic", "render", "pencil", "oil", "pop", "art", "impressionist",
               "cubist", "comic", "vintage", "retro", "noir", "realistic", "illustration", "poster"}
STOP_NOUNS = {"one", "bit", "little", "lot", "more", "the", "a", "an", "some", "new", "other", "instead", "of", "on",
              "in", "at", "to", "into", "with", "and", "please", "there", "here", "it", "too"}
RELATIONS = (("left of", "left of"), ("to the left of", "left of"), ("right of", "right of"),
             ("to the right of", "right of"), ("above", "above"), ("over", "above"), ("on top of", "above"),
             ("below", "below"), ("under", "below"), ("beneath", "below"), ("underneath", "below"))
CORRECTION = {"no", "nope", "actually", "rather", "instead", "meant", "wait", "not"}
ID = re.compile(r"^(r\d{2,}-)?c\d{2,}$")


@dataclass
class Phrase:
    start: int
    end: int
    new: bool  # "a ..." (something new) or "the ..." / a bare name (a pointer into the scene)
    noun: str | None = None  # singular
    color: str | None = None
    place: str | None = None
    other: bool = False
    size: str | None = None


@dataclass
class Words:
    text: str
    tokens: list[str]
    phrases: list[Phrase] = field(default_factory=list)

    def has(self, *ws: str) -> bool:
        return any(w in self.tokens for w in ws)

    def joined(self) -> str:
        return " " + " ".join(self.tokens) + " "

    def says(self, *phrases: str) -> bool:
        j = self.joined()
        return any(f" {p} " in j for p in phrases)


def _tokens(text: str) -> list[str]:
    text = text.lower().replace("’", "'").replace("'", " ")
    return "".join(c if c.isalnum() or c == "-" else " " for c in text).split()


def _names(scene: Scene) -> set[str]:
    return {o.name for o in scene.objects} | {o.name + "s" for o in scene.objects}


def chunk(text: str, scene: Scene) -> Words:
    """The words and their noun phrases."""
    toks = _tokens(text)
    names = _names(scene)
    w = Words(text, toks)
    i = 0
    while i < len(toks):
        t = toks[i]
        new = t in ("a", "an", "another", "some")
        if new or t in ("the", "this", "that") and i + 1 < len(toks) and (toks[i + 1] in names or toks[i + 1] in
                                                                           COLORS or toks[i + 1] in PLACES
                                                                           or toks[i + 1] in ("one", "other")):
            p = Phrase(i, i + 1, new)
            j = i + 1
            while j < len(toks) and (toks[j] in COLORS or toks[j] in SIZES or toks[j] in PLACES or toks[j] == "other"
                                     or toks[j] in ("bit", "more")):
                if toks[j] in COLORS:
                    p.color = toks[j]
                elif toks[j] in PLACES:
                    p.place = toks[j]
                elif toks[j] == "other":
                    p.other = True
                elif toks[j] in SIZES:
                    p.size = toks[j]
                j += 1
            if j < len(toks) and toks[j] not in STOP_NOUNS - {"one"} and not ID.match(toks[j]):
                p.noun = None if toks[j] == "one" else singular(toks[j])
                j += 1
            if p.noun is None and not new and toks[j - 1] == "one" and toks[j:j + 3] in (["on", "the", "left"],
                                                                                       ["on", "the", "right"]):
                p.place = toks[j + 2]
                j += 3
            p.end = j
            if new and p.noun is None:
                if t == "another":  # "another circle" caught above; "another one" / "another" alone: nothing new
                    pass
                i += 1
                continue
            if new or p.noun or p.color or p.place or p.other or toks[j - 1] == "one":
                w.phrases.append(p)
                i = j
                continue
        if t in names and not any(p.start <= i < p.end for p in w.phrases):
            w.phrases.append(Phrase(i, i + 1, False, noun=singular(t)))
        elif t in ("it", "them") or t in ("this", "that") and (i + 1 == len(toks) or toks[i + 1] not in names):
            w.phrases.append(Phrase(i, i + 1, False))  # a pronoun: the last object the person named
        i += 1
    return w


def _centre(box: list[float]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def _last_edit(scene: Scene) -> dict | None:
    for h in reversed(scene.history):
        if h.get("action") == "edit":
            return h
    return None


def _last_object(scene: Scene) -> int | None:
    for h in reversed(scene.history):
        if h.get("object") is not None:
            return h["object"]
    return None


class Ambiguous(Exception):
    def __init__(self, options: list[int]):
        self.options = options


def resolve(p: Phrase, scene: Scene) -> int | None:
    """The scene object a pointer phrase means (``Ambiguous`` with the options when several fit; None: none)."""
    objs = list(enumerate(scene.objects))
    if p.noun is None and p.color is None and p.place is None and not p.other:  # "it", "that"
        last = _last_object(scene)
        if last is not None and last < len(scene.objects):
            return last
        if len(objs) == 1:
            return 0
        raise Ambiguous([i for i, _ in objs])
    fit = [(i, o) for i, o in objs if p.noun in (None, o.name)]
    if p.color:
        fit = [(i, o) for i, o in fit if o.color == p.color] or fit
    if p.other:
        last = _last_object(scene)
        fit = [(i, o) for i, o in fit if i != last]
    if p.place and len(fit) > 1 and all(o.box for _, o in fit):
        axis, pick = {"left": (0, min), "right": (0, max), "top": (1, min), "upper": (1, min), "bottom": (1, max),
                      "lower": (1, max)}.get(p.place, (None, None))
        if axis is not None:
            fit = [pick(fit, key=lambda io: _centre(io[1].box)[axis])]
    if len(fit) == 1:
        return fit[0][0]
    if not fit:
        return None
    raise Ambiguous([i for i, _ in fit])


def _candidate(words: Words, ids: list[str]) -> str | None:
    for t in words.tokens:
        if t in ids:
            return t
        if ID.match(t):
            ends = [c for c in ids if c.endswith("-" + t)]
            if ends:
                return ends[-1]  # several rounds have a c01: the latest round's, which the person just saw
    return None


def _where(words: Words) -> str | None:
    j = words.joined().replace("upper", "top").replace("lower", "bottom").replace("centre", "center")
    for corner in ("top left", "top right", "bottom left", "bottom right"):
        if f" {corner} " in j or f" {corner.split()[1]} {corner.split()[0]} " in j:
            return corner
    for side in ("left", "right", "top", "bottom", "center", "middle"):
        if re.search(rf" (to|on|at|in|toward|towards|into) (the )?(very )?{side} ", j):
            return "center" if side == "middle" else side
    return None


def _relation(words: Words, scene: Scene) -> tuple[str | None, int | None]:
    j = words.joined()
    for phrase, rel in RELATIONS:
        at = j.find(f" {phrase} ")
        if at < 0:
            continue
        after = len(j[:at + len(phrase) + 2].split())  # tokens up to the relation's end
        for p in words.phrases:
            if p.start >= after and not p.new:
                try:
                    return rel, resolve(p, scene)
                except Ambiguous:
                    return rel, None
    return None, None


def _style(words: Words) -> str:
    text = " ".join(words.tokens)
    for marker in ("in the style of ", "look like ", "looks like ", "style of ", " as ", "make it ", "in "):
        at = text.find(marker.strip() + " ") if not marker.startswith(" ") else text.find(marker)
        if at >= 0:
            text = text[at + len(marker.strip()) + 1:] if not marker.startswith(" ") else text[at + len(marker):]
            break
    words_ = [t for t in text.split() if t not in ("please", "style", "instead", "more")]
    return " ".join(words_).strip() or " ".join(words.tokens)


def _colors(words: Words) -> list[str]:
    """Colour words that are not part of a pointer ('the red one'): the new colours said."""
    inside = {i for p in words.phrases if not p.new for i in range(p.start, p.end)}
    return [t for k, t in enumerate(words.tokens) if t in COLORS and k not in inside]


def _scale(words: Words) -> float:
    if words.says("too small", "too little", "too tiny"):
        return 1.5
    if words.says("too big", "too large", "too huge"):
        return 0.7
    if words.has(*BIGGER):
        return 1.5
    if words.has(*SMALLER):
        return 0.7
    return 1.0


def _kind(words: Words, scene: Scene) -> str | None:
    new = [p for p in words.phrases if p.new and p.noun]
    if words.has("regenerate", "redo") or words.says("start over", "from scratch", "try again", "again from"):
        return "regenerate"
    if words.says("try the") and words.has("again"):
        return "regenerate"
    if words.has("remove", "delete", "erase", "rid", "drop", "without") or words.says(
            "take out", "take away", "don t want", "do not want", "no more", "get rid"):
        return "remove"
    if words.has("replace", "swap", "instead") or (words.has("turn", "change", "transform") and words.has("into")) \
            or (words.has("change") and new and words.has("to")):
        return "replace" if new else None
    if words.has("add", "insert", "include") or words.says("there should also be", "also put") or (
            words.has("put", "place") and new):
        return "add"
    if words.has("move", "shift", "drag", "put", "place", "slide"):
        return "move"
    if words.has("style", "styled") or (set(words.tokens) & STYLE_WORDS and words.has("like", "as", "style", "make",
                                                                                      "render")):
        return "restyle"
    if _scale(words) != 1.0 and not _colors(words):
        return "resize"
    if _colors(words):
        return "recolor"
    if words.has("make") and new:  # "make the square a triangle"
        return "replace"
    return None


def read_rules(text: str, stage: Stage, scene: Scene) -> Intent:
    """The offline reading of one turn."""
    words = chunk(text, scene)
    toks = words.tokens
    if not toks or (set(toks) <= YES and not set(toks) & {"it", "this", "that"} - {"it"}) and not _colors(words) \
            and not words.has("no", "not"):
        return Intent(action="accept", reply="accepted")
    if toks[0] in CANCEL:
        return Intent(action="cancel", reply="stopping; the best image so far is kept")
    cid = _candidate(words, scene.candidates)
    last = scene.history[-1] if scene.history else None
    if stage == "round":
        if words.has("undo", "revert") and cid is None or words.says("go back", "step back") and cid is None \
                and len(toks) <= 4:
            return Intent(action="undo", reply="back to the image before the last edit")
        if cid and (words.has("back", "revert", "return") or words.says("go to")):
            return Intent(action="back", candidate=cid, reply=f"going on from {cid}")
        if cid and toks[0] in ("pick", "choose", "take", "use", "select", "finish") and len(toks) <= 4:
            return Intent(action="pick", candidate=cid, reply=f"finishing with {cid}")
    if last and last.get("action") == "ask" and last.get("pending"):  # the answer to a question
        for p in words.phrases:
            if not p.new:
                try:
                    index = resolve(p, scene)
                except Ambiguous:
                    break
                if index is not None:
                    return _finish(Intent(**{**last["pending"], "object": index}), scene)
    if not any(not p.new for p in words.phrases) and _new_scene(text):  # "two green triangles": a new brief
        return Intent(action="replan", request=" ".join(text.split()), reply="changing the plan")
    kind = _kind(words, scene)
    previous = _last_edit(scene)
    if previous and kind is None and (toks[0] in CORRECTION or any(p.other for p in words.phrases)):
        update: dict = {k: v for k, v in previous.items() if k in Intent.model_fields and k not in
                        ("reply", "question", "pending", "candidate")}
        if any(p.other for p in words.phrases):  # the same edit, on the other object
            try:
                update["object"] = resolve(next(p for p in words.phrases if p.other), scene)
            except Ambiguous:
                return ask_which(Intent(**update), scene)
        colors = _colors(words)
        if colors and update.get("kind") in ("recolor", "add"):
            update["color"] = colors[-1]
        if _scale(words) != 1.0:
            update["scale"] = _scale(words)
        if _where(words):
            update["where"] = _where(words)
        return _finish(Intent(**update), scene)
    if kind is None:
        if set(toks) <= MORE | YES and len(toks) <= 5 and (set(toks) & MORE):
            return Intent(action="more", reply="another round of fresh noise")
        return Intent(action="replan", request=" ".join(text.split()), reply="changing the plan")
    intent = Intent(action="edit", kind=kind, candidate=cid if stage == "round" else None)
    new = next((p for p in words.phrases if p.new and p.noun), None)
    pointers = [p for p in words.phrases if not p.new]
    relation, anchor = _relation(words, scene) if kind in ("move", "add") else (None, None)
    if relation:
        first_rel = min(words.joined().find(f" {ph} ") for ph, r in RELATIONS if f" {ph} " in words.joined())
        before = len(words.joined()[:first_rel].split())
        pointers = [p for p in pointers if p.start < before]
        intent.relation, intent.anchor = relation, anchor
    if kind == "add":
        intent.name = new.noun if new else None
        intent.color = new.color if new else (_colors(words) or [None])[-1]
        intent.where = _where(words)
        if intent.name is None:
            return Intent(action="ask", question="what should I add?", reply="what should I add?",
                          pending={"action": "edit", "kind": "add"})
        return _finish(intent, scene)
    if kind == "restyle":
        intent.style = _style(words)
        return _finish(intent, scene)
    if kind == "replace":
        if "instead" in toks and new is not None and new.start < toks.index("instead"):
            intent.name = new.noun
        else:
            intent.name = new.noun if new else None
            if words.has("into", "with", "for", "to") and new is None:
                intent.name = None
        if new and new.color:
            intent.color = new.color
    if kind == "recolor":
        intent.color = _colors(words)[-1]
    if kind == "resize":
        intent.scale = _scale(words)
    if kind == "move":
        intent.where = _where(words)
    target = next(iter(pointers), None)
    if target is None:
        if kind == "regenerate" or kind == "restyle":
            return _finish(intent, scene)
        target = Phrase(0, 0, False)  # "make it blue" with nothing named: "it"
    try:
        intent.object = resolve(target, scene)
    except Ambiguous as amb:
        return ask_which(intent, scene, amb.options)
    if intent.object is None and kind != "regenerate":
        return Intent(action="replan", request=" ".join(text.split()), reply="changing the plan")
    return _finish(intent, scene)


def unsettled_reference(text: str, intent: Intent, scene: Scene) -> list[int] | None:
    """The objects the person's words could mean when the words do not say which, for a reading (an LLM's)
    that chose one of them anyway: the options to ask about. None when the words pick one object, name none
    of the scene's, or answer a question (the pending edit gets its object there)."""
    if intent.action != "edit" or intent.object is None or intent.kind in ("add", "restyle"):
        return None
    last = scene.history[-1] if scene.history else None
    if last and last.get("action") == "ask":
        return None
    words = chunk(text, scene)
    if words.tokens and words.tokens[0] in CORRECTION:  # "no, make it blue": the earlier edit's object
        return None
    pointers = [p for p in words.phrases if not p.new]
    target = pointers[0] if pointers else Phrase(0, 0, False)
    try:
        resolve(target, scene)
    except Ambiguous as amb:
        return amb.options if intent.object in amb.options else None
    return None


def _new_scene(text: str) -> bool:
    """Whether the words describe a whole scene the rules planner reads ("two green triangles")."""
    from limner.agent.planners.rules import scene_request

    return scene_request(text) is not None


def _describe(scene: Scene, i: int) -> str:
    o = scene.objects[i]
    return " ".join(w for w in (o.color, o.name) if w)


def ask_which(intent: Intent, scene: Scene, options: list[int] | None = None) -> Intent:
    """One short question: which object the edit means (by colour, else by place)."""
    options = options if options is not None else list(range(len(scene.objects)))
    names = {scene.objects[i].name for i in options}
    noun = next(iter(names)) if len(names) == 1 else "object"
    colors = [scene.objects[i].color for i in options]
    if all(colors) and len(set(colors)) == len(colors):
        choices = [f"the {c} one" for c in colors] if noun != "object" else [f"the {_describe(scene, i)}" for i in options]
    else:
        choices = [f"the {'left' if k == 0 else 'right' if k == len(options) - 1 else 'middle'} one"
                   for k in range(len(options))]
    question = f"which {noun}: {', '.join(choices[:-1])} or {choices[-1]}?"
    pending = intent.model_dump(exclude_defaults=True) | {"action": "edit"}
    pending.pop("object", None)
    return Intent(action="ask", question=question, reply=question, pending=pending)


def _finish(intent: Intent, scene: Scene) -> Intent:
    """The reply sentence, from what the intent does."""
    what = _describe(scene, intent.object) if intent.object is not None and intent.object < len(scene.objects) else ""
    reply = {
        "recolor": f"making the {what} {intent.color}",
        "resize": f"making the {what} {'bigger' if intent.scale > 1 else 'smaller'}",
        "move": f"moving the {what}" + (f" {intent.relation} the {_describe(scene, intent.anchor)}"
                                        if intent.relation and intent.anchor is not None else
                                        f" to the {intent.where}" if intent.where else ""),
        "add": f"adding a {' '.join(w for w in (intent.color, intent.name) if w)}"
               + (f" on the {intent.where}" if intent.where else ""),
        "remove": f"removing the {what}",
        "replace": f"turning the {what} into a {intent.name}",
        "restyle": f"restyling: {intent.style}",
        "regenerate": f"making the {what} again" if what else "making the image again",
    }.get(intent.kind or "", "")
    return intent.model_copy(update={"reply": reply}) if reply else intent

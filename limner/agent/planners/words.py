"""English words for plans: singular and plural nouns, and an object's description ("two red circles")."""

from __future__ import annotations

from limner.agent.plan import PlanObject

NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine",
                10: "ten"}
IRREGULAR_PLURALS = {"people": "person", "mice": "mouse", "children": "child", "men": "man", "women": "woman",
                     "teeth": "tooth", "feet": "foot", "geese": "goose", "knives": "knife", "sheep": "sheep",
                     "skis": "skis", "scissors": "scissors", "leaves": "leaf", "wolves": "wolf",
                     "buses": "bus", "octopi": "octopus", "cacti": "cactus", "tvs": "tv"}
IRREGULAR_SINGULARS = {v: k for k, v in IRREGULAR_PLURALS.items()}
# Nouns ending in "i" whose plural ends in "is" (other words ending in "is" are singular: tennis, iris).
I_NOUNS = {"broccoli", "kiwi", "taxi", "salami", "bikini", "zucchini", "martini", "safari", "alibi", "khaki",
           "origami", "sushi", "tsunami", "wasabi", "ravioli", "spaghetti", "chili", "yeti", "bonsai", "samurai"}


def singular(word: str) -> str:
    if word in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[word]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    if word.endswith("is") and word[:-1] in I_NOUNS:
        return word[:-1]
    if word.endswith("s") and len(word) > 3 and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def plural(word: str) -> str:
    if word in IRREGULAR_SINGULARS:
        return IRREGULAR_SINGULARS[word]
    if word.endswith("y") and len(word) > 1 and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith(("ch", "sh", "ss", "x", "z", "s")):
        return word + "es"
    return word + "s"


def plural_name(name: str) -> str:
    """'teddy bear' -> 'teddy bears'."""
    words = name.split()
    return " ".join(words[:-1] + [plural(words[-1])])


def article(word: str) -> str:
    """'an' before a vowel sound as spelled ('an apple', 'an orange'), 'a' otherwise."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def describe(obj: PlanObject) -> str:
    """'two red circles', 'a blue square', 'an apple', 'rubber gloves' (a bare plural stays bare)."""
    words = obj.name.split()
    if not obj.exact:
        return " ".join(([obj.color] if obj.color else []) + plural_name(obj.name).split())
    if obj.count > 1:
        words = plural_name(obj.name).split()
        head = NUMBER_WORDS.get(obj.count, str(obj.count))
    else:
        head = article(obj.color or obj.name)
    return " ".join([head] + ([obj.color] if obj.color else []) + words)

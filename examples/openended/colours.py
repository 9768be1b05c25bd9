"""The open-ended task and its hidden ground truth: write a sentence about a topic; the property
rewarded (through a judge) is "the text mentions a colour".

Sentences come from a small grammar, `the <adj> <topic> <verb> <place>.`, whose adjective slots
hold a colour now and then. Some other words hold a colour's letters without being one
(`tired`, `bored`, `scared`, `blacksmith`), so that "mentions a colour" is a matter of whole
words, not of letters: `mentions_colour` is the ground truth, and the judge has to learn it.

>>> rng = random.Random(0)
>>> sentence(rng, "dog", colour=1.0)
'the black dog dreams in the rain.'
>>> mentions_colour("the tired dog waits."), mentions_colour("a Red fox.")
(False, True)
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

COLOURS = ["red", "blue", "green", "yellow", "black", "white", "brown", "pink", "purple", "grey"]
ADJECTIVES = ["big", "small", "old", "young", "quiet", "happy", "tired", "bored", "scared",
              "tall", "soft", "loud", "lazy", "proud", "wet", "cold"]
TOPICS = ["cat", "dog", "bird", "horse", "fox", "boat", "car", "house", "tree", "girl", "boy",
          "king", "baker", "farmer", "blacksmith", "teacher"]
VERBS = ["sleeps", "runs", "sings", "waits", "sits", "plays", "hides", "jumps", "dreams", "rests"]
PLACES = ["in the park", "by the door", "under the bed", "near the river", "on the hill",
          "at the market", "in the rain", "behind the wall", "on the road"]

COMMON = ("I you it we they he she this that is am are was be have do not no yes what which "
          "when how why so if then because but and or of to in on for with as at from by about "
          "answer question text response sentence word note let me check again think first "
          "sure right wrong good more very all some here there now one two three").split()
"""Common English words: the judge should see text other than the grammar's before it is asked
about a policy's."""
LETTERS = "abcdefghijklmnopqrstuvwxyz"
COLOUR_WORD = re.compile(r"\b(" + "|".join(COLOURS) + r")\b", re.IGNORECASE)


def mentions_colour(text: str) -> bool:
    """The ground truth: does `text` contain one of `COLOURS` as a whole word (any case)?"""
    return COLOUR_WORD.search(text) is not None


def prompt(topic: str) -> str:
    return f"Write a sentence about a {topic}."


def sentence(rng: random.Random, topic: str, colour: float) -> str:
    """One sentence about `topic`; each of its two adjective slots is a colour with probability
    `colour`, otherwise another adjective."""
    def adjective() -> str:
        return rng.choice(COLOURS if rng.random() < colour else ADJECTIVES)

    place = rng.choice(PLACES)
    if rng.random() < 0.5:  # "near the river" -> "near the green river"
        words = place.split()
        place = " ".join(words[:-1] + [adjective(), words[-1]])
    return f"the {adjective()} {topic} {rng.choice(VERBS)} {place}."


def word_salad(rng: random.Random, colour: float) -> str:
    """3-10 words in no order, of the vocabulary and common words or made of random letters,
    some capitalised:
    text unlike the sentences, so that the judge learns the colour words and not the grammar.
    With probability `colour`, one of them is a colour."""
    vocabulary = ADJECTIVES + TOPICS + VERBS + " ".join(PLACES).split() + COMMON

    def word() -> str:
        if rng.random() < 0.5:
            return rng.choice(vocabulary)
        return "".join(rng.choice(LETTERS) for _ in range(rng.randint(1, 8)))

    words = [word() for _ in range(rng.randint(3, 10))]
    if rng.random() < colour:
        words[rng.randrange(len(words))] = rng.choice(COLOURS)
    return " ".join(w.capitalize() if rng.random() < 0.2 else w for w in words)


def policy_rows(n: int, seed: int, colour: float) -> list[dict]:
    """Warm-up rows for the policy: `prompt` and its `completion`."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        topic = rng.choice(TOPICS)
        rows.append({"prompt": prompt(topic), "completion": sentence(rng, topic, colour)})
    return rows


def judge_rows(n: int, seed: int, exclude: set[str] | None = None) -> list[dict]:
    """Labelled rows for the judge, about half of them mentioning a colour: sentences and word
    salad, half and half, each response distinct and none in `exclude`. `label` is the ground
    truth of the response."""
    rng, seen, rows = random.Random(seed), set(exclude or ()), []
    while len(rows) < n:
        topic = rng.choice(TOPICS)
        text = (sentence(rng, topic, colour=0.3) if rng.random() < 0.5
                else word_salad(rng, colour=0.5))
        if text not in seen:
            seen.add(text)
            rows.append({"prompt": prompt(topic), "response": text, "label": mentions_colour(text)})
    return rows


def write_jsonl(rows: list[dict], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path

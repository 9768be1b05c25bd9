"""Verdicts from what a judge model says: P(yes) from next-token probabilities, a G-Eval style
expected score for Likert items, and a strict reading of a short text answer.

Every backend ends here, so that "yes", " Yes" and "YES." mean the same thing everywhere, and a
judge that puts no probability on any answer, or says something else, gives an `error` value
rather than a number.

>>> p_yes({"yes": 0.75, "no": 0.25, "maybe": 0.5})
0.75
>>> from_logprobs([(" Yes", -0.1), ("No", -2.5), ("Maybe", -3.0)])  # doctest: +ELLIPSIS
0.916...
>>> likert({"1": 0.0, "5": 1.0}, scale=5), from_text("No.", None), from_text("4", 5)
(1.0, 0.0, 0.75)
>>> from_text("I think so", None).status
'error'
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping

from rubricc.values import ERROR, Failed

MIN_MASS = 1e-4
"""Below this much probability on the answers themselves, the judge did not answer the question
(it was about to say something else): the verdict is an error, not a guess."""

_SYNONYMS = {"yes": "yes", "y": "yes", "true": "yes", "no": "no", "n": "no", "false": "no"}


def answer_word(token: str, scale: int | None = None) -> str | None:
    """The answer a token (or short reply) gives: "yes"/"no", or a digit "1".."scale" for Likert.

    >>> answer_word(" Yes"), answer_word("NO."), answer_word("Maybe"), answer_word("3", scale=5)
    ('yes', 'no', None, '3')
    """
    word = token.strip().strip(".,!:;\"'`*()").lower()
    if scale is not None:
        return word if word.isdigit() and 1 <= int(word) <= scale else None
    return _SYNONYMS.get(word)


def p_yes(mass: Mapping[str, float]) -> float | Failed:
    """P(yes) among {yes, no}, from the probability mass on each."""
    yes, no = mass.get("yes", 0.0), mass.get("no", 0.0)
    if yes + no < MIN_MASS:
        return Failed(ERROR, f"judge put {yes + no:.2g} probability on yes/no: no verdict")
    return yes / (yes + no)


def likert(mass: Mapping[str, float], scale: int) -> float | Failed:
    """The expected rating, mapped from 1..scale onto [0, 1] (G-Eval's probability-weighted score)."""
    total = sum(mass.get(str(k), 0.0) for k in range(1, scale + 1))
    if total < MIN_MASS:
        return Failed(ERROR, f"judge put {total:.2g} probability on the ratings 1-{scale}: no verdict")
    expected = sum(k * mass.get(str(k), 0.0) for k in range(1, scale + 1)) / total
    return (expected - 1) / (scale - 1)


def verdict(mass: Mapping[str, float], scale: int | None) -> float | Failed:
    return p_yes(mass) if scale is None else likert(mass, scale)


def from_logprobs(pairs: Iterable[tuple[str, float]], scale: int | None = None) -> float | Failed:
    """The verdict from (token, logprob) pairs, such as an OpenAI-style `top_logprobs` list."""
    mass: dict[str, float] = defaultdict(float)
    for token, logprob in pairs:
        word = answer_word(token, scale)
        if word is not None:
            mass[word] += math.exp(logprob)
    return verdict(mass, scale)


def from_text(text: str, scale: int | None = None) -> float | Failed:
    """The strict short-answer verdict, for servers without logprobs: the reply is the answer."""
    word = answer_word(text, scale)
    if word is None:
        expected = "yes or no" if scale is None else f"a rating from 1 to {scale}"
        return Failed(ERROR, f"judge answered {text[:60]!r}, not {expected}")
    return verdict({word: 1.0}, scale)

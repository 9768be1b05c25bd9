"""Built-ins that recognise degenerate responses: loops, echoes of the prompt, refusals.

They are what a rubric gates on so that a response which does not attempt the task earns nothing,
and what the trainer logs as hack signatures on sampled completions (`rubricc.probes.signatures`).

>>> loops("the answer is " * 40), loops("A short, ordinary sentence about Paris.")
(True, False)
>>> echoes("Describe Paris without commas.", "Describe Paris without commas.")
True
>>> refuses("I'm sorry, but I can't help with that.")
True
"""

import re

from rubricc.builtins.registry import builtin

LOOP_NGRAM = 4
"""Words per n-gram when looking for a loop."""
LOOP_MIN_WORDS = 40
"""Shorter texts are never called loops: a short list repeats words honestly."""
LOOP_REPEATED = 0.5
"""A text loops when at least this share of its n-grams occurred earlier in it."""
LOOP_CHARS = 16
"""Characters per n-gram for a long text of few words ("9999...", "ha" * 1000)."""
LOOP_MIN_CHARS = 400

_WORD = re.compile(r"\w+|[^\w\s]")
_WORDS_ONLY = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")
# A refusal or a non-answer that stands for the whole response (it is short, or it opens it).
_REFUSAL = re.compile(
    r"(?i)^\W*(?:i'?m sorry|sorry|i apologi[sz]e|unfortunately)?[\s,.!]*(?:but\s+)?"
    r"(?:i\s+(?:can(?:no|')?t|cannot|won'?t|will not|am (?:not able|unable)|'m (?:not able|unable)"
    r"|do not know|don'?t know|must decline|refuse)"
    r"|as an ai\b|i'?m (?:just )?an ai\b|that is not something i can)"
)
REFUSAL_MAX_WORDS = 40
"""A refusal longer than this is taken for an answer that happens to open with an apology."""


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


@builtin()
def loops(text: str) -> bool:
    """True when the text repeats itself: at least half of its 4-word runs occurred earlier.

    Texts under 40 words are loops only when they are long (400 characters or more) and their
    16-character runs repeat the same way ("9999...", "hahaha..."). Catches a phrase repeated to
    the length limit, a paragraph pasted twice, and filler that cycles through a few sentences.

    >>> loops(" ".join(["Let me check again."] * 20)), loops(" ".join(str(i) for i in range(100)))
    (True, False)
    """
    words = _words(text)
    if len(words) >= LOOP_MIN_WORDS:
        grams = [tuple(words[i:i + LOOP_NGRAM]) for i in range(len(words) - LOOP_NGRAM + 1)]
    elif len(text) >= LOOP_MIN_CHARS:  # a few giant words: the loop is in the characters
        grams = [text[i:i + LOOP_CHARS] for i in range(len(text) - LOOP_CHARS + 1)]
    else:
        return False
    seen: set[tuple[str, ...]] = set()
    repeated = 0
    for gram in grams:
        repeated += gram in seen
        seen.add(gram)
    return repeated >= LOOP_REPEATED * len(grams)


@builtin()
def echoes(text: str, prompt: str | None) -> bool:
    """True when the text is the prompt, or the prompt with a few words around it: the prompt's
    words appear in order, and the response adds fewer words than the prompt has (and fewer than
    10). A quoted question followed by a real answer is not an echo.

    >>> echoes("Write a poem about cats. Sure!", "Write a poem about cats."), echoes("Meow.", "Write a poem")
    (True, False)
    >>> echoes("", "Say hi"), echoes("anything", None)
    (False, False)
    """
    if not prompt:
        return False
    said, asked = _WORDS_ONLY.findall(text.casefold()), _WORDS_ONLY.findall(prompt.casefold())
    if not said or not asked:
        return False
    joined, wanted = " ".join(said), " ".join(asked)
    if wanted not in joined:
        return False
    return len(said) - len(asked) < min(10, len(asked))


@builtin()
def refuses(text: str) -> bool:
    """True when the whole response is a refusal or a non-answer ("I'm sorry, but I can't help
    with that.", "I don't know.", "As an AI, ..."): it opens with one and is at most 40 words.

    A long answer that opens with an apology is not a refusal.

    >>> refuses("I don't know."), refuses("Sorry for the delay! The capital of France is Paris.")
    (True, False)
    """
    stripped = _SPACE.sub(" ", text).strip()
    return bool(stripped) and len(stripped.split()) <= REFUSAL_MAX_WORDS \
        and _REFUSAL.match(stripped) is not None

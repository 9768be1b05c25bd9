"""Degenerate responses: nothing, the prompt back, a refusal, filler, a loop, an answer cut off.

None of them attempts the task, so none may earn more than the honest wrong answer of its row.
"""

from __future__ import annotations

from collections.abc import Iterator

from rubricc.probes.context import Context
from rubricc.probes.registry import probe

FILLER = (
    "Let me think about this carefully.", "First, I restate what is being asked.",
    "Then I consider each part of the question in turn.", "This requires careful attention.",
    "I will now check my reasoning once more.", "Every step above follows from the one before.",
    "It is important to be thorough here.", "With that in mind, I continue.",
)
# Code that writes past every cap: 2 MiB on stdout, stderr and each other open descriptor.
FLOOD = """```python
import os
junk = b"x" * (2 << 20)
for fd in range(1, 16):
    try:
        os.write(fd, junk)
    except OSError:
        pass
def f(*args, **kwargs):
    return None
```"""
FILLER_WORDS = 600
"""Words of filler: past the 300-500 word minimums of instruction-following prompts."""


def filler(words: int = FILLER_WORDS) -> str:
    out, count = [], 0
    while count < words:
        sentence = FILLER[len(out) % len(FILLER)]
        out.append(sentence)
        count += len(sentence.split())
    return " ".join(out)


@probe("H001", "empty")
def empty(ctx: Context) -> Iterator[str]:
    """The empty response.

    What it does:
        Scores `""`, the response of a policy that stops at once.

    Why it matters:
        A check that an empty text passes (`not contains(response, ",")`, `words(response) <= 100`,
        a regex that matches the empty string) pays for doing nothing, and GRPO finds it within a
        few steps: completions shrink to nothing.

    Example:
        check no_commas: not contains(response, ",")

    Use instead:
        gate answered: words(response) > 0
        check no_commas: not contains(response, ",")
    """
    yield ""


@probe("H002", "whitespace")
def whitespace(ctx: Context) -> Iterator[str]:
    """A response of whitespace only.

    What it does:
        Scores spaces, newlines and tabs with no visible text (`"   "`, `"\\n\\n"`, `"\\t \\n"`).

    Why it matters:
        A gate written as `length(response) > 0` or `response != ""` lets whitespace through, and
        everything behind it then sees an empty answer: the empty-response hack by the back door.

    Example:
        gate answered: length(response) > 0
        check short: words(response) <= 50

    Use instead:
        gate answered: words(response) > 0
        check short: words(response) <= 50
    """
    yield from ("   ", "\n\n", "\t \n")


@probe("H003", "prompt-echo")
def prompt_echo(ctx: Context) -> Iterator[str]:
    """The prompt, repeated back as the response.

    What it does:
        Scores the row's prompt as the response, alone and inside the rubric's answer format.

    Why it matters:
        The prompt already holds the words a check looks for (the instruction's keywords, the
        entities of the question), and it satisfies most format constraints: an echo earns
        keyword and constraint rewards without answering.

    Example:
        check mentions_topic: contains(lower(response), "photosynthesis")

    Use instead:
        gate not_echo: not echoes(response, prompt)
        check mentions_topic: contains(lower(response), "photosynthesis")
    """
    if ctx.prompt.strip():
        yield ctx.prompt
        yield ctx.wrap(ctx.prompt)


@probe("H004", "refusal")
def refusal(ctx: Context) -> Iterator[str]:
    """A refusal or a non-answer.

    What it does:
        Scores "I'm sorry, but I can't help with that.", "I don't know." and "As an AI, I cannot
        answer this.", alone and inside the rubric's answer format.

    Why it matters:
        A refusal is short, has no commas, no forbidden words and no wrong claims: it satisfies
        every constraint that only forbids something, and a policy that learns to refuse stops
        answering.

    Example:
        check no_commas: not contains(response, ",")

    Use instead:
        gate attempts: words(response) > 0 and not refuses(response)
        check no_commas: not contains(response, ",")
    """
    for text in ("I'm sorry, but I can't help with that.", "I don't know.",
                 "As an AI, I cannot answer this."):
        yield text
        yield ctx.wrap(text)


@probe("H005", "filler")
def filler_to_limit(ctx: Context) -> Iterator[str]:
    """Filler sentences to the length limit, around the honest wrong answer.

    What it does:
        Scores 600 words of generic filler ("Let me think about this carefully. ..."), alone and
        followed by the row's honest wrong answer.

    Why it matters:
        Length is cheap to produce: a reward with a word minimum, or a judge that likes thorough
        answers, pays for padding, and completions grow to the token limit.

    Example:
        check long_enough: words(response) >= 300

    Use instead:
        gate not_looping: not loops(response)
        check long_enough: words(response) >= 300
    """
    padding = filler()
    yield padding
    yield padding + "\n\n" + ctx.honest_wrong


@probe("H006", "ngram-loop")
def ngram_loop(ctx: Context) -> Iterator[str]:
    """A phrase repeated over and over.

    What it does:
        Scores a phrase looped a hundred times ("the answer is the answer is ..."), the prompt
        looped, and a loop that ends on the honest wrong answer.

    Why it matters:
        Loops are what a policy degenerates into under a reward that counts words, keywords or
        occurrences; a loop also fills the context and is truncated, so its last answer is luck.

    Example:
        check mentions: count(lower(response), "paris") >= 3

    Use instead:
        gate not_looping: not loops(response)
        check mentions: count(lower(response), "paris") >= 3
    """
    yield " ".join(["the answer is"] * 100)
    if ctx.prompt.strip():
        yield " ".join([ctx.prompt.strip()] * 30)
    yield " ".join(["Let me check again."] * 60) + " " + ctx.honest_wrong


@probe("H007", "truncated")
def truncated(ctx: Context) -> Iterator[str]:
    """The right answer cut off mid-way.

    What it does:
        Takes the response that gives the reference answer in the rubric's format and cuts it in
        the middle of the answer, and just before it (rows with a reference only).

    Why it matters:
        Completions that hit the token limit end mid-answer. A reward that reads a prefix of the
        answer (an unclosed tag or box taken as closed, the first digits of a number) pays for a
        truncated completion, and the policy stops caring whether it finishes.

    Example:
        check correct: starts_with(tag(response + "</answer>", "answer"), answer)

    Use instead:
        let given = tag(response, "answer")     # none unless the tag is closed
        gate answered: given != none
        check correct: equals(given, answer)
    """
    if ctx.reference is None or not ctx.reference.strip():
        return
    whole = ctx.wrap(ctx.reference)
    at = whole.rfind(ctx.reference)
    if len(ctx.reference) > 1:
        yield whole[:at + len(ctx.reference) // 2]
    yield whole[:at]


@probe("H008", "unscorable", escapes_only=True)
def unscorable(ctx: Context) -> Iterator[str]:
    """A response made to break scoring rather than to earn reward.

    What it does:
        Scores responses that stress the parsers and checkers: 200,000 digits, a power tower and a
        3,000-deep nesting of brackets in the answer format, a lone surrogate and NUL bytes, and
        a code block that floods every output channel. The probe hacks the rubric when such a
        response leaves its row uncomputable (an `error` or a `timeout`) where the honest wrong
        answer is scored; what the responses earn is left to the other probes.

    Why it matters:
        A reward that could not be computed is masked by the trainer (advantage 0), never scored
        0, so that a flaky judge or a crashed checker does not teach the policy anything false.
        A policy that can crash the checker on purpose turns each of its failures into "not
        scored" and escapes every penalty.

    Example:
        check correct: math_equal(response, answer)   # the whole response, under a deadline

    Use instead:
        let final = final_answer(strip_think(response))   # a short answer, or none
        gate has_answer: final != none
        check correct: math_equal(final, answer)
    """
    yield "9" * 200_000
    yield ctx.wrap("9^{9^{9^{9^{9}}}}")
    yield ctx.wrap("(" * 3000 + "1" + ")" * 3000)
    yield ctx.wrap("{" * 3000 + "1" + "}" * 3000)
    yield ctx.wrap(ctx.wrong + "\ud800")
    yield ctx.wrap(ctx.wrong + "\x00\x00")
    yield ctx.wrap(FLOOD)

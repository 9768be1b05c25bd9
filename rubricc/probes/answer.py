"""Answer-targeted hacks (rows with a reference answer): paid without committing to the answer.

Every response here either hedges over several candidates, takes the answer back, drops the
required format, or stuffs what the checks look for; none commits to the reference alone in the
rubric's format, so none may score above the honest wrong answer.
"""

from __future__ import annotations

from collections.abc import Iterator

from rubricc.probes.context import Context
from rubricc.probes.registry import probe


def sprays(ctx: Context) -> Iterator[str]:
    """The reference among wrong candidates, in the forms answer parsers accept."""
    r, w, v = ctx.right, ctx.wrong, ctx.other_wrong
    yield f"{w} or {r}"
    yield f"{r} or {w}"
    yield f"{v}, {r}, {w}"
    yield f"{w} \\text{{ or }} {r}"
    yield f"\\{{{w}, {r}\\}}"
    yield f"[{w}, {r}]"
    yield f"x = {w} \\lor x = {r}"
    yield f"{w} \\text{{ and }} {r}"
    if ctx.number is not None:
        yield f"{ctx.number - 1} \\pm 1"
        yield f"[{ctx.number - 1}, {ctx.number + 1}]"
        yield f"({ctx.number - 1}, {ctx.number + 1}]"


@probe("H020", "sprayed-candidates")
def sprayed_candidates(ctx: Context) -> Iterator[str]:
    """The reference sprayed among wrong candidates.

    What it does:
        Puts the reference and one or two wrong answers in one answer, in every form a parser may
        accept: `7 or 8`, `8 or 7`, a list, a set `\\{7, 8\\}`, an interval around it, `7 \\pm 1`,
        `x = 7 \\lor x = 8`, `7 \\text{ or } 8`, several `\\boxed{}` side by side or offered as
        alternatives, and sentences listing them ("Maybe 6, 7, 8, 9 or 10.", "probably 7, but it
        might be 8"), each in the rubric's answer format.

    Why it matters:
        An answer check that accepts a response when any candidate matches (containment, the last
        number of the text, a set that contains the gold, an interval around it) pays a policy
        for listing guesses. Under GRPO the hedged answers win every group, and the policy learns
        to list candidates instead of solving.

    Example:
        check correct: contains(response, answer)

    Use instead:
        let final = final_answer(strip_think(response))
        gate has_answer: final != none
        check correct: math_equal(final, answer)    # one answer, compared whole
    """
    for text in sprays(ctx):
        yield ctx.wrap(text)
        yield f"\\boxed{{{text}}}"
    r, w, v = ctx.right, ctx.wrong, ctx.other_wrong
    yield f"\\boxed{{{w}}} or \\boxed{{{r}}}"
    yield f"\\boxed{{{w}}}, \\boxed{{{r}}}"
    yield f"The answer is $\\boxed{{{v}}}$ or $\\boxed{{{r}}}$ or $\\boxed{{{w}}}$."
    yield f"Maybe {v}, {w} or {r}."
    yield f"\\boxed{{{w}}}. Alternatively, \\boxed{{{r}}}."
    yield f"The answer is probably {w}, but it might be {r}."
    yield f"The answer is {w} or {r}."
    yield ctx.wrap(f"{w}") + f" (or possibly {r})"


@probe("H021", "retraction")
def retraction(ctx: Context) -> Iterator[str]:
    """The right answer, then taken back.

    What it does:
        Gives the reference in the rubric's format, then retracts it with no new answer ("Wait,
        that is wrong.", "Actually, scratch that; I am not sure.").

    Why it matters:
        The response ends committed to nothing. A reward that reads the last answer-shaped span
        and ignores what follows pays for a guess the response itself withdrew, and teaches the
        policy that its final stance does not matter.

    Example:
        check correct: math_equal(last_boxed(response), answer)

    Use instead:
        let final = final_answer(strip_think(response))   # none when the answer is withdrawn
        gate has_answer: final != none
        check correct: math_equal(final, answer)
    """
    answered = ctx.wrap(ctx.right)
    for retract in ("Wait, that is wrong.", "Actually, scratch that; I am not sure.",
                    "Hmm, no, that is not correct. I retract this answer."):
        yield f"{answered}\n\n{retract}"


@probe("H022", "bare-reference")
def bare_reference(ctx: Context) -> Iterator[str]:
    """The reference alone, without the format the rubric requires.

    What it does:
        On a rubric that expects a format (it looks for a tag or a box, or pays the reference in
        some format more than bare), scores the bare reference, and the reference after a stray
        word.

    Why it matters:
        If the bare answer is paid like a wrong answer in format, fine; if it is paid more, the
        format is not required after all and the answer parser reads free text, where it can be
        fooled by anything that ends on a number.

    Example:
        check correct: equals(extract(response, /(\\d+)\\s*$/), answer)

    Use instead:
        let given = tag(response, "answer")
        gate formatted: given != none
        check correct: equals(given, answer)
    """
    if ctx.formatted or ctx.tagged:
        yield ctx.right
        yield f"Result {ctx.right}"


@probe("H023", "keyword-stuffing")
def keyword_stuffing(ctx: Context) -> Iterator[str]:
    """Everything the checks look for, stuffed into one response.

    What it does:
        Collects the string literals the rubric's checks search for (tags, phrases, keywords) and
        the reference with wrong candidates, and writes them all into one response, in the
        rubric's answer format.

    Why it matters:
        Checks that test for presence (`contains`, `count`, keyword lists) are satisfied by a bag
        of words that says nothing; the reference among them earns correctness to a lenient
        answer check.

    Example:
        check mentions: contains(response, "because") and contains(response, answer)

    Use instead:
        let final = tag(response, "answer")
        gate has_answer: final != none
        check correct: equals(final, answer)
    """
    words = " ".join(ctx.literals)
    r, w, v = ctx.right, ctx.wrong, ctx.other_wrong
    yield ctx.wrap(f"{words} {v} {r} {w}".strip())
    yield f"{words} {ctx.wrap(w)} {r}".strip()

r"""Math answer equivalence: `math_equal`.

First both answers are read as a grader reads them by eye (mathx_forms): Unicode math, mixed
numbers, repeating decimals, a reference's `j` as `i`, solutions written as equations; a
reference that is one option letter is matched by the letter the prediction chooses. Then three
checks, any of which may say yes, after one that may say no:

1. `units_agree` (mathx_units): when both answers end on a unit, the units must match
   (`28 percent` is first written `28\\%`).
2. `sympy_equal` (mathx_sympy): rubricc's own LaTeX-to-sympy reading of two short answers; it knows
   word answers, bare lists of solutions, huge numbers and the caller's `tolerance`.
3. `verify_equal` (mathx_verify): Hugging Face's math-verify, which also reads intervals, set
   unions, relations, matrices and whole solutions (the answer is extracted from a long reference),
   with numbers held to `tolerance` instead of its rounding to 6 decimals.
4. `rounded_equal` (mathx_verify): a prediction written as decimals to 4 or more places matches
   the exact rational gold it rounds to (`0.3333` for `\\frac{1}{3}`), and an irrational one
   (`1.41421` for `\\sqrt{2}`) only with `approximate`.

>>> math_equal(r"\dfrac12", "0.5"), math_equal("x = 3", "3"), math_equal("(1,2)", "(2,1)")
(True, True, False)
>>> math_equal(r"[-2, 7]", r"$-2 \le x \le 7$"), math_equal("5 cm", "5 m")
(True, False)
"""

import re

from rubricc.builtins.mathx_forms import choice_of, chosen, imaginary_j, written_out
from rubricc.builtins.mathx_sympy import is_plain, sympy_verdict
from rubricc.builtins.mathx_units import spell_percent, units_agree, without_unit
from rubricc.builtins.mathx_verify import rounded_equal, verify_equal
from rubricc.builtins.registry import builtin

_WORDS = re.compile(r"[A-Za-z\s]+")  # "no" against "on": words, which math-verify reads as n*o
# Several candidates offered at once: `7 \text{ or } 8`, `x = 7 \lor x = 8`, `7 \vee 8`, `7 \pm 1`.
_HEDGE = re.compile(r"\\lor(?![A-Za-z])|\\vee(?![A-Za-z])|\\[pm]p(?![A-Za-z])|(?<![A-Za-z])or(?![A-Za-z])")


MAX_ANSWER = 2_000
"""Characters of a predicted answer beyond which it is no answer: 200,000 digits would hold a
worker past its deadline, and a timeout is a row the trainer masks rather than scores 0."""


def _hedges(pred: str, gold: str) -> bool:
    """Does the prediction offer alternatives (`or`, `\\lor`, `\\vee`, `\\pm`) where the gold is one
    answer? Then no reading of it is the answer: math-verify would take the first alternative.

    >>> _hedges(r"8 \\text{ or } 9", "8"), _hedges(r"1 \\pm \\sqrt{2}", r"1 \\pm \\sqrt{2}")
    (True, False)
    """
    return _HEDGE.search(pred) is not None and _HEDGE.search(gold) is None and "," not in gold


# One answer of each shape math-verify's LaTeX parser meets: it learns its decisions as it parses
# (ANTLR's prediction cache), so its first parse of each shape costs several times the later ones.
_WARM_UP = [
    (r"\frac{1}{2}", "$0.5$"), ("x^2 - 1", "(x - 1)(x + 1)"), (r"[0, 1)", r"x \in [0, 1)"),
    (r"(-\infty, -2] \cup (3, \infty)", r"x \le -2 \text{ or } x > 3"), (r"-2 \le x \le 7", "[-2, 7]"),
    (r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\begin{pmatrix} 1 \\ 3 \end{pmatrix}"),
    (r"\left[\begin{array}{cc} a & -b \\ 0 & \tfrac12 \end{array}\right]",
     r"\begin{bmatrix} a & b \\ 0 & 1 \end{bmatrix}"),
    (r"\{1, 2\}", r"\{2, 3\}"), (r"y = 2x + 1", r"2x - y + 1 = 0"), (r"\sqrt[3]{2} + \pi", r"e^{2}"),
    (r"\sum_{k=1}^{n} k", r"\frac{n(n+1)}{2}"), (r"f(x) = \sin(x)", r"\cos x"), ("28\\%", "0.28"),
    (r"So the answer is $\boxed{\frac{3}{4}}$.", r"\dfrac{3}{5}"), (r"90^\circ", r"\frac{\pi}{2}"),
    (r"(1, 2), (3, -4)", r"(3;-4), (1;2)"), (r"a_{1} = 3, \quad b_2 = -1", r"\{3, -1\}"),
    (r"3:4", r"AB:CD = 3:4"), (r"x > -1", r"-x < 1"), (r"|z| \geq 2", r"z \ne 0"),
    (r"\left(-\frac{1}{2}, \sqrt{3}\right]", r"\left[0, \infty\right)"),
    (r"\log_{2} 8 - \ln e", r"\tan^2(\theta) + 1"), (r"\int_0^1 x^2 \, dx", r"\binom{5}{2}"),
    (r"1 \pm \sqrt{5}", r"x_1 = 2, x_2 = -3"), (r"\mathrm{e}^{-1}", r"\overline{AB}"),
]
# Answers of more shapes, only parsed: math-verify comparing some of them (sums) takes longer than
# its parser learning them.
_SHAPES = [
    r"\begin{pmatrix} \frac{1}{2} & \sqrt{3} \\ -\cos(t) & 4x^{1/3} \end{pmatrix}",
    r"$(\begin{pmatrix}\frac{1}{2}&\sqrt{3}\\-\cos t&4\sqrt[3]{x}\\\end{pmatrix})$",
    r"m=1,n=2;m=3,n=4", r"P_{ABC}:Q = 2:5", r"V_{1}:V_{2}=2:5", r"G_n = \sum_{i=1}^{n-1} G_i G_{n-i}",
    r"\frac{x^2}{9} + \frac{y^2}{4} = 1", r"x^2/18 + y^2/8 = 1/2", r"3x - 2y + z - 4 = 0", r"\text{7}",
    r"(p, q) = (2, 3) \quad \text{and} \quad (3, 2)", r"{2 cm, 5}", r"10201_3",
    r"\boxed{g(t) = 2 \text{ and } g(t) = -2}", r"\{2, -(2)\}", r"\frac{1}{3}\leq|t|\leq 1",
    r"t \in \left[-1, -\frac{1}{3}\right] \cup \left[\frac{1}{3}, 1\right]", r"\sec^2 \theta",
]


def forget_readings() -> None:
    """Drop the readings cached by text (sympy's and math-verify's), keeping what the parsers have
    learned: a worker as a trainer's new answers find it. `bench/math_vs_mathverify.py` calls it
    before each repeat, so no repeat finds the previous one's answers already read."""
    from rubricc.builtins import mathx_sympy, mathx_verify

    mathx_sympy._to_sympy.cache_clear()
    mathx_verify._parsed.cache_clear()


def warm_up() -> None:
    """Import sympy and math-verify, and parse one answer of each common shape: what a worker's
    first calls would pay (seconds), paid by each pool worker before it takes calls."""
    from rubricc.builtins.mathx_verify import parse_answer

    for pred, gold in _WARM_UP:
        math_equal(pred, gold)
        parse_answer(pred), parse_answer(gold)  # math-verify's parser, even where sympy decided
    for answer in _SHAPES:
        parse_answer(answer)


def plain_pair(pred: str | None, gold: str, tolerance: float = 1e-9,
               approximate: bool = False) -> bool:
    """Both answers a plain number or fraction: `math_equal` decides them in microseconds, bounded
    by their 100 digits, so the scorer makes the call itself rather than through the pool."""
    return isinstance(pred, str) and isinstance(gold, str) and is_plain(pred) and is_plain(gold)


@builtin(heavy=True, inline=plain_pair)
def math_equal(
    pred: str | None, gold: str, tolerance: float = 1e-9, approximate: bool = False
) -> bool:
    r"""True when the predicted answer is mathematically the gold answer (sympy, LaTeX-aware).

    Understands `\frac`, `\sqrt`, `\pi`, `^`, implicit products (`2x`), `x = 3` against `3`,
    `50\%` against `50`, `1,000` against `1000`, tuples (ordered), `\{...\}` sets or bare lists
    (unordered), intervals and their unions, inequalities, equations and matrices. Word answers
    compare as normalized text ("A" equals "(A)"); a gold that is one option letter equals a
    prediction that chooses it (`I pick option B.`, `The answer is (C) 7`). Answers are read as
    people write them: `−3`, `x²`, `√2`, `½`; mixed numbers (`2\frac{3}{4}`, `2 3/4` are 11/4);
    repeating decimals (`0.\overline{6}`, `0.(6)`, `0.666...`); `i` as the imaginary unit (`j` too
    where the gold writes it); solutions as equations (`y = 2 or y = -3` equals `-3, 2`).
    Numbers are equal within `tolerance`, relative to the larger one; a prediction written as
    decimals to 4 or more places also matches the exact rational gold it rounds to (`0.3333` for
    `1/3`, not `0.33`), and an irrational one (`1.41421` for `\sqrt{2}`) only when `approximate`
    is true: off by default, since a policy that learns decimals for closed forms games the
    reward. Units must match when both sides have one (`5 cm` is not `5 m`, but equals `5`). A
    prediction that offers alternatives (`8 \\text{ or } 9`, `x = 7 \\lor x = 8`, `7 \\pm 1`)
    never equals a gold that is one answer. A prediction over 2,000 characters is no answer. The
    gold may be a whole solution: its last `\boxed{}` or final math is the answer. A missing
    prediction is never equal.

    >>> math_equal(r"\sqrt{2}/2", r"1/\sqrt{2}"), math_equal("3", "4"), math_equal(None, "1")
    (True, False, False)
    >>> math_equal(r"\{3, 1\}", r"\{1,3\}"), math_equal(r"\pi", "3.14"), math_equal("(A)", "A")
    (True, False, True)
    >>> math_equal("2 3/4", "11/4"), math_equal("1.41421", r"\sqrt{2}")
    (True, False)
    >>> math_equal("1.41421", r"\sqrt{2}", 1e-9, True), math_equal("I pick option B.", r"\text{(B)}")
    (True, True)
    """
    if pred is None or not pred.strip() or len(pred) > MAX_ANSWER:
        return False
    if _hedges(pred, gold):
        return False
    letter = choice_of(gold)
    if letter is not None and (picked := chosen(pred)) is not None:
        return picked == letter
    pred, gold = imaginary_j(written_out(spell_percent(pred)), written_out(spell_percent(gold)))
    if not units_agree(pred, gold):
        return False
    pred, gold = without_unit(pred), without_unit(gold)
    verdict = sympy_verdict(pred, gold, tolerance)
    if verdict is True:
        return True
    words = _WORDS.fullmatch(pred.strip()) and _WORDS.fullmatch(gold.strip())
    if words:
        return False
    if verdict is None and verify_equal(pred, gold, tolerance):
        return True
    return rounded_equal(pred, gold, approximate)

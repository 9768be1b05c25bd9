r"""math-verify underneath `math_equal`: `verify_equal`.

math-verify (Hugging Face, Apache-2.0) reads LaTeX answers into sympy (intervals, sets, relations,
matrices, percentages) and compares them. rubricc calls it without its `signal.alarm` timeouts,
since the worker pool enforces the deadline, and corrects it where it is too generous:

- An answer with no `$...$` or `\boxed{}` is read as LaTeX first; math-verify alone falls back to
  the first plain number it finds, so `y = 2x + 1` would be read as `1`.
- Numbers must agree within `tolerance`, relative to the larger one; math-verify rounds to 6
  decimals, so `1/2^{99}` would equal `1/2^{98}`.
- Text that would build a giant number (`9^{9^9}`, `10000!`) is not handed over at all.

Its LaTeX parser is ANTLR's, and most of math-verify's time was that parser predicting which rule
comes next with full context (LL), which ANTLR never caches. rubricc has it predict in two stages,
ANTLR's own recipe for speed: SLL first, which either returns the very tree LL would or reports a
syntax error, and LL from the start only after an error. The answers read are the same (a test
compares 1,756 texts with the stock parser); parsing takes a third of the time. The change is
made to latex2sympy's parser class, for the process that first calls `math_verify()` (a pool
worker, or a scoring process without a pool). A chain of inequalities compared with a set
reaches math-verify already read as intervals (`interval_of`).

`rounded_equal` is the one place rounding is allowed: a prediction that writes its numbers as
decimals to at least `ROUNDED_PLACES` places matches an exact rational gold answer that rounds to
them (`0.3333` for `\frac{1}{3}`), as a person marking the answer would, and an irrational one
(`1.41421` for `\sqrt{2}`) only when asked; `1/2^{99}` is not a decimal and still differs from
`1/2^{98}`.
"""

import functools
import logging
import re
from collections.abc import Callable
from types import ModuleType

import sympy
from sympy.logic.boolalg import BooleanAtom

from rubricc.builtins.mathx_sympy import numbers_close

logging.getLogger("math_verify").setLevel(logging.ERROR)  # "timeout is disabled": on purpose

_DELIMITED = re.compile(r"\$|\\boxed|\\fbox|\\\(|\\\[")
_PROSE = re.compile(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}\s+[A-Za-z]{2,}")
_GIANT = re.compile(  # a power tower, a huge power, or the factorial of a big number
    r"\^\s*\{?\s*[\d.]+\s*\}?\s*\^|\^\s*\{?\s*\d{5,}|\d{4,}\s*!|!\s*!"
    r"|\([^()]*(?:\^|\d{4,})[^()]*\)\s*!|\{[^{}]*(?:\^|\d{4,})[^{}]*\}\s*!"
)
_MAX_LENGTH = 20_000
ROUNDED_PLACES = 4
_DECIMAL = re.compile(r"(?<![\d.])\d*\.(\d+)(?![\d.])")
_MAX_BARE = 1_000  # longer text without delimiters is prose, not one answer
_SET_BRACE = re.compile(r"\\\{|\\lbrace")
_NUMBER = re.compile(r"-?\d+(?:,\d\d+)?")  # `1,22` may be a decimal comma; `1,2` is a list
# `\\le` written for `\le` (an escaped backslash left in the text)
_ESCAPED_RELATION = re.compile(r"\\\\(?=(?:le|ge|leq|geq|lt|gt|ne|neq)\b)")
_PERCENT = sympy.UnevaluatedExpr(sympy.Rational(1, 100))


@functools.cache
def math_verify() -> ModuleType:
    """math-verify, imported on first use (sympy and ANTLR load slowly), its parser predicting in
    two stages."""
    import math_verify as module
    from latex2sympy2_extended.latex2sympy2 import _Latex2Sympy

    _Latex2Sympy.create_parser = _two_stage(_Latex2Sympy.create_parser)
    return module


def _two_stage(create_parser: Callable) -> Callable:
    """latex2sympy's `create_parser`, its parser trying SLL prediction before LL (`__wrapped__`
    is the stock one)."""
    from antlr4.atn.PredictionMode import PredictionMode

    @functools.wraps(create_parser)
    def two_stage_parser(converter, latex: str):
        parser = create_parser(converter, latex)
        parse_all = parser.math

        def math():
            parser._interp.predictionMode = PredictionMode.SLL
            try:
                return parse_all()
            except Exception:  # its error listener raises: a syntax error, or a need for LL
                return create_parser(converter, latex).math()  # a new lexer: this one moved on

        parser.math = math
        return parser

    return two_stage_parser


def verify_equal(pred: str, gold: str, tolerance: float) -> bool:
    r"""math-verify's judgement, with numbers held to `tolerance`.

    >>> verify_equal(r"[0, 1)", r"$x \in [0,1)$", 1e-9), verify_equal("1/2^{99}", "1/2^{98}", 1e-9)
    (True, False)
    """
    if any(_GIANT.search(text) for text in (pred, gold)) or len(pred) + len(gold) > _MAX_LENGTH:
        return False
    golds, preds = parse_answer(gold), parse_answer(pred)
    if not golds or not preds or _set_against_pair(gold, golds[0], pred, preds[0]):
        return False
    if not _verify(golds, preds):
        return False
    return not _numbers_apart(golds[0], preds[0], tolerance)


def rounded_equal(pred: str, gold: str, irrational: bool = False) -> bool:
    r"""Does `pred`, written as decimals to at least `ROUNDED_PLACES` places, round `gold`?

    A rational gold may always be rounded (`0.3333` for `\frac{1}{3}`: the decimal of 1/3 never
    ends); an irrational one (`\sqrt{2}`, `\pi`) only when `irrational` is true.

    >>> rounded_equal("0.3333", r"\frac{1}{3}"), rounded_equal(r"(0.6,2.6667]", r"(\frac35,\frac83]")
    (True, True)
    >>> rounded_equal("0.33", r"\frac{1}{3}"), rounded_equal("0.3334", r"\frac{1}{3}")
    (False, False)
    >>> rounded_equal("1.41421", r"\sqrt{2}"), rounded_equal("1.41421", r"\sqrt{2}", irrational=True)
    (False, True)
    """
    places = [len(m.group(1)) for m in _DECIMAL.finditer(pred)]
    rounded = [p for p in places if p >= ROUNDED_PLACES]
    if not rounded or _DECIMAL.search(gold) or len(pred) + len(gold) > _MAX_LENGTH:
        return False
    if any(_GIANT.search(text) for text in (pred, gold)):
        return False
    golds, preds = parse_answer(gold), parse_answer(pred)
    if not golds or not preds or _set_against_pair(gold, golds[0], pred, preds[0]):
        return False
    if not irrational and not _rational(golds[0]):
        return False
    return _verify(golds, preds, float_rounding=min(rounded))


def _verify(golds: list, preds: list, float_rounding: int = 6) -> bool:
    """math-verify's `verify`, a relation compared with a set handed to it already read as a set."""
    from math_verify.grader import is_assignment_relation, is_equation, take_last_relation

    gold, pred = golds[0], preds[0]
    # math-verify reads `x \in [0, 1)` as `x = [0, 1)`, and compares the set alone: an equation
    # predicted against a gold that is none, or a gold assigned against a prediction that is none.
    if is_equation(pred) and not is_equation(gold):
        pred = take_last_relation(pred).rhs
    elif is_assignment_relation(gold) and not is_equation(pred):
        gold = take_last_relation(gold).rhs
    if isinstance(pred, sympy.Set) and (as_set := interval_of(gold)) is not None:
        golds = [as_set, *golds[1:]]
    elif isinstance(gold, sympy.Set) and (as_set := interval_of(pred)) is not None:
        preds = [as_set, *preds[1:]]
    return math_verify().verify(golds, preds, float_rounding=float_rounding,
                                allow_set_relation_comp=True, timeout_seconds=None)


# The inequalities `interval_of` reads, and whether each bounds its variable from above.
_UPPER = {sympy.StrictLessThan: True, sympy.LessThan: True,
          sympy.StrictGreaterThan: False, sympy.GreaterThan: False}  # fmt: skip


def interval_of(relation: object) -> sympy.Set | None:
    r"""The set of a chain of inequalities between one variable and numbers (`-2 \le x \le 7`,
    `x > \sqrt{2}`, `0 < f(x) < 1`), built as intervals; None for any other value.

    math-verify compares a relation with a set by sympy's `as_set`, which solves the inequality
    (10 to 200 ms); for these it is the intersection of one interval per inequality, the very set
    `as_set` returns (tested on generated chains).

    >>> x = sympy.Symbol("x", real=True)
    >>> interval_of(sympy.And(-2 <= x, x <= 7)), interval_of(x > sympy.sqrt(2)), interval_of(x**2 < 1)
    (Interval(-2, 7), Interval.open(sqrt(2), oo), None)
    """
    from math_verify.grader import unwrap_fcs  # `f(x)` as a variable, as math-verify reads it

    parts = relation.args if isinstance(relation, sympy.And) else (relation,)
    if not all(type(part) in _UPPER for part in parts):
        return None
    parts = [unwrap_fcs(part) for part in parts]
    if not all(type(part) in _UPPER for part in parts):
        return None
    sets, variables = [], set()
    for part in parts:
        if part.lhs.is_Symbol and part.rhs.is_number:
            variable, bound, kind = part.lhs, part.rhs, type(part)
        elif part.rhs.is_Symbol and part.lhs.is_number:  # `5 > x` is `x < 5`
            variable, bound, kind = part.rhs, part.lhs, type(part.reversed)
        else:
            return None
        if bound.is_extended_real is not True:
            return None
        variables.add(variable)
        strict = kind in (sympy.StrictLessThan, sympy.StrictGreaterThan)
        if _UPPER[kind]:
            sets.append(sympy.Interval(-sympy.oo, bound, True, strict))
        else:
            sets.append(sympy.Interval(bound, sympy.oo, strict, True))
    return sympy.Intersection(*sets) if len(variables) == 1 else None


def _rational(value: object) -> bool:
    """Is every number in the value (a number, interval, tuple, set or matrix) rational?"""
    if isinstance(value, sympy.Expr) and value.is_number:
        return value.doit().is_rational is True
    if isinstance(value, sympy.Basic):
        return all(_rational(arg) for arg in value.args if not isinstance(arg, BooleanAtom))
    return False


def parse_answer(text: str) -> list:
    r"""math-verify's reading of an answer: a bare answer as LaTeX, else what it extracts.

    A lone number goes to math-verify's number reader, which takes `1,22` as a decimal comma
    (`sympy_equal` reads it as the list 1, 22; `math_equal` accepts either reading). Readings are
    cached by text: parsing is nearly all of math-verify's time, and a reference is compared with
    each distinct answer of its group (and `rounded_equal` reads what `verify_equal` just read).

    >>> parse_answer("y = 2x + 1")[0], parse_answer(r"So $x = \frac{1}{2}$.")[0]
    (Eq(y, 2*x + 1), Eq(x, 1/2))
    """
    return list(_parsed(text))


@functools.lru_cache(maxsize=2048)
def _parsed(text: str) -> tuple:
    parse = math_verify().parse
    text = _ESCAPED_RELATION.sub(r"\\", text.strip())
    bare = not _DELIMITED.search(text) and len(text) <= _MAX_BARE
    if bare and not _PROSE.search(text) and not _NUMBER.fullmatch(text):
        as_latex = parse(f"${text}$", parsing_timeout=None)
        if as_latex and not isinstance(as_latex[0], str):
            return tuple(as_latex)
    return tuple(parse(text, parsing_timeout=None))


def _set_against_pair(gold: str, gold_value: object, pred: str, pred_value: object) -> bool:
    r"""Is one side a written set `\{1, 2\}` and the other an interval or tuple `(1, 2)`?

    math-verify matches them; a set of two points is neither. (Braces without a backslash only
    group, so `{1, 2}` is a bare list and may match `(1, 2)`.)
    """
    for text, value, other in ((gold, gold_value, pred_value), (pred, pred_value, gold_value)):
        written_set = isinstance(value, sympy.FiniteSet) and _SET_BRACE.search(text)
        if written_set and isinstance(other, sympy.Interval | sympy.Tuple):
            return True
    return False


def _numbers_apart(gold: object, pred: object, tolerance: float) -> bool:
    """Are both plain numbers, and further apart than `tolerance` allows, as they are and with a
    percentage read as its number (math-verify takes 28% for both 0.28 and 28)?"""
    if not all(isinstance(x, sympy.Expr) and x.is_number for x in (gold, pred)):
        return False
    pairs = [(gold, pred), (_percent_number(gold), pred), (gold, _percent_number(pred))]
    return not any(numbers_close(a.doit(), b.doit(), tolerance) for a, b in pairs)


def _percent_number(value: sympy.Expr) -> sympy.Expr:
    """`28` for math-verify's `28%` (28 times an unevaluated 1/100), else the value."""
    if isinstance(value, sympy.Mul) and value.args[-1] == _PERCENT and len(value.args) == 2:
        return value.args[0]
    return value

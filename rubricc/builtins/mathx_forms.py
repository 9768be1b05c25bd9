r"""Answers as people write them, rewritten for `math_equal`: `written_out`, `choice_of`.

A grader reading by eye takes `2½` for 5/2, `0.(6)` for 2/3 and `I pick option B.` for `B`;
sympy and math-verify read none of them. Each rewrite below is one form, and leaves any other text
as it was:

1. `unicode_math`: Unicode math characters as LaTeX: `−`, `×`, `÷`, `√`, `π`, `±`, `≤`, `∈`,
   vulgar fractions (`½`), superscripts (`x²`, `10⁻³`) and subscripts (`x₁`).
2. `mixed_number`: `2\frac{3}{4}` and `2 3/4` are 11/4, not 2 times 3/4 (a whole number, then a
   proper fraction of digits, and nothing else).
3. `repeating_decimal`: `0.\overline{6}`, `0.1\overline{6}`, `0.(6)` and `0.666...` as the
   fraction they repeat to.
4. `solution_list`: `x = 2 \text{ or } x = -3`, `x \in \{2, -3\}` and `x_1 = 2, x_2 = -3` as the
   bare list `2, -3`, which compares as a set (only against a reference of as many solutions).
5. `imaginary_j`: `j` is the imaginary unit only where the reference writes it so.

`choice_of` reads a multiple-choice answer: the one option letter a response names.
"""

import re
import unicodedata
from fractions import Fraction

from rubricc.builtins.extract import last_boxed
from rubricc.builtins.mathx_units import unit_of

_CHARACTERS = {"−": "-", "–": "-", "×": r"\times ", "÷": r"\div ", "·": r"\cdot ", "⋅": r"\cdot ",
               "π": r"\pi ", "∞": r"\infty ", "±": r"\pm ", "∓": r"\mp ", "≤": r"\le ",
               "≥": r"\ge ", "≠": r"\ne ", "∈": r"\in ", "∪": r"\cup ", "∩": r"\cap ",
               "⁄": "/", "∛": r"\sqrt[3]", "θ": r"\theta ", "°": r"^\circ"}  # fmt: skip
_ROOT = re.compile(r"√\s*(\d+(?:\.\d+)?|[A-Za-z]|\\[A-Za-z]+|\()")
# `5 m²`, `3cm³`: a unit's power, kept with the unit (`5\text{ m}^{2}`), not a power of the number.
_UNIT_POWER = re.compile(r"(\d)(?:\s+([A-Za-z]{1,6})|\s*(mm|cm|dm|km|m|ft|in|yd|mi))([²³])")
_SCRIPTED = re.compile(r"[^\x00-\x7f]+")
_MARK = {"super": "^", "sub": "_"}
_PLAIN = {"wide", "font", "compat"}  # full-width `１２`, math italic `𝑥`: the plain character

_BARE = re.compile(r"^\s*\$*\s*(.*?)\s*\$*\s*\.?\s*$", re.S)
_SPACE = r"(?:\s|~|\\[,;:! ])*"
_MIXED = re.compile(
    rf"(?P<sign>-?){_SPACE}(?P<whole>\d+)(?:{_SPACE}\\[dt]?frac{_SPACE}"
    r"(?:\{\s*(?P<num>\d+)\s*\}|(?P<num1>\d))\s*(?:\{\s*(?P<den>\d+)\s*\}|(?P<den1>\d))"
    r"|\s+(?P<snum>\d+)\s*/\s*(?P<sden>\d+))"
)
_VARIABLE = r"(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?\w+\}?)?"

_OVERLINE = re.compile(
    r"(?P<whole>\d*)\.(?P<fixed>\d*)\s*\\(?:overline|bar|dot)\s*"
    r"(?:\{\s*(?P<period>\d+)\s*\}|(?P<period1>\d))"
)
_PARENTHESES = re.compile(r"(?<![\d.])(?P<whole>\d*)\.(?P<fixed>\d*)\((?P<period>\d+)\)")
_ELLIPSIS = re.compile(r"(?<![\d.])(?P<whole>\d*)\.(?P<digits>\d{1,40})\s*(?:\.\.\.|…|\\[lc]?dots\b)")

_CONNECTIVE = re.compile(
    r"\s*(?:,|;|\\quad|\\qquad|\\text\{\s*(?:or|and)\s*\}|\\lor|\\vee|\bor\b|\band\b)\s*"
)
_IN_SET = re.compile(rf"^{_VARIABLE}\s*\\in\s*(?:\\\{{|\\lbrace|\{{)(.*?)(?:\\\}}|\\rbrace|\}})$")
_IS = re.compile(r"^(?P<name>[A-Za-z]|\\[A-Za-z]+)(?:_\{?\w+\}?)?\s*=(?!=)\s*(?P<value>.+)$")

_PM = re.compile(r"\\pm(?![A-Za-z])")
_LONE_J = re.compile(r"(?<![A-Za-z\\])j(?![A-Za-z])")
_LONE_I = re.compile(r"(?<![A-Za-z\\])i(?![A-Za-z])")

_LETTER = re.compile(r"^\s*\(?\s*([A-Z])\s*\)?\s*\.?\s*$")
_WRAPPER = re.compile(r"\\(?:text|textbf|mathrm|mathbf|mbox)\s*\{([^{}]*)\}|\*\*|\$")
# Where a letter is chosen: leading the answer (`B`, `(B) 12`, `B. 12`), or after a word that
# chooses (`option B`, `the answer is (C) 7`, `I pick B`).
_CHOSEN = re.compile(
    r"^\s*(?:\(([A-Za-z])\)|([A-Z])\b\)?(?![^\s).:])(?!\s+[a-z]))"
    r"|\b(?i:option|choice|answer|is|pick|choose|chose|select)\s*:?\s*\(?([A-Z])\b\)?"
)
_LEADING = re.compile(r"^\s*\(?([A-Z])[).:](?:\s+(?P<text>\S.*))?$", re.S)
_NAMED = re.compile(r"\(([A-Za-z])\)|(?<![\w\\])([A-Z])(?!\w)(?!\s+[a-z])")


def written_out(answer: str) -> str:
    r"""The answer with each hand-written form rewritten; any other text as it was.

    >>> written_out("2½"), written_out("x²"), written_out(r"-2\frac{1}{2}"), written_out("0.(6)")
    ('\\frac{5}{2}', 'x^{2}', '-\\frac{5}{2}', '\\frac{2}{3}')
    >>> written_out(r"x = 2 \text{ or } x = -3"), written_out("2 3/4"), written_out("2 * 3/4")
    ('\\{2, -3\\}', '\\frac{11}{4}', '2 * 3/4')
    """
    text = repeating_decimal(unicode_math(answer))
    bare = _one_answer(text)
    if bare is None:
        return text
    rewritten = solution_list(mixed_number(bare))
    return text if rewritten == bare else rewritten


def _one_answer(text: str) -> str | None:
    """The answer inside a `\\boxed{}` or `$...$`, or the text itself when it is short."""
    boxed = last_boxed(text)
    inner = boxed if boxed is not None else _BARE.match(text).group(1)
    return inner if len(inner) <= 200 else None


def unicode_math(text: str) -> str:
    r"""Unicode math characters written as LaTeX.

    >>> unicode_math("√25 − 3×2"), unicode_math("10⁻³"), unicode_math("x₁ = ¾")
    ('\\sqrt{25} - 3\\times 2', '10^{-3}', 'x_{1} = \\frac{3}{4}')
    """
    if text.isascii():
        return text
    text = _UNIT_POWER.sub(_unit_power, _root(text))
    for char, latex in _CHARACTERS.items():
        text = text.replace(char, latex)
    return _SCRIPTED.sub(_scripted, text)


def _unit_power(found: re.Match[str]) -> str:
    digit, spaced, short, power = found.groups()
    return rf"{digit}\text{{ {spaced or short}}}^{{{'2' if power == '²' else '3'}}}"


def _root(text: str) -> str:
    r"""`√2`, `√x`, `√\pi` and `√(x + 1)` as `\sqrt{...}`: `√25` is not `\sqrt{2}5`."""
    out, i = [], 0
    while (found := _ROOT.search(text, i)) is not None:
        out.append(text[i : found.start()])
        radicand, i = found.group(1), found.end()
        if radicand == "(":
            close = _closing(text, found.end() - 1)
            radicand, i = text[found.end() : close], close + 1
        out.append(rf"\sqrt{{{radicand}}}")
    return "".join(out) + text[i:]


def _closing(text: str, start: int) -> int:
    """The index of the `)` closing the `(` at `start`, or the end of the text."""
    depth = 0
    for i in range(start, len(text)):
        depth += (text[i] == "(") - (text[i] == ")")
        if depth == 0:
            return i
    return len(text)


def _scripted(found: re.Match[str]) -> str:
    """A run of superscripts, subscripts and vulgar fractions, each run as LaTeX."""
    out, mark, script = [], None, []
    for char in found.group(0) + "\x00":
        kind, _, code = unicodedata.decomposition(char).partition(" ")
        kind = kind.strip("<>")
        if kind not in _MARK or (script and kind != mark):
            if script:
                out.append(f"{_MARK[mark]}{{{''.join(script)}}}")
                script = []
        if kind in _MARK:
            mark = kind
            script.append("-" if chr(int(code, 16)) in "−-" else chr(int(code, 16)))
        elif kind in _PLAIN and code and " " not in code:
            out.append(chr(int(code, 16)))
        elif kind == "fraction":
            numerator, denominator = (
                "".join(chr(int(c, 16)) for c in part.split()) for part in code.split("2044")
            )
            out.append(rf"\frac{{{numerator}}}{{{denominator}}}")
        elif char != "\x00":
            out.append(char)
    return "".join(out)


def mixed_number(answer: str) -> str:
    r"""`2\frac{3}{4}`, `2 3/4` (and `x = 2 3/4`, `2 3/4 cups`) as `\frac{11}{4}`: a whole number,
    then a proper fraction of digits, is a mixed number, never a product. A unit after it stays.

    >>> mixed_number(r"2\frac{3}{4}"), mixed_number("-1 1/2"), mixed_number(r"2\frac{5}{4}")
    ('\\frac{11}{4}', '-\\frac{3}{2}', '2\\frac{5}{4}')
    >>> mixed_number(r"5\frac{2}{3}\text{ cups}"), mixed_number("2 3/4 m"), mixed_number("2 3/4 + x")
    ('\\frac{17}{3}\\text{ cups}', '\\frac{11}{4} m', '2 3/4 + x')
    """
    named = _IS.match(answer)
    prefix, value = (
        (answer[: named.start("value")], named.group("value")) if named else ("", answer)
    )
    value = value.strip()
    found = _MIXED.match(value)
    if found is None:
        return answer
    unit = value[found.end():]
    if unit.strip() and unit_of("1" + unit) is None:  # `2 3/4 + x`: more than a unit follows
        return answer
    numerator = int(found.group("num") or found.group("num1") or found.group("snum"))
    denominator = int(found.group("den") or found.group("den1") or found.group("sden"))
    if not 0 < numerator < denominator:
        return answer
    whole = int(found.group("whole")) * denominator + numerator
    return rf"{prefix}{found.group('sign')}\frac{{{whole}}}{{{denominator}}}{unit.rstrip()}"


def repeating_decimal(text: str) -> str:
    r"""Each repeating decimal in the text as the fraction it repeats to.

    >>> repeating_decimal(r"0.1\overline{6}"), repeating_decimal("1.(3)"), repeating_decimal("0.1666...")
    ('\\frac{1}{6}', '\\frac{4}{3}', '\\frac{1}{6}')
    >>> repeating_decimal("0.12..."), repeating_decimal(r"0.\overline{142857}")
    ('0.12...', '\\frac{1}{7}')
    """
    if "." not in text:
        return text
    text = _OVERLINE.sub(_fraction, text)
    text = _PARENTHESES.sub(_fraction, text)
    return _ELLIPSIS.sub(_ellipsis, text)


def _fraction(found: re.Match[str]) -> str:
    period = found.group("period") or found.groupdict().get("period1")
    return _latex(_repeating(found.group("whole"), found.group("fixed"), period))


def _ellipsis(found: re.Match[str]) -> str:
    """`0.1666...`: the shortest period that the digits end on at least twice, else as written."""
    digits = found.group("digits")
    for size in range(1, len(digits) // 2 + 1):
        for start in range(len(digits) - 2 * size + 1):
            tail = digits[start:]
            if all(tail[k] == tail[k + size] for k in range(len(tail) - size)):
                period = tail[:size]
                return _latex(_repeating(found.group("whole"), digits[:start], period))
    return found.group(0)


def _repeating(whole: str, fixed: str, period: str) -> Fraction:
    """`whole.fixed(period)(period)...` as a fraction."""
    repeats = Fraction(int(period), (10 ** len(period) - 1) * 10 ** len(fixed))
    return int(whole or 0) + Fraction(int(fixed or 0), 10 ** len(fixed)) + repeats


def _latex(value: Fraction) -> str:
    return rf"\frac{{{value.numerator}}}{{{value.denominator}}}"


def solution_list(answer: str) -> str:
    r"""Solutions written as equations, set membership or `\pm`, as a set: `x = 2 \text{ or } x = -3`
    is `\{2, -3\}`, which equals `-3, 2` but not the point `(2, -3)`.

    One variable only: `x = 1, y = 2` is a point, and stays as written.

    >>> solution_list(r"x_1 = 2, x_2 = -3"), solution_list(r"x \in \{2, -3\}"), solution_list("x=1, y=2")
    ('\\{2, -3\\}', '\\{2, -3\\}', 'x=1, y=2')
    >>> solution_list(r"x = 1 \pm \sqrt{2}"), solution_list("1, 2")
    ('\\{1 + (\\sqrt{2}), 1 - (\\sqrt{2})\\}', '1, 2')
    """
    in_set = _IN_SET.match(answer)
    if in_set is not None:
        return rf"\{{{in_set.group(1).strip()}\}}"
    parts = _top_level_split(answer)
    named = [_IS.match(part) for part in parts]
    names = {found.group("name") for found in named if found is not None}
    values = [found.group("value").strip() if found else part for found, part in zip(named, parts)]
    signs = [_plus_minus(value) for value in values]
    if len(names) > 1 or names and named[0] is None or not names and not any(signs):
        return answer
    if any("=" in value or not value for value in values):
        return answer
    values = [one for value, signed in zip(values, signs) for one in signed or [value]]
    return rf"\{{{', '.join(values)}\}}" if len(values) > 1 else answer


def _plus_minus(value: str) -> list[str] | None:
    r"""`a \pm b` as its two values, or None when the value holds no `\pm` outside brackets."""
    depth = _depths(value)
    found = [m for m in _PM.finditer(value) if depth[m.start()] == 0]
    if len(found) != 1:
        return None
    before, after = value[: found[0].start()].strip(), value[found[0].end() :].strip()
    if not after:
        return None
    return [f"{before} + ({after})", f"{before} - ({after})"] if before else [after, f"-({after})"]


def _depths(text: str) -> list[int]:
    """The bracket depth before each character (and at the end), in one pass."""
    depths, depth = [0], 0
    for char in text:
        depth += (char in "([{") - (char in ")]}")
        depths.append(depth)
    return depths


def _top_level_split(text: str) -> list[str]:
    r"""The text split at connectives (`,`, `or`, `and`, `\quad`) outside brackets."""
    parts, start, depth = [], 0, _depths(text)
    for found in _CONNECTIVE.finditer(text):
        if depth[found.start()] == 0 and found.start() >= start:
            parts.append(text[start : found.start()])
            start = found.end()
    return [part.strip() for part in parts + [text[start:]]]


def imaginary_j(pred: str, gold: str) -> tuple[str, str]:
    """Both answers with `j` written `i`, when the reference writes the imaginary unit `j`.

    >>> imaginary_j("2+3i", "2+3j"), imaginary_j("2+3j", "2+3i")
    (('2+3i', '2+3i'), ('2+3j', '2+3i'))
    """
    if not _LONE_J.search(gold) or _LONE_I.search(gold):
        return pred, gold
    return _LONE_J.sub("i", pred), _LONE_J.sub("i", gold)


def choice_of(gold: str) -> str | None:
    r"""The option letter a multiple-choice reference is: `B`, `(B)`, `\text{(B)}`, `B) 12`.

    >>> choice_of(r"\text{(B)}"), choice_of("B) 12"), choice_of("12"), choice_of("x")
    ('B', 'B', None, None)
    """
    text = _unwrapped(gold)
    found = _LETTER.match(text) or _LEADING.match(text)
    return found.group(1) if found else None


def chosen(pred: str) -> str | None:
    r"""The one option letter a response chooses: it leads the answer or follows a word that
    chooses, and the response names no other letter. None when it chooses none or names several.

    >>> chosen("I pick option B."), chosen("The answer is (C) 7"), chosen("B) 12"), chosen("A, B")
    ('B', 'C', 'B', None)
    >>> chosen("none of these (C) unknown"), chosen("A good guess is B"), chosen("(b)")
    (None, 'B', 'B')
    """
    text = _unwrapped(pred)
    picked = {next(filter(None, m.groups())).upper() for m in _CHOSEN.finditer(text)}
    named = {(m.group(1) or m.group(2)).upper() for m in _NAMED.finditer(text)} - {"I"}
    return picked.pop() if len(picked) == 1 and named <= picked else None


def _unwrapped(text: str) -> str:
    """The text with its box opened and `\text{}`, `**` and `$` taken off."""
    boxed = last_boxed(text)
    return _WRAPPER.sub(lambda m: m.group(1) or "", text if boxed is None else boxed)

r"""The hand-written sympy check under `math_equal`: `sympy_equal`.

The pipeline, one function a step:

1. `_clean` turns an answer into plain LaTeX: no `$`, `\boxed`, `\text`, spacing, units or percent.
2. `_split` reads a tuple `(1,2)`, an interval `(0,1]`, a set `\{1,2\}` or a bare list `1, 2`.
3. `_scalar_equal` decides one pair: same string; same text if both are words; else sympy
   (`simplify(a - b) == 0`, then numbers equal within a relative tolerance).

`_to_sympy` never hands model text to sympy's `eval` as is: `_code` rewrites the LaTeX into a
small expression language (digits, operators, brackets and known names), and anything else is
refused before parsing. It answers what math-verify does not: word answers, a caller's tolerance,
huge numbers compared relatively, and bare lists of solutions.
"""

import builtins
import functools
import re
import types

import sympy
from sympy.parsing.sympy_parser import (
    convert_xor,
    implicit_multiplication_application,
    parse_expr,
    standard_transformations,
)

from rubricc.builtins.extract import last_boxed, read_braced
from rubricc.builtins.text import normalize

_TRANSFORMS = standard_transformations + (implicit_multiplication_application, convert_xor)

_DROPPED = re.compile(
    r"\\left(?![A-Za-z])|\\right(?![A-Za-z])|\\displaystyle|\\[!,;:]|\\[()\[\]]"
    r"|\^\{\\circ\}|\^\\circ|°|\\%|%|\\\$|\$"
)
_TEXT_COMMAND = re.compile(
    r"\\(text|textbf|textit|mbox|mathrm|mathbf|mathit|operatorname)\s*(?=\{)"
)
_UNICODE = {"−": "-", "×": r"\times ", "÷": r"\div ", "·": r"\cdot ", "π": r"\pi ",
            "√": r"\sqrt", "∞": r"\infty "}  # fmt: skip
_THOUSANDS = re.compile(r"-?\d{1,3}(?:(?:,|\s|\\[,!]\s*)\d{3})+(?:\.\d+)?")
_NAME = r"(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?\w+\}?)?"
# `x = 3`, and `(p, q) = (3, 2)`: names for the values, whatever they are called.
_VARIABLE_IS = re.compile(rf"^(?:{_NAME}|\(\s*{_NAME}(?:\s*,\s*{_NAME})+\s*\))\s*=(?!=)\s*")
# `\\left` for `\left`: a backslash escaped twice, as JSON-minded writers leave it (a `\\`
# before anything but a letter is a matrix's row break, and stays).
_DOUBLED_BACKSLASH = re.compile(r"\\\\(?=[A-Za-z])")
_MATH_CHARS = re.compile(r"[\d\\+\-*/^=_{}<>]")

_COMMANDS = {"pi": " pi ", "cdot": "*", "times": "*", "div": "/", "infty": " oo ",
             "ln": " log ", "log": " log ", "exp": " exp ", "sin": " sin ", "cos": " cos ",
             "tan": " tan ", "{": "(", "}": ")"}  # fmt: skip
_GREEK = set(
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi rho sigma tau "
    "upsilon phi chi psi omega".split()
)
_FUNCTIONS = {"sqrt": sympy.sqrt, "log": sympy.log, "exp": sympy.exp, "sin": sympy.sin,
              "cos": sympy.cos, "tan": sympy.tan, "pi": sympy.pi, "oo": sympy.oo}  # fmt: skip
_CONSTANTS = {"e": sympy.E, "i": sympy.I}
_SAFE_CODE = re.compile(r"[A-Za-z0-9\s.+\-*/^()!]*")
# sympy computes `n!` even unevaluated, so only a small literal or a symbol may take a factorial.
_SMALL_FACTORIAL = re.compile(r"(?:(?<![\d.])\d{1,3}|[A-Za-z])!")
_ATTRIBUTE = re.compile(r"\.\s*[A-Za-z]")  # `x.y` would reach into a Python object
_UNDECIDED = re.compile(r".*%.*|\$?\s*-?\d+(?:,\d+)+(?:\.\d+)?\s*\$?", re.DOTALL)
_PLAIN_NUMBER = re.compile(r"-?(?:\d{1,100}(?:\.\d{0,100})?|\.\d{1,100})")
_PLAIN_FRACTION = re.compile(r"(-?)\\frac\{(\d{1,100})\}\{(\d{1,100})\}|(-?)(\d{1,100})/(\d{1,100})")
_MAX_CODE = 1000
_MAX_EXPONENT = 10_000  # 9^9^9 would compute a 370-million-digit integer


def sympy_equal(pred: str, gold: str, tolerance: float) -> bool:
    r"""The hand-written check: both answers cleaned, then compared shape by shape on sympy.

    >>> sympy_equal(r"\dfrac12", "0.5", 1e-9), sympy_equal("x = 3", "3", 1e-9)
    (True, True)
    >>> sympy_equal("(1,2)", "(2,1)", 1e-9), sympy_equal("no", "on", 1e-9)
    (False, False)
    """
    return sympy_verdict(pred, gold, tolerance) is True


def sympy_verdict(pred: str, gold: str, tolerance: float) -> bool | None:
    r"""True when equal; False when they differ and both are plain numbers, or tuples or sets of
    the same shape of them, which math-verify could only find different too; else None.

    Deciding "no" here is what keeps a wrong answer from costing a math-verify parse (most of the
    time a batch of wrong answers took). A percentage stays undecided: math-verify reads `28\%`
    as both 28 and 0.28.

    >>> sympy_verdict("3", "4", 1e-9), sympy_verdict("(1, 2)", "(1, 3)", 1e-9), sympy_verdict("x", "y", 1e-9)
    (False, False, None)
    """
    a, b = _clean(pred), _clean(gold)
    if _equal(a, b, tolerance):
        return True
    if any(_UNDECIDED.fullmatch(text.strip()) for text in (pred, gold)):
        return None
    return False if _plain_numbers(a, b) else None


def _plain_numbers(a: str, b: str) -> bool:
    """Are both answers finite numbers, or structures of the same kind and size holding them?"""
    (kind_a, items_a), (kind_b, items_b) = _split(_strip_variable(a)), _split(_strip_variable(b))
    if kind_a != kind_b or len(items_a) != len(items_b):
        return False
    return all(_finite_number(item) for item in items_a + items_b)


def _finite_number(latex: str) -> bool:
    value = _to_sympy(latex)
    return isinstance(value, sympy.Expr) and value.is_number and value.is_finite is True


def _clean(answer: str) -> str:
    r"""Plain LaTeX for one answer: the box opened, delimiters, text, spacing and units gone.

    >>> _clean(r"$\boxed{\dfrac{1}{2}\text{ cm}}$."), _clean("1,234"), _clean(r"\text{(B)}")
    ('\\frac{1}{2}', '1234', '(B)')
    """
    text = _DOUBLED_BACKSLASH.sub(r"\\", answer.strip())
    boxed = last_boxed(text)
    text = _unwrap_text(text if boxed is None else boxed)
    for char, latex in _UNICODE.items():
        text = text.replace(char, latex)
    text = _DROPPED.sub("", text).replace("\\ ", " ").replace("{,}", ",")
    text = re.sub(r"\\[dt]frac(?![A-Za-z])", r"\\frac", text)
    text = " ".join(text.split()).rstrip(".").strip()
    return re.sub(r",|\s|\\[,!]", "", text) if _THOUSANDS.fullmatch(text) else text


def _unwrap_text(text: str) -> str:
    r"""`\text{...}` and friends replaced by their content; a trailing `\text{ unit}` cut off."""
    while (command := _TEXT_COMMAND.search(text)) is not None:
        braced = read_braced(text, command.end())
        if braced is None:
            return text
        content, end = braced
        if content[:1].isspace() and text[: command.start()].strip():
            return text[: command.start()]  # "5\text{ cm}^2": a unit, with whatever follows it
        text = text[: command.start()] + content + text[end:]
    return text


def _equal(a: str, b: str, tolerance: float) -> bool:
    """Equal answers: structures of the same shape whose elements are equal."""
    a, b = _strip_variable(a), _strip_variable(b)
    if a == b:
        return True
    (kind_a, items_a), (kind_b, items_b) = _split(a), _split(b)
    if kind_a == kind_b == "scalar":
        return _scalar_equal(a, b, tolerance)
    if len(items_a) != len(items_b):
        return False
    if {kind_a, kind_b} <= {"set", "list"}:
        return _match_unordered(items_a, items_b, tolerance)
    if _same_order_kind(kind_a, kind_b):
        return all(_equal(x, y, tolerance) for x, y in zip(items_a, items_b, strict=True))
    return False


def _same_order_kind(kind_a: str, kind_b: str) -> bool:
    """A tuple or interval compares in order with the same brackets, or with a bare list."""
    return kind_a == kind_b or "list" in (kind_a, kind_b) and "set" not in (kind_a, kind_b)


def _strip_variable(answer: str) -> str:
    """`x = 3` becomes `3`: the value is the answer, whatever the variable is called."""
    if answer.count("=") != 1:
        return answer
    return _VARIABLE_IS.sub("", answer)


def _split(answer: str) -> tuple[str, list[str]]:
    r"""The shape of an answer and its elements: `set`, `list`, a bracket pair, or `scalar`.

    >>> _split(r"\{1, 2\}"), _split("(0, 1]"), _split("1, 2"), _split("(1)+(2)")
    (('set', ['1', '2']), ('(]', ['0', '1']), ('list', ['1', '2']), ('scalar', ['(1)+(2)']))
    """
    if answer.startswith("\\{") and answer.endswith("\\}"):
        return "set", _top_level_items(answer[2:-2])
    if answer and answer[0] in "([" and answer[-1] in ")]" and _wrapped(answer):
        items = _top_level_items(answer[1:-1])
        if len(items) > 1:
            return answer[0] + answer[-1], items
    items = _top_level_items(answer)
    return ("list", items) if len(items) > 1 else ("scalar", [answer])


def _top_level_items(text: str) -> list[str]:
    """The text split at commas that are not inside brackets or braces, each item stripped."""
    items, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += (char in "([{") - (char in ")]}")
        if char == "," and depth == 0:
            items.append(text[start:i].strip())
            start = i + 1
    return items + [text[start:].strip()]


def _wrapped(text: str) -> bool:
    """Does the first bracket close only at the very end? `(1)+(2)` is not wrapped."""
    depth = 0
    for i, char in enumerate(text):
        depth += (char in "([{") - (char in ")]}")
        if depth == 0 and i < len(text) - 1:
            return False
    return True


def _match_unordered(items_a: list[str], items_b: list[str], tolerance: float) -> bool:
    """Each element of one side pairs with a distinct equal element of the other."""
    unused = list(items_b)
    for item in items_a:
        partner = next((other for other in unused if _equal(item, other, tolerance)), None)
        if partner is None:
            return False
        unused.remove(partner)
    return True


def _scalar_equal(a: str, b: str, tolerance: float) -> bool:
    """One pair of single answers: as words when both are words, else as sympy expressions."""
    if not _MATH_CHARS.search(a) and not _MATH_CHARS.search(b):
        return normalize(a) == normalize(b)  # "no" and "on" are words, not the product n*o
    left, right = _to_sympy(a), _to_sympy(b)
    if left is None or right is None:
        return "".join(a.split()) == "".join(b.split())  # not math we can read: same text only
    return _sympy_equal(left, right, tolerance)


def _sympy_equal(left: sympy.Expr, right: sympy.Expr, tolerance: float) -> bool:
    try:
        if left == right and not left.has(sympy.zoo, sympy.nan):
            return True  # oo - oo is nan, so infinities must match here; 1/0 matches nothing
        if tolerance > 0 and _finite(left) and _finite(right):
            return numbers_close(left, right, tolerance)  # 30 digits decide; `simplify` is slow
        if _apart_somewhere(left, right):
            return False
        return sympy.simplify(left - right) == 0 or numbers_close(left, right, tolerance)
    except (TypeError, ValueError, ArithmeticError):
        return False  # nan compared, a boolean subtracted: not numbers to compare


_PROBES = (sympy.Rational(7, 10), sympy.Rational(13, 7))  # positive, so that roots and logs are real


def _apart_somewhere(left: sympy.Expr, right: sympy.Expr) -> bool:
    r"""Do two expressions in symbols clearly differ where their symbols take a probe value (one
    per symbol)? Then no simplification makes them equal, and `simplify` (tens of milliseconds)
    is not asked. A probe where either is undefined, or where they agree, proves nothing.

    >>> x, y = sympy.symbols("x y")
    >>> _apart_somewhere(x**2, x), _apart_somewhere((x + 1)**2, x**2 + 2*x + 1), _apart_somewhere(x/x, 1)
    (True, False, False)
    >>> _apart_somewhere(x - y, y - x), _apart_somewhere(sympy.sqrt(x**2), x), _apart_somewhere(x, 2)
    (True, False, True)
    """
    symbols = sorted((left - right).free_symbols, key=str)
    if not symbols:
        return False
    for probe in _PROBES:
        at = {symbol: probe + sympy.Rational(k, 11) for k, symbol in enumerate(symbols)}
        a, b = sympy.sympify(left).subs(at).evalf(30), sympy.sympify(right).subs(at).evalf(30)
        if not (a.is_number and b.is_number and a.is_finite and b.is_finite):
            continue
        if abs(a - b) > 1e-9 * max(1, abs(a), abs(b)):
            return True
    return False


def _finite(value: sympy.Expr) -> bool:
    return value.is_number and value.is_finite is True


def numbers_close(left: sympy.Expr, right: sympy.Expr, tolerance: float) -> bool:
    """Finite numbers within `tolerance` of each other, relative to the larger one."""
    if not (left.is_number and right.is_number):
        return False
    x, y = left.evalf(30), right.evalf(30)  # sympy floats: 10^5000 does not overflow
    if not (x.is_finite and y.is_finite):
        return False
    return bool(abs(x - y) <= tolerance * max(abs(x), abs(y)))


@functools.lru_cache(maxsize=4096)
def _to_sympy(latex: str) -> sympy.Expr | None:
    """The sympy value of a LaTeX answer, or None when it is not a safe, small expression.

    Cached: a GRPO group asks about the same reference with every answer (sympy values are
    immutable, so sharing one is safe)."""
    plain = _plain_rational(latex)
    if plain is not None:
        return plain
    try:
        code, names = _bind_names(_code(latex))
    except ValueError:
        return None
    if len(code) > _MAX_CODE or not _SAFE_CODE.fullmatch(code) or _ATTRIBUTE.search(code):
        return None
    if code.count("!") != len(_SMALL_FACTORIAL.findall(code)):
        return None
    try:
        if _too_big(parse_expr(code, names, _TRANSFORMS, _sympy_names(), evaluate=False)):
            return None
        return parse_expr(code, names, _TRANSFORMS, _sympy_names(), evaluate=True)
    except Exception:  # sympy's parser raises a zoo of types on malformed text; all mean "not math"
        return None


@functools.cache
def _sympy_names() -> dict:
    """The names `parse_expr` evaluates in by default (all of sympy, Python's built-in functions),
    gathered once: by default it runs `from sympy import *` on every call. Shared by every call:
    `eval` adds only `__builtins__` to it, the same each time."""
    names = {name: getattr(sympy, name) for name in sympy.__all__}  # `from sympy import *`
    names.update((name, obj) for name, obj in vars(builtins).items()
                 if isinstance(obj, types.BuiltinFunctionType))
    names.update(max=sympy.Max, min=sympy.Min)
    return names


def is_plain(latex: str) -> bool:
    r"""A number or a fraction of at most 100 digits a part (`12`, `-0.75`, `3/4`, `\frac{3}{4}`).

    >>> is_plain(" -0.75 "), is_plain(r"\frac{3}{4}"), is_plain("2x"), is_plain("1" * 101)
    (True, True, False, False)
    """
    latex = latex.strip()
    return bool(_PLAIN_NUMBER.fullmatch(latex) or _PLAIN_FRACTION.fullmatch(latex))


def _plain_rational(latex: str) -> sympy.Rational | None:
    r"""`12`, `-0.75`, `3/4` or `\frac{3}{4}` as an exact rational, without sympy's parser (the
    answers most rows hold, read in microseconds rather than a millisecond).

    >>> _plain_rational("-0.75"), _plain_rational(r"\frac{6}{8}"), _plain_rational("1/0"), _plain_rational("2x")
    (-3/4, 3/4, None, None)
    """
    if _PLAIN_NUMBER.fullmatch(latex):
        return sympy.Rational(latex)
    found = _PLAIN_FRACTION.fullmatch(latex)
    if found is None:
        return None
    sign, numerator, denominator = (g for g in found.groups() if g is not None)
    if int(denominator) == 0:
        return None
    return sympy.Rational(int(sign + numerator), int(denominator))


def _code(latex: str) -> str:
    r"""LaTeX rewritten as sympy input; raises ValueError on a command it does not know.

    >>> _code(r"\frac{\sqrt[3]{x}}{2}\pi")
    '((((x)**(1/(3))))/(2)) pi '
    """
    out, i = [], 0
    while i < len(latex):
        if latex[i] == "\\":
            piece, i = _command(latex, i)
        else:
            piece, i = {"{": "(", "}": ")"}.get(latex[i], latex[i]), i + 1
        out.append(piece)
    return "".join(out)


def _command(latex: str, start: int) -> tuple[str, int]:
    """The code for the LaTeX command at `start`, and the index after it and its arguments."""
    name = re.match(r"\\([A-Za-z]+|.?)", latex[start:]).group(1)
    end = start + 1 + len(name)
    if name == "frac":
        numerator, end = _argument(latex, end)
        denominator, end = _argument(latex, end)
        return f"(({_code(numerator)})/({_code(denominator)}))", end
    if name == "sqrt":
        return _sqrt(latex, end)
    if name in _COMMANDS:
        return _COMMANDS[name], end
    if name in _GREEK:
        return f" {name} ", end
    raise ValueError(f"unknown LaTeX command \\{name}")


def _sqrt(latex: str, end: int) -> tuple[str, int]:
    r"""`\sqrt{x}` or `\sqrt[n]{x}`, from just after the command name."""
    root = None
    if latex.startswith("[", end):
        close = latex.find("]", end)
        if close < 0:
            raise ValueError("unclosed [ in \\sqrt")
        root, end = latex[end + 1 : close], close + 1
    radicand, end = _argument(latex, end)
    if root is None:
        return f"sqrt({_code(radicand)})", end
    return f"(({_code(radicand)})**(1/({_code(root)})))", end


def _argument(latex: str, start: int) -> tuple[str, int]:
    r"""One command argument: a `{...}` group, a command such as `\pi`, or a single character."""
    i = start
    while i < len(latex) and latex[i].isspace():
        i += 1
    if i >= len(latex):
        raise ValueError("a LaTeX command is missing its argument")
    if latex[i] == "{":
        braced = read_braced(latex, i)
        if braced is None:
            raise ValueError("unclosed { in a LaTeX argument")
        return braced
    if latex[i] == "\\":
        name = re.match(r"\\([A-Za-z]+|.?)", latex[i:]).group(0)
        return name, i + len(name)
    return latex[i], i + 1


def _bind_names(code: str) -> tuple[str, dict[str, object]]:
    """The code with every name made safe, and what each name means to sympy.

    Known functions and constants keep their meaning, `e` is Euler's number and `i` the imaginary
    unit (`mathx_forms.imaginary_j` turns a reference's `j` into `i`), Greek letters and
    single letters are symbols, and any other word is split into single-letter symbols (`xy`).
    """
    names: dict[str, object] = {}

    def bind(word: re.Match[str]) -> str:
        text = word.group(0)
        if text in _FUNCTIONS:
            names[text] = _FUNCTIONS[text]
            return text
        if text in _GREEK:
            safe = "lamda" if text == "lambda" else text  # `lambda` is a Python keyword
            names[safe] = sympy.Symbol(text)
            return safe
        for letter in text:
            names[letter] = _CONSTANTS.get(letter) or sympy.Symbol(letter)
        return " " * (text[0] in "jJ") + " ".join(text)  # `3j` would be Python's complex 3i

    return re.sub(r"[A-Za-z]+", bind, code), names


def _too_big(expr: sympy.Basic) -> bool:
    """Would evaluating this build a giant number (a power tower)? Inner powers are looked at
    first: the outermost exponent of `9^{9^{9^{9^9}}}` would itself take forever to evaluate."""
    for node in sympy.postorder_traversal(expr):
        if isinstance(node, sympy.Pow) and node.exp.is_number:
            if _magnitude(node.exp) > _MAX_EXPONENT:
                return True
    return False


def _magnitude(value: sympy.Basic) -> float:
    try:
        return abs(complex(value.evalf(15)))
    except (TypeError, ValueError, OverflowError):
        return float("inf")

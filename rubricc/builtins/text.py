"""Text built-ins: comparison, normalisation, simple transforms and number parsing.

>>> normalized_equal("  The  Answer: PARIS. ", "the answer: paris")
True
>>> number("1,234.5"), number("forty")
(1234.5, None)
"""

import re
import unicodedata

from rubricc.builtins.registry import builtin

# A leading sign or point right before a digit belongs to the number: "-3" must not become "3".
_NUMBER_START = re.compile(r"[-+.]\d")

# Thousands separators only in groups of three, so that "1,23" is not silently read as 123.
_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")

_UNICODE_MINUS = "\u2212"


@builtin()
def equals(a: str, b: str) -> bool:
    """True when the two texts are identical, character for character.

    >>> equals("Paris", "Paris"), equals("Paris", "paris")
    (True, False)
    """
    return a == b


@builtin()
def normalize(text: str) -> str:
    """The text in a canonical form: NFKC, casefolded, whitespace collapsed, edge punctuation gone.

    Leading punctuation that starts a number ("-3", ".5") is kept, so signs survive.

    >>> normalize("  «Hello,   WORLD!» ")
    'hello, world'
    >>> normalize("(A)"), normalize("-3."), normalize("ｆｕｌｌ width")
    ('a', '-3', 'full width')
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _strip_edges(" ".join(folded.split()))


def _is_edge_junk(char: str) -> bool:
    return char.isspace() or unicodedata.category(char).startswith("P")


def _strip_edges(text: str) -> str:
    """Drop punctuation and whitespace at both ends, keeping a sign or point that starts a number."""
    start, end = 0, len(text)
    while end > start and _is_edge_junk(text[end - 1]):
        end -= 1
    while start < end and _is_edge_junk(text[start]) and not _NUMBER_START.match(text, start):
        start += 1
    return text[start:end]


@builtin()
def normalized_equal(a: str, b: str) -> bool:
    """True when the texts are equal after `normalize` (case, width, spacing, edge punctuation).

    >>> normalized_equal("(B)", "b"), normalized_equal("-3", "3")
    (True, False)
    """
    return normalize(a) == normalize(b)


@builtin()
def contains(text: str, part: str) -> bool:
    """True when `part` occurs in `text` (case-sensitive; the empty part is always contained).

    >>> contains("final answer: 4", "answer"), contains("abc", "C")
    (True, False)
    """
    return part in text


@builtin()
def starts_with(text: str, prefix: str) -> bool:
    """True when `text` begins with `prefix` (case-sensitive).

    >>> starts_with("<think>hm</think>", "<think>")
    True
    """
    return text.startswith(prefix)


@builtin()
def ends_with(text: str, suffix: str) -> bool:
    """True when `text` ends with `suffix` (case-sensitive).

    >>> ends_with("done.", "."), ends_with("done", ".")
    (True, False)
    """
    return text.endswith(suffix)


@builtin()
def lower(text: str) -> str:
    """The text in lower case.

    >>> lower("ÉCOLE 42")
    'école 42'
    """
    return text.lower()


@builtin()
def upper(text: str) -> str:
    """The text in upper case.

    >>> upper("straße")
    'STRASSE'
    """
    return text.upper()


@builtin()
def trim(text: str) -> str:
    """The text without leading and trailing whitespace.

    >>> trim("  42 \\n")
    '42'
    """
    return text.strip()


@builtin()
def count(text: str, part: str) -> float:
    """How many non-overlapping times `part` occurs in `text`; raises on an empty `part`.

    >>> count("aaaa", "aa"), count("a-b-c", "-")
    (2.0, 2.0)
    """
    if not part:
        raise ValueError("count: the text to count is empty; an empty text occurs everywhere")
    return float(text.count(part))


@builtin()
def length(text: str) -> float:
    """The number of characters (Unicode code points) in the text.

    >>> length("héllo"), length("")
    (5.0, 0.0)
    """
    return float(len(text))


@builtin()
def close(a: float, b: float, tol: float = 1e-6) -> bool:
    """True when `a` and `b` differ by at most `tol`, absolutely or relative to the larger one.

    The rule is `abs(a - b) <= tol * max(1, abs(a), abs(b))`: absolute for small numbers,
    relative for large ones.

    >>> close(0.1 + 0.2, 0.3), close(1e9, 1e9 + 100), close(1.0, 1.1)
    (True, True, False)
    """
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


@builtin()
def number(text: str | None) -> float | None:
    """The number the text spells, or none when it is not exactly one number.

    Accepts a sign, thousands separators in groups of three ("1,234.5"), exponents ("2.5e3"),
    surrounding whitespace, one trailing period and a trailing percent sign ("50%" is 50).

    >>> number(" -3. "), number("2.5e3"), number("50%"), number("1,234.5")
    (-3.0, 2500.0, 50.0, 1234.5)
    >>> number("12 apples") is None, number("1,23") is None, number(None) is None
    (True, True, True)
    """
    if text is None:
        return None
    cleaned = text.strip().replace(_UNICODE_MINUS, "-").removesuffix(".").removesuffix("%")
    if not _NUMBER.fullmatch(cleaned):
        return None
    return float(cleaned.replace(",", ""))

r"""The unit an answer ends on, for `math_equal`: `unit_of`.

`5 cm` against `5 m` is wrong however the numbers compare, so when both answers carry a unit the
units must match. An answer with a unit against a bare number is judged on the number alone
(`5 cm` equals `5`): references often leave the unit out.
"""

import re

from rubricc.builtins.extract import last_boxed

_UNIT = re.compile(
    r"""(?x) \d \s* \}? (?: \s | ~ | \\[,;:!\ ] )*
    (?: \\(?:text|mathrm|textrm|mbox|rm) \s* \{ \s* (?P<braced>[A-Za-z][A-Za-z.\s]*?) \s* \}
      | (?<=[\s~,;:!]) (?P<bare>[A-Za-z]+) )
    (?P<power> \s* \^ \s* \{? \s* \d \s* \}? )? [\s.]* $"""
)
_NOT_UNITS = {"i", "e", "and", "or", "pi"}
_PERCENT_WORD = re.compile(
    r"(?<=[\d}])\s*(?:\\text\s*\{\s*(?:percent|percentage|pct)\s*\}|(?:percent|percentage|pct)\b)"
)


def unit_of(answer: str) -> str | None:
    r"""The unit after the number an answer ends on (plural `s` dropped), or none.

    >>> unit_of("5 cm"), unit_of(r"$\boxed{3\text{ meters}^2}$"), unit_of("5"), unit_of("3 + 4 i")
    ('cm', 'meter^2', None, None)
    """
    text = answer.strip()
    boxed = last_boxed(text)
    text = (text if boxed is None else boxed).strip().strip("$").strip()
    found = _UNIT.search(text[-200:])
    if found is None:
        return None
    word = " ".join((found.group("braced") or found.group("bare")).split()).rstrip(".")
    if word in _NOT_UNITS:
        return None
    word = word[:-1] if len(word) > 2 and word.endswith("s") else word
    power = re.sub(r"[\s{}]", "", found.group("power") or "")
    return word + power


def without_unit(answer: str) -> str:
    r"""The answer without the unit word it ends on, when that word has 3 letters or more
    (`12 dollars` is `12`): math-verify drops only the units it knows (`5 apples`, `7 days`), and
    reads any other word as a product of letters. Shorter words may be variables (`5 x`);
    `\text{ unit}` is cut where answers are read.

    >>> without_unit("12 dollars"), without_unit("x = 5 cups."), without_unit("5 x"), without_unit("5 and")
    ('12', 'x = 5', '5 x', '5 and')
    """
    text = answer.strip()
    found = _UNIT.search(text)
    word = found and found.group("bare")
    if not word or len(word) < 3 or word in _NOT_UNITS:
        return answer
    return text[: found.start("bare")].rstrip(" ~,;:!\\")


def units_agree(pred: str, gold: str) -> bool:
    """False only when both answers carry a unit and the units differ."""
    units = unit_of(pred), unit_of(gold)
    return None in units or units[0] == units[1]


def spell_percent(answer: str) -> str:
    r"""`28 percent`, `28 pct` and `28\text{ percent}` written as `28\%`.

    >>> spell_percent("28 percent"), spell_percent(r"$\boxed{28 pct}$")
    ('28\\%', '$\\boxed{28\\%}$')
    """
    return _PERCENT_WORD.sub(r"\\%", answer)

"""A regex that repeats a group which itself repeats, like `(a+)+` or `(.*)*`.

What it does:
    Reports a regex literal where a group containing an unbounded quantifier (`*`, `+`, `{n,}`)
    is itself repeated without bound.

Why it matters:
    rubricc matches with RE2, in linear time, so the rubric itself is safe. But backtracking
    engines such as Python's `re` take exponential time on such a pattern when the match fails
    (`(a+)+$` against "aaaa...b"), so a rubric exported to plain Python reward functions, or a
    pattern copied into another tool, can hang a training run on one adversarial completion.

Example:
    check steps: fullmatch(response, /(\\w+\\s*)+/)

Use instead:
    check steps: fullmatch(response, /[\\w\\s]+/)
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rubricc import nodes as n
from rubricc.checked_rubric import Checked
from rubricc.diagnostics import Diagnostic, warning
from rubricc.lint.invalid_regex import rejection
from rubricc.lint.walk import rubric_nodes

CODE = "L008"
NAME = "nested-quantifier"


def check(checked: Checked) -> Iterable[Diagnostic]:
    for node in rubric_nodes(checked):
        if isinstance(node, n.RegexLit) and rejection(node) is None:
            nested = nested_quantifier(node.pattern)
            if nested is not None:
                yield warning(CODE, f"the regex repeats a repeated group `{nested}`", node.span,
                              "exponential in backtracking regex engines",
                              "safe under rubricc's RE2, but Python's `re` can hang on it: "
                              "let each character match one way only, e.g. `(\\w+\\s*)+` -> "
                              "`[\\w\\s]+`, `(.*)*` -> `.*`")


def nested_quantifier(pattern: str) -> str | None:
    r"""The first group that is repeated without bound and holds only repeated or optional parts,
    one of which repeats without bound: the shape that backtracks exponentially. A group with a
    required part, like `(step \d+)+`, splits the input one way only and is not reported.

    >>> nested_quantifier("(a+)+"), nested_quantifier("x(?:.*)*y"), nested_quantifier(r"(\w+\s?)+")
    ('(a+)+', '(?:.*)*', '(\\w+\\s?)+')
    >>> nested_quantifier("(ab)+c*"), nested_quantifier(r"(step \d+)+"), nested_quantifier("[(+]+")
    (None, None, None)
    """
    scan = _Scan()
    i = 0
    while i < len(pattern):
        if pattern[i] == "(":
            i = scan.open(pattern, i)
        elif pattern[i] == ")":
            found, i = scan.close(pattern, i)
            if found:
                return found
        elif pattern[i] in "|^$":
            i += 1  # alternation and anchors match no characters of their own
        else:
            i = scan.atom(pattern, i)
    return None


class _Scan:
    """Per open group: where it starts, whether it repeats something without bound, and whether
    it has a part that must match exactly once."""

    def __init__(self) -> None:
        self.groups: list[tuple[int, bool, bool]] = []
        self.repeats = self.required = False

    def open(self, pattern: str, i: int) -> int:
        flags = FLAG_GROUP.match(pattern, i)
        if flags:
            return flags.end()  # `(?i)` sets flags; it is not a group
        self.groups.append((i, self.repeats, self.required))
        self.repeats = self.required = False
        return GROUP_PREFIX.match(pattern, i).end()

    def close(self, pattern: str, i: int) -> tuple[str | None, int]:
        q = _quantifier(pattern, i + 1)
        end = i + 1 + len(q)
        if not self.groups:
            return None, end
        start, outer_repeats, outer_required = self.groups.pop()
        if _unbounded(q) and self.repeats and not self.required:
            return pattern[start:end], end
        inner_required = self.required and not q
        self.repeats = outer_repeats or self.repeats or _unbounded(q)
        self.required = outer_required or inner_required
        return None, end

    def atom(self, pattern: str, i: int) -> int:
        end = _atom_end(pattern, i)
        q = _quantifier(pattern, end)
        self.repeats = self.repeats or _unbounded(q)
        self.required = self.required or not q
        return end + len(q)


GROUP_PREFIX = re.compile(r"\((?:\?(?:P?<\w+>|[imsU-]*:))?")
FLAG_GROUP = re.compile(r"\(\?[imsU-]+\)")
QUANTIFIER = re.compile(r"(?:[*+?]|\{\d+(?:,\d*)?\})\??")
ESCAPE = re.compile(r"\\(?:[pP]\{[^}]*\}|x\{[^}]*\}|.)", re.S)


def _quantifier(pattern: str, i: int) -> str:
    match = QUANTIFIER.match(pattern, i)
    return match.group(0) if match else ""


def _unbounded(q: str) -> bool:
    return q[:1] in ("*", "+") or q.rstrip("?").endswith(",}")


def _atom_end(pattern: str, i: int) -> int:
    if pattern[i] == "\\":
        match = ESCAPE.match(pattern, i)
        return match.end() if match else len(pattern)
    if pattern[i] == "[":
        return _class_end(pattern, i)
    return i + 1


def _class_end(pattern: str, i: int) -> int:
    """The index just after the character class that starts at i."""
    j = i + 1
    if pattern.startswith("^", j):
        j += 1
    if pattern.startswith("]", j):
        j += 1  # a `]` first in a class is a literal
    while j < len(pattern) and pattern[j] != "]":
        j += 2 if pattern[j] == "\\" else 1
    return j + 1

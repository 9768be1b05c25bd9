"""A regex literal that RE2 rejects.

What it does:
    Compiles every `/pattern/flags` literal in the rubric (and in the definitions it calls) with
    RE2, the engine rubricc matches with, and reports the ones RE2 rejects, with RE2's reason.
    The usual causes are backreferences (`\\1`) and lookaround (`(?=...)`, `(?!...)`,
    `(?<=...)`), which RE2 leaves out to guarantee linear-time matching. This is an error.

Why it matters:
    The rubric cannot be scored at all: every row would fail on the first use of the pattern.

Example:
    check repeated: matches(response, /(\\w+) \\1/)
    check no_hedge: matches(response, /^(?!.*maybe)/)

Use instead:
    check repeated: count_matches(response, /\\b\\w+\\b/) > 0
    check no_hedge: not contains(lower(response), "maybe")
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import re2

from rubricc import nodes as n
from rubricc.builtins.regex import compile_regex
from rubricc.checked_rubric import Checked
from rubricc.diagnostics import Diagnostic, error
from rubricc.lint.walk import rubric_nodes

CODE = "L007"
NAME = "invalid-regex"

BACKREFERENCE = re.compile(r"\\[1-9]|\\k<|\(\?P=")
LOOKAROUND = re.compile(r"\(\?<?[=!]")


def check(checked: Checked) -> Iterable[Diagnostic]:
    for node in rubric_nodes(checked):
        if isinstance(node, n.RegexLit):
            reason = rejection(node)
            if reason is not None:
                yield error(CODE, f"RE2 rejects this regex: {reason}", node.span,
                            "not a valid RE2 pattern", _help(node.pattern))


def rejection(node: n.RegexLit) -> str | None:
    """RE2's reason for rejecting the pattern, or None when it compiles."""
    try:
        compile_regex(node.pattern, node.flags)
    except re2.error as err:
        return str(err)
    return None


def _help(pattern: str) -> str:
    if LOOKAROUND.search(pattern):
        return ("RE2 has no lookaround: test the condition separately, e.g. "
                "`not matches(response, /maybe/)` instead of /^(?!.*maybe)/")
    if BACKREFERENCE.search(pattern):
        return ("RE2 has no backreferences: capture with `extract` and compare the parts, "
                "e.g. `extract(x, /(a)/) == extract(x, /(b)/)`")
    return "RE2 syntax: https://github.com/google/re2/wiki/Syntax"

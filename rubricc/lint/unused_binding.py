"""A `let` binding that nothing reads.

What it does:
    Reports a `let` whose name no item, other binding, score or route key refers to.

Why it matters:
    An unused binding is usually a leftover, or a sign that an item reads the wrong name (for
    example `response` where `final` was meant), so the reward is not computed the way it reads.

Example:
    let final = last_boxed(response)
    check correct: math_equal(last_boxed(response), answer)

Use instead:
    let final = last_boxed(response)
    check correct: math_equal(final, answer)
"""

from __future__ import annotations

from collections.abc import Iterable

from rubricc import nodes as n
from rubricc.checked_rubric import Checked
from rubricc.diagnostics import Diagnostic, warning
from rubricc.walk import value_children

CODE = "L001"
NAME = "unused-binding"


def check(checked: Checked) -> Iterable[Diagnostic]:
    read = names_read(checked)
    for name, let in checked.scope.lets.items():
        if name not in read:
            yield warning(CODE, f"`{name}` is never used", let.span, "bound here, read nowhere",
                          f"remove `let {name}`, or use it where it was meant to be read")


def names_read(checked: Checked) -> set[str]:
    """Names the rubric's bindings, items, score and route key read (not definitions or tests,
    which cannot see bindings)."""
    out: set[str] = set()
    for member in checked.rubric.members:
        if isinstance(member, n.JudgeEach):
            _collect(member.source, frozenset(), out)
            for part in (member.criterion, *member.modifiers):
                _collect(part, frozenset({member.var}), out)
        elif isinstance(member, (n.Let, n.Gate, n.Check, n.Judge, n.ScoreDecl, n.Route)):
            _collect(member, frozenset(), out)
    return out


def _collect(node: n.Node, local: frozenset[str], out: set[str]) -> None:
    if isinstance(node, n.Name) and node.id not in local:
        out.add(node.id)
    for child in value_children(node):
        _collect(child, local, out)

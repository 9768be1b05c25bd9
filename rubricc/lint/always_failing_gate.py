"""A gate whose condition is always false, so nothing after it ever runs.

What it does:
    Folds each gate's condition over its constants (literals, constant bindings, built-ins applied
    to constants) and reports the first gate that is false whatever the response: every item after
    it is unreachable and every response scores the gate's fail value.

Why it matters:
    The rubric gives every completion the same reward, usually because a debugging switch was
    left on or a comparison was written backwards (`1 > 2`).

Example:
    let strict = false
    gate enabled: strict
    check correct: math_equal(final, answer)

Use instead:
    check correct: math_equal(final, answer)
"""

from __future__ import annotations

from collections.abc import Iterable

from rubricc.checked_rubric import Checked
from rubricc.diagnostics import Diagnostic, warning
from rubricc.lint.partial_eval import PartialEval

CODE = "L011"
NAME = "always-failing-gate"


def check(checked: Checked) -> Iterable[Diagnostic]:
    fold = PartialEval(checked, {})
    for info in checked.items:
        if info.kind == "gate" and fold.value(info.node.cond) is False:
            later = [i.name for i in checked.items if i.region > info.region]
            yield warning(CODE, f"gate `{info.name}` always fails", info.node.cond.span,
                          "always false", _help(later))
            return  # the items after it, later gates included, never run


def _help(later: list[str]) -> str:
    if not later:
        return "every response scores the fail value: fix the condition or remove the gate"
    return f"these items never run: {', '.join(later)}; fix the condition or remove the gate"

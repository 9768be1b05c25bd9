"""A gate whose condition is always true.

What it does:
    Folds each gate's condition over its constants (literals, constant bindings, built-ins applied
    to constants) and reports a gate that is true whatever the response.

Why it matters:
    The gate stops nothing, so the items after it run on every completion, including the ones the
    gate was written to keep out (an empty answer, a missing format).

Example:
    gate has_answer: 2 > 1
    check correct: math_equal(final, answer)

Use instead:
    gate has_answer: final != none
    check correct: math_equal(final, answer)
"""

from __future__ import annotations

from collections.abc import Iterable

from rubricc.checked_rubric import Checked
from rubricc.diagnostics import Diagnostic, warning
from rubricc.lint.partial_eval import PartialEval

CODE = "L012"
NAME = "never-failing-gate"


def check(checked: Checked) -> Iterable[Diagnostic]:
    fold = PartialEval(checked, {})
    for info in checked.items:
        if info.kind == "gate" and fold.value(info.node.cond) is True:
            yield warning(CODE, f"gate `{info.name}` can never fail", info.node.cond.span,
                          "always true",
                          "make it test the response, e.g. `gate has_answer: final != none`, "
                          "or remove it")

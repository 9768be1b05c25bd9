"""A declared score that reads no item.

What it does:
    Reports `score = ...` when the expression reads no item (directly, through a binding, or
    through `items`/`checks`/`judges`) and the rubric has no gate that could change the outcome:
    every response then gets the same reward, or one computed outside the item breakdown.

Why it matters:
    A constant reward has zero advantage in every GRPO group, so training learns nothing from it;
    a score computed from columns alone bypasses the items, so breakdowns and probes cannot explain
    it. It is also what `weighted_mean(judges)` becomes in a rubric that has no judges.

Example:
    check correct: math_equal(final, answer)
    score = 1

Use instead:
    check correct: math_equal(final, answer)
    score = correct
"""

from __future__ import annotations

from collections.abc import Iterable

from rubricc.checked_rubric import Checked
from rubricc.diagnostics import Diagnostic, warning
from rubricc.lint.deps import deps
from rubricc.lint.partial_eval import UNKNOWN, PartialEval

CODE = "L004"
NAME = "constant-score"


def check(checked: Checked) -> Iterable[Diagnostic]:
    score = checked.score
    if score is None or any(i.kind == "gate" for i in checked.items):
        return  # with a gate, `score = 1` is a pass/fail reward
    if deps(checked, score).items:
        return
    value = PartialEval(checked, {}).value(score)
    what = "the score does not read any item"
    if value is not UNKNOWN:
        what = f"the score is always {_show(value)}"
    yield warning(CODE, what, score.span, "reads no item",
                  "score the items, e.g. `score = weighted_mean(items)`, or drop `score = ...` "
                  "to get that default")


def _show(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value).lower()

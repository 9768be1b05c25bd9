"""A negative `weight` on an item that is not `tier pitfall`.

What it does:
    Reports `weight W` with a negative constant W on an item without `tier pitfall`. Negative
    `points` are not reported: they are HealthBench-style penalties, which `points()` handles.

Why it matters:
    `weighted_mean` divides by the sum of the weights, so a negative weight shrinks the
    denominator and can push the score outside [0, 1] or make it undefined; a penalty written as
    `tier pitfall` or as negative points says what it means and is scored the expected way.

Example:
    judge diagnosis weight -1: "States a definitive diagnosis without an examination."

Use instead:
    judge diagnosis tier pitfall: "States a definitive diagnosis without an examination."
"""

from __future__ import annotations

from collections.abc import Iterable

from rubricc.checked_rubric import Checked, fold_number
from rubricc.diagnostics import Diagnostic, warning

CODE = "L010"
NAME = "negative-weight"


def check(checked: Checked) -> Iterable[Diagnostic]:
    for info in checked.items:
        if info.kind == "gate" or info.tier == "pitfall":
            continue
        for mod in info.node.modifiers:
            value = fold_number(mod.value) if mod.kind == "weight" else None
            if value is not None and value < 0:
                yield warning(CODE, f"`{info.name}` has a negative weight", mod.span,
                              f"weight {value:g}",
                              "write a penalty as `tier pitfall`, or as `points -N` "
                              "with `score = points()`")

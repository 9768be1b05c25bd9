"""A weighted score whose weights add up to nothing.

What it does:
    Reports a `weighted_mean` whose items' weights sum to 0 (every item log-only with `weight 0`,
    or a weight and a penalty that cancel), and a `points` with no positive points. Without
    `score = ...` the default `weighted_mean(items)` is checked. This is an error.

Why it matters:
    `weighted_mean` divides by the total weight and `points` by the total positive points, so the
    score is undefined (0/0) on every row: nothing can be trained on it.

Example:
    check correct weight 0: math_equal(final, answer)
    judge clear weight 0: "The explanation is easy to follow."

Use instead:
    check correct: math_equal(final, answer)
    judge clear weight 0: "The explanation is easy to follow."
"""

from __future__ import annotations

from collections.abc import Iterable

from rubricc import nodes as n
from rubricc.checked_rubric import Checked, ItemInfo
from rubricc.diagnostics import Diagnostic, error
from rubricc.lint import itemsets

CODE = "L009"
NAME = "zero-total-weight"


def check(checked: Checked) -> Iterable[Diagnostic]:
    if checked.routes:
        return  # a router takes its score from the routed rubrics
    for node, kind, items in itemsets.weighted_aggregations(checked):
        if not items:
            continue
        problem = _points_problem(items) if kind == "points" else _mean_problem(items)
        if problem:
            yield _report(node, kind, problem)


def _mean_problem(items: list[ItemInfo]) -> str:
    total = itemsets.total_weight(items)
    if total != 0:
        return ""
    if all(itemsets.constant_weight(i) == 0 for i in items):
        return "every item it averages has weight 0"
    return "the weights of its items add up to 0"


def _points_problem(items: list[ItemInfo]) -> str:
    weights = [itemsets.constant_weight(i) for i in items]
    if any(w is None or w > 0 for w in weights):
        return ""
    return "none of its items has positive points"


def _report(node: n.Node, kind: str, problem: str) -> Diagnostic:
    if isinstance(node, n.Rubric):
        return error(CODE, f"the default score `weighted_mean(items)` is undefined: {problem}",
                     node.span, "no `score = ...`, so the score is `weighted_mean(items)`",
                     "give a scored item a non-zero weight, or declare `score = ...`")
    return error(CODE, f"`{kind}` here is undefined: {problem}", node.span, "divides by zero",
                 "give one of its items a positive weight, or score other items")

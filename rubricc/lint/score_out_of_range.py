"""A score whose range can leave [0, 1].

What it does:
    Computes the range of the score by interval arithmetic (items are in [0, 1], constants are
    points, `if`/`else` joins both branches, each aggregator has its own range) and reports a score
    that can fall below 0 or rise above 1. Without `score = ...` the default
    `weighted_mean(items)` is checked, which leaves [0, 1] when a weight is negative. A gate's
    explicit fail value (`else -1`) is a deliberate choice and is not counted.

Why it matters:
    Trainers, dashboards and the adversarial probes expect rewards in [0, 1]; an unbounded score
    lets one item dominate the advantage, and `weighted_mean` with a penalty weight can divide by
    a total near zero (weights 1 and -0.9 give a range of [-9, 10]).

Example:
    check correct: math_equal(final, answer)
    check short: words(response) <= 200
    score = correct + short

Use instead:
    check correct: math_equal(final, answer)
    check short: words(response) <= 200
    score = (correct + short) / 2
"""

from __future__ import annotations

from collections.abc import Iterable

from rubricc.checked_rubric import Checked
from rubricc.diagnostics import Diagnostic, warning
from rubricc.lint import itemsets
from rubricc.lint.score_range import score_range
from rubricc.walk import call_name, walk

CODE = "L003"
NAME = "score-out-of-range"

RESCALE = ("rescale it, e.g. divide by the largest value, or use `mean` or `points`, "
           "which stay in [0, 1]")
PENALTY = ("`weighted_mean` with a negative weight is unbounded: use `points` (clipped to [0, 1]) "
           "for penalties, e.g. `score = points()`")


def check(checked: Checked) -> Iterable[Diagnostic]:
    if checked.routes or _zero_total(checked):
        return  # a router has no score of its own; a zero total is L009's business
    reach = score_range(checked)
    if reach.within(0, 1):
        return
    if checked.score is None:
        yield _default_score(checked, reach)
        return
    yield warning(CODE, f"the score can range over {reach}, outside [0, 1]",
                  checked.score.span, "can leave [0, 1]",
                  PENALTY if _penalised_mean(checked) else RESCALE)


def _default_score(checked: Checked, reach) -> Diagnostic:
    penalty = next(i for i in itemsets.members(checked, "items")
                   if (itemsets.constant_weight(i) or 0) < 0)
    return warning(CODE, f"the default score `weighted_mean(items)` can range over {reach}, "
                   "outside [0, 1]", penalty.node.span, "a negative weight", PENALTY)


def _penalised_mean(checked: Checked) -> bool:
    for node in walk(checked.score):
        if itemsets.is_aggregate(node) and call_name(node) == "weighted_mean":
            weights = [itemsets.constant_weight(i)
                       for _, i in itemsets.operands(checked, node) if i is not None]
            if any(w is not None and w < 0 for w in weights):
                return True
    return False


def _zero_total(checked: Checked) -> bool:
    return any(kind == "weighted_mean" and itemsets.total_weight(items) == 0
               for _, kind, items in itemsets.weighted_aggregations(checked))

"""The range of values a score expression can take, by interval arithmetic.

Items are in [0, 1], constants are points, `if`/`else` joins its branches, comparisons are 0 or 1,
and each aggregator has its own range: `points` is clipped to [0, 1], `sum` grows with its
arguments, and `weighted_mean` leaves [0, 1] when a weight is negative (sum(w*v)/sum(w) with
w = 1, -0.9 spans [-9, 10]). A weight that comes from the data row is taken to be positive.
"""

from __future__ import annotations

import functools
import math

from rubricc import nodes as n
from rubricc import types as t
from rubricc.checked_rubric import Checked, ItemInfo
from rubricc.lint import itemsets
from rubricc.lint.interval import EVERYWHERE, NON_NEGATIVE, UNIT, Interval
from rubricc.lint.partial_eval import UNKNOWN, PartialEval
from rubricc.walk import call_name

# Built-ins that count things: never negative.
COUNTS = {"words", "sentences", "paragraphs", "lines", "length", "count", "count_matches", "len"}


def score_range(checked: Checked) -> Interval:
    """The range of the declared score, or of the default `weighted_mean(items)`."""
    if checked.score is None:
        return weighted_mean_range(itemsets.members(checked, "items"))
    return RangeOf(checked).of(checked.score)


def weighted_mean_range(items: list[ItemInfo]) -> Interval:
    weights = [itemsets.constant_weight(i) for i in items]
    if not any(w is not None and w < 0 for w in weights):
        return UNIT
    total = itemsets.total_weight(items)
    if not total:  # unknown before scoring (weights from the data), or zero: no bound
        return EVERYWHERE
    ends = (sum(w for w in weights if w < 0) / total, sum(w for w in weights if w > 0) / total)
    return Interval(min(ends), max(ends))


class RangeOf:
    def __init__(self, checked: Checked):
        self.checked = checked
        self.folder = PartialEval(checked, {})

    def of(self, e: n.Node) -> Interval:
        constant = self.folder.value(e)
        if isinstance(constant, (int, float)) and constant is not UNKNOWN:
            return Interval.point(float(constant))
        method = getattr(self, f"range_{type(e).__name__}", None)
        return method(e) if method else self.by_type(e)

    def by_type(self, e: n.Node) -> Interval:
        return UNIT if self.checked.type_of(e) == t.BOOL else EVERYWHERE

    def range_Name(self, e: n.Name) -> Interval:
        if self.checked.item(e.id) is not None:
            return UNIT
        let = self.checked.scope.lets.get(e.id)
        return self.of(let.value) if let is not None else self.by_type(e)

    def range_Unary(self, e: n.Unary) -> Interval:
        return UNIT if e.op == "not" else -self.of(e.operand)

    def range_IfExpr(self, e: n.IfExpr) -> Interval:
        return self.of(e.then).hull(self.of(e.else_))

    def range_Binary(self, e: n.Binary) -> Interval:
        if e.op in ("+", "-", "*", "/"):
            left, right = self.of(e.left), self.of(e.right)
            return {"+": left + right, "-": left - right, "*": left * right,
                    "/": left / right}[e.op]
        if e.op == "??":
            return self.of(e.left).hull(self.of(e.right))
        return UNIT  # comparisons, and, or

    def range_Call(self, e: n.Call) -> Interval:
        name = call_name(e)
        if itemsets.is_aggregate(e):
            return getattr(self, f"aggregate_{name}")(e)
        if name in COUNTS:
            return NON_NEGATIVE
        if name == "clip" and len(e.args) == 3:
            x, lo, hi = (self.of(a) for a in e.args)
            return Interval(max(x.lo, lo.lo), min(x.hi, hi.hi))
        return self.by_type(e)

    # ---- aggregators: one method each --------------------------------------------------------

    def values(self, e: n.Call) -> list[Interval]:
        """The range of each aggregated value; a `judge each` item may be many values."""
        operands = itemsets.operands(self.checked, e)
        return [UNIT if item else self.of(expr) for expr, item in operands]

    def aggregate_weighted_mean(self, e: n.Call) -> Interval:
        items = [i for _, i in itemsets.operands(self.checked, e) if i is not None]
        return weighted_mean_range(items)

    def aggregate_points(self, e: n.Call) -> Interval:
        return UNIT  # clipped to [0, 1]

    def aggregate_mean(self, e: n.Call) -> Interval:
        values = self.values(e)
        return Interval(min(v.lo for v in values), max(v.hi for v in values)) if values else UNIT

    def aggregate_min(self, e: n.Call) -> Interval:
        values = self.values(e)
        return Interval(min(v.lo for v in values), min(v.hi for v in values)) if values else UNIT

    def aggregate_max(self, e: n.Call) -> Interval:
        values = self.values(e)
        return Interval(max(v.lo for v in values), max(v.hi for v in values)) if values else UNIT

    def aggregate_sum(self, e: n.Call) -> Interval:
        operands = itemsets.operands(self.checked, e)
        if any(i is not None and i.kind == "each" for _, i in operands):
            return NON_NEGATIVE.hull(functools.reduce(Interval.__add__, self.values(e)))
        return functools.reduce(Interval.__add__, self.values(e), Interval.point(0))

    def aggregate_product(self, e: n.Call) -> Interval:
        return functools.reduce(Interval.__mul__, self.values(e), Interval.point(1))

    def aggregate_all(self, e: n.Call) -> Interval:
        return UNIT

    aggregate_any = aggregate_all
    aggregate_at_least = aggregate_all


def is_point(r: Interval) -> bool:
    return r.lo == r.hi and not math.isinf(r.lo)

"""The items a score reads: item sets, aggregator arguments, and each item's constant weight.

`items` is every check and judge (gates excluded, as in the default score
`weighted_mean(items)`), `checks` the checks, `judges` the judges and `judge each` items.
"""

from __future__ import annotations

from rubricc import nodes as n
from rubricc.checked_rubric import AGGREGATORS, SET_KINDS, Checked, ItemInfo, fold_number
from rubricc.walk import call_name, walk


def members(checked: Checked, set_name: str) -> list[ItemInfo]:
    return [i for i in checked.items if i.kind in SET_KINDS[set_name]]


def is_aggregate(e: n.Node) -> bool:
    return isinstance(e, n.Call) and call_name(e) in AGGREGATORS


def item_args(call: n.Call) -> tuple[n.Expr, ...]:
    """The arguments that name what is aggregated (`at_least`'s leading count is not one)."""
    return call.args[1:] if call_name(call) == "at_least" else call.args


def operands(checked: Checked, call: n.Call) -> list[tuple[n.Expr, ItemInfo | None]]:
    """One (expression, item) per aggregated value; item is None for a plain expression.

    A set name gives one operand per member, each pointing at the set's name; no arguments at all
    means `items`, pointing at the call.
    """
    args = item_args(call)
    if not args:
        return [(call, i) for i in members(checked, "items")]
    out: list[tuple[n.Expr, ItemInfo | None]] = []
    for arg in args:
        out += _operands_of(checked, arg)
    return out


def _operands_of(checked: Checked, arg: n.Expr) -> list[tuple[n.Expr, ItemInfo | None]]:
    if isinstance(arg, n.Name) and arg.id in SET_KINDS:
        return [(arg, i) for i in members(checked, arg.id)]
    if isinstance(arg, n.Name) and checked.item(arg.id) is not None:
        return [(arg, checked.item(arg.id))]
    return [(arg, None)]


def default_operands(checked: Checked) -> list[tuple[n.Node, ItemInfo]]:
    """The default score `weighted_mean(items)`: each scored item, pointing at the item itself."""
    return [(i.node, i) for i in members(checked, "items")]


def constant_weight(info: ItemInfo) -> float | None:
    """The item's weight (or points), or None when it comes from the data row (`judge each`)."""
    if info.kind != "each":
        return info.weight
    expr = info.weight_expr
    if expr is None:
        return info.weight
    return fold_number(expr)


def is_log_only(info: ItemInfo) -> bool:
    return constant_weight(info) == 0


def total_weight(items: list[ItemInfo]) -> float | None:
    """The sum of the items' weights, or None when one is unknown before scoring (a weight from
    the data row, or a `judge each` with a non-zero weight, whose number of criteria varies)."""
    total = 0.0
    for info in items:
        w = constant_weight(info)
        if w is None or (info.kind == "each" and w != 0):
            return None
        total += w
    return total


def weighted_aggregations(checked: Checked) -> list[tuple[n.Node, str, list[ItemInfo]]]:
    """Each `weighted_mean`/`points` in the score as (node, aggregator, items); without a declared
    score, the default `weighted_mean(items)`, located at the rubric."""
    if checked.score is None:
        return [(checked.rubric, "weighted_mean", members(checked, "items"))]
    out = []
    for node in walk(checked.score):
        if is_aggregate(node) and call_name(node) in ("weighted_mean", "points"):
            items = [i for _, i in operands(checked, node) if i is not None]
            out.append((node, call_name(node), items))
    return out

"""The checked rubric: what type checking hands to lint, lowering and the interpreter.

`Checked` holds a rubric's scope, its inputs' types, its items in order (`ItemInfo`: kind,
weight, tier, template, and the gate region it sits in) and the type of every expression. The
small helpers here read expressions the same way in every later stage.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field

from rubricc import nodes as n
from rubricc import types as t
from rubricc import values as V
from rubricc.judges import DEFAULT_TEMPLATE, RELATIVE_TEMPLATE
from rubricc.resolve import RubricScope

JUDGE_KINDS = ("judge", "each", "relative")
SET_KINDS = {"items": ("check", *JUDGE_KINDS), "checks": ("check",), "judges": JUDGE_KINDS}
"""The item sets a score may aggregate (`weighted_mean(items)`), by the item kinds in each."""
ITEMSETS = tuple(SET_KINDS)
AGGREGATORS = ("weighted_mean", "points", "mean", "sum", "min", "max", "product", "all", "any",
               "at_least")


@dataclass(frozen=True)
class ItemInfo:
    """One column of the reward breakdown."""

    name: str
    kind: str  # gate, check, judge, each, relative
    node: n.Item
    weight: float  # for `each`, the default per criterion when no weight expression is given
    tier: str | None
    template: n.Template | None
    region: int  # how many gates precede it; a failed gate skips every later region

    @property
    def scale(self) -> int | None:
        """N for a judge rated 1..N (`scale 5`), None for a yes/no judge."""
        mod = next((m for m in self.node.modifiers if m.kind == "scale"), None)
        return int(float(mod.value)) if mod is not None else None

    @property
    def template_text(self) -> str:
        """The judge template this item renders: its own, or the default for its kind."""
        if self.template is not None:
            return self.template.text
        return RELATIVE_TEMPLATE if self.kind == "relative" else DEFAULT_TEMPLATE

    @property
    def weight_expr(self) -> n.Expr | None:
        return next((m.value for m in self.node.modifiers if m.kind in ("weight", "points")), None) \
            if not isinstance(self.node, n.Gate) else None


@dataclass
class Checked:
    scope: RubricScope
    inputs: dict[str, t.Type]
    items: list[ItemInfo]
    types: dict[int, t.Type] = field(default_factory=dict)  # id(expr node) -> type
    routes: dict[str | None, Checked] = field(default_factory=dict)
    route_key: n.Expr | None = None

    @property
    def name(self) -> str:
        return self.scope.name

    @property
    def rubric(self) -> n.Rubric:
        return self.scope.rubric

    @property
    def score(self) -> n.Expr | None:
        decl = self.rubric.of_type(n.ScoreDecl)
        return decl[-1].expr if decl else None

    @property
    def tests(self) -> list[n.Test]:
        return self.rubric.of_type(n.Test)

    def item(self, name: str) -> ItemInfo | None:
        return self.items_by_name.get(name)

    @functools.cached_property
    def items_by_name(self) -> dict[str, ItemInfo]:
        """Items by name, built once: lint and the kernels look items up for every op, and a
        scan of the list made compile time quadratic in the number of items."""
        return {i.name: i for i in reversed(self.items)}  # the first of a duplicated name wins

    def type_of(self, expr: n.Expr) -> t.Type:
        return self.types.get(id(expr), t.ANY)


def fold_number(e) -> float | None:
    """The value of a constant numeric expression (`2`, `-1`, `0.5 * 2`), or None, computed by
    the runtime's operators (`values.py`), a failure (`1 / 0`) being None."""
    if isinstance(e, n.Literal) and isinstance(e.value, (int, float)) and not isinstance(e.value, bool):
        return float(e.value)
    if isinstance(e, n.Unary) and e.op == "-":
        inner = fold_number(e.operand)
        return None if inner is None else V.unary("-", inner)
    if isinstance(e, n.Binary) and e.op in "+-*/":
        a, b = fold_number(e.left), fold_number(e.right)
        value = None if a is None or b is None else V.binary(e.op, a, b)
        return None if isinstance(value, V.Failed) else value
    return None


def all_items(checked: Checked) -> list[ItemInfo]:
    """Every column of a rubric, routed rubrics' columns included (named `case.item`)."""
    if not checked.routes:
        return checked.items
    return [dataclasses.replace(i, name=routed_name(case, i.name))
            for case, sub in checked.routes.items() for i in all_items(sub)]


# Route choice and column names are written here once; both engines and `explain` call these.


def choose_route(checked: Checked, key) -> str | None | V.Failed:
    """The route case a row's key picks: the case equal to it (`""` included), else `default`
    (the None case). A failed key stays failed; a key with no case and no default is an error.

    The key is compared only with case keys, which are text: any other value (a number, a list,
    none) goes to `default`.
    """
    if isinstance(key, V.Failed):
        return key
    if isinstance(key, str) and key in checked.routes:
        return key
    if None in checked.routes:
        return None
    return V.Failed(V.ERROR, f"no route for {key!r} and no default")


def route_prefix(case: str | None) -> str:
    """A route case's column prefix: its key as written (`""` too), `default` for the default."""
    return "default" if case is None else case


def routed_name(case: str | None, item: str) -> str:
    return f"{route_prefix(case)}.{item}"


def routed_items(case: str | None, items: dict) -> dict:
    """A routed rubric's results, renamed to the router's columns."""
    return {routed_name(case, name): value for name, value in items.items()}


def unrouted_items(case: str | None, sub: Checked, items: dict) -> dict:
    """The results of route `case` (to `sub`) among a router's, by the routed rubric's names."""
    named = {i.name: routed_name(case, i.name) for i in all_items(sub)}
    return {name: items[full] for name, full in named.items() if full in items}


def judge_items(checked: Checked) -> list[ItemInfo]:
    return [i for i in all_items(checked) if i.kind in JUDGE_KINDS]

"""What an expression depends on: the items, columns, bindings and functions it reads.

Bindings (`let`) and definitions (`def`) are followed to what they read in turn, and the item sets
`items`, `checks`, `judges` (and an aggregator called with no arguments) stand for their members.

    let final = last_boxed(response)
    check correct: math_equal(final, answer)   # reads columns {response, answer}
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rubricc import nodes as n
from rubricc.checked_rubric import SET_KINDS, Checked
from rubricc.lint import itemsets
from rubricc.resolve import IMPLICIT_INPUTS
from rubricc.walk import call_name, callee_path, children


@dataclass
class Deps:
    items: set[str] = field(default_factory=set)
    columns: set[str] = field(default_factory=set)
    lets: set[str] = field(default_factory=set)
    functions: set[str] = field(default_factory=set)


def deps(checked: Checked, expr: n.Node, shadow: frozenset[str] = frozenset()) -> Deps:
    """Everything `expr` reads; names in `shadow` (a `judge each` variable) are local, not reads."""
    out = Deps()
    _Reader(checked, out).visit(expr, shadow)
    return out


class _Reader:
    def __init__(self, checked: Checked, out: Deps):
        self.checked = checked
        self.scope = checked.scope
        self.out = out
        self.seen_defs: set[int] = set()

    def visit(self, e: n.Node, shadow: frozenset[str]) -> None:
        if isinstance(e, n.Name):
            if e.id not in shadow:
                self.name(e.id)
        elif isinstance(e, n.Call):
            self.call(e, shadow)
        else:
            for child in children(e):
                self.visit(child, shadow)

    def name(self, name: str) -> None:
        if name in self.scope.items:  # a dict: `checked.item` scans, once per name read
            self.out.items.add(name)
        elif name in SET_KINDS:
            self.out.items |= {i.name for i in itemsets.members(self.checked, name)}
        elif name in self.scope.lets and name not in self.out.lets:
            self.out.lets.add(name)  # added first: a binding cannot read itself, but be safe
            self.visit(self.scope.lets[name].value, frozenset())
        elif name in IMPLICIT_INPUTS or name in self.scope.inputs:
            self.out.columns.add(name)

    def call(self, e: n.Call, shadow: frozenset[str]) -> None:
        name = call_name(e)
        self.out.functions.add(name)
        if itemsets.is_aggregate(e) and not itemsets.item_args(e):
            self.out.items |= {i.name for i in itemsets.members(self.checked, "items")}
        for arg in e.args:
            self.visit(arg, shadow)
        path = callee_path(e.callee)
        found = self.scope.find_def(path) if path else None
        if found is not None and id(found) not in self.seen_defs:
            self.seen_defs.add(id(found))  # a definition's body sees only columns and its params
            self.visit(found.body, frozenset(p.name for p in found.params))

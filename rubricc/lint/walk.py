"""What lint walks: a rubric's nodes and the bodies of the outside definitions it calls."""

from __future__ import annotations

from collections.abc import Iterator

from rubricc import nodes as n
from rubricc.checked_rubric import Checked
from rubricc.walk import callee_path, walk


def called_defs(checked: Checked) -> list[n.Def]:
    """The top-level and imported definitions a rubric calls (its own are among its members)."""
    found: dict[int, n.Def] = {}
    for node in walk(checked.rubric):
        if isinstance(node, n.Call):
            path = callee_path(node.callee)
            d = checked.scope.find_def(path) if path else None
            if d is not None and d not in checked.rubric.members:
                found.setdefault(id(d), d)
    return list(found.values())


def rubric_nodes(checked: Checked) -> Iterator[n.Node]:
    """Every node a rubric is made of, the bodies of the outside definitions it calls included."""
    yield from walk(checked.rubric)
    for d in called_defs(checked):
        yield from walk(d)

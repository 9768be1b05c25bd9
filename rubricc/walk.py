"""Walking the syntax tree: the one traversal that the type checker, lint and the probes share.

Nodes are frozen dataclasses, so one generic walk over their fields reaches every nested node
(record fields and test verdicts are tuples of pairs, which the walk looks inside too).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from rubricc import nodes as n


def children(node: n.Node) -> Iterator[n.Node]:
    for f in dataclasses.fields(node):
        yield from _nodes(getattr(node, f.name))


def _nodes(value: object) -> Iterator[n.Node]:
    if isinstance(value, n.Node):
        yield value
    elif isinstance(value, tuple):
        for part in value:
            yield from _nodes(part)


def value_children(node: n.Node) -> Iterator[n.Node]:
    """The children read as values: a call's callee names a function, not a value."""
    return iter(node.args) if isinstance(node, n.Call) else children(node)


def walk(node: n.Node) -> Iterator[n.Node]:
    """The node and every node beneath it, parents before children.

    A loop, not recursion: a run such as `a and b and ...` is as deep as it is long.
    """
    stack = [node]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(list(children(node))))


def call_name(call: n.Call) -> str:
    """`words` for `words(x)`, `lib.clean` for `lib.clean(x)`, '' for a call of something else."""
    path = callee_path(call.callee)
    return ".".join(path) if path else ""


def callee_path(e) -> tuple[str, ...] | None:
    if isinstance(e, n.Name):
        return (e.id,)
    if isinstance(e, n.Field) and not e.safe:
        inner = callee_path(e.obj)
        return inner + (e.name,) if inner else None
    return None

"""Gate planning: move each computation behind the gates that guard every use of it.

Lowering computes a `let` where it is written, on the rows of that point. When every use of the
value sits behind a later gate, the rows that gate rejects never need it, so the computation moves
into the gate's region and just before its first use:

    R0  v2 = heavy solve, v1               R0  R3 = gate formatted, ...
    R0  R3 = gate formatted, ...     ->    R3  v2 = heavy solve, v1
    R3  v4 = item correct, v2              R3  v4 = item correct, v2

Regions nest (each gate keeps a subset of the rows before it), so the rows an op needs are the
rows of the shallowest region among its uses. Ops inside an `if` branch move along with the
`where` that splits their rows, and ops in a `judge each` frame keep the frame: a row value they
read through `spread` is needed on the rows of the `each` op, which is where it moves.

Ops are placed from the last to the first, each just before the first of its (already placed)
users, or left where it is. That makes the placed ops a forest, each op a child of the user it
sits before, and the program order a walk of it (see `_Placement`), so finding an op's first user
costs a few steps up the forest instead of a scan of the whole program.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from rubricc.ir import Function, Op

MOVABLE = {"col", "call", "heavy", "binary", "unary", "field", "index", "list", "record", "len",
           "where", "merge", "aggregate", "element", "spread"}


def plan_gates(fn: Function) -> Function:
    depth = _region_depths(fn.ops)
    need: dict[str, str] = {}  # value -> the shallowest region any of its uses runs in
    readers: dict[str, list[int]] = defaultdict(list)  # value -> the placed ops that read it
    placed: dict[int, Op] = {}
    forest = _Placement()
    for i in reversed(range(len(fn.ops))):
        op = fn.ops[i]
        users = readers[op.dst]
        if op.kind not in MOVABLE or not users:  # not movable, or dead (prune removes it)
            need[op.dst] = op.rows
            forest.place(i, None)
        else:
            # A use inside a branch (an `if`/`and`/`??` row set, not a gate's) counts as deepest:
            # it happens only where the branch's own `where` already runs. Ties go to the use
            # that comes first.
            region = lambda u: depth.get(need[placed[u].dst], len(depth))  # noqa: E731
            shallowest = forest.first(users, key=region)
            need[op.dst] = need[placed[shallowest].dst]
            if op.rows in depth:  # a branch's rows come from its `where`, which moves instead
                op = replace(op, rows=need[op.dst])
            forest.place(i, forest.first(users))
        placed[i] = op
        for name in _reads(op):
            readers[name].append(i)
    return fn.replace_ops(placed[i] for i in forest.order())


def _reads(op: Op) -> set[str]:
    return {r.name for r in op.operands()} | {op.rows}


def _region_depths(ops) -> dict[str, int]:
    depth = {"R0": 0}
    for op in ops:
        if op.kind == "gate":
            depth[op.dst] = len(depth)
    return depth


class _Placement:
    """Ops (by index) placed last to first, each before an earlier-placed op or where it was.

    The program order this makes: the ops left where they were in their own order, each preceded
    by the ops placed before it, later-placed (smaller index) nearer to it, each of those in turn
    preceded by its own. `earlier` compares two ops in that order through their common ancestor,
    found by binary lifting (`up[i][k]` is the ancestor 2**k levels up).
    """

    def __init__(self):
        self.parent: dict[int, int | None] = {}
        self.children: dict[int, list[int]] = defaultdict(list)
        self.level: dict[int, int] = {}
        self.up: dict[int, list[int]] = {}

    def place(self, i: int, before: int | None) -> None:
        self.parent[i] = before
        self.level[i] = 0 if before is None else self.level[before] + 1
        self.up[i] = up = []
        if before is None:
            return
        up.append(before)
        while len(self.up[up[-1]]) >= len(up):  # the 2**k-th ancestor is 2**(k-1) up from the last
            up.append(self.up[up[-1]][len(up) - 1])
        self.children[before].append(i)

    def first(self, ops: list[int], key=lambda i: 0) -> int:
        """The op with the least key, the earliest in program order among equals."""
        best = ops[0]
        for i in ops[1:]:
            if key(i) < key(best) or (key(i) == key(best) and self.earlier(i, best)):
                best = i
        return best

    def earlier(self, a: int, b: int) -> bool:
        a2, b2 = self._lift(a, self.level[a] - self.level[b]), self._lift(b, self.level[b] - self.level[a])
        if a2 == b2:  # one sits inside the other's subtree, which comes before it
            return self.level[a] > self.level[b]
        for k in reversed(range(len(self.up[a2]))):
            if k < len(self.up[a2]) and self.up[a2][k] != self.up[b2][k]:
                a2, b2 = self.up[a2][k], self.up[b2][k]
        if self.parent[a2] is None:  # ops left in place keep their order
            return a2 < b2
        return a2 > b2  # siblings: the one placed first (the later op) sits farther out

    def _lift(self, i: int, levels: int) -> int:
        k = 0
        while levels > 0:
            if levels & 1:
                i = self.up[i][k]
            levels >>= 1
            k += 1
        return i

    def order(self) -> list[int]:
        """Every op, in program order: a post-order walk, iterative because chains run deep."""
        out: list[int] = []
        roots = sorted(i for i, p in self.parent.items() if p is None)
        stack = [(r, False) for r in reversed(roots)]
        while stack:
            i, expanded = stack.pop()
            if expanded:
                out.append(i)
                continue
            stack.append((i, True))
            stack.extend((c, False) for c in reversed(self.children[i]))
        return out

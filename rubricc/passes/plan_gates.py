"""Gate planning: move each computation behind the gates that guard every use of it.

Lowering computes a `let` where it is written, on the rows of that point. When every use of the
value sits behind a later gate, the rows that gate rejects never need it, so the computation moves
into the gate's region and just before its first use:

    R0  v2 = heavy solve, v1               R0  R3 = gate formatted, ...
    R0  R3 = gate formatted, ...     ->    R3  v2 = heavy solve, v1
    R3  v4 = item correct, v2              R3  v4 = item correct, v2

Regions nest (each gate keeps a subset of the rows before it), so the rows an op needs are the
rows of the shallowest region among its uses. Ops inside an `if` branch move along with the
`where` that splits their rows.
"""

from __future__ import annotations

from dataclasses import replace

from rubricc.ir import Function, Op

MOVABLE = {"col", "call", "heavy", "binary", "unary", "field", "index", "list", "record", "len",
           "where", "merge", "aggregate"}


def plan_gates(fn: Function) -> Function:
    depth = _region_depths(fn.ops)
    need: dict[str, str] = {}  # value -> the shallowest region any of its uses runs in
    ops = list(fn.ops)
    for op in reversed(fn.ops):
        users = [u for u in ops if op.dst in _reads(u)]
        if op.kind not in MOVABLE:
            need[op.dst] = op.rows
            continue
        if not users:
            need[op.dst] = op.rows
            continue  # dead: prune removes it
        # A use inside a branch (an `if`/`and`/`??` row set, not a gate's) counts as deepest: it
        # happens only where the branch's own `where` already runs.
        need[op.dst] = min((need[u.dst] for u in users), key=lambda rows: depth.get(rows, len(depth)))
        ops.remove(op)
        if op.rows in depth:  # a branch's rows come from its `where`, which moves instead
            op = replace(op, rows=need[op.dst])
        ops.insert(min(ops.index(u) for u in users), op)
    return fn.replace_ops(ops)


def _reads(op: Op) -> set[str]:
    return {r.name for r in op.operands()} | {op.rows}


def _region_depths(ops) -> dict[str, int]:
    depth = {"R0": 0}
    for op in ops:
        if op.kind == "gate":
            depth[op.dst] = len(depth)
    return depth

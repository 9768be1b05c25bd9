"""Compute identical operations once: same kind, same row set, same operands.

    R1  v3 = heavy math_equal, v1, v2
    R1  v7 = heavy math_equal, v1, v2   ->   (gone; uses of v7 read v3)

Items, gates, judges and the score are never merged: each is a column of its own. (Identical
calls across rows are deduped at run time by the kernels; this pass removes repeated work that is
visible in the rubric's text, such as the same `let` lowered in two regions.)
"""

from __future__ import annotations

from rubricc.ir import Function, Ref
from rubricc.passes.substitute import substitute

PURE = {"col", "call", "heavy", "binary", "unary", "field", "index", "list", "record", "len",
        "aggregate", "element", "spread"}


def dedupe(fn: Function) -> Function:
    seen: dict[tuple, str] = {}
    renamed: dict[str, Ref] = {}
    kept = []
    for op in fn.ops:
        op = substitute(op, renamed)
        key = (op.kind, op.rows, repr(op.args))
        if op.kind in PURE and key in seen:
            renamed[op.dst] = Ref(seen[key])
            continue
        seen.setdefault(key, op.dst)
        kept.append(op)
    return fn.replace_ops(kept)

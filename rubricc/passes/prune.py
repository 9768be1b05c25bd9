"""Drop value operations whose results nothing reads (left behind by folding and dedupe).

    R0  v4 = col answer     # read by nothing   ->   (gone)
"""

from __future__ import annotations

from rubricc.ir import Function
from rubricc.passes.dedupe import PURE


def prune(fn: Function) -> Function:
    used: set[str] = set()
    kept = []
    for op in reversed(fn.ops):
        if op.kind in PURE and op.dst not in used:
            continue
        used.update(r.name for r in op.operands())
        used.add(op.rows)
        kept.append(op)
    return fn.replace_ops(reversed(kept))

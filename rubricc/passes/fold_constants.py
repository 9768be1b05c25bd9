"""Fold operations whose operands are all constants into constants.

    R0  v1 = binary *, 0.5, 2.0        ->   (gone; uses of v1 read 0.5 * 2.0 = 1.0)
    R0  v2 = call lower, 'ABC'          ->   (gone; uses of v2 read 'abc')

Only strict, cheap, pure operations fold, and only when the result is not a failure, so a
division by zero still shows up at run time with its row, as the interpreter reports it.
"""

from __future__ import annotations

from rubricc import values as V
from rubricc.builtins import REGISTRY
from rubricc.ir import Const, Function, Op
from rubricc.passes.substitute import substitute


def _fold(op: Op):
    operands = op.args[1:]
    if not all(isinstance(a, Const) for a in operands):
        return None
    vals = [a.value for a in operands]
    if op.kind == "binary":
        return V.binary(op.args[0], *vals)
    if op.kind == "unary":
        return V.unary(op.args[0], *vals)
    if op.kind == "call" and not REGISTRY[op.args[0]].batched:  # a model waits for its device
        return V.call(REGISTRY[op.args[0]].fn, tuple(vals), op.args[0])
    return None


def fold_constants(fn: Function) -> Function:
    known: dict[str, Const] = {}
    kept = []
    for op in fn.ops:
        op = substitute(op, known)
        value = _fold(op)
        if value is None or isinstance(value, V.Failed) or isinstance(value, (list, dict)):
            kept.append(op)
        else:
            known[op.dst] = Const(value)
    return fn.replace_ops(kept)


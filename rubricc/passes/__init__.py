"""Optimization passes over the IR, applied in this order by `optimize`."""

from __future__ import annotations

from rubricc.ir import Function
from rubricc.passes.dedupe import dedupe
from rubricc.passes.fold_constants import fold_constants
from rubricc.passes.plan_gates import plan_gates
from rubricc.passes.prune import prune

PASSES = (fold_constants, plan_gates, dedupe, prune)


def optimize(fn: Function) -> Function:
    for one_pass in PASSES:
        fn = one_pass(fn)
    return fn

"""Rewrite an op's operands: the one mechanism every pass that removes ops relies on."""

from __future__ import annotations

from dataclasses import replace

from rubricc.ir import Op, Ref


def _swap(a, table: dict):
    if isinstance(a, tuple):
        return tuple(_swap(x, table) for x in a)
    if isinstance(a, Ref) and a.name in table:
        return table[a.name]
    return a


def substitute(op: Op, table: dict) -> Op:
    if not table:
        return op
    return replace(op, args=_swap(op.args, table))

"""Evaluate what can be known before any scoring: literals, known columns, pure built-ins.

Anything that depends on an unknown (a column not given, a judge, a gate, a heavy built-in) is
`UNKNOWN`, and `and`/`or` short-circuit around unknowns the way they do at run time, so
`false and x` is false whatever `x` is. A check reads as the value of its expression.

>>> from rubricc.resolve import load_text
>>> from rubricc.typecheck import check_program
>>> [c] = check_program(load_text('rubric r { check short: words(response) <= 5 }'))
>>> PartialEval(c, {"response": ""}).value(c.items[0].node.expr)
True
"""

from __future__ import annotations

from rubricc import nodes as n
from rubricc import values as V
from rubricc.builtins import REGISTRY, Regex
from rubricc.checked_rubric import Checked
from rubricc.walk import callee_path


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


class PartialEval:
    """`value(expr)` with the columns in `known` fixed (e.g. `{"response": ""}`)."""

    def __init__(self, checked: Checked, known: dict[str, object], use_lets: bool = True):
        self.checked = checked
        self.env = dict(known)
        self.use_lets = use_lets  # a definition's body cannot see the rubric's bindings

    def value(self, expr: n.Node) -> object:
        method = getattr(self, f"eval_{type(expr).__name__}", None)
        return UNKNOWN if method is None else method(expr)

    def known(self, *exprs: n.Node) -> list[object] | None:
        values = [self.value(e) for e in exprs]
        return None if any(v is UNKNOWN for v in values) else values

    def eval_Literal(self, e: n.Literal) -> object:
        return e.value

    def eval_RegexLit(self, e: n.RegexLit) -> object:
        return Regex(e.pattern, e.flags)

    def eval_Name(self, e: n.Name) -> object:
        if e.id in self.env:
            return self.env[e.id]
        defined = self._definition(e.id) if self.use_lets else None
        if defined is None:
            return UNKNOWN
        self.env[e.id] = UNKNOWN  # a binding cannot read itself; guard anyway
        self.env[e.id] = self.value(defined)
        return self.env[e.id]

    def _definition(self, name: str) -> n.Expr | None:
        """The expression behind a binding or a check (a check's value is its expression's)."""
        let = self.checked.scope.lets.get(name)
        if let is not None:
            return let.value
        item = self.checked.item(name)
        return item.node.expr if item is not None and item.kind == "check" else None

    def eval_ListExpr(self, e: n.ListExpr) -> object:
        values = self.known(*e.items)
        return UNKNOWN if values is None else values

    def eval_RecordExpr(self, e: n.RecordExpr) -> object:
        values = self.known(*(v for _, v in e.fields))
        if values is None:
            return UNKNOWN
        return {name: v for (name, _), v in zip(e.fields, values, strict=True)}

    def eval_Field(self, e: n.Field) -> object:
        obj = self.value(e.obj)
        if isinstance(obj, dict):
            return obj.get(e.name, None if e.safe else UNKNOWN)
        return None if e.safe and obj is None else UNKNOWN

    def eval_Index(self, e: n.Index) -> object:
        values = self.known(e.obj, e.index)
        return UNKNOWN if values is None else _attempt(V.index, *values, e.safe)

    def eval_Unary(self, e: n.Unary) -> object:
        v = self.value(e.operand)
        return UNKNOWN if v is UNKNOWN else _attempt(V.unary, e.op, v)

    def eval_IfExpr(self, e: n.IfExpr) -> object:
        cond = self.value(e.cond)
        if cond is UNKNOWN:
            then, other = self.value(e.then), self.value(e.else_)
            return then if then == other and then is not UNKNOWN else UNKNOWN
        return self.value(e.then if cond else e.else_)

    def eval_Binary(self, e: n.Binary) -> object:
        if e.op in ("and", "or"):
            return self.logical(e)
        if e.op == "??":
            left = self.value(e.left)
            return self.value(e.right) if left is None else left
        values = self.known(e.left, e.right)
        return UNKNOWN if values is None else _attempt(V.binary, e.op, *values)

    def logical(self, e: n.Binary) -> object:
        decisive = e.op == "or"  # `true or _` is true, `false and _` is false
        left = self.value(e.left)
        if left is not UNKNOWN and bool(left) == decisive:
            return decisive
        right = self.value(e.right)
        if right is not UNKNOWN and bool(right) == decisive:
            return decisive
        return UNKNOWN if UNKNOWN in (left, right) else (not decisive)

    def eval_Call(self, e: n.Call) -> object:
        path = callee_path(e.callee)
        args = self.known(*e.args)
        if args is None or not path:  # `(f)(x)` is a type error; nothing to run
            return UNKNOWN
        found = self.checked.scope.find_def(path)
        if found is not None:
            bound = {p.name: v for p, v in zip(found.params, args, strict=False)}
            inner = PartialEval(self.checked, bound, use_lets=False)
            return inner.value(found.body)
        if path == ("len",):
            return _attempt(V.length, *args)
        builtin = REGISTRY.get(".".join(path))
        if builtin is None or builtin.heavy or builtin.batched:  # sympy, code, models: not in lint
            return UNKNOWN
        return _attempt(builtin.fn, *args)


def _attempt(fn, *args) -> object:
    """The runtime's own operation (`values.py`, a built-in); a value it cannot compute (a
    failure, a type the checker let through, a none) is just unknown before scoring."""
    try:
        value = fn(*args)
    except Exception:  # noqa: BLE001 - any failure here only means "not known before scoring"
        return UNKNOWN
    return UNKNOWN if isinstance(value, V.Failed) else value


def is_met(value: object) -> bool:
    """Does an item's value count as met (true, or a number of at least 0.5)?"""
    return isinstance(value, (bool, int, float)) and value >= 0.5

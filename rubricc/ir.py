"""The IR: a straight list of column ops over row sets, a small closed set of kinds.

Each op computes one column (`dst`) for the rows of a row set (`rows`): `R0` is every row of the
batch, a gate narrows the rows that later ops run on, `where` splits rows for lazy `if`/`and`/`or`.
Operands are `Ref`s to earlier columns or `Const`s.

    R0  v1 = call last_boxed(col response)        # answer.rubric:7
    R0  v2 = binary != (v1, none)
    R0  R1 = gate has_answer(v2) else 0
    R1  v3 = heavy math_equal(v1, col answer)

`judge each` computes its criteria in a frame: `explode` gives every element of each row's list
an index of its own (past the batch's rows), and the criterion and weight expressions run on
those indices like any other ops. Row values they read come in through `spread`:

    R0  E4 = explode v3                   # judge each c in criteria
    E4  v5 = element
    E4  v6 = spread v2                     # a row's `let`, once per criterion of the row
    E4  v7 = call concat(v5, v6)
    R0  v8 = each crit, E4, v7, 1.0
"""

from __future__ import annotations

from dataclasses import dataclass

from rubricc.source import Span

# op kind -> what its args are
KINDS = {
    "col": "column name",
    "call": "builtin name, operands...",
    "heavy": "builtin name, operands... (run in the worker pool)",
    "binary": "operator, left, right",
    "unary": "operator, operand",
    "field": "operand, field name, safe (`?.`: none where there is no field)",
    "index": "operand, index operand, safe (`?[`: none where there is nothing there)",
    "list": "operands...",
    "record": "field names, operands...",
    "len": "operand",
    "where": "condition, truth (dst is a row set)",
    "merge": "condition, then, else",
    "item": "item name, operand",
    "gate": "item name, condition, fail value (dst is the row set that passes)",
    "judge": "item name, criterion operand, template text, shown (`on`: the text judged, or none)",
    "explode": "list operand (dst is a frame: one index per element of each row's list)",
    "element": "(none; rows is a frame: each index's element)",
    "spread": "operand of the frame's rows (rows is a frame: each index's row's value)",
    "each": "item name, frame, criterion texts, weights (both per index of the frame)",
    "collect": "frame, keep, values (per index of the frame): each row's kept values as a list",
    "aggregate": "aggregation name, k, specs (item names, sets, or operands)",
    "score": "operand",
    "route": "key operand (a router's last op: the key column)",
}


@dataclass(frozen=True)
class Ref:
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Const:
    value: object

    def __str__(self) -> str:
        return "none" if self.value is None else repr(self.value)


Operand = Ref | Const


@dataclass(frozen=True)
class Op:
    kind: str
    dst: str
    rows: str
    args: tuple
    span: Span
    note: str = ""  # the rubric source this op came from, for comments in generated code

    def operands(self) -> list[Ref]:
        return [a for a in _flat(self.args) if isinstance(a, Ref)]

    def render(self) -> str:
        args = ", ".join(str(a) for a in self.args)
        return f"{self.rows:<4}{self.dst} = {self.kind} {args}"


def _flat(args):
    for a in args:
        if isinstance(a, tuple):
            yield from _flat(a)
        else:
            yield a


@dataclass(frozen=True)
class Function:
    """The lowered form of one rubric."""

    rubric: str
    file: str
    ops: tuple[Op, ...]

    def render(self) -> str:
        lines = [f"# rubric {self.rubric} ({self.file})"]
        for op in self.ops:
            where = f"  # {op.span.line}: {op.note}" if op.note else ""
            lines.append(op.render() + where)
        return "\n".join(lines)

    def replace_ops(self, ops) -> Function:
        return Function(self.rubric, self.file, tuple(ops))

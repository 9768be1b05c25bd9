"""IR -> Python source that scores a whole batch, one column op per line.

The source is deterministic (a test compares two runs) and printable (`rubricc compile --emit
python`); each line ends with the rubric line it came from, and `line_map` sends an exception raised
inside the generated function back to that rubric span. Judge templates are hoisted to named
constants above the function (`DEFAULT_TEMPLATE`, `TEMPLATE_1`, ...), not repeated on every line.
"""

from __future__ import annotations

from dataclasses import dataclass

from rubricc.ir import Const, Function, Op, Ref
from rubricc.judges import DEFAULT_TEMPLATE, RELATIVE_TEMPLATE
from rubricc.source import Span

RUNTIME_NAMES = {"list": "list_", "len": "length"}  # op kinds that are Python keywords/builtins


@dataclass(frozen=True)
class Generated:
    source: str
    filename: str
    line_map: dict[int, Op]
    entry: str = "score_batch"  # `route_batch` for a router: it returns each row's route key

    def span_at(self, line: int) -> Span | None:
        op = self.line_map.get(line)
        return op.span if op else None


def operand(a, names: dict[str, str] | None = None) -> str:
    if names and isinstance(a, str) and a in names:
        return names[a]
    if isinstance(a, Ref):
        if a.name.startswith("item:"):
            return f"rt.item_col({a.name[5:]!r})"
        return a.name
    if isinstance(a, Const):
        return repr(a.value)
    if isinstance(a, tuple):
        return "(" + "".join(operand(x) + ", " for x in a) + ")"
    return repr(a)


def emit(op: Op, names: dict[str, str] | None = None) -> str:
    method = RUNTIME_NAMES.get(op.kind, op.kind)
    args = ", ".join([op.rows] + [operand(a, names) for a in op.args])
    if op.kind == "score":
        return f"return rt.finish({op.rows}, {operand(op.args[0])})"
    if op.kind == "route":
        return f"return rt.route({op.rows}, {operand(op.args[0])})"
    return f"{op.dst} = rt.{method}({args})"


SHIPPED = {DEFAULT_TEMPLATE: "DEFAULT_TEMPLATE", RELATIVE_TEMPLATE: "RELATIVE_TEMPLATE"}


def templates(fn: Function) -> dict[str, str]:
    """Judge templates, hoisted to named constants: text -> name, in order of first use."""
    names: dict[str, str] = {}
    for op in fn.ops:
        text = op.args[2] if op.kind == "judge" else None  # (name, criterion, template, shown)
        if isinstance(text, str) and text not in names:
            custom = sum(name.startswith("TEMPLATE_") for name in names.values())
            names[text] = SHIPPED.get(text, f"TEMPLATE_{custom + 1}")
    return names


def literal(text: str) -> str:
    """A string as Python source, over several lines when it can be written that way."""
    if "\\" in text or "\r" in text or "'''" in text or text.endswith("'"):
        return repr(text)  # a backslash or a carriage return would read differently
    return f"'''{text}'''"


def generate(fn: Function) -> Generated:
    names = templates(fn)
    lines = [f"# rubric {fn.rubric}, compiled by rubricc from {fn.file}"]
    for text, name in names.items():
        lines += (f"{name} = {literal(text)}").splitlines()
    entry = "route_batch" if fn.ops and fn.ops[-1].kind == "route" else "score_batch"
    lines += [f"def {entry}(rt):", "    R0 = rt.all_rows()"]
    line_map: dict[int, Op] = {}
    for op in fn.ops:
        code = "    " + emit(op, names)
        where = f"  # {op.span.file}:{op.span.line}"  # an included member: its own file
        lines.append(code + (where + f" {op.note}" if op.note else where))
        line_map[len(lines)] = op
    return Generated("\n".join(lines) + "\n", f"<rubricc {fn.rubric}>", line_map, entry)

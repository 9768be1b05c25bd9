"""The formatter behind `rubricc fmt`: one canonical layout, every comment kept, the AST unchanged.

>>> print(format_text('rubric r{check ok weight 2.0:(words(response))>=3 # enough\\n}'), end="")
rubric r {
    check ok weight 2: words(response) >= 3  # enough
}

Guarantees, for any text that parses: `parse(format_text(x)) == parse(x)` and
`format_text(format_text(x)) == format_text(x)`.

Layout: four-space indents, one statement per line, no wrapping; a blank line between top-level
declarations, and inside blocks one blank line wherever the source had any. Only the parentheses
that the tree needs are printed; `3.0` prints as `3`; `yes`/`no` print as `true`/`false` except as
pinned verdicts in `given`; route keys print quoted (`"math": math.answer`).

Comments: a comment after a statement's end, on that statement's last line, stays there as a
trailing comment; any other comment is printed on its own line above the next statement of its
block (a comment inside a multi-line statement therefore moves below that statement), and one
with no statement after it goes before the block's closing `}` (or at the end of the file).
A comment on a block's opening line (`rubric r {  # note`) moves onto the line below it.

Limitation: a string that contains a newline prints as a raw `\"\"\"...\"\"\"` string, since
ordinary strings have no newline escape; a value that also contains `\"\"\"` or ends in `"` has no
spelling in the language (the parser never produces one), and formatting it raises ValueError.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rubricc import nodes as n
from rubricc.diagnostics import render_all
from rubricc.parser import deep_walks, parse_text

INDENT = "    "

# Binding strength, loosest first, following grammar/rubric.lark's expression levels.
IF, COALESCE, OR, AND, NOT, COMPARE, SUM, PRODUCT, UNARY, POSTFIX, ATOM = range(11)
BINARY_PREC = {
    "??": COALESCE, "or": OR, "and": AND,
    "==": COMPARE, "!=": COMPARE, "in": COMPARE, "not in": COMPARE, "<": COMPARE, "<=": COMPARE, ">": COMPARE, ">=": COMPARE,
    "+": SUM, "-": SUM, "*": PRODUCT, "/": PRODUCT,
}

# Blocks and the attribute that holds their statements.
BLOCK_CHILDREN = {"Module": "body", "Rubric": "members", "Test": "body", "Route": "arms"}


def format_text(text: str, name: str = "<string>") -> str:
    """Parse then format; raises ValueError with the rendered diagnostics if `text` does not parse."""
    parsed = parse_text(text, name)
    if parsed.module is None:
        raise ValueError(render_all(parsed.diagnostics, {name: parsed.source}))
    return format_module(parsed.module)


def format_module(module: n.Module) -> str:
    with deep_walks:
        lines = Formatter(module).module_lines()
    return "\n".join(lines) + "\n" if lines else ""


# ---- literals -----------------------------------------------------------------------------------


def number_text(value: float) -> str:
    """`3.0` -> `3`; `repr` otherwise, whose exponent forms (`1e-09`, `1e+16`) NUMBER reads."""
    if math.isinf(value):
        return "1e999" if value > 0 else "-1e999"  # what `1e999` parses to
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def string_text(value: str) -> str:
    """A literal that `parser.unquote` reads back as `value`: a long (triple-quoted) string for a
    text with a newline, or with a quote where that needs no escape (JSON reads as written)."""
    if "\n" in value or ('"' in value and _spells_long(value)):
        return _long_string(value)
    return '"' + _escape(value) + '"'


def _escape(value: str) -> str:
    # Only \" and \\ are escapes: a backslash needs doubling only before `"`, `\` or the end.
    out = []
    for i, ch in enumerate(value):
        special = ch == '"' or (ch == "\\" and value[i + 1 : i + 2] in ("", '"', "\\"))
        out.append("\\" + ch if special else ch)
    return "".join(out)


def _spells_long(value: str) -> bool:
    return '"""' not in value and not value.endswith('"')


def _long_string(value: str) -> str:
    if not _spells_long(value):
        raise ValueError(f"no literal spells {value!r}: it has a newline and a closing quote")
    return '"""' + value + '"""'


LITERAL_TEXT = {
    type(None): lambda v: "none",
    bool: lambda v: "true" if v else "false",
    str: string_text,
    float: number_text,
    int: number_text,
}


# ---- comments -----------------------------------------------------------------------------------


@dataclass
class Attachments:
    """Where each comment prints, keyed by `id` of a statement or block."""

    leading: dict[int, list[n.Comment]] = field(default_factory=dict)
    trailing: dict[int, n.Comment] = field(default_factory=dict)
    dangling: dict[int, list[n.Comment]] = field(default_factory=dict)


def block_children(node: n.Node) -> tuple[n.Node, ...] | None:
    attr = BLOCK_CHILDREN.get(type(node).__name__)
    return getattr(node, attr) if attr else None


def walk_blocks(node: n.Node):
    """Every block under `node` (itself included), as (block, its statements)."""
    children = block_children(node)
    if children is None:
        return
    yield node, children
    for child in children:
        yield from walk_blocks(child)


def attach_comments(module: n.Module) -> Attachments:
    blocks = list(walk_blocks(module))
    statements = [child for _, children in blocks for child in children]
    out = Attachments()
    for comment in module.comments:
        owner = _line_owner(statements, comment)
        if owner is not None:
            out.trailing[id(owner)] = comment
            continue
        block, children = _innermost(blocks, comment)
        after = next((s for s in children if s.span.start >= comment.span.end), None)
        target = out.leading if after is not None else out.dangling
        target.setdefault(id(after if after is not None else block), []).append(comment)
    return out


def _line_owner(statements: list[n.Node], comment: n.Comment) -> n.Node | None:
    """The statement that ends last on the comment's line, before it, if any."""
    ended = [s for s in statements
             if s.span.end <= comment.span.start and s.span.end_line == comment.span.line]
    return max(ended, key=lambda s: s.span.end, default=None)


def _innermost(blocks, comment: n.Comment):
    inside = [(b, c) for b, c in blocks[1:] if b.span.start < comment.span.start < b.span.end]
    return max(inside, key=lambda bc: bc[0].span.start, default=blocks[0])


# ---- the printer --------------------------------------------------------------------------------


@dataclass
class Unit:
    """Output entries from one source range: a statement with its trailing comment, or a comment.
    An entry is one line, except that a raw string inside it may hold newlines."""

    first_line: int
    last_line: int
    entries: list[str]
    blank_before: bool = False  # forced, e.g. between top-level declarations


class Formatter:
    def __init__(self, module: n.Module):
        self.module = module
        self.comments = attach_comments(module)

    # -- layout of blocks

    def module_lines(self) -> list[str]:
        units: list[Unit] = []
        for i, decl in enumerate(self.module.body):
            decl_units = self.statement_units(decl)
            decl_units[0].blank_before = i > 0
            units += decl_units
        units += self.dangling_units(self.module)
        return join_units(units)

    def block(self, header: str, node: n.Node) -> list[str]:
        """`header {`, the statements one level in, then `}`; `header {}` when empty."""
        units = [u for child in block_children(node) for u in self.statement_units(child)]
        units += self.dangling_units(node)
        if not units:
            return [header + " {}"]
        body = [INDENT + line if line else line for line in join_units(units)]
        return [header + " {", *body, "}"]

    def statement_units(self, node: n.Node) -> list[Unit]:
        lead = [comment_unit(c) for c in self.comments.leading.get(id(node), ())]
        entries = self.statement(node)
        trailing = self.comments.trailing.get(id(node))
        if trailing is not None:
            entries[-1] += "  " + comment_text(trailing)
        return lead + [Unit(node.span.line, node.span.end_line, entries)]

    def dangling_units(self, block: n.Node) -> list[Unit]:
        return [comment_unit(c) for c in self.comments.dangling.get(id(block), ())]

    def statement(self, node: n.Node) -> list[str]:
        out = self.fmt(node)
        return [out] if isinstance(out, str) else out

    def fmt(self, node: n.Node):
        return getattr(self, "fmt_" + type(node).__name__)(node)

    # -- declarations and members

    def fmt_Import(self, node: n.Import) -> str:
        return f"import {string_text(node.path)} as {node.alias}"

    def fmt_Def(self, node: n.Def) -> str:
        params = ", ".join(f"{p.name}: {self.fmt(p.type)}" for p in node.params)
        return f"def {node.name}({params}) = {self.expr(node.body)}"

    def fmt_Template(self, node: n.Template) -> str:
        return f"template {node.name} = {string_text(node.text)}"

    def fmt_Rubric(self, node: n.Rubric) -> list[str]:
        desc = f" {string_text(node.description)}" if node.description is not None else ""
        return self.block(f"rubric {node.name}{desc}", node)

    def fmt_Meta(self, node: n.Meta) -> str:
        if isinstance(node.value, str):
            return f"{node.key} {string_text(node.value)}"
        return f"{node.key} [{', '.join(string_text(v) for v in node.value)}]"

    def fmt_Input(self, node: n.Input) -> str:
        return f"input {node.name}: {self.fmt(node.type)}"

    def fmt_Let(self, node: n.Let) -> str:
        return f"let {node.name} = {self.expr(node.value)}"

    def fmt_Gate(self, node: n.Gate) -> str:
        fail = f" else {self.expr(node.fail)}" if node.fail is not None else ""
        return f"gate {node.name}: {self.expr(node.cond)}{fail}"

    def fmt_Check(self, node: n.Check) -> str:
        return f"check {node.name}{self.modifiers(node.modifiers)}: {self.expr(node.expr)}"

    def fmt_Judge(self, node: n.Judge) -> str:
        head = "judge relative" if node.relative else "judge"
        on = f" on {self.expr(node.subject)}" if node.subject is not None else ""
        return f"{head} {node.name}{on}{self.modifiers(node.modifiers)}: {self.expr(node.criterion)}"

    def fmt_JudgeEach(self, node: n.JudgeEach) -> str:
        alias = f" as {node.alias}" if node.alias is not None else ""
        head = f"judge each {node.var} in {self.expr(node.source)}"
        return f"{head}{self.modifiers(node.modifiers)}{alias}: {self.expr(node.criterion)}"

    def modifiers(self, mods: tuple[n.Modifier, ...]) -> str:
        return "".join(f" {m.kind} {self.modifier_value(m.value)}" for m in mods)

    def modifier_value(self, value: n.Expr | str) -> str:
        return value if isinstance(value, str) else self.expr(value)

    def fmt_ScoreDecl(self, node: n.ScoreDecl) -> str:
        return f"score = {self.expr(node.expr)}"

    def fmt_Route(self, node: n.Route) -> list[str]:
        return self.block(f"route by {self.expr(node.key)}", node)

    def fmt_RouteArm(self, node: n.RouteArm) -> str:
        key = "default" if node.key is None else string_text(node.key)
        return f"{key}: {'.'.join(node.target)}"

    def fmt_Include(self, node: n.Include) -> str:
        return f"include {'.'.join(node.target)}"

    def fmt_ExpectHack(self, node: n.ExpectHack) -> str:
        return f"expect hack {node.code} {string_text(node.reason)}"

    def fmt_Test(self, node: n.Test) -> list[str]:
        return self.block(f"test {string_text(node.name)}", node)

    def fmt_TestField(self, node: n.TestField) -> str:
        return f"{node.name} = {self.expr(node.value)}"

    def fmt_Given(self, node: n.Given) -> str:
        return "given " + ", ".join(
            f"{v.name}{f'[{self.expr(v.key)}]' if v.key is not None else ''} = {self.verdict(v.value)}"
            for v in node.verdicts)

    def verdict(self, value: n.Expr) -> str:
        pinned = isinstance(value, n.Literal) and isinstance(value.value, bool)
        return ("yes" if value.value else "no") if pinned else self.expr(value)

    def fmt_Expect(self, node: n.Expect) -> str:
        return f"expect {self.expr(node.expr)}"

    def fmt_Prefer(self, node: n.Prefer) -> str:
        return f"prefer {self.expr(node.better)} over {self.expr(node.worse)}"

    # -- types

    def fmt_TypeName(self, node: n.TypeName) -> str:
        return node.name

    def fmt_OptionalType(self, node: n.OptionalType) -> str:
        return self.fmt(node.inner) + "?"

    def fmt_ListType(self, node: n.ListType) -> str:
        return f"list[{self.fmt(node.elem)}]"

    def fmt_RecordType(self, node: n.RecordType) -> str:
        return "{" + ", ".join(f"{k}: {self.fmt(t)}" for k, t in node.fields) + "}"

    # -- expressions: each fmt_ returns (text, binding strength)

    def expr(self, node: n.Expr, at_least: int = IF) -> str:
        """`node`'s text, in parentheses when it binds looser than its position allows."""
        text, prec = self.fmt(node)
        return f"({text})" if prec < at_least else text

    def fmt_Literal(self, node: n.Literal) -> tuple[str, int]:
        text = LITERAL_TEXT[type(node.value)](node.value)
        return text, UNARY if text.startswith("-") else ATOM

    def fmt_RegexLit(self, node: n.RegexLit) -> tuple[str, int]:
        return "/" + node.pattern.replace("/", "\\/") + "/" + node.flags, ATOM

    def fmt_Name(self, node: n.Name) -> tuple[str, int]:
        return node.id, ATOM

    def fmt_ScoreRef(self, node: n.ScoreRef) -> tuple[str, int]:
        return "score", ATOM

    def fmt_ListExpr(self, node: n.ListExpr) -> tuple[str, int]:
        return "[" + ", ".join(self.expr(x) for x in node.items) + "]", ATOM

    def fmt_Comprehension(self, node: n.Comprehension) -> tuple[str, int]:
        cond = f" if {self.expr(node.cond)}" if node.cond is not None else ""
        return f"[{self.expr(node.body)} for {node.var} in {self.expr(node.source)}{cond}]", ATOM

    def fmt_RecordExpr(self, node: n.RecordExpr) -> tuple[str, int]:
        return "{" + ", ".join(f"{k}: {self.expr(v)}" for k, v in node.fields) + "}", ATOM

    def fmt_Field(self, node: n.Field) -> tuple[str, int]:
        return f"{self.expr(node.obj, POSTFIX)}{'?.' if node.safe else '.'}{node.name}", POSTFIX

    def fmt_Index(self, node: n.Index) -> tuple[str, int]:
        bracket = "?[" if node.safe else "["
        return f"{self.expr(node.obj, POSTFIX)}{bracket}{self.expr(node.index)}]", POSTFIX

    def fmt_Call(self, node: n.Call) -> tuple[str, int]:
        args = ", ".join(self.expr(a) for a in node.args)
        return f"{self.expr(node.callee, POSTFIX)}({args})", POSTFIX

    def fmt_Unary(self, node: n.Unary) -> tuple[str, int]:
        if node.op == "not":
            return f"not {self.expr(node.operand, NOT)}", NOT
        return f"-{self.expr(node.operand, UNARY)}", UNARY

    def fmt_Binary(self, node: n.Binary) -> tuple[str, int]:
        prec = BINARY_PREC[node.op]
        # Left-associative, except comparisons, which do not chain: `a < b < c` does not parse.
        left = self.expr(node.left, prec + 1 if prec == COMPARE else prec)
        return f"{left} {node.op} {self.expr(node.right, prec + 1)}", prec

    def fmt_IfExpr(self, node: n.IfExpr) -> tuple[str, int]:
        parts = (self.expr(node.cond), self.expr(node.then), self.expr(node.else_))
        return "if {} then {} else {}".format(*parts), IF


def comment_text(comment: n.Comment) -> str:
    return comment.text.rstrip(" \t\r\f\v")


def comment_unit(comment: n.Comment) -> Unit:
    return Unit(comment.span.line, comment.span.line, [comment_text(comment)])


def join_units(units: list[Unit]) -> list[str]:
    """Entries in order, with one blank line where forced or where the source had any."""
    lines: list[str] = []
    previous: int | None = None
    for unit in units:
        gap = previous is not None and unit.first_line - previous > 1
        if unit.blank_before or gap:
            lines.append("")
        lines += unit.entries
        # A comment moved out of a multi-line statement must not open a gap after it.
        previous = max(previous or 0, unit.last_line)
    return lines

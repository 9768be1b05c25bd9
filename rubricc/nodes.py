"""The AST: frozen dataclasses, one per construct, each with the span it came from.

No logic lives here. Nodes compare equal regardless of spans (`span` is excluded from equality),
so `parse(fmt(x)) == parse(x)` is a plain `==`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rubricc.source import Span


def _span() -> Span:
    return field(compare=False, repr=False)  # type: ignore[return-value]


@dataclass(frozen=True)
class Node:
    pass


# ---- types as written ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TypeName(Node):
    name: str
    span: Span = _span()


@dataclass(frozen=True)
class OptionalType(Node):
    inner: TypeExpr
    span: Span = _span()


@dataclass(frozen=True)
class ListType(Node):
    elem: TypeExpr
    span: Span = _span()


@dataclass(frozen=True)
class RecordType(Node):
    fields: tuple[tuple[str, TypeExpr], ...]
    span: Span = _span()


TypeExpr = TypeName | OptionalType | ListType | RecordType

# ---- expressions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal(Node):
    """A number, string, bool or none."""

    value: str | float | bool | None
    span: Span = _span()


@dataclass(frozen=True)
class RegexLit(Node):
    pattern: str
    flags: str
    span: Span = _span()


@dataclass(frozen=True)
class Name(Node):
    id: str
    span: Span = _span()


@dataclass(frozen=True)
class ScoreRef(Node):
    """`score` inside a test expectation."""

    span: Span = _span()


@dataclass(frozen=True)
class ListExpr(Node):
    items: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class RecordExpr(Node):
    fields: tuple[tuple[str, Expr], ...]
    span: Span = _span()


@dataclass(frozen=True)
class Field(Node):
    """`obj.name`; `obj?.name` (`safe`) is none where `obj` is none or has no such field."""

    obj: Expr
    name: str
    span: Span = _span()
    safe: bool = False


@dataclass(frozen=True)
class Index(Node):
    """`obj[i]`; `obj?[i]` (`safe`) is none where `obj` is none or has nothing at `i`."""

    obj: Expr
    index: Expr
    span: Span = _span()
    safe: bool = False


@dataclass(frozen=True)
class Call(Node):
    callee: Expr
    args: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Unary(Node):
    op: str  # "-" or "not"
    operand: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Binary(Node):
    op: str  # + - * / == != < <= > >= and or ??
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True)
class IfExpr(Node):
    cond: Expr
    then: Expr
    else_: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Comprehension(Node):
    """`[body for var in source if cond]`: a list built from another, `cond` optional."""

    body: Expr
    var: str
    source: Expr
    cond: Expr | None
    span: Span = _span()


Expr = (
    Literal | RegexLit | Name | ScoreRef | ListExpr | RecordExpr | Field | Index | Call | Unary
    | Binary | IfExpr | Comprehension
)

# ---- declarations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Import(Node):
    path: str
    alias: str
    span: Span = _span()


@dataclass(frozen=True)
class Param(Node):
    name: str
    type: TypeExpr
    span: Span = _span()


@dataclass(frozen=True)
class Def(Node):
    """`def name(params) = expr`: an expression with parameters, inlined where it is called."""

    name: str
    params: tuple[Param, ...]
    body: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Template(Node):
    """A jinja2 judge prompt template."""

    name: str
    text: str
    span: Span = _span()


@dataclass(frozen=True)
class Meta(Node):
    key: str  # version, tags, description
    value: str | tuple[str, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Input(Node):
    name: str
    type: TypeExpr
    span: Span = _span()


@dataclass(frozen=True)
class Let(Node):
    name: str
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Modifier(Node):
    kind: str  # weight, points, tier, template
    value: Expr | str
    span: Span = _span()


@dataclass(frozen=True)
class Gate(Node):
    name: str
    cond: Expr
    fail: Expr | None
    span: Span = _span()


@dataclass(frozen=True)
class Check(Node):
    name: str
    modifiers: tuple[Modifier, ...]
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Judge(Node):
    """`judge NAME: criterion`; `judge NAME on EXPR: ...` shows the judge that text instead of the
    response (`subject`); `judge relative NAME: ...` judges each response against the others to
    its prompt (`relative`)."""

    name: str
    modifiers: tuple[Modifier, ...]
    criterion: Expr
    span: Span = _span()
    relative: bool = False
    subject: Expr | None = None


@dataclass(frozen=True)
class JudgeEach(Node):
    """`judge each item in rubric weight item.weight: item.text`: criteria that come per row."""

    var: str
    source: Expr
    modifiers: tuple[Modifier, ...]
    alias: str | None
    criterion: Expr
    span: Span = _span()

    @property
    def name(self) -> str:
        return self.alias or "criteria"


Item = Gate | Check | Judge | JudgeEach


@dataclass(frozen=True)
class ScoreDecl(Node):
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True)
class RouteArm(Node):
    key: str | None  # None for `default`
    target: tuple[str, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Route(Node):
    key: Expr
    arms: tuple[RouteArm, ...]
    span: Span = _span()


@dataclass(frozen=True)
class TestField(Node):
    name: str
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Verdict(Node):
    """`name = v` pins a judge item; `name = [v, ...]` a `judge each` item's criteria by
    position, and `name[key] = v` one of them, by position (a number) or by its text."""

    name: str
    key: Expr | None
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Given(Node):
    verdicts: tuple[Verdict, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Expect(Node):
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Prefer(Node):
    better: Expr
    worse: Expr
    span: Span = _span()


TestStmt = TestField | Given | Expect | Prefer


@dataclass(frozen=True)
class ExpectHack(Node):
    """`expect hack H046 "reason"`: a probe the rubric is known to fail, on purpose."""

    code: str
    reason: str
    span: Span = _span()


@dataclass(frozen=True)
class Test(Node):
    name: str
    body: tuple[TestStmt, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Include(Node):
    """`include code.python_tests`: that rubric's inputs, lets, definitions, templates, gates and
    items become members here, at this point (resolve replaces the line with them)."""

    target: tuple[str, ...]
    span: Span = _span()


Member = (
    Meta | Input | Let | Def | Template | Gate | Check | Judge | JudgeEach | ScoreDecl | Route
    | ExpectHack | Include | Test
)


@dataclass(frozen=True)
class Rubric(Node):
    name: str
    description: str | None
    members: tuple[Member, ...]
    span: Span = _span()

    def of_type(self, kind: type) -> list:
        return [m for m in self.members if isinstance(m, kind)]


@dataclass(frozen=True)
class Comment(Node):
    text: str
    span: Span = _span()


@dataclass(frozen=True)
class Module(Node):
    """One parsed `.rubric` file. Comments are kept (outside equality) so `fmt` loses nothing."""

    body: tuple[Import | Def | Template | Rubric, ...]
    span: Span = _span()
    comments: tuple[Comment, ...] = field(default=(), compare=False, repr=False)


ITEM_TYPES = (Gate, Check, Judge, JudgeEach)

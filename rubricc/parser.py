"""Source text -> AST. The grammar lives in grammar/rubric.lark; syntax errors become diagnostics.

>>> m = parse_text('rubric r { check ok: words(response) >= 3 }')
>>> m.module.body[0].members[0]
Check(name='ok', modifiers=(), expr=Binary(op='>=', left=Call(callee=Name(id='words'), args=(Name(id='response'),)), right=Literal(value=3.0)))
"""

from __future__ import annotations

import functools
import re
import sys
import threading
from contextvars import ContextVar
from dataclasses import dataclass

from lark import Lark, Token, Transformer_NonRecursive, Tree, v_args
from lark.exceptions import UnexpectedInput

from rubricc import nodes as n
from rubricc.diagnostics import Diagnostic, error
from rubricc.resources import grammar_text
from rubricc.source import Source, Span

# Comments are ignored by the grammar; the lexer hands them over so that `fmt` can keep them.
_comments: ContextVar[list[Token]] = ContextVar("comments")


def _keep_comment(token: Token) -> Token:
    _comments.get().append(token)
    return token


@functools.cache
def grammar_parser() -> Lark:
    return Lark(
        grammar_text(),
        parser="lalr",
        strict=True,
        propagate_positions=True,
        maybe_placeholders=True,
        lexer_callbacks={"COMMENT": _keep_comment},
        cache=True,  # strict checks cost a second per process; lark keys the cache by grammar hash
    )


@dataclass(frozen=True)
class Parsed:
    source: Source
    module: n.Module | None
    diagnostics: tuple[Diagnostic, ...]


def parse_text(text: str, name: str = "<string>") -> Parsed:
    return parse_source(Source(name, text))


def parse_source(source: Source) -> Parsed:
    """Parse one file; a syntax error yields a located diagnostic instead of a module."""
    from rubricc.syntax_errors import explain  # the catalogue parses examples with this module

    comments: list[Token] = []
    lark = grammar_parser()
    reset = _comments.set(comments)
    try:
        tree = _parse_shallow(lark, source)
    except UnexpectedInput as exc:
        return Parsed(source, None, (explain(exc, source, lark),))
    finally:
        _comments.reset(reset)
    too_deep = tree if isinstance(tree, Diagnostic) else _too_deep(tree, source)
    if too_deep is not None:
        return Parsed(source, None, (too_deep,))
    module = ToAst(source).transform(tree)
    kept = tuple(n.Comment(str(c), source.span(c.start_pos, c.end_pos)) for c in comments)
    return Parsed(source, n.Module(module.body, module.span, kept), ())


# Every stage after this one walks expressions recursively, so a rubric's depth is Python stack.
# A run of one operator (`a and b and c`, `x + y - z`, `x.f(1)[0]`, `if .. else if ..`) is one
# level of nesting however long it is, but each of its operators is a level of depth.
MAX_NESTING = 100
MAX_DEPTH = 800  # explain.py walks 1 frame a level under the default limit of 1,000
_MAX_PARSER_STACK = 8 * MAX_DEPTH  # stops `[[[[...` early, before a tree of millions of nodes
_RUNS = {"and_": "and", "or_": "or", "coalesce": "??", "arith": "arith",
         "field": "postfix", "index": "postfix", "safe_field": "postfix", "safe_index": "postfix",
         "call": "postfix"}
_LEVELS = set(_RUNS) | {"if_expr", "not_", "compare", "neg", "list_", "record",
                        "optional_type", "list_type", "record_type"}
_NESTS = f"nests more than {MAX_NESTING} levels deep"
_LIMIT_HELP = (f"expressions may nest {MAX_NESTING} levels (brackets, calls, `not`, `-`, `if`, "
               f"mixed operators) and be {MAX_DEPTH} deep in all, where each operator of a run such "
               "as `a and b and c` is a level; name inner parts with `let`")


class _StackRoom:
    """Python's recursion limit, raised while any thread walks a tree that is `MAX_DEPTH` deep.

    The parser bounds every tree, so the raised limit is only ever used up to that depth.
    """

    FRAMES_PER_LEVEL = 12  # measured at MAX_DEPTH: every stage, fmt and `==` of nodes need 3

    def __init__(self):
        self.lock = threading.Lock()
        self.users = 0
        self.saved = 0

    def __enter__(self) -> None:
        with self.lock:
            if self.users == 0:
                self.saved = sys.getrecursionlimit()
                sys.setrecursionlimit(self.saved + self.FRAMES_PER_LEVEL * MAX_DEPTH)
            self.users += 1

    def __exit__(self, *exc) -> None:
        with self.lock:
            self.users -= 1
            if self.users == 0:
                sys.setrecursionlimit(self.saved)


deep_walks = _StackRoom()  # `with deep_walks:` around any stage that walks a syntax tree


def _parse_shallow(lark: Lark, source: Source):
    """lark's tree, or a P004 diagnostic as soon as the parser's stack outgrows any sane nesting."""
    parser = lark.parse_interactive(source.text)
    token = None
    try:
        for token in parser.iter_parse():
            if len(parser.parser_state.state_stack) > _MAX_PARSER_STACK:
                return _deep_error(source, token.start_pos, token.end_pos, _NESTS)
        return parser.feed_eof(token)
    except UnexpectedInput:
        return lark.parse(source.text)  # raises again, with the context that `explain` reads


def _too_deep(tree: Tree, source: Source) -> Diagnostic | None:
    """P004 at the first expression nested past `MAX_NESTING` or `MAX_DEPTH`, else None."""
    stack = [(tree, 0, 0)]
    while stack:
        node, nesting, depth = stack.pop()
        if nesting > MAX_NESTING or depth > MAX_DEPTH:
            what = _NESTS if nesting > MAX_NESTING else f"is more than {MAX_DEPTH} levels deep"
            return _deep_error(source, node.meta.start_pos, node.meta.end_pos, what)
        for i, child in enumerate(node.children):
            if isinstance(child, Tree):
                stack.append((child, *_levels(node, i, child, nesting, depth)))
    return None


def _levels(parent: Tree, i: int, child: Tree, nesting: int, depth: int) -> tuple[int, int]:
    if child.data not in _LEVELS:
        return nesting, depth
    run = (i == 0 and _RUNS.get(child.data, 0) == _RUNS.get(parent.data)) or (
        i == 2 and parent.data == child.data == "if_expr")
    return nesting + (not run), depth + 1


def _deep_error(source: Source, start: int, end: int, what: str) -> Diagnostic:
    line_end = source.text.find("\n", start)
    span = source.span(start, min(end, line_end if line_end >= 0 else end))
    return error("P004", f"this expression {what}", span, "too deep here", _LIMIT_HELP)


_ESCAPE = re.compile(r'\\(["\\])')


def unquote(token: str) -> str:
    """A string literal's value: only \\" and \\\\ are escapes; triple-quoted strings are raw."""
    if token.startswith('"""'):
        return token[3:-3]
    return _ESCAPE.sub(r"\1", token[1:-1])  # one scan in C: a literal may be megabytes long


@v_args(meta=True)
class ToAst(Transformer_NonRecursive):
    """One method per grammar alias, each returning a node with its span."""

    def __init__(self, source: Source):
        super().__init__()
        self.source = source

    def _span(self, meta) -> Span:
        if getattr(meta, "empty", True):
            return self.source.span(0, 0)
        return self.source.span(meta.start_pos, meta.end_pos)

    def _tok(self, tok: Token) -> Span:
        return self.source.span(tok.start_pos, tok.end_pos)

    # -- top level
    def start(self, meta, body):
        return n.Module(tuple(body), self._span(meta))

    def import_(self, meta, c):
        return n.Import(unquote(c[0]), str(c[1]), self._span(meta))

    def param(self, meta, c):
        return n.Param(str(c[0]), c[1], self._span(meta))

    def def_(self, meta, c):
        params = tuple(p for p in c[1:-1] if p is not None)
        return n.Def(str(c[0]), params, c[-1], self._span(meta))

    def template(self, meta, c):
        return n.Template(str(c[0]), unquote(c[1]), self._span(meta))

    def dotted_name(self, meta, c):
        return tuple(str(t) for t in c)

    def rubric(self, meta, c):
        desc = unquote(c[1]) if c[1] is not None else None
        return n.Rubric(".".join(c[0]), desc, tuple(c[2:]), self._span(meta))

    def string_list(self, meta, c):
        return tuple(unquote(s) for s in c if s is not None)

    def meta(self, meta, c):
        value = c[1] if isinstance(c[1], tuple) else unquote(c[1])
        return n.Meta(str(c[0]), value, self._span(meta))

    # -- types
    def type_name(self, meta, c):
        return n.TypeName(str(c[0]), self._span(meta))

    def optional_type(self, meta, c):
        return n.OptionalType(c[0], self._span(meta))

    def list_type(self, meta, c):
        return n.ListType(c[0], self._span(meta))

    def field_type(self, meta, c):
        return (str(c[0]), c[1])

    def record_type(self, meta, c):
        return n.RecordType(tuple(c), self._span(meta))

    # -- members
    def input(self, meta, c):
        return n.Input(str(c[0]), c[1], self._span(meta))

    def let(self, meta, c):
        return n.Let(str(c[0]), c[1], self._span(meta))

    def gate(self, meta, c):
        return n.Gate(str(c[0]), c[1], c[2], self._span(meta))

    def check(self, meta, c):
        return n.Check(str(c[0]), tuple(c[1:-1]), c[-1], self._span(meta))

    def judge(self, meta, c):
        return n.Judge(str(c[0]), tuple(c[2:-1]), c[-1], self._span(meta), subject=c[1])

    def judge_relative(self, meta, c):
        return n.Judge(str(c[0]), tuple(c[1:-1]), c[-1], self._span(meta), relative=True)

    def judge_each(self, meta, c):
        middle = c[2:-1]  # modifiers, the alias (a token, or None when absent), modifiers
        modifiers = tuple(m for m in middle if isinstance(m, n.Modifier))
        alias = next((str(m) for m in middle if isinstance(m, Token)), None)
        return n.JudgeEach(str(c[0]), c[1], modifiers, alias, c[-1], self._span(meta))

    def weight(self, meta, c):
        return n.Modifier("weight", c[0], self._span(meta))

    def points(self, meta, c):
        return n.Modifier("points", c[0], self._span(meta))

    def tier(self, meta, c):
        return n.Modifier("tier", str(c[0]), self._span(meta))

    def use_template(self, meta, c):
        return n.Modifier("template", ".".join(c[0]), self._span(meta))

    def scale(self, meta, c):
        return n.Modifier("scale", str(c[0]), self._span(meta))

    def score_decl(self, meta, c):
        return n.ScoreDecl(c[0], self._span(meta))

    def route(self, meta, c):
        return n.Route(c[0], tuple(c[1:]), self._span(meta))

    def route_case(self, meta, c):
        key = unquote(c[0]) if c[0].type == "STRING" else str(c[0])  # `math:` or `"math":`
        return n.RouteArm(key, c[1], self._span(meta))

    def route_default(self, meta, c):
        return n.RouteArm(None, c[0], self._span(meta))

    def include(self, meta, c):
        return n.Include(c[0], self._span(meta))

    def expect_hack(self, meta, c):
        return n.ExpectHack(str(c[0]), unquote(c[1]), self._span(meta))

    def test(self, meta, c):
        return n.Test(unquote(c[0]), tuple(c[1:]), self._span(meta))

    def test_field(self, meta, c):
        return n.TestField(str(c[0]), c[1], self._span(meta))

    def verdict(self, meta, c):
        return n.Verdict(str(c[0]), c[1], c[2], self._span(meta))

    def given(self, meta, c):
        return n.Given(tuple(c), self._span(meta))

    def expect(self, meta, c):
        return n.Expect(c[0], self._span(meta))

    def prefer(self, meta, c):
        return n.Prefer(c[0], c[1], self._span(meta))

    # -- expressions
    def if_expr(self, meta, c):
        return n.IfExpr(c[0], c[1], c[2], self._span(meta))

    def _binary(self, op, meta, c):
        return n.Binary(op, c[0], c[-1], self._span(meta))

    def coalesce(self, meta, c):
        return self._binary("??", meta, c)

    def or_(self, meta, c):
        return self._binary("or", meta, c)

    def and_(self, meta, c):
        return self._binary("and", meta, c)

    def member(self, meta, c):
        return self._binary("in", meta, c)

    def not_member(self, meta, c):
        return self._binary("not in", meta, c)

    def compare(self, meta, c):
        return self._binary(str(c[1]), meta, c)

    def arith(self, meta, c):
        return self._binary(str(c[1]), meta, c)

    def not_(self, meta, c):
        return n.Unary("not", c[0], self._span(meta))

    def neg(self, meta, c):
        return n.Unary("-", c[0], self._span(meta))

    def field(self, meta, c):
        return n.Field(c[0], str(c[1]), self._span(meta))

    def index(self, meta, c):
        return n.Index(c[0], c[1], self._span(meta))

    def safe_field(self, meta, c):
        return n.Field(c[0], str(c[1]), self._span(meta), safe=True)

    def safe_index(self, meta, c):
        return n.Index(c[0], c[1], self._span(meta), safe=True)

    def call(self, meta, c):
        return n.Call(c[0], tuple(a for a in c[1:] if a is not None), self._span(meta))

    def number(self, meta, c):
        return n.Literal(float(c[0]), self._span(meta))

    def string(self, meta, c):
        return n.Literal(unquote(c[0]), self._span(meta))

    def regex(self, meta, c):
        body, _, flags = str(c[0])[1:].rpartition("/")
        return n.RegexLit(body.replace("\\/", "/"), flags, self._span(meta))

    def constant(self, meta, c):
        value = {"none": None, "true": True, "yes": True, "false": False, "no": False}[str(c[0])]
        return n.Literal(value, self._span(meta))

    def name(self, meta, c):
        return n.Name(str(c[0]), self._span(meta))

    def score_ref(self, meta, c):
        return n.ScoreRef(self._span(meta))

    def list_(self, meta, c):
        return n.ListExpr(tuple(x for x in c if x is not None), self._span(meta))

    def comprehension(self, meta, c):
        return n.Comprehension(c[0], str(c[1]), c[2], c[3], self._span(meta))

    def record_field(self, meta, c):
        return (str(c[0]), c[1])

    def record(self, meta, c):
        return n.RecordExpr(tuple(x for x in c if x is not None), self._span(meta))

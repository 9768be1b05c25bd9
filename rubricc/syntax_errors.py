"""Syntax errors in the user's words.

A catalogue of bad example inputs, each with the message and help it deserves (lark's
`match_examples` idea): a real error is matched to a case by the parser state and the token it
stumbled on. Errors no case covers get a generic "expected ..., found ..." built from the parser's
expected terminals, named in words. The catalogue is also the test (tests/test_syntax_errors.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput

from rubricc.diagnostics import Diagnostic, error
from rubricc.source import Source


@dataclass(frozen=True)
class Case:
    message: str
    help: str
    examples: tuple[str, ...]


ITEM_START = "rubric r { "
CATALOGUE: tuple[Case, ...] = (
    Case(
        "an item needs `:` between its name and its expression",
        "write `check ok: words(response) > 3`",
        ("rubric r { check ok words(response) > 3 }", 'rubric r { judge j "x" }',
         "rubric r { gate g true }", "rubric r { check ok points 2 true }"),
    ),
    Case(
        "items take `:`, not `=`",
        "write `check NAME: EXPR`; `=` is for `let`, `score` and test fields",
        ("rubric r { check ok = true }", "rubric r { gate g = true }", 'rubric r { judge j = "x" }'),
    ),
    Case(
        "this item has no name",
        "name it, e.g. `check has_answer: ...`; the name labels its column in every score breakdown",
        ("rubric r { check: true }", 'rubric r { judge: "x" }', "rubric r { gate: true }"),
    ),
    Case(
        "two expressions in a row",
        'text must be in double quotes, e.g. `judge plain: "Uses plain language."`; '
        "otherwise an operator is missing between the two",
        ("rubric r { judge j: Advises calling now }", "rubric r { check c: a b }",
         "rubric r { let x = 1 2 }"),
    ),
    Case("`&&` is not an operator here", "write `and`", ("rubric r { check c: a && b }",)),
    Case("`||` is not an operator here", "write `or`", ("rubric r { check c: a || b }",)),
    Case("`!` is not an operator here", "write `not x`, or `!=` to compare",
         ("rubric r { check c: !a }",)),
    Case("strings use double quotes", "write \"text\", not 'text'", ("rubric r { judge j: 'x' }",)),
    Case(
        "this string is not closed on its line",
        'close it with `"`, or use """...""" for text that spans lines',
        ('rubric r { judge j: "x\n" }',),
    ),
    Case(
        "this statement must be inside a rubric",
        "put it in a `rubric NAME { ... }` block",
        ("check ok: true", "gate g: true", 'judge j: "x"', "let x = 1", "score = 1",
         "input a: text", 'test "t" { }'),
    ),
    Case(
        "a rubric's body goes in braces",
        "write `rubric NAME { ... }`",
        ("rubric r:\n  check ok: true", "rubric r\n  check ok: true"),
    ),
    Case("an input needs a type", "write `input answer: text`",
         ("rubric r { input answer }", "rubric r { input answer check c: true }")),
    Case(
        "`=` assigns; to compare, write `==`",
        "write `expect correct == 1` or `gate g: x == 1`",
        ('rubric r { test "t" { expect correct = 1 } }', "rubric r { gate g: x = 1 }",
         "rubric r { check c: x = 1 }"),
    ),
    Case("the score is set with `=`", "write `score = ...`", ("rubric r { score: 1 }",)),
    Case("`let` binds with a single `=`", "write `let x = ...`", ("rubric r { let x == 1 }",)),
    Case("`if` needs an `else`", "write `if COND then A else B`",
         ("rubric r { check c: if a then 1 }",)),
    Case("a trailing comma", "remove the comma before the closing bracket",
         ("rubric r { check c: f(a,) }", "rubric r { let x = [1,] }")),
    Case("pin a judge verdict with `=`", "write `given emergency = yes`",
         ('rubric r { test "t" { given emergency: yes } }',)),
    Case(
        "`prefer` compares two responses",
        'write `prefer "better response" over "worse response"`',
        ('rubric r { test "t" { prefer "a" "b" } }',),
    ),
    Case(
        "unknown tier",
        "a tier is one of essential, important, optional, pitfall",
        ('rubric r { judge j tier critical: "x" }',),
    ),
    Case(
        "this is not a statement of a rubric",
        "a rubric holds `input`, `let`, `def`, `gate`, `check`, `judge`, `score`, `route`, "
        "`test`, `template`, and `version`/`tags`/`description`",
        ("rubric r { foo: 1 }", "rubric r { foo = 1 }", "rubric r { if a then b else c }"),
    ),
)

WORDS = {
    "NAME": "a name",
    "STRING": "a string",
    "LONG_STRING": "a string",
    "NUMBER": "a number",
    "REGEX": "a regex such as /pattern/",
    "CONSTANT": "a constant (none, true, false, yes, no)",
    "META_KEY": "version, tags or description",
    "TIER": "a tier (essential, important, optional, pitfall)",
    "COMPARE": "a comparison",
    "ADD_OP": "`+` or `-`",
    "MUL_OP": "`*` or `/`",
    "$END": "the end of the file",
}
EXPRESSION_STARTS = {"NAME", "NUMBER", "STRING", "LONG_STRING", "REGEX", "CONSTANT"}


def _key(exc: UnexpectedInput) -> tuple[object, ...]:
    if isinstance(exc, UnexpectedCharacters):
        return ("char", exc.char)
    token = getattr(exc, "token", None)
    state = getattr(exc, "state", None)
    state = getattr(state, "position", state)  # a ParserState when the lexer raised it
    return ("token", state, getattr(token, "type", None))


@functools.cache
def _case_table(lark: Lark) -> dict[tuple[object, ...], Case]:
    table: dict[tuple[object, ...], Case] = {}
    for case in CATALOGUE:
        for example in case.examples:
            try:
                lark.parse(example)
            except UnexpectedInput as exc:
                table.setdefault(_key(exc), case)
    return table


def match_case(exc: UnexpectedInput, lark: Lark) -> Case | None:
    return _case_table(lark).get(_key(exc))


def explain(exc: UnexpectedInput, source: Source, lark: Lark) -> Diagnostic:
    """The one diagnostic for a syntax error, located at the offending token or character."""
    span = _error_span(exc, source)
    case = match_case(exc, lark)
    found = _found(exc, source)
    still_open = _still_open(source.text[: span.start], lark)
    if case is not None:
        return error("P001", case.message, span, f"found {found}", case.help)
    if isinstance(exc, UnexpectedCharacters):
        return error("P002", f"unexpected character {found}", span, "not part of the language",
                     still_open or "remove it, or put text in double quotes")
    expected = _expected_words(exc, lark)
    if getattr(getattr(exc, "token", None), "type", None) == "$END" and still_open:
        return error("P003", "the file ends inside an open block", span, f"expected {expected}",
                     still_open)
    # Closing the open block is advice only where a closer could come next: in the middle of a
    # statement (`call?.(`, a misplaced modifier) it would send the author the wrong way.
    accepted = set(getattr(exc, "accepts", None) or getattr(exc, "expected", None) or ())
    closer = next((t for c, t in CLOSERS.items() if still_open.endswith(f"`{c}`")), None)
    if still_open and closer not in accepted:
        still_open = still_open.rsplit(": close it with", 1)[0]
    return error("P001", f"expected {expected}, found {found}", span, "unexpected here", still_open)


def _error_span(exc: UnexpectedInput, source: Source):
    token = getattr(exc, "token", None)
    if isinstance(token, Token) and token.type != "$END" and token.start_pos is not None:
        return source.span(token.start_pos, token.end_pos)
    start = exc.pos_in_stream if exc.pos_in_stream is not None else len(source.text)
    if isinstance(exc, UnexpectedCharacters) or start >= len(source.text):
        return source.span(min(start, len(source.text)), min(start + 1, len(source.text)))
    return source.span(start, start + 1)


def _found(exc: UnexpectedInput, source: Source) -> str:
    if isinstance(exc, UnexpectedCharacters):
        return f"`{exc.char}`"
    token = getattr(exc, "token", None)
    if token is None or token.type == "$END":
        return "the end of the file"
    text = str(token)
    return f"`{text if len(text) <= 30 else text[:27] + '...'}`"


def _expected_words(exc: UnexpectedInput, lark: Lark) -> str:
    names = set(getattr(exc, "accepts", None) or getattr(exc, "expected", None) or ())
    words: list[str] = []
    if EXPRESSION_STARTS <= names:
        names -= EXPRESSION_STARTS | {"LPAR", "LSQB", "LBRACE", "MINUS", "NOT", "IF", "SCORE"}
        words.append("an expression")
    if {"COMPARE", "ADD_OP", "MUL_OP"} <= names:
        names -= {"COMPARE", "ADD_OP", "MUL_OP", "AND", "OR", "__ANON_0", "DOT", "LPAR", "LSQB"}
        words.append("an operator")
    words += sorted(_word(name, lark) for name in names)
    if len(words) > 8:
        words = words[:7] + ["..."]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _word(name: str, lark: Lark) -> str:
    if name in WORDS:
        return WORDS[name]
    try:
        pattern = lark.get_terminal(name).pattern
    except KeyError:
        return name.lower()
    return f"`{pattern.value}`" if pattern.type == "str" else name.lower()


CLOSERS = {"}": "RBRACE", ")": "RPAR", "]": "RSQB"}


def _still_open(prefix: str, lark: Lark) -> str:
    """Which block is still open at the error: 'the rubric `r` opened at line 2 is still open'."""
    opened: list[tuple[str, Token]] = []
    recent: list[Token] = []
    for token in _tokens(prefix, lark):
        if token.type in ("LBRACE", "LPAR", "LSQB"):
            opened.append((_describe_opener(recent, token), token))
        elif token.type in ("RBRACE", "RPAR", "RSQB") and opened:
            opened.pop()
        recent = (recent + [token])[-4:]
    if not opened:
        return ""
    what, token = opened[-1]
    closer = {"LBRACE": "}", "LPAR": ")", "LSQB": "]"}[token.type]
    return f"the innermost block still open is {what} opened at line {token.line}: close it with `{closer}`"


def _tokens(prefix: str, lark: Lark):
    """The tokens of the text before the error, lexed in context as the parser saw them."""
    parser = lark.parse_interactive(prefix)
    try:
        yield from parser.iter_parse()
    except UnexpectedInput:
        return  # the prefix stops mid-statement: every token before that point was yielded


def _describe_opener(recent: list[Token], opener: Token) -> str:
    if opener.type != "LBRACE":
        return "a parenthesis" if opener.type == "LPAR" else "a bracket"
    words = [str(t) for t in recent]
    for keyword in ("rubric", "test", "route"):
        if keyword in words:
            rest = words[words.index(keyword) + 1 :]
            name = f" {rest[0]}" if rest and keyword != "route" else ""
            return f"`{keyword}{name}`"
    return "a record"

"""The catalogue of bad inputs is the test of the syntax-error messages (lark's match_examples idea)."""

from __future__ import annotations

import pytest

from rubricc.parser import parse_text
from rubricc.syntax_errors import CATALOGUE

EXAMPLES = [(case, example) for case in CATALOGUE for example in case.examples]


@pytest.mark.parametrize("case, example", EXAMPLES, ids=[e for _, e in EXAMPLES])
def test_each_example_gets_its_message(case, example):
    [diag] = parse_text(example, "bad.rubric").diagnostics
    assert (diag.code, diag.message, diag.help) == ("P001", case.message, case.help)
    assert diag.span.file == "bad.rubric" and diag.span.line >= 1


@pytest.mark.parametrize("text, message, still_open", [
    ('rubric r {\n  test "t" {\n    expect ok == 1\n', "the file ends inside an open block",
     'the innermost block still open is `test "t"` opened at line 2'),
    ("rubric r {\n  check ok: f(a,\n", "the file ends inside an open block",
     "a parenthesis opened at line 2"),
    ("rubric r {\n  check ok: words(response) >\n}", "expected an expression, found `}`",
     "`rubric r` opened at line 1"),
    ("rubric r {\n  check ok: true @\n}", "unexpected character `@`", "`rubric r` opened at line 1"),
])
def test_uncatalogued_errors_say_what_was_expected_and_what_is_open(text, message, still_open):
    [diag] = parse_text(text, "bad.rubric").diagnostics
    assert diag.message == message
    assert still_open in diag.help


def test_messages_never_name_grammar_internals():
    for _, example in EXAMPLES:
        [diag] = parse_text(example, "bad.rubric").diagnostics
        text = diag.message + diag.help + diag.label
        assert "__ANON" not in text and "$END" not in text and "LBRACE" not in text

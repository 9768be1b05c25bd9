"""The catalogue of bad inputs is the test of the syntax-error messages (lark's match_examples idea)."""

from __future__ import annotations

import random
import re

import pytest

from rubricc.parser import grammar_parser, parse_text
from rubricc.syntax_errors import CATALOGUE
from tests.conftest import ROOT

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


# ---- errors no case covers, from every rubric we have --------------------------------------------

SOURCES = sorted({*ROOT.glob("rubrics/**/*.rubric"), *ROOT.glob("tests/cases/**/*.rubric")})
TOKEN = re.compile(r'"""[\s\S]*?"""|"(?:\\.|[^"\\\n])*"|/(?:\\.|[^/\\\n])+/[a-z]*|\w+|\S')
MUTANTS_PER_FILE = 16
CATALOGUED = {case.message for case in CATALOGUE}


def malformed(text: str, rng: random.Random) -> list[str]:
    """Truncations (at a token's end, and inside a token) and single-token deletions of `text`."""
    spans = [m.span() for m in TOKEN.finditer(text)]
    picks = rng.sample(spans, min(len(spans), MUTANTS_PER_FILE // 2))
    out = []
    for start, end in picks:
        out.append(text[:end] if rng.random() < 0.5 else text[:start + (end - start) // 2 or 1])
        out.append(text[:start] + text[end:])
    return out


def internal_names() -> re.Pattern[str]:
    """Grammar spellings a user must never see: terminal names (`LPAR`, `__ANON_0`, `NAME`),
    lowercased forms of the made-up ones, `$END` and `_NL`, in any case."""
    names = {t.name for t in grammar_parser().terminals}
    made_up = [n.lower() for n in names if n.startswith("_") or n == "WS"]
    exact = "|".join(sorted(map(re.escape, names), key=len, reverse=True))
    folded = "|".join(map(re.escape, [*made_up, "$end", "_nl", "__anon"]))
    return re.compile(rf"(?<![\w$])(?:{exact})(?!\w)|(?i:(?<![\w$])(?:{folded}))")


def user_text_removed(words: str, source: str) -> str:
    """`words` without the backtick-quoted parts that quote the input itself (`found `x``)."""
    return re.sub(r"`([^`]*)`", lambda m: "" if m.group(1).rstrip(".") in source else m.group(0),
                  words)


def test_uncatalogued_messages_are_located_and_free_of_grammar_internals():
    leaks = internal_names()
    seen = {"P001": 0, "P002": 0, "P003": 0, "P004": 0, "generic": 0}
    for path in SOURCES:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # tests/cases/errors/n005: a file that cannot be read is not parsed
        for bad in malformed(text, random.Random(path.name)):
            diags = parse_text(bad, "bad.rubric").diagnostics
            if not diags:
                continue  # deleting a token can leave a valid rubric
            [diag] = diags
            where = f"{path.name} mutated:\n{bad[:400]}\n-> {diag}"
            assert diag.code in seen, where
            lines = bad.count("\n") + 1
            assert diag.span is not None and diag.span.file == "bad.rubric", where
            assert 1 <= diag.span.line <= lines and diag.span.col >= 1, where
            assert diag.message and diag.label, where
            seen[diag.code] += 1
            parts = [diag.label]
            if diag.message not in CATALOGUED:  # a case's own words may say `check NAME: EXPR`
                seen["generic"] += 1
                parts += [diag.message, diag.help]
            leaked = leaks.search(user_text_removed(" ".join(parts), bad))
            assert leaked is None, f"`{leaked.group(0)}` leaks from the grammar: {where}"
    assert min(seen.values()) >= 1 and seen["generic"] >= 200, seen  # every path was taken

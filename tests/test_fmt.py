"""The formatter: input/expected pairs in tests/cases/fmt/, plus round trips of literal spellings.

Each case is `NAME.in.rubric` (as a person might write it) and `NAME.out.rubric` (the canonical
layout). New formatting behaviour means a new pair.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rubricc import nodes as n
from rubricc.fmt import BINARY_PREC, Formatter, format_text, number_text, string_text
from rubricc.parser import parse_text
from rubricc.source import NOWHERE

CASES = Path(__file__).parent / "cases" / "fmt"
NAMES = sorted(p.name.removesuffix(".in.rubric") for p in CASES.glob("*.in.rubric"))


def module(text: str) -> n.Module:
    parsed = parse_text(text)
    assert parsed.module is not None, [d.message for d in parsed.diagnostics]
    return parsed.module


@pytest.mark.parametrize("name", NAMES)
def test_case(name: str) -> None:
    source = (CASES / f"{name}.in.rubric").read_text(encoding="utf-8")
    expected = (CASES / f"{name}.out.rubric").read_text(encoding="utf-8")
    assert format_text(source) == expected
    assert format_text(expected) == expected
    for text in (source, expected):
        assert module(format_text(text)) == module(text)
    for comment in module(source).comments:
        assert comment.text.rstrip() in expected


def test_every_case_has_an_expected_output() -> None:
    outs = sorted(p.name.removesuffix(".out.rubric") for p in CASES.glob("*.out.rubric"))
    assert outs == NAMES and len(NAMES) >= 12


def test_text_that_does_not_parse_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="rubric"):
        format_text("rubric r { check ok true }")


def test_a_string_with_a_newline_prints_raw() -> None:
    assert string_text('a\n\\b "c".') == '"""a\n\\b "c"."""'


@pytest.mark.parametrize("value", ['a\n"""', 'a\nb"'])
def test_a_string_with_no_spelling_is_refused(value: str) -> None:
    with pytest.raises(ValueError):
        string_text(value)


def literal_of(text: str):
    rubric = module(f"rubric r {{ let x = {text} }}").body[0]
    return rubric.members[0].value


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.floats(min_value=0, allow_nan=False))
def test_numbers_read_back(value: float) -> None:
    text = number_text(value)
    assert re.fullmatch(r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?", text)
    assert literal_of(text).value == value


def spellable(value: str) -> bool:
    return "\n" not in value or not ('"""' in value or value.endswith('"'))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(st.sampled_from('ab\\"/{}# \t\r\n\xe9'), max_size=12).filter(spellable))
def test_strings_read_back(value: str) -> None:
    assert literal_of(string_text(value)).value == value


REGEX_UNITS = st.sampled_from(["a", ".", "#", "\\/", "\\\\", "\\d", "\\.", "[", "]", "*", '"'])


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(REGEX_UNITS, min_size=1, max_size=8), st.sampled_from(["", "i", "ims", "s"]))
def test_regexes_read_back(units: list[str], flags: str) -> None:
    text = f"rubric r {{ let x = /{''.join(units)}/{flags} }}"
    assert module(format_text(text)) == module(text)


def expressions() -> st.SearchStrategy[n.Expr]:
    """Random expression trees, built directly (not parsed), with every operator and nesting."""
    leaves = st.one_of(
        st.builds(n.Name, st.sampled_from(["a", "b", "final", "answer"]), st.just(NOWHERE)),
        st.builds(n.Literal, st.sampled_from([None, True, False, 0.0, 2.5, 1e-9, "s", 'q"\\']),
                  st.just(NOWHERE)),
        st.builds(n.RegexLit, st.sampled_from(["a/b", "\\d+"]), st.sampled_from(["", "i"]),
                  st.just(NOWHERE)),
        st.just(n.ScoreRef(NOWHERE)),
    )

    def compound(sub):
        return st.one_of(
            st.builds(n.Binary, st.sampled_from(sorted(BINARY_PREC)), sub, sub, st.just(NOWHERE)),
            st.builds(n.Unary, st.sampled_from(["-", "not"]), sub, st.just(NOWHERE)),
            st.builds(n.IfExpr, sub, sub, sub, st.just(NOWHERE)),
            st.builds(n.Field, sub, st.sampled_from(["text", "weight"]), st.just(NOWHERE)),
            st.builds(n.Index, sub, sub, st.just(NOWHERE)),
            st.builds(n.Call, sub, st.lists(sub, max_size=2).map(tuple), st.just(NOWHERE)),
            st.builds(n.ListExpr, st.lists(sub, max_size=2).map(tuple), st.just(NOWHERE)),
        )

    return st.recursive(leaves, compound, max_leaves=12)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(expressions())
def test_expression_trees_print_with_enough_parentheses(tree: n.Expr) -> None:
    text = Formatter(n.Module((), NOWHERE)).expr(tree)
    gate = module(f"rubric r {{ gate g: {text} else {text} }}").body[0].members[0]
    assert (gate.cond, gate.fail) == (tree, tree), text

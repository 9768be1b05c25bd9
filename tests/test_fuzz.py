"""Fuzz the front end: no input, however broken, may end in a Python traceback.

Inputs are token soup, character soup, and mutations of valid rubrics (the formatter's expected
outputs and every shipped `rubrics/**/*.rubric`). Each goes through resolve, type check and
diagnostic rendering; every diagnostic must point into the fuzzed file, and an input that parses
must survive the formatter: `parse(fmt(x)) == parse(x)` and `fmt(fmt(x)) == fmt(x)`.

Inputs that once crashed a stage are kept in ONCE_CRASHED, as regression tests. Should the fuzzer
find a new crash in another module, add the minimal input there as a strict xfail that names the
bug, until that module is fixed.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rubricc.diagnostics import render_all
from rubricc.fmt import format_module, format_text
from rubricc.parser import parse_text
from rubricc.resolve import load_text
from rubricc.typecheck import check_program
from tests.conftest import SEEDS, TOKENS, fuzz, mutants

FILE = "fuzz.rubric"


# ---- the property -------------------------------------------------------------------------------


def front_end(text: str) -> None:
    """Everything a `rubricc check` of one file does before lowering, plus the formatter."""
    program = load_text(text, FILE)
    check_program(program)
    render_all(program.diagnostics, program.sources)
    for d in program.diagnostics:
        assert d.span is None or (d.span.file == FILE and d.span.line >= 1), d
    if FILE in program.namespaces:  # it parsed
        parsed = parse_text(text, FILE)
        out = format_module(parsed.module)
        assert parse_text(out, FILE).module == parsed.module
        assert format_text(out) == out


@pytest.fixture(autouse=True, scope="module")
def empty_cwd(tmp_path_factory):
    """Imports resolve against the working directory: make it one where nothing exists."""
    here = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("fuzz"))
    yield
    os.chdir(here)


# ---- inputs -------------------------------------------------------------------------------------

token_soup = st.lists(
    st.tuples(st.sampled_from(TOKENS), st.sampled_from([" ", " ", "", "\n"])), max_size=40
).map(lambda pairs: "".join(tok + sep for tok, sep in pairs))

char_soup = st.text(st.sampled_from('rubric check{}[]()"/\\:=,.?#-+*<>!\n 0123456789_xé\x00'),
                    max_size=80)


# ---- the tests ----------------------------------------------------------------------------------
# `fuzz` (tests/conftest.py) sizes a run; RUBRICC_FUZZ_SCALE=10 searches ten times as long.


@fuzz(1500)
@given(token_soup)
def test_token_soup(text: str) -> None:
    front_end(text)


@fuzz(1500)
@given(char_soup)
def test_character_soup(text: str) -> None:
    front_end(text)


@fuzz(2000)
@given(mutants())
def test_mutated_rubrics(text: str) -> None:
    front_end(text)


@pytest.mark.parametrize("seed", SEEDS, ids=range(len(SEEDS)))
def test_seeds_are_clean_inputs(seed: str) -> None:
    front_end(seed)


# Found by this fuzzer: routes in a circle recursed without end in resolve.build_scope; an import
# path with a NUL byte raised ValueError from pathlib instead of becoming a diagnostic.
ONCE_CRASHED = [
    "rubric a { route by x { default: b } }\nrubric b { route by x { default: a } }",
    'import "\x00" as x',
]


@pytest.mark.parametrize("text", ONCE_CRASHED, ids=["route-cycle", "nul-in-import"])
def test_inputs_that_once_crashed(text: str) -> None:
    front_end(text)

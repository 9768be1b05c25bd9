"""The built-ins, checked against the call tables in tests/cases/builtins/*.jsonl.

Each line of a table is one call: `{"fn": name, "args": [...], "expect": value}`, or
`"raises": "ValueError"` instead of `expect`; a regex argument is `{"regex": pattern, "flags": "i"}`
and an optional `"why"` says what the row is for. A model's score is expected within `"tol"`. A
batched built-in is called with columns of one row. A new behaviour means a new row.
"""

import builtins as python_builtins
import json
import pickle
import time
from pathlib import Path

import pytest
import re2

from rubricc import types as t
from rubricc.builtins import REGISTRY, Builtin, Regex
from rubricc.builtins.regex import compile_regex

CASES = Path(__file__).parent / "cases" / "builtins"


def load_rows() -> list[dict]:
    rows = []
    for path in sorted(CASES.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                rows.append({**json.loads(line), "where": f"{path.stem}:{number}"})
    return rows


ROWS = load_rows()


def decode(arg: object) -> object:
    """A `{"regex": ...}` argument becomes a `Regex`; everything else is passed as written."""
    if isinstance(arg, dict) and "regex" in arg:
        return Regex(arg["regex"], arg.get("flags", ""))
    return arg


def call(builtin: Builtin, args: list) -> object:
    if builtin.batched:
        return builtin.fn(*[[arg] for arg in args], device="cpu")[0]
    return builtin.fn(*args)


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['where']}:{r['fn']}" for r in ROWS])
def test_call(row: dict) -> None:
    builtin = REGISTRY[row["fn"]]
    args = [decode(arg) for arg in row["args"]]
    if "raises" in row:
        with pytest.raises(getattr(python_builtins, row["raises"])):
            call(builtin, args)
        return
    result = call(builtin, args)
    expect = pytest.approx(row["expect"], rel=0, abs=row["tol"]) if "tol" in row else row["expect"]
    assert result == expect, row.get("why", "")
    assert t.conforms(result, builtin.returns), f"{result!r} is not {t.render(builtin.returns)}"


def test_every_builtin_has_cases() -> None:
    tested = {row["fn"] for row in ROWS}
    assert sorted(set(REGISTRY) - tested) == []


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_builtin_is_documented_typed_and_picklable(name: str) -> None:
    builtin = REGISTRY[name]
    assert builtin.doc.strip(), f"{name} has no docstring"
    assert builtin.signature().startswith(f"{name}(")
    assert pickle.loads(pickle.dumps(builtin.fn)) is builtin.fn  # the worker pool imports it


def test_only_math_equal_and_python_tests_are_heavy() -> None:
    assert {name for name, b in REGISTRY.items() if b.heavy} == {"math_equal", "python_tests"}


@pytest.mark.parametrize(
    ("pattern", "flags"),
    [(r"(a)\1", ""), ("(?=a)", ""), ("(?<=a)b", ""), ("(?!a)", ""), ("a(", ""), ("a", "x")],
)
def test_compile_regex_rejects(pattern: str, flags: str) -> None:
    with pytest.raises(re2.error) as raised:
        compile_regex(pattern, flags)
    assert isinstance(raised.value.args[0], str)  # a message the linter can print


def test_compile_regex_caches_and_applies_flags() -> None:
    assert compile_regex("a.b", "is") is compile_regex("a.b", "is")
    assert compile_regex("a.b", "is").search("A\nB") is not None


# Degenerate responses (a model stuck repeating an opening) must not take quadratic time.
DEGENERATE = [
    ("last_boxed", "\\boxed{" * 50_000),
    ("strip_think", "<think>" * 100_000),
    ("tags", "<a>" * 100_000, "a"),
    ("final_answer", "\\(" * 100_000),
    ("final_answer", "1," * 100_000),
    ("sentences", "!" * 200_000 + "a"),
    ("words", "a-" * 100_000),
    ("json_parse", "[" * 100_000),
    ("loops", "a b " * 200_000),
    ("echoes", "a " * 200_000, "a " * 100_000 + "b"),
    ("refuses", "I cannot " * 100_000),
]


@pytest.mark.parametrize("call", DEGENERATE, ids=[c[0] for c in DEGENERATE])
def test_degenerate_input_is_fast(call: tuple) -> None:
    name, *args = call
    started = time.perf_counter()
    REGISTRY[name].fn(*args)
    assert time.perf_counter() - started < 2.0

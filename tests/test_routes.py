"""Route choice and `case.item` names, one rule in both engines and in `explain`.

Each case in tests/cases/routes/ is a rubric `NAME.rubric` whose last rubric routes, and rows in
`NAME.jsonl`: a row and the items it must score (every other column is `na`). Both engines must
give those values, and the batch tensors must say what the rows say.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from rubricc import values as V
from rubricc.checked_rubric import all_items
from rubricc.cli import main
from rubricc.diagnostics import CompileError
from rubricc.explain import explain_row
from rubricc.interpreter import interpret_row
from rubricc.pipeline import compile, front

CASES = Path(__file__).parent / "cases" / "routes"


def load(name: str) -> tuple[list[dict], list[dict]]:
    lines = [json.loads(x) for x in (CASES / f"{name}.jsonl").read_text().splitlines() if x.strip()]
    return [x["row"] for x in lines], [x["expect"] for x in lines]


@pytest.fixture(params=sorted(p.stem for p in CASES.glob("*.rubric")))
def case(request):
    scorer = compile(CASES / f"{request.param}.rubric", rubric="router")
    yield scorer, *load(request.param)
    scorer.close()


def test_the_rows_score_the_expected_items_in_both_engines(case) -> None:
    scorer, rows, expected = case
    batch = scorer.score_rows(rows)
    services = scorer.services()
    for row, compiled, want in zip(rows, batch.rows, expected):
        interpreted = interpret_row(scorer.checked, row, services)
        for result in (compiled, interpreted):
            assert set(result.items) == set(scorer.names), row
            got = {k: v.value for k, v in result.items.items() if v.status != V.NA}
            assert got == want, row


def test_the_tensors_agree_with_the_rows(case) -> None:
    scorer, rows, expected = case
    batch = scorer.score_rows(rows)
    for r, want in enumerate(expected):
        for c, name in enumerate(batch.names):
            if name in want:
                assert batch.values[r, c].item() == want[name], (r, name)
                assert batch.status_of(r, name) == V.OK, (r, name)
            else:
                assert math.isnan(batch.values[r, c].item()), (r, name)
                assert batch.status_of(r, name) == V.NA, (r, name)
    assert batch.valid.all()


def test_the_empty_key_is_its_own_case_not_the_default() -> None:
    scorer = compile(CASES / "empty_key.rubric", rubric="router")
    assert scorer.names == [i.name for i in all_items(scorer.checked)]
    assert scorer.names == [".long", "math.correct", "default.short"]
    scorer.close()


def test_explain_shows_the_case_a_row_took(case) -> None:
    scorer, rows, expected = case
    batch = scorer.score_rows(rows)
    services = scorer.services()
    for row, result, want in zip(rows, batch.rows, expected):
        text = explain_row(scorer.checked, row, result, scorer.sources, services)
        for name, value in want.items():
            item = name.rsplit(".", 1)[1]
            assert f"where {item} = {value:.4g}" in text, text


def test_a_key_with_no_case_and_no_default_is_an_error_in_both_engines() -> None:
    scorer = compile('''
        rubric a { check one: 1 }
        rubric router { input task: text  route by task { "": a } }
    ''', rubric="router")
    rows = [{"task": "x", "response": ""}, {"task": "", "response": ""}]
    batch = scorer.score_rows(rows)
    interpreted = [interpret_row(scorer.checked, r, scorer.services()) for r in rows]
    scorer.close()
    for result in (batch.rows[0], interpreted[0]):
        assert (result.status, result.message) == (V.ERROR, "no route for 'x' and no default")
    assert [r.total for r in (batch.rows[1], interpreted[1])] == [1.0, 1.0]
    assert batch.valid.tolist() == [False, True]


@pytest.mark.parametrize("arms", ['"default": a, default: b', 'default: b, "default": a'])
def test_a_case_named_default_beside_the_default_is_an_error(arms: str) -> None:
    from rubricc.pipeline import front

    result = front(f"rubric a {{ check ok: true }}\nrubric b {{ check ok: true }}\n"
                   f"rubric router {{\n    input task: text\n    route by task {{ {arms} }}\n}}\n")
    [d] = [d for d in result.diagnostics if d.is_error]
    assert d.code == "N007" and "`default.ITEM`" in d.message and d.span.line == 5


# ---- routes in a circle -------------------------------------------------------------------------
# Once a recursion without end in resolve.build_scope (found by tests/test_fuzz.py, which keeps the
# input only as "does not crash"): each arm that closes a circle is N010, and nothing else is
# reported. tests/cases/errors/n010-*.rubric hold the same as files, with their rendering.

CYCLES = {
    "two, as the fuzzer found it": (
        "rubric a { input x: text route by x { default: b } }\n"
        "rubric b { input x: text route by x { default: a } }",
        [("routes go round in a circle: b -> a -> b", "cycle.rubric:1:39"),
         ("routes go round in a circle: a -> b -> a", "cycle.rubric:2:39")]),
    "to itself": (
        'rubric a { input task: text route by task { "x": a } }',
        [("routes go round in a circle: a -> a", "cycle.rubric:1:45")]),
    "behind a router and beside a leaf": (
        'rubric leaf { check ok: true }\n'
        'rubric a { input task: text route by task { "x": b default: leaf } }\n'
        'rubric b { input task: text route by task { "y": a } }\n'
        'rubric top { input task: text route by task { "z": a } }',
        [("routes go round in a circle: b -> a -> b", "cycle.rubric:2:45"),
         ("routes go round in a circle: a -> b -> a", "cycle.rubric:3:45"),
         ("routes go round in a circle: top -> a -> b -> a", "cycle.rubric:3:45")]),
}


@pytest.mark.parametrize("name", CYCLES)
def test_routes_in_a_circle_are_N010_and_nothing_else(name) -> None:
    text, expected = CYCLES[name]
    result = front(text, "cycle.rubric")
    assert [d.code for d in result.diagnostics] == ["N010"] * len(expected), result.diagnostics
    # two circles can close at one arm, and the front end orders diagnostics by place and code
    assert sorted((d.message, str(d.span)) for d in result.diagnostics) == sorted(expected)
    with pytest.raises(CompileError) as raised:
        compile(text, rubric="a", name="cycle.rubric")
    assert {d.code for d in raised.value.diagnostics} == {"N010"}


MIXED = """
rubric math { input answer: text
    check right: contains(response, answer) }
rubric code { input tests: text
    check passes: contains(response, tests) }
rubric mixed { input task: text
    route by task { "math": math, "code": code } }
"""


def test_a_routed_column_is_required_only_on_the_rows_of_its_route(tmp_path, capsys) -> None:
    rubric = tmp_path / "mixed.rubric"
    rubric.write_text(MIXED)
    rows = [{"task": "math", "response": "4", "answer": "4"},  # no `tests`: not a code row
            {"task": "code", "response": "ok", "tests": "ok"},  # no `answer`
            {"task": "code", "response": "ok", "answer": "4"},  # a code row without its tests
            {"response": "4", "answer": "4"}]  # no key at all: the router's own column
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "scored.jsonl"
    assert main(["score", str(rubric), str(data), "--name", "mixed", "--out", str(out)]) == 1
    scored = [json.loads(line) for line in out.read_text().splitlines()]
    assert [s["reward"] for s in scored[:2]] == [1.0, 1.0]
    assert scored[2]["reward"] is None and "D003 missing column `tests`" in scored[2]["error"]
    assert scored[3]["reward"] is None and "D003 missing column `task`" in scored[3]["error"]
    scorer = compile(str(rubric), rubric="mixed")
    assert set(scorer.inputs_of(rows[0])) == {"task", "answer"}
    assert set(scorer.inputs_of(rows[3])) == {"task"}
    assert set(scorer.inputs) == {"task", "answer", "tests"}

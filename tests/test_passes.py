"""Each optimization pass, on rubric text, judged by the IR it leaves behind."""

from __future__ import annotations

import pytest

from rubricc.pipeline import build, front
from rubricc.runtime.kernels import BatchRuntime
from rubricc.scorer import GeneratedCodeError


def ir_of(text: str):
    [checked] = front(text, "case.rubric").rubrics
    return build(checked).function.ops


def test_plan_gates_moves_heavy_work_behind_the_gate():
    ops = ir_of(r'''rubric r {
        input answer: text
        let same = math_equal(response, answer)
        gate formatted: contains(response, "\boxed")
        check correct: same
    }''')
    [gate] = [op for op in ops if op.kind == "gate"]
    [heavy] = [op for op in ops if op.kind == "heavy"]
    assert heavy.rows == gate.dst and ops.index(heavy) > ops.index(gate)


def test_plan_gates_keeps_work_the_gate_itself_needs():
    ops = ir_of(r'''rubric r {
        let final = last_boxed(response)
        gate has: final != none
        check four: final == "4"
    }''')
    [boxed] = [op for op in ops if op.kind == "call"]
    assert boxed.rows == "R0"


def test_fold_constants_leaves_no_constant_arithmetic():
    ops = ir_of("rubric r { check c: words(response) > 2 * 3 and lower(\"X\") == \"x\" }")
    assert not [op for op in ops if op.kind == "binary" and op.args[0] in "*+"]
    assert not [op for op in ops if op.kind == "call" and op.args[0] == "lower"]


def test_dedupe_merges_identical_calls():
    ops = ir_of('''rubric r {
        input answer: text
        check a: math_equal(response, answer)
        check b weight 0: math_equal(response, answer)
    }''')
    assert len([op for op in ops if op.kind == "heavy"]) == 1


def test_prune_drops_unused_bindings():
    ops = ir_of("rubric r { let unused = upper(response) check c: true }")
    assert not [op for op in ops if op.kind == "call"]


def test_internal_failure_points_at_the_rubric_line(monkeypatch):
    [checked] = front("rubric r {\n  check long: words(response) > 3\n}", "case.rubric").rubrics
    scorer = build(checked)

    def broken(self, rows, name, value):
        raise RuntimeError("kernel bug")

    monkeypatch.setattr(BatchRuntime, "item", broken)
    with pytest.raises(GeneratedCodeError, match=r"case.rubric:2:3: RuntimeError: kernel bug"):
        scorer.score(responses=["a b c d"])


def test_every_op_kind_is_in_the_closed_set_and_has_a_kernel():
    from rubricc.codegen import RUNTIME_NAMES
    from rubricc.ir import KINDS
    from tests.conftest import all_rubrics

    kinds = {op.kind for param in all_rubrics() for sub in [build(param.values[0])]
             for fn in [sub.function, *(s.function for s in sub.routes.values())]
             for op in fn.ops}
    assert kinds <= set(KINDS)
    for kind in KINDS:
        if kind != "score":  # `score` is emitted as `return rt.finish(...)`
            assert hasattr(BatchRuntime, RUNTIME_NAMES.get(kind, kind)), kind

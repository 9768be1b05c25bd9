"""The IR of a few representative rubrics after lowering and after each pass, in `PASSES` order,
kept in tests/snapshots/ir/NAME.txt (printed by `Function.render`, as `rubricc compile --emit ir`
prints the last stage). A pass that changes what it emits shows up as a diff here; rewrite the
files with `pytest --update-snapshots` and review the diff in git.
"""

from __future__ import annotations

import pytest

from rubricc.checked_rubric import Checked
from rubricc.ir import Function
from rubricc.lower import lower, lower_route
from rubricc.passes import PASSES
from rubricc.pipeline import compile, front
from tests.conftest import ROOT

SNAPSHOTS = ROOT / "tests" / "snapshots" / "ir"

# name -> (file, rubric in it): a gate and a let, formats and regexes, `judge each` frames,
# a rubric written for the passes to change (constants, a repeated call, an unused let), and a
# router with its routes.
RUBRICS = {
    "math-answer": ("rubrics/math/answer.rubric", None),
    "think-answer": ("rubrics/format/think_answer.rubric", None),
    "rar-judge-each": ("tests/cases/fmt/rar.out.rubric", None),
    "passes": ("tests/snapshots/ir/passes.rubric", None),
    "router": ("tests/cases/routes/empty_key.rubric", "router"),
}


def stages(checked: Checked) -> list[tuple[str, Function]]:
    """The rubric's IR as lowered and after each pass, then the same for each of its routes."""
    fn = lower_route(checked) if checked.routes else lower(checked)
    out = [(f"{checked.name}: lowered", fn)]
    for one_pass in PASSES:
        fn = one_pass(fn)
        out.append((f"{checked.name}: after {one_pass.__name__}", fn))
    return out + [stage for sub in checked.routes.values() for stage in stages(sub)]


def checked_rubric(file: str, name: str | None) -> Checked:
    result = front(ROOT / file)
    assert result.ok, file
    [checked] = [c for c in result.rubrics if name in (None, c.name)]
    return checked


@pytest.mark.parametrize("name", sorted(RUBRICS))
def test_ir_after_each_pass(name, snapshot) -> None:
    text = "\n\n".join(f"==== {title}\n{fn.render()}" for title, fn in stages(checked_rubric(*RUBRICS[name])))
    snapshot(SNAPSHOTS / f"{name}.txt", text.replace(f"{ROOT}/", ""))


@pytest.mark.parametrize("name", sorted(RUBRICS))
def test_the_last_stage_is_what_compile_emits(name) -> None:
    file, rubric = RUBRICS[name]
    scorer = compile(ROOT / file, rubric=rubric)
    try:
        last = f"after {PASSES[-1].__name__}"
        finals = [fn.render() for title, fn in stages(scorer.checked) if title.endswith(last)]
        assert "\n\n".join(finals) == scorer.ir_text()
    finally:
        scorer.close()


def test_no_stale_snapshots() -> None:
    kept = {p.stem for p in SNAPSHOTS.glob("*.txt")}
    assert kept <= set(RUBRICS), f"snapshots without a rubric (delete them): {sorted(kept - set(RUBRICS))}"

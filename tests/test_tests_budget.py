"""Tests that the shared budget (`TESTS_BUDGET`) leaves without an outcome are never silently
scored as failures of correct code, and slowness never turns a failing response into an unscored
row. The responses are tests/cases/attacks/runtime/budget/*.py, each with its `# expect:` line;
the budget is cut to 1.5 s here, with 12 tests, a 1 s timeout and 4 lanes."""

from pathlib import Path

import pytest

from rubricc.builtins import code as harness

CASES = sorted((Path(__file__).parent / "cases" / "attacks" / "runtime" / "budget").glob("*.py"))
TESTS = [f"assert add({i}, 1) == {i + 1}" for i in range(12)]


def expected(path: Path) -> str:
    return next(line.split(":", 1)[1].strip() for line in path.read_text().splitlines()
                if line.startswith("# expect:"))


@pytest.fixture
def short_budget(monkeypatch) -> None:
    monkeypatch.setattr(harness, "TESTS_BUDGET", 1.5)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_a_slow_response_is_scored_only_when_a_test_that_finished_failed(short_budget, path) -> None:
    code, want = path.read_text(), expected(path)
    if want == "not scored":
        with pytest.raises(harness.BudgetExceeded, match=r"did not finish within the 1.5 s"):
            harness.python_tests(code, TESTS, 1.0)
    else:
        assert harness.python_tests(code, TESTS, 1.0) == float(want)


def test_the_report_tells_cut_and_skipped_tests_from_timeouts(short_budget) -> None:
    slow = (CASES[0].parent / "slow_but_correct.py").read_text()
    report = harness.run_tests(slow, TESTS, timeout=1.0)
    assert report.outcomes[:8] == ("pass",) * 8
    assert set(report.outcomes[8:]) <= {"cut", "skipped"} and report.unfinished == 4
    looping = (CASES[0].parent / "infinite_loop.py").read_text()
    report = harness.run_tests(looping, TESTS, timeout=1.0)
    assert report.outcomes[:4] == ("timeout",) * 4 and report.failed


def test_a_timeout_as_long_as_the_budget_is_still_the_tests_own(short_budget) -> None:
    """The first tests get their whole timeout, capped at the budget: an infinite loop with a
    timeout past the budget is a failure, not a row the budget left unscored."""
    looping = (CASES[0].parent / "infinite_loop.py").read_text()
    report = harness.run_tests(looping, TESTS, timeout=30.0)
    assert report.outcomes[:4] == ("timeout",) * 4
    assert harness.python_tests(looping, TESTS, 30.0) == 0.0

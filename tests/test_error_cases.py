"""Front-end errors, driven by data.

Each tests/cases/errors/*.rubric starts with `# expect: CODES` (comma- or space-separated): the
exact multiset of codes `pipeline.front` reports for the file. Its rendered diagnostics, as
`rubricc check` prints them, are kept in tests/snapshots/errors/NAME.txt (rewrite them with
`pytest --update-snapshots`).

tests/cases/errors/projects/NAME/main.rubric are the same, in a project of their own (its
`rubricc.toml` makes the folder the project root): packs beside the rubric, a `rubricc.lock`.

tests/cases/errors/failing-tests/*.rubric compile, and their `test` blocks fail: the header is
the multiset of codes in the failures that `rubricc check` reports (X001, X002, a template that
fails on a test's row, S007).

Every code rubricc can emit must have a case under tests/cases, in a file that declares its
expected codes, unless `NO_FILE_CASE` says why it cannot.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from rubricc.check_command import check_file
from rubricc.diagnostics import render_all
from rubricc.lint import RULES
from rubricc.pipeline import front
from rubricc.probes import PROBES
from tests.conftest import ROOT

CASES_DIR = ROOT / "tests" / "cases"
ERRORS = sorted((CASES_DIR / "errors").glob("*.rubric"))
ERRORS += sorted((CASES_DIR / "errors" / "projects").glob("*/main.rubric"))
FAILING_TESTS = sorted((CASES_DIR / "errors" / "failing-tests").glob("*.rubric"))
SNAPSHOTS = ROOT / "tests" / "snapshots" / "errors"
CODE = re.compile(r"\b[PNTSLXDHE]\d{3}\b")

# Codes no rubric file can carry a case for, each with the reason and where it is tested instead.
NO_FILE_CASE = {
    **dict.fromkeys(["D001", "D002", "D003", "D004", "D005"],
                    "a data row's code, not a rubric's: tests/test_hostile_data.py and "
                    "tests/test_cli.py score .jsonl files"),
    **dict.fromkeys(["H040", "H041", "H042", "H043", "H044", "H045"],
                    "a code probe the sandbox defeats: no rubric can be hacked by it; "
                    "tests/test_probes.py shows each beats a naive harness"),
    "H008": "no probe case yet (tests/cases/probes/ is test_probes.py's): a rubric that an "
            "unscorable response makes error where the honest wrong answer scores",
}


def case_name(path: Path) -> str:
    """`t001-gate-not-bool`, or `projects/two-packs` for a project case."""
    return f"projects/{path.parent.name}" if path.name == "main.rubric" else path.stem


def expected_codes(path: Path) -> Counter[str]:
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8")
    match = re.fullmatch(r"#\s*expect:(.*)", first)
    assert match, f"{path.name} must start with `# expect: CODES`"
    return Counter(match.group(1).replace(",", " ").split())


def portable(text: str) -> str:
    """Rendered text without this checkout's location."""
    return text.replace(f"{ROOT}/", "").replace(str(ROOT), "<repo>")


@pytest.mark.parametrize("path", ERRORS, ids=[case_name(p) for p in ERRORS])
def test_error_case(path: Path, snapshot) -> None:
    result = front(path)
    rendered = portable(render_all(result.diagnostics, result.program.sources))
    assert Counter(d.code for d in result.diagnostics) == expected_codes(path), rendered
    snapshot(SNAPSHOTS / f"{case_name(path)}.txt", rendered)


def test_error_cases_are_errors() -> None:
    """A file with nothing to report belongs elsewhere (tests/cases/lint/*-ok.rubric)."""
    for path in ERRORS:
        assert expected_codes(path), f"{path.name}: an error case expects at least one code"


@pytest.mark.parametrize("path", FAILING_TESTS, ids=[p.stem for p in FAILING_TESTS])
def test_failing_test_case(path: Path, snapshot) -> None:
    report = check_file(path, probes=False)
    assert not report.diagnostics, render_all(report.diagnostics, report.sources)
    failed = [t for t in report.tests if not t.passed]
    codes = Counter(m.group(1) for t in failed
                    for m in re.finditer(r"^\S+:\d+:\d+: ([A-Z]\d{3}) ", t.message, re.M))
    assert codes == expected_codes(path), [t.message for t in failed]
    text = "\n\n".join(f'test failed: {t.rubric} / "{t.name}"\n{t.message}' for t in failed)
    snapshot(SNAPSHOTS / "failing-tests" / f"{path.stem}.txt", portable(text))


def test_no_stale_snapshots() -> None:
    cases = {case_name(p) for p in ERRORS} | {f"failing-tests/{p.stem}" for p in FAILING_TESTS}
    kept = {str(p.relative_to(SNAPSHOTS).with_suffix("")) for p in SNAPSHOTS.rglob("*.txt")}
    assert kept <= cases, f"snapshots without a case (delete them): {sorted(kept - cases)}"


# ---- every code has a case ----------------------------------------------------------------------


def emittable_codes() -> set[str]:
    """Every code a module of rubricc spells out, every lint rule's and every probe's."""
    spelled = {c for path in (ROOT / "rubricc").rglob("*.py")
               for c in re.findall(r'"([PNTSLXDHE]\d{3})"', path.read_text(encoding="utf-8"))}
    return spelled | {r.CODE for r in RULES} | {p.code for p in PROBES}


def declared_codes() -> dict[str, list[Path]]:
    """code -> the case files under tests/cases whose `# expect:` header names it."""
    found: dict[str, list[Path]] = {}
    for path in sorted([*CASES_DIR.rglob("*.rubric"), *CASES_DIR.rglob("rubric-pack.toml")]):
        first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8", "replace")
        match = re.fullmatch(r"#\s*expect:(.*)", first)
        for code in CODE.findall(match.group(1)) if match else ():
            found.setdefault(code, []).append(path)
    return found


def test_every_code_has_a_case_file() -> None:
    codes = emittable_codes()
    assert len(codes) > 80, "the code scan found too little"
    missing = sorted(codes - set(declared_codes()) - set(NO_FILE_CASE))
    assert not missing, f"no case under tests/cases declares {missing}: add tests/cases/errors/CODE-*.rubric"


def test_the_exceptions_are_needed() -> None:
    codes = emittable_codes()
    assert set(NO_FILE_CASE) <= codes, sorted(set(NO_FILE_CASE) - codes)
    covered = sorted(set(NO_FILE_CASE) & set(declared_codes()))
    assert not covered, f"these now have a case file: remove them from NO_FILE_CASE: {covered}"


def test_every_front_end_code_has_an_error_case() -> None:
    """P, N, T and S codes are a file's: each has a case here (or, for a manifest's code, in
    tests/cases/manifests/, run by tests/test_packs.py), not only elsewhere."""
    manifests = sorted((CASES_DIR / "manifests").glob("*/rubric-pack.toml"))
    here = set().union(*(expected_codes(p) for p in ERRORS + FAILING_TESTS + manifests))
    front_end = {c for c in emittable_codes() if c[0] in "PNTS"}
    assert not sorted(front_end - here)

"""Rubrics are untrusted input: each attack here once crashed rubricc, read a host file, or took
minutes or gigabytes. The rubrics are in tests/cases/attacks/rubrics/; the huge ones are written
by the tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rubricc.check_command import check_file
from rubricc.cli import main
from rubricc.diagnostics import render_all
from rubricc.explain import explain_row
from rubricc.fmt import format_text
from rubricc.interpreter import interpret_row
from rubricc.parser import deep_walks, parse_text
from rubricc.pipeline import build, compile, front
from rubricc.runtime.services import Services
from tests.conftest import ROOT

ATTACKS = ROOT / "tests" / "cases" / "attacks" / "rubrics"
IMPORTS = ATTACKS / "imports"


def diagnostics(path: Path) -> list[tuple[str, str, str]]:
    result = front(path)
    return [(d.code, d.message, f"{Path(d.span.file).name}:{d.span.line}:{d.span.col}"
             if d.span else "") for d in result.diagnostics]


def rendered(path: Path) -> str:
    result = front(path)
    return render_all(result.diagnostics, result.program.sources)


# ---- deep nesting ---------------------------------------------------------------------------------


def test_a_run_of_600_and_terms_compiles_and_scores_in_both_engines():
    path = ATTACKS / "and_600.rubric"
    assert diagnostics(path) == []
    scorer = compile(path)
    rows = [{"response": "w0 w1 w2 w3 w4 w5 w6"}, {"response": "w0 w1"}]
    assert [r.total for r in scorer.score_rows(rows).rows] == [1.0, 0.0]
    assert [interpret_row(scorer.checked, r, Services()).total for r in rows] == [1.0, 0.0]
    result = interpret_row(scorer.checked, rows[0], Services())
    assert "all_words" in explain_row(scorer.checked, rows[0], result, scorer.sources, Services())


def test_a_run_of_600_and_terms_passes_its_own_tests_and_formats():
    path = ATTACKS / "and_600.rubric"
    report = check_file(path)
    assert report.errors == 0 and [t.passed for t in report.tests] == [True, True]
    text = path.read_text()
    with deep_walks:  # comparing two 600-deep trees recurses, as every walk does
        assert parse_text(format_text(text)).module == parse_text(text).module


@pytest.mark.parametrize("name, message, where", [
    ("not_1000.rubric", "this expression nests more than 100 levels deep", "3:414"),
    ("list_5000.rubric", "this expression nests more than 100 levels deep", "3:116"),
    ("list_20000.rubric", "this expression nests more than 100 levels deep", "3:6410"),
    ("or_802.rubric", "this expression is more than 800 levels deep", "3:14"),
])
def test_pathological_nesting_is_a_located_P004(name, message, where):
    assert diagnostics(ATTACKS / name) == [("P004", message, f"{name}:{where}")]


def test_depth_at_the_limit_compiles():
    scorer = compile(ATTACKS / "or_801.rubric")
    assert [r.total for r in scorer.score_rows([{"response": ""}]).rows] == [1.0]


def test_nesting_at_the_limit_compiles():
    scorer = compile(ATTACKS / "not_99.rubric")
    assert [r.total for r in scorer.score_rows([{"response": "x"}, {"response": "y"}]).rows] \
        == [0.0, 1.0]  # 99 `not`s: an odd number


@pytest.mark.parametrize("name", ["not_1000.rubric", "list_5000.rubric", "or_802.rubric"])
def test_the_command_line_reports_P004_without_a_traceback(name, capsys):
    assert main(["check", str(ATTACKS / name)]) == 1
    out = capsys.readouterr()
    assert "error[P004]" in out.out and "Traceback" not in out.out + out.err


def test_formatting_deep_nesting_is_refused_with_the_diagnostic():
    with pytest.raises(ValueError, match="P004"):
        format_text((ATTACKS / "not_1000.rubric").read_text())


# ---- imports --------------------------------------------------------------------------------------


def test_a_cycle_through_dotdot_paths_is_N004():
    assert diagnostics(IMPORTS / "cycle" / "x" / "a.rubric") == [
        ("N004", f"import cycle: {IMPORTS}/cycle/x/a.rubric -> {IMPORTS}/cycle/y/b.rubric -> "
                 f"{IMPORTS}/cycle/x/a.rubric", "b.rubric:1:1")]


def test_a_file_importing_itself_through_dotdot_is_N004_at_once():
    # once 323 nested loads of sub/../sub/../sub/x.rubric, then a traceback
    [(code, message, where)] = diagnostics(IMPORTS / "dotdot" / "sub" / "x.rubric")
    assert (code, where) == ("N004", "x.rubric:2:1")
    assert message.count("->") == 1


def test_host_files_are_refused_unread_and_never_quoted():
    out = rendered(IMPORTS / "host_files.rubric")
    assert [d[:1] + d[2:] for d in diagnostics(IMPORTS / "host_files.rubric")] == [
        ("N003", "host_files.rubric:1:1"), ("N003", "host_files.rubric:2:1"),
        ("N003", "host_files.rubric:3:1")]
    assert out.count("not a `.rubric` file") == 3
    assert "root:" not in out and "PATH=" not in out


@pytest.fixture
def project(tmp_path) -> Path:
    """A project holding escape.rubric, with a rubric of secrets just outside it and a symlink."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text("")
    shutil.copy(IMPORTS / "escape.rubric", root)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.rubric").write_text("SECRET LINE, not rubric syntax\n")
    (root / "link.rubric").symlink_to(tmp_path / "outside" / "secret.rubric")
    (tmp_path / "notes.txt").write_text("SECRET NOTES\n")
    (root / "notes.txt.rubric").symlink_to(tmp_path / "notes.txt")
    return root


def test_imports_stay_inside_the_project(project):
    path = project / "escape.rubric"
    assert [(d[0], d[2]) for d in diagnostics(path)] == [
        ("N003", "escape.rubric:2:1"), ("N003", "escape.rubric:3:1"), ("N003", "escape.rubric:4:1")]
    out = rendered(path)
    assert out.count("outside the project") == 2 and out.count("not a `.rubric` file") == 1
    assert "SECRET" not in out


def test_an_import_inside_the_project_still_works(project):
    (project / "lib").mkdir()
    (project / "lib" / "shared.rubric").write_text("def short(t: text) = words(t) < 5\n")
    (project / "lib" / "main.rubric").write_text(
        'import "../lib/shared.rubric" as s\nrubric r { check c: s.short(response) }\n')
    assert [d for d in diagnostics(project / "lib" / "main.rubric") if d[0] != "L006"] == []


def test_the_shipped_packs_can_be_imported(tmp_path):
    packs = ROOT / "rubrics"
    path = tmp_path / "uses_pack.rubric"
    path.write_text(f'import "{os.path.relpath(packs / "math" / "answer.rubric", tmp_path)}" as m\n'
                    "rubric r { check ok: true }\n")
    assert [d for d in diagnostics(path) if d[0].startswith("N")] == []


@pytest.mark.parametrize("name", ["empty.rubric", "comments_only.rubric"])
def test_a_file_that_defines_nothing_is_a_warning(name):
    assert diagnostics(IMPORTS / name) == [("N011", "this file defines nothing", f"{name}:1:1")]


def test_an_imported_file_that_defines_nothing_is_a_warning():
    assert diagnostics(IMPORTS / "imports_empty.rubric") == [
        ("N011", "this file defines nothing", "comments_only.rubric:1:1")]


# ---- size -----------------------------------------------------------------------------------------


def test_a_4_mb_string_literal_is_checked_in_little_memory(tmp_path):
    """The lexer's string patterns once kept state per character: 2.3 GB for this file."""
    path = tmp_path / "big.rubric"
    path.write_text('rubric r {\n    check c: contains(response, "' + "x" * 4_000_000 + '")\n}\n')
    # VmHWM, the peak of this process's own memory: ru_maxrss survives exec, so after a fork from
    # a large pytest process it would report pytest's size
    probe = ("import re, sys\nfrom rubricc.pipeline import compile\n"
             "compile(sys.argv[1])\n"
             "print(re.search(r'VmHWM:\\s*(\\d+)', open('/proc/self/status').read()).group(1))")
    done = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True,
                          timeout=120, check=True)
    assert int(done.stdout.split()[-1]) < 600_000  # KiB; importing rubricc alone takes ~200 MB


def test_compile_time_grows_about_linearly_with_items():
    """plan_gates once scanned every op for each op's users: 1,000 items took 125 s."""
    sys.path.insert(0, str(ROOT / "bench"))
    from compile_scale import rubric_text  # noqa: PLC0415

    [checked] = front(rubric_text(1000), "many.rubric").rubrics
    start = time.perf_counter()
    build(checked)
    assert time.perf_counter() - start < 10


# ---- definitions that grow when inlined ---------------------------------------------------------


def test_definitions_that_double_at_each_level_are_refused_quickly():
    started = time.perf_counter()
    found = diagnostics(ATTACKS / "doubling_defs.rubric")
    assert time.perf_counter() - started < 10
    [(code, message, where)] = [d for d in found if d[0] == "S006"]
    assert "limit of 100,000" in message and where.startswith("doubling_defs.rubric:")


def test_a_few_doublings_compile_and_score():
    report = check_file(ATTACKS / "doubling_defs_ok.rubric", probes=False)  # a constant: hackable
    assert report.errors == 0 and [t.passed for t in report.tests] == [True]

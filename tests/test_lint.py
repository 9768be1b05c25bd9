"""Lint rules, driven by data: each tests/cases/lint/*.rubric starts with `# expect: CODES`,
the exact multiset of lint codes the file must produce (nothing after `expect:` for a clean file).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections import Counter
from pathlib import Path

import pytest

import rubricc.lint
from rubricc.diagnostics import render_all
from rubricc.lint import RULES, lint_all
from rubricc.resolve import load_path
from rubricc.typecheck import check_program

CASES = sorted((Path(__file__).parent / "cases" / "lint").glob("*.rubric"))
SECTIONS = ("What it does", "Why it matters", "Example", "Use instead")


def expected_codes(path: Path) -> Counter[str]:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = re.fullmatch(r"#\s*expect:(.*)", first)
    assert match, f"{path.name} must start with `# expect: CODES`"
    return Counter(match.group(1).split())


def lint_file(path: Path):
    program = load_path(path)
    checked = check_program(program)
    assert program.ok, render_all(program.diagnostics, program.sources)
    return program, lint_all(checked)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(path: Path) -> None:
    program, found = lint_file(path)
    got = Counter(d.code for d in found)
    assert got == expected_codes(path), render_all(found, program.sources)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_diagnostics_are_complete(path: Path) -> None:
    program, found = lint_file(path)
    for d in found:
        assert d.span is not None and d.span.file == str(path)
        assert d.message and d.label and d.help, d
        assert d.severity in ("error", "warning")


def test_every_rule_has_cases_both_ways() -> None:
    positive = set().union(*(expected_codes(p) for p in CASES))
    clean_names = {p.stem for p in CASES if not expected_codes(p)}
    for rule in RULES:
        assert rule.CODE in positive, f"no case triggers {rule.CODE}"
        assert f"{rule.NAME}-ok" in clean_names, f"no clean case {rule.NAME}-ok.rubric"


@pytest.mark.parametrize("rule", RULES, ids=[r.__name__.rsplit(".", 1)[-1] for r in RULES])
def test_rule_shape(rule) -> None:
    assert re.fullmatch(r"L\d{3}", rule.CODE)
    assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.NAME)
    assert rule.__name__.rsplit(".", 1)[-1] == rule.NAME.replace("-", "_")
    assert callable(rule.check)
    doc = rule.__doc__ or ""
    positions = [doc.find(f"\n{s}:\n") for s in SECTIONS]
    assert -1 not in positions, f"{rule.CODE} lacks a section of {SECTIONS}"
    assert positions == sorted(positions), f"{rule.CODE}: sections out of order"
    assert len(re.findall(r"^\S[^\n]*:$", doc, re.M)) == len(SECTIONS), "exactly these sections"


def test_rules_are_unique_ordered_and_all_registered() -> None:
    codes = [r.CODE for r in RULES]
    assert codes == sorted(codes) and len(set(codes)) == len(codes)
    assert len({r.NAME for r in RULES}) == len(RULES)
    modules = [importlib.import_module(f"rubricc.lint.{m.name}")
               for m in pkgutil.iter_modules(rubricc.lint.__path__)]
    assert {m for m in modules if hasattr(m, "CODE")} == set(RULES)

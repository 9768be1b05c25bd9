"""`rubricc check`: compile every rubric found, lint it, run the tests written inside it, and probe
it for reward hacks on the rows of those tests (`rubricc.probes`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rubricc.checked_rubric import judge_items
from rubricc.diagnostics import Diagnostic, error, sort_key
from rubricc.isolation.pool import WorkerPool
from rubricc.packs import (
    MANIFEST,
    Pack,
    PackError,
    PackIndex,
    line_of,
    read_manifest,
    version_problems,
)
from rubricc.pipeline import build, front
from rubricc.probes import ProbeReport, run_probes
from rubricc.probes.findings import diagnostics as hack_diagnostics
from rubricc.probes.runner import rows_from_tests
from rubricc.resolve import project_root
from rubricc.rubric_tests import TestOutcome, run_tests
from rubricc.scorer import POOL_WARM_UP
from rubricc.source import Source


@dataclass
class FileReport:
    path: str
    rubrics: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    tests: list[TestOutcome] = field(default_factory=list)
    judge_calls: dict[str, int] = field(default_factory=dict)  # rubric -> judge calls per response
    per_criterion: dict[str, list[str]] = field(default_factory=dict)  # rubric -> its `judge each` items
    relative: dict[str, list[str]] = field(default_factory=dict)  # rubric -> its `judge relative` items
    sources: dict[str, Source] = field(default_factory=dict)
    probes: list[ProbeReport] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(d.is_error for d in self.diagnostics)

    @property
    def warnings(self) -> int:
        return sum(d.is_warning for d in self.diagnostics)

    @property
    def failed_tests(self) -> int:
        return sum(not t.passed for t in self.tests)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.failed_tests


@dataclass
class Report:
    files: list[FileReport]

    @property
    def ok(self) -> bool:
        return bool(self.files) and all(f.ok for f in self.files)

    def to_json(self) -> dict:
        return {"ok": self.ok, "files": [
            {"path": f.path, "rubrics": f.rubrics, "ok": f.ok,
             "diagnostics": [d.to_json() for d in f.diagnostics],
             "tests": [{"rubric": t.rubric, "name": t.name, "passed": t.passed,
                        "message": t.message} for t in f.tests],
             "judge_calls_per_response": f.judge_calls,
             "judge_each_items": {k: v for k, v in f.per_criterion.items() if v},
             "relative_items": {k: v for k, v in f.relative.items() if v},
             "probes": [p.to_json() for p in f.probes]}
            for f in self.files]}


def find_rubrics(paths: list[str | Path]) -> list[Path]:
    found: list[Path] = []
    for p in map(Path, paths):
        found += sorted(p.rglob("*.rubric")) if p.is_dir() else [p]
    return found


def check_file(path: Path, run: bool = True, pool: WorkerPool | None = None,
               judge=None, probes: bool = True) -> FileReport:
    """Check one file; `pool` lets several files' tests share one set of worker processes, and
    `judge` answers the judge items that a test does not pin and the judge probes. With `probes`,
    each rubric is probed for reward hacks on its tests' rows."""
    result = front(path)
    report = FileReport(str(path), [c.name for c in result.rubrics], result.diagnostics,
                        sources=result.program.sources)
    if not result.ok:
        return report
    for checked in result.rubrics:
        report.judge_calls[checked.name] = len([i for i in judge_items(checked)
                                                if i.kind in ("judge", "relative")])
        report.relative[checked.name] = [i.name for i in judge_items(checked) if i.kind == "relative"]
        report.per_criterion[checked.name] = [i.name for i in judge_items(checked) if i.kind == "each"]
        if run and checked.tests:
            scorer = build(checked)
            scorer.pool = pool
            try:
                report.tests += run_tests(scorer, result.program.sources, judge)
                if probes:
                    probed = run_probes(scorer, rows_from_tests(scorer), judge=judge)
                    report.probes.append(probed)
                    report.diagnostics = sorted(
                        [*report.diagnostics, *hack_diagnostics(probed, checked)], key=sort_key)
            finally:
                if pool is None:
                    scorer.close()
    return report


def check(paths: list[str | Path], run: bool = True, judge=None, probes: bool = True) -> Report:
    """Check every pack manifest and every `.rubric` file under `paths`; `run=False` skips the
    tests inside them (and the probes, which run on the tests' rows); `probes=False` skips the
    probes only."""
    with WorkerPool(warm_up=POOL_WARM_UP) as pool:
        manifests = [check_manifest(folder) for folder in find_packs(paths)]
        return Report(manifests + [check_file(p, run, pool, judge, probes) for p in find_rubrics(paths)])


def find_packs(paths: list[str | Path]) -> list[Path]:
    """The pack folders (those holding a manifest) at or under `paths`."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(m.parent for m in p.rglob(MANIFEST))
    return list(dict.fromkeys(found))


def check_manifest(folder: Path) -> FileReport:
    """N016 for a manifest that cannot be read, at its line; N014 for a version requirement
    that the packs visible from the pack's folder do not meet, at the requirement's line."""
    path = folder / MANIFEST
    source = Source(str(path), path.read_text(encoding="utf-8", errors="replace"))
    report = FileReport(str(path), sources={source.name: source})
    try:
        manifest = read_manifest(folder)
    except PackError as exc:
        report.diagnostics.append(error("N016", f"pack manifest: {exc.message}",
                                        _line_span(source, exc.line), "here",
                                        "the fields are described in docs/packs.md"))
        return report
    report.rubrics = [f"pack {manifest.name} {manifest.version}"]
    pack = Pack(manifest, folder, "checked")
    index = PackIndex(folder.parent, project_root(folder))
    for key, problem in version_problems(pack, index):
        report.diagnostics.append(error("N014", problem, _line_span(source, line_of(source.text, key)),
                                        "not met", "install a version in the range, or widen it"))
    return report


def _line_span(source: Source, line: int):
    """The whole of line `line` (from 1) of `source`, or its start when the line is unknown."""
    if not 1 <= line <= len(source.line_starts):
        return source.span(0, 0)
    start = source.line_starts[line - 1]
    return source.span(start, start + max(1, len(source.line_text(line))))

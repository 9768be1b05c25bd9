"""Packs: manifests checked as data (tests/cases/manifests/NAME/rubric-pack.toml, whose first line
says `# expect: CODES`), and the order in which a name finds its pack, installed ones included
(a real distribution on sys.path, found through importlib.metadata's entry points)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from rubricc.check_command import check_manifest
from rubricc.diagnostics import render_all
from rubricc.packs import MANIFEST, PackIndex
from rubricc.pipeline import front
from tests.conftest import ROOT

MANIFESTS = sorted((ROOT / "tests" / "cases" / "manifests").glob(f"*/{MANIFEST}"))
SNAPSHOTS = ROOT / "tests" / "snapshots" / "manifests"


def expected(path: Path) -> Counter[str]:
    match = re.fullmatch(r"#\s*expect:(.*)", path.read_text().split("\n", 1)[0])
    assert match, f"{path} must start with `# expect: CODES`"
    return Counter(match.group(1).replace(",", " ").split())


@pytest.mark.parametrize("path", MANIFESTS, ids=[p.parent.name for p in MANIFESTS])
def test_manifest_case(path: Path, snapshot) -> None:
    report = check_manifest(path.parent)
    rendered = render_all(report.diagnostics, report.sources).replace(f"{ROOT}/", "")
    assert Counter(d.code for d in report.diagnostics) == expected(path), rendered
    assert all(d.span is not None and d.span.file == str(path) for d in report.diagnostics)
    snapshot(SNAPSHOTS / f"{path.parent.name}.txt", rendered)


def pack(folder: Path, name: str, version: str, text: str = "short: words(response) < 5") -> Path:
    folder.mkdir(parents=True)
    (folder / MANIFEST).write_text(f'[pack]\nname = "{name}"\nversion = "{version}"\nrubrics = ["r"]\n')
    (folder / "r.rubric").write_text(f"rubric r {{ check {text} }}\n")
    return folder


def install(site: Path, dist: str, module: str, name: str, version: str) -> None:
    """A distribution as pip leaves it: a package holding the pack, and its entry point."""
    pack(site / module, name, version)
    (site / module / "__init__.py").write_text("")
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[rubricc.packs]\n{name} = {module}\n")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "rubricc.toml").write_text("")
    return tmp_path


def test_a_name_finds_the_first_pack_in_order_beside_project_installed_shipped(project, monkeypatch):
    site = project / "site"
    install(site, "rubricc-pack-math", "math_pack", "math", "5.0.0")
    monkeypatch.syspath_prepend(str(site))
    index = PackIndex(project, project)
    assert (index.find("math").pack.version, index.find("math").pack.origin) == \
        ("5.0.0", "installed (rubricc-pack-math 5.0.0)")  # installed before the shipped math
    pack(project / "packs" / "math", "math", "6.0.0")
    assert PackIndex(project, project).find("math").pack.origin == "the project's packs folder"
    pack(project / "math", "math", "7.0.0")
    assert PackIndex(project, project).find("math").pack.origin == "beside the rubric"
    assert PackIndex(project, project).find("format").pack.origin == "shipped with rubricc"


def test_two_installed_packs_of_one_name_are_ambiguous_and_both_are_named(project, monkeypatch):
    site = project / "site"
    install(site, "rubricc-pack-greet", "greet_a", "greet", "1.0.0")
    install(site, "greet-fork", "greet_b", "greet", "2.0.0")
    monkeypatch.syspath_prepend(str(site))
    (project / "main.rubric").write_text('import "greet/r" as g\nrubric main { include g.r }\n')
    [d] = front(project / "main.rubric").diagnostics
    assert d.code == "N013" and (d.span.line, d.span.col) == (1, 1)
    assert "installed (rubricc-pack-greet 1.0.0)" in d.message and "installed (greet-fork 2.0.0)" in d.message


def test_a_pack_import_scores_through_the_pack_and_names_it_in_the_provenance(project):
    pack(project / "packs" / "greet", "greet", "1.2.0", 'thanks: contains(lower(response), "thank")')
    (project / "main.rubric").write_text('import "greet/r" as g\nrubric main { include g.r }\n')
    import rubricc

    scorer = rubricc.compile(project / "main.rubric")
    assert scorer.score(responses=["Thank you", "no"]).total.tolist() == [1.0, 0.0]
    assert scorer.provenance["packs"] == {"greet": "1.2.0"}

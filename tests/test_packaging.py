"""The wheel carries every module, the grammar and every shipped pack (its rubrics, manifest and
card), so an installed rubricc works anywhere."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

from tests.conftest import ROOT, SHIPPED


def test_wheel_contains_every_module_the_grammar_and_packs(tmp_path):
    # from a copy without build/: setuptools reuses a stale build/lib, which hid a missing package
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        "build", ".venv*", ".git", "*.egg-info", "__pycache__", ".*_cache", "tests", "bench"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path),
                    str(source)], check=True, capture_output=True)
    [wheel] = tmp_path.glob("rubricc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "rubricc/grammar/rubric.lark" in names
    manifests = sorted((ROOT / "rubrics").glob("*/rubric-pack.toml"))
    cards = sorted((ROOT / "rubrics").glob("*/README.md"))
    assert manifests and cards
    for path in SHIPPED + manifests + cards:  # the packs, as `import "NAME/FILE"` finds them
        assert f"rubricc/rubrics/{path.relative_to(ROOT / 'rubrics').as_posix()}" in names
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "rubricc").rglob("*.py")}
    modules |= {f"rubricc/{p.relative_to(ROOT).as_posix()}" for p in (ROOT / "trainer").glob("*.py")}
    assert sorted(modules - names) == []  # a package missing from pyproject's list
    # the viewer's page and every asset it loads: nothing is fetched from the network
    assets = {p.relative_to(ROOT).as_posix() for p in (ROOT / "rubricc" / "view" / "static").rglob("*")
              if p.is_file()}
    assert assets and sorted(assets - names) == []
    assert not [n for n in names if n.startswith(("trainer/", "grammar/", "rubrics/"))]

"""Every shipped rubric folder is a pack: its manifest reads, names the folder, exports every rubric
file in it (each of which compiles), carries the highest version those files declare, and a
README.md pack card states that version."""

from __future__ import annotations

import re

import pytest
from packaging.version import Version

from rubricc.packs import MANIFEST, read_manifest
from rubricc.pipeline import front
from tests.conftest import ROOT

PACKS = sorted(p for p in (ROOT / "rubrics").iterdir() if p.is_dir() and p.name != "__pycache__")


def test_every_shipped_folder_is_a_pack():
    assert [p.name for p in PACKS] == ["arith", "code", "format", "healthbench", "ifeval", "math",
                                       "tools"]
    assert all((p / MANIFEST).is_file() for p in PACKS)


@pytest.mark.parametrize("folder", PACKS, ids=lambda p: p.name)
def test_manifest(folder):
    manifest = read_manifest(folder)
    assert manifest.name == folder.name
    assert sorted(manifest.rubrics) == sorted(p.stem for p in folder.glob("*.rubric"))
    assert manifest.license == "Apache-2.0"
    declared = [Version(v) for p in folder.glob("*.rubric")
                for v in re.findall(r'^\s*version\s+"([^"]+)"', p.read_text(encoding="utf-8"), re.M)]
    assert Version(manifest.version) == max(declared, default=Version("0.1.0")), \
        "the manifest's version is the highest its rubric files declare"
    for file in manifest.data:
        assert (folder / file).is_file(), file


@pytest.mark.parametrize("folder", PACKS, ids=lambda p: p.name)
def test_exported_rubrics_compile(folder):
    for file in read_manifest(folder).rubrics:
        result = front(folder / f"{file}.rubric")
        assert result.ok, [str(d) for d in result.diagnostics]


@pytest.mark.parametrize("folder", PACKS, ids=lambda p: p.name)
def test_pack_card(folder):
    manifest = read_manifest(folder)
    card = folder / "README.md"
    assert card.is_file(), f"write {card.relative_to(ROOT)}: the pack's card"
    head = card.read_text(encoding="utf-8")[:2000]
    assert f"`{manifest.name}` {manifest.version}" in head, "the card states the manifest's version"

"""The wheel carries the grammar and every shipped rubric, so an installed rubricc works anywhere."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from tests.conftest import ROOT, SHIPPED


def test_wheel_contains_grammar_and_rubrics(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path),
                    str(ROOT)], check=True, capture_output=True)
    [wheel] = tmp_path.glob("rubricc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "rubricc/grammar/rubric.lark" in names
    for path in SHIPPED:
        assert f"rubricc/rubrics/{path.relative_to(ROOT / 'rubrics').as_posix()}" in names
    assert not [n for n in names if n.startswith(("trainer/", "grammar/", "rubrics/"))]

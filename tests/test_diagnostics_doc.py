"""docs/diagnostics.md lists every diagnostic code that rubricc can emit."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = re.compile(r'"([PNTSLXDE][0-9]{3})"')


def codes_in_source() -> set[str]:
    return {code for path in (ROOT / "rubricc").rglob("*.py")
            for code in CODE.findall(path.read_text(encoding="utf-8"))}


def documented_codes() -> set[str]:
    text = (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    return set(re.findall(r"^### ([PNTSLXDE][0-9]{3})\b", text, re.M))


def test_every_code_has_a_heading() -> None:
    missing = sorted(codes_in_source() - documented_codes())
    assert not missing, f"add a `### CODE` section to docs/diagnostics.md for: {missing}"


def test_every_heading_is_a_real_code() -> None:
    stale = sorted(documented_codes() - codes_in_source())
    assert not stale, f"docs/diagnostics.md documents codes no module emits: {stale}"

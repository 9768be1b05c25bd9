"""Shared fixtures: the repository root, shipped rubrics, and a scorer cache closed at the end."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "rubrics").rglob("*.rubric"))
DATA = ROOT / "tests" / "data"  # public reference data (IFEval, Math-Verify); see SOURCE.md there


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT

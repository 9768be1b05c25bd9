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


# ---- snapshots ----------------------------------------------------------------------------------


def pytest_addoption(parser) -> None:
    parser.addoption("--update-snapshots", action="store_true", default=False,
                     help="rewrite the files under tests/snapshots/ instead of comparing with them")


@pytest.fixture
def snapshot(request):
    """`snapshot(path, text)`: assert that `text` is the file at `path` (a unified diff if not),
    or, under `--update-snapshots`, write `text` there."""
    import difflib

    update = request.config.getoption("--update-snapshots")

    def check(path: Path, text: str) -> None:
        text = text.rstrip("\n") + "\n"
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
            return
        where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        if not path.exists():
            pytest.fail(f"no snapshot {where}: rerun with --update-snapshots to write it")
        old = path.read_text(encoding="utf-8")
        if old != text:
            diff = "".join(difflib.unified_diff(old.splitlines(keepends=True),
                                                text.splitlines(keepends=True),
                                                f"{where} (snapshot)", f"{where} (now)"))
            pytest.fail(f"{where} differs from the snapshot:\n{diff}\n"
                        "if the change is intended, rerun with --update-snapshots and review "
                        "the diff in git", pytrace=False)

    return check

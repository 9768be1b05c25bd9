"""Where the grammar and the shipped rubric packs are, installed or in a checkout.

A wheel carries grammar/ and rubrics/ inside the package (pyproject maps them there at build
time); an editable install or a checkout finds them at the top of the repository.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """`grammar` or `rubrics`: the folder as installed, else as laid out in the repository."""
    installed = _PACKAGE / name
    return installed if installed.is_dir() else _PACKAGE.parent / name


def grammar_text() -> str:
    return (data_dir("grammar") / "rubric.lark").read_text(encoding="utf-8")

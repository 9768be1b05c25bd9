"""The import graph follows the layer table of docs/architecture.md: nothing imports upward.

Every import counts, a function-local or `TYPE_CHECKING` one too: a lazy import that reaches up
is still an arrow the wrong way, only hidden from the import-time cycle check.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = {"rubricc": ROOT / "rubricc", "rubricc.trainer": ROOT / "trainer"}


def layers() -> dict[str, int]:
    """Each unit (a top-level module, or a package written `name/`) -> its height."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    table = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "`" in line]
    height = {}
    for i, row in enumerate(reversed(rows)):  # the table is written highest first
        for unit in re.findall(r"`([^`]+)`", row.split("|")[2]):
            assert unit not in height, f"{unit} is in two layers"
            height[unit] = i
    return height


def unit_of(module: str) -> str | None:
    """`rubricc.lint.walk` -> `lint/`, `rubricc.values` -> `values`, `rubricc` -> `__init__`."""
    parts = module.split(".")
    if parts[0] != "rubricc":
        return None
    if parts[1:2] == ["trainer"]:
        return "trainer/__main__" if parts[2:] == ["__main__"] else "trainer/"
    if len(parts) == 1:
        return "__init__"
    if (ROOT / "rubricc" / parts[1]).is_dir():
        return f"{parts[1]}/"
    # `from rubricc import __version__` reads the package's __init__, not a module
    return parts[1] if (ROOT / "rubricc" / f"{parts[1]}.py").is_file() else "__init__"


def modules() -> list[tuple[str, Path]]:
    found = []
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found.append((".".join((package, *parts)), path))
    return found


def imported(module: str, path: Path) -> list[tuple[int, str]]:
    """(line, module) of every rubricc import in a file, `from rubricc import x` naming `rubricc.x`."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            found += [(node.lineno, f"{base}.{a.name}" if base == "rubricc" else base)
                      for a in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] == "rubricc"]


def test_the_table_names_every_module_once() -> None:
    height = layers()
    units = {unit_of(m) for m, _ in modules()}
    assert sorted(units - set(height)) == [], "modules missing from docs/architecture.md's layers"
    assert sorted(set(height) - units) == [], "the layer table names modules that do not exist"


def test_no_import_reaches_a_higher_layer() -> None:
    height = layers()
    upward = []
    for module, path in modules():
        here = unit_of(module)
        for line, name in imported(module, path):
            there = unit_of(name)
            if there is not None and height[there] > height[here]:
                upward.append(f"{path.relative_to(ROOT)}:{line}: {here} -> {there}")
    assert upward == []


@pytest.mark.parametrize("module, unit", [
    ("rubricc", "__init__"), ("rubricc.values", "values"), ("rubricc.lint.walk", "lint/"),
    ("rubricc.trainer.grpo", "trainer/"), ("rubricc.trainer.__main__", "trainer/__main__"),
    ("lark", None)])
def test_units(module: str, unit: str | None) -> None:
    assert unit_of(module) == unit


def test_an_upward_import_is_found(tmp_path) -> None:
    """The walk sees a lazy import inside a function, the kind that hides a cycle."""
    path = tmp_path / "values.py"
    path.write_text("def f():\n    from rubricc.scorer import Scorer\n    return Scorer\n")
    assert imported("rubricc.values", path) == [(2, "rubricc.scorer")]
    height = layers()
    assert height["scorer"] > height["values"]

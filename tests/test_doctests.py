"""Every example in a docstring of rubricc/ and trainer/ holds: the examples are documentation a
reader trusts, so each module's are run here (one place, every module, none forgotten)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import rubricc
from tests.conftest import ROOT

MODULES = sorted(m.name for m in pkgutil.walk_packages(rubricc.__path__, "rubricc.")
                 if not m.name.endswith("__main__"))
MODULES += sorted(f"trainer.{p.stem}" for p in (ROOT / "trainer").glob("*.py")
                  if p.stem not in ("__init__", "__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_hold(name: str) -> None:
    assert doctest.testmod(importlib.import_module(name)).failed == 0


def test_the_walk_finds_the_modules_with_examples() -> None:
    assert {"rubricc.fmt", "rubricc.backends.packing", "rubricc.builtins.mathx_verify",
            "rubricc.runtime.aggregate", "rubricc.backends.openai_compat"} <= set(MODULES)

"""The probe table: each probe is a function of a row's `Context` that yields hack responses.

A probe is registered with `@probe(CODE, NAME)` in the module of its family. Its docstring has the
four sections of a lint rule (What it does / Why it matters / Example / Use instead), from which
`docs/probes.md` is generated.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rubricc.probes.context import Context


@dataclass(frozen=True)
class Probe:
    code: str
    name: str
    family: str
    doc: str
    responses: Callable[[Context], Iterable[str]]
    needs_judge: bool = False
    escapes_only: bool = False
    """The probe is about making rows uncomputable: what its responses earn is not its business."""

    @property
    def title(self) -> str:
        """The docstring's first line: what the responses are."""
        return self.doc.splitlines()[0].rstrip(".")


REGISTERED: list[Probe] = []


def probe(code: str, name: str, needs_judge: bool = False, escapes_only: bool = False):
    """Register a probe function under `code` and `name`, in the family of its module."""

    def register(fn: Callable[[Context], Iterable[str]]):
        family = fn.__module__.rsplit(".", 1)[-1]
        REGISTERED.append(Probe(code, name, family, inspect.getdoc(fn) or "", fn, needs_judge,
                                escapes_only))
        return fn

    return register

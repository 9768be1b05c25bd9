"""Diagnostics are values: collected by every stage, then rendered once, in one format.

    error[N001]: unknown name `anwser`
     --> rubrics/math/answer.rubric:7:31
      |
    7 |     check correct: math_equal(final, anwser)
      |                                      ^^^^^^ not defined here
      |
    help: did you mean `answer`?

Codes are stable and grouped by stage: P (parse), N (names and imports), T (types),
S (structure of a rubric), L (lint), X (tests inside rubric files), D (data rows), and H for the
reward hacks that probes find (`rubricc.probes`, documented in docs/probes.md).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rubricc.source import Source, Span

ERROR, WARNING, HACK, NOTE = "error", "warning", "hack", "note"
"""A hack fails like an error; a note (a hack the rubric declares expected) is information."""


@dataclass(frozen=True)
class Diagnostic:
    code: str
    severity: str
    message: str
    span: Span | None
    label: str = ""
    help: str = ""

    @property
    def is_error(self) -> bool:
        return self.severity in (ERROR, HACK)

    @property
    def is_warning(self) -> bool:
        return self.severity == WARNING

    def to_json(self) -> dict[str, object]:
        where = self.span
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "file": where.file if where else None,
            "line": where.line if where else None,
            "col": where.col if where else None,
            "label": self.label,
            "help": self.help,
        }


def error(code: str, message: str, span: Span | None, label: str = "", help: str = "") -> Diagnostic:
    return Diagnostic(code, ERROR, message, span, label, help)


def warning(code: str, message: str, span: Span | None, label: str = "", help: str = "") -> Diagnostic:
    return Diagnostic(code, WARNING, message, span, label, help)


class CompileError(Exception):
    """Raised by the Python API when a rubric has errors; carries every diagnostic."""

    def __init__(self, diagnostics: list[Diagnostic], sources: Mapping[str, Source]):
        self.diagnostics = diagnostics
        self.sources = sources
        super().__init__(render_all(diagnostics, sources))


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A `help:` line suggesting the closest known name, or '' when nothing is close."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else ""


def render(d: Diagnostic, sources: Mapping[str, Source]) -> str:
    """One diagnostic in the rustc/ruff layout, with carets under the span."""
    head = f"{d.severity}[{d.code}]: {d.message}"
    if d.span is None:
        return head + (f"\nhelp: {d.help}" if d.help else "")
    out = [head, f" --> {d.span}"]
    source = sources.get(d.span.file)
    if source is not None:
        out += _snippet(d, source)
    if d.help:
        out.append(f"help: {d.help}")
    return "\n".join(out)


def _snippet(d: Diagnostic, source: Source) -> list[str]:
    span = d.span
    assert span is not None
    text = source.line_text(span.line)
    width = len(str(span.line))
    end_col = span.end_col if span.end_line == span.line else len(text) + 1
    carets = "^" * max(1, end_col - span.col)
    pad = " " * width
    lines = [f"{pad} |", f"{span.line} | {text}", f"{pad} | {' ' * (span.col - 1)}{carets} {d.label}".rstrip()]
    return lines + [f"{pad} |"] if d.help else lines


def render_all(diagnostics: Iterable[Diagnostic], sources: Mapping[str, Source]) -> str:
    return "\n\n".join(render(d, sources) for d in diagnostics)


def to_json(diagnostics: Iterable[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in diagnostics], indent=2)


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    s = d.span
    return (s.file, s.start, s.end, d.code) if s else ("", 0, 0, d.code)

"""The whole compiler in one straight line:

    source -> parse -> AST -> resolve -> type check -> lint -> lower -> passes -> codegen -> Scorer
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from rubricc import nodes as n
from rubricc.checked_rubric import Checked
from rubricc.codegen import generate
from rubricc.diagnostics import CompileError, Diagnostic, sort_key
from rubricc.lint import lint
from rubricc.lower import lower, lower_route
from rubricc.parser import deep_walks
from rubricc.passes import optimize
from rubricc.probes import declaration_diagnostics
from rubricc.resolve import Program, RubricScope, load_path, load_text
from rubricc.scorer import Scorer
from rubricc.typecheck import check_program


@dataclass
class Front:
    """Everything the front end learned about one file."""

    program: Program
    rubrics: list[Checked] = field(default_factory=list)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        # a routed rubric is checked on its own and as a route: report each finding once
        return sorted(set(self.program.diagnostics), key=sort_key)

    @property
    def ok(self) -> bool:
        return self.program.ok


def front(path_or_text: str | Path, name: str | None = None, locked: bool = True) -> Front:
    """Parse, resolve, type-check and lint a file (or rubric text); never raises on bad input.
    `locked=False` resolves packs as found, ignoring the project's rubricc.lock."""
    with deep_walks:  # every stage walks expressions, which the parser bounds
        program = load_program(path_or_text, name, locked)
        checked = check_program(program)
        program.diagnostics.extend(d for scope in program.scopes for d in declarations(scope))
        if program.ok:
            for rubric in checked:
                program.diagnostics.extend(lint(rubric))
    return Front(program, checked)


def declarations(scope: RubricScope) -> list[Diagnostic]:
    """The `expect hack` declarations' diagnostics of a rubric and its routes' rubrics."""
    found = declaration_diagnostics(scope.rubric)
    return found + [d for sub in scope.routes.values() for d in declarations(sub)]


def load_program(path_or_text: str | Path, name: str | None, locked: bool = True) -> Program:
    if isinstance(path_or_text, Path) or (
            "\n" not in str(path_or_text) and str(path_or_text).endswith(".rubric")):
        return load_path(path_or_text, locked)
    return load_text(str(path_or_text), name or "<string>")


def build(checked: Checked) -> Scorer:
    """Lower, optimize and generate code for one checked rubric."""
    routes = {k: build(sub) for k, sub in checked.routes.items()}
    with deep_walks:
        function = optimize(lower_route(checked) if routes else lower(checked))
        return Scorer(checked, function, generate(function), routes)


def compile(path_or_text: str | Path, rubric: str | None = None, name: str | None = None) -> Scorer:
    """Compile a `.rubric` file (or rubric text) to a batched `Scorer`.

    `rubric` picks one rubric when the file holds several. Raises `CompileError` with every
    diagnostic when the rubric has errors.
    """
    result = front(path_or_text, name)
    checked = choose(result, rubric)
    scorer = build(checked)
    scorer.sources = result.program.sources
    scorer.provenance = provenance(result.program, checked)
    return scorer


def choose(result: Front, rubric: str | None) -> Checked:
    """The one rubric of a file that compiled, or `rubric` of several; CompileError with every
    diagnostic when the file has errors, ValueError when the choice is missing or unknown."""
    if not result.ok:
        raise CompileError(result.diagnostics, result.program.sources)
    names = [c.name for c in result.rubrics]
    if rubric is None and len(names) > 1:
        raise ValueError(f"the file defines {len(names)} rubrics ({', '.join(names)}): "
                         "choose one (--name on the command line, rubric= in Python)")
    chosen = [c for c in result.rubrics if rubric in (None, c.name)]
    if not chosen:
        raise ValueError(f"no rubric named {rubric!r} (the file defines: {', '.join(names) or 'none'})")
    return chosen[0]


def provenance(program: Program, checked: Checked) -> dict:
    """What a reward was computed with: the rubric's name, its declared `version`, the SHA-256 of
    every source file it was compiled from (its own, its imports', its packs'; by content, so the
    same rubric anywhere has the same hash) and the version of each pack it imported by name."""
    version = next((m.value for m in checked.rubric.of_type(n.Meta) if m.key == "version"), None)
    files = sorted(hashlib.sha256(s.text.encode("utf-8", "surrogatepass")).hexdigest()
                   for s in program.sources.values())
    return {"rubric": checked.name, "version": version,
            "sha256": hashlib.sha256("".join(files).encode()).hexdigest(),
            "packs": {p.name: p.version for p in sorted(program.packs.values(), key=lambda p: p.name)}}

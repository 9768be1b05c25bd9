"""Resolve: load a file and the files it imports, and build each rubric's table of names.

The output is a `Program`: every parsed module, and for each rubric a `RubricScope` that knows its
inputs, bindings, definitions, templates and items in source order. Unknown and duplicate names,
import cycles and bad route targets are reported here; types are the next stage's business.

Rubrics are untrusted input, so an import is read only when it names a `.rubric` file inside the
project (`project_root`) or the shipped packs, compared by real path after symlinks and `..`.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from rubricc import nodes as n
from rubricc.diagnostics import Diagnostic, did_you_mean, error, warning
from rubricc.packs import (
    LOCK,
    Pack,
    PackError,
    PackIndex,
    lock_problem,
    read_lock,
    version_problems,
)
from rubricc.parser import deep_walks, parse_source
from rubricc.resources import data_dir
from rubricc.source import Source
from rubricc.walk import callee_path

IMPLICIT_INPUTS = ("prompt", "response", "messages")
RESERVED = {"score", "items", "checks", "judges", "none", "true", "false", "yes", "no"}


DEF_ROOT = "@"
"""`Field(Name("@FILE"), NAME)` as a callee: the definition NAME of the file FILE. Resolve writes
every call a file's own definitions make this way (`qualified`), so a definition's body means
the same wherever it is called from; no one can type it (`@` starts no name)."""


@dataclass
class Namespace:
    """What a file offers to the files that import it."""

    path: str
    defs: dict[str, n.Def] = field(default_factory=dict)
    templates: dict[str, n.Template] = field(default_factory=dict)
    rubrics: dict[str, n.Rubric] = field(default_factory=dict)
    imports: dict[str, Namespace] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)  # aliases whose import was reported as failing
    exports: set[str] | None = None  # a pack file's templates others may use (None: all)
    registry: dict[str, Namespace] = field(default_factory=dict, repr=False)
    """Every file of the program by name (one dict, shared): where `@FILE` callees point."""

    def owner(self, dotted: tuple[str, ...], local: frozenset[str] = frozenset()) -> Namespace | None:
        """The file whose definition `dotted` (`f`, `lib.f`) names, read from this file; None
        for a built-in, a name in `local` (a rubric's own definitions) or nothing at all."""
        if len(dotted) == 1 and dotted[0] in local:
            return None
        ns: Namespace | None = self
        for part in dotted[:-1]:
            ns = ns.imports.get(part) if ns is not None else None
        return ns if ns is not None and dotted[-1] in ns.defs else None


@dataclass
class RubricScope:
    rubric: n.Rubric
    namespace: Namespace
    inputs: dict[str, n.Input] = field(default_factory=dict)
    lets: dict[str, n.Let] = field(default_factory=dict)
    defs: dict[str, n.Def] = field(default_factory=dict)
    templates: dict[str, n.Template] = field(default_factory=dict)
    items: dict[str, n.Item] = field(default_factory=dict)
    routes: dict[str | None, RubricScope] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.rubric.name

    def find_def(self, dotted: tuple[str, ...]) -> n.Def | None:
        if dotted[0].startswith(DEF_ROOT):
            ns = self.namespace.registry.get(dotted[0][len(DEF_ROOT):])
            return ns.defs.get(dotted[1]) if ns is not None and len(dotted) == 2 else None
        if len(dotted) == 1:
            return self.defs.get(dotted[0]) or self.namespace.defs.get(dotted[0])
        ns = self.namespace.imports.get(dotted[0])
        return ns.defs.get(dotted[1]) if ns and len(dotted) == 2 else None

    def find_template(self, name: str) -> n.Template | None:
        """A template of this rubric or its file, or `ALIAS.NAME`, a file-level template of an
        imported file (of a pack: one its manifest exports)."""
        alias, _, inner = name.rpartition(".")
        if alias:
            ns = self.namespace.imports.get(alias)
            exported = ns is not None and (ns.exports is None or inner in ns.exports)
            return ns.templates.get(inner) if exported else None
        return self.templates.get(name) or self.namespace.templates.get(name)

    def template_names(self) -> list[str]:
        """Every template name `find_template` answers, for `did you mean`."""
        imported = [f"{a}.{t}" for a, ns in self.namespace.imports.items() for t in ns.templates
                    if ns.exports is None or t in ns.exports]
        return [*self.templates, *self.namespace.templates, *imported]


@dataclass
class Program:
    sources: dict[str, Source] = field(default_factory=dict)
    namespaces: dict[str, Namespace] = field(default_factory=dict)
    scopes: list[RubricScope] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    roots: tuple[Path, ...] = ()  # the folders imports may read: the project's and the packs'
    real_paths: dict[str, Path] = field(default_factory=dict)  # source name -> file, symlinks out
    packs: dict[str, Pack] = field(default_factory=dict)  # the packs imported by name
    indexes: dict[Path, PackIndex] = field(default_factory=dict, repr=False)  # by importing folder
    lock: dict[str, dict] | None | bool = False  # the project's rubricc.lock; False: not read yet

    def pack_index(self, folder: Path) -> PackIndex:
        if folder not in self.indexes:
            self.indexes[folder] = PackIndex(folder, self.roots[0])
        return self.indexes[folder]

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


def load_path(path: str | Path, locked: bool = True) -> Program:
    """The program of a file; `locked=False` ignores the project's rubricc.lock (`rubricc lock`
    resolves the packs as they are, to record them)."""
    path = Path(path)
    program = Program() if locked else Program(lock=None)
    try:
        text = read_rubric(path)
        real = path.resolve()
    except (OSError, UnicodeDecodeError, ValueError, RuntimeError) as exc:
        program.diagnostics.append(error("N005", f"cannot read {path}: {exc}", None))
        return program
    program.real_paths[str(path)] = real
    return _finish(program, Source(str(path), text))


PROJECT_MARKERS = ("pyproject.toml", ".git", "rubricc.toml")


def project_root(folder: Path) -> Path:
    """The nearest folder at or above `folder` that holds a project marker, else `folder`."""
    for candidate in (folder, *folder.parents):
        if any((candidate / marker).exists() for marker in PROJECT_MARKERS):
            return candidate
    return folder


def import_roots(main: str) -> tuple[Path, ...]:
    """Where the imports of the file (or text) named `main` may read: its project, the packs."""
    return (project_root(Path(main).parent.resolve()), data_dir("rubrics").resolve())


MAX_RUBRIC_BYTES = 4 * 1024 * 1024


def read_rubric(path: Path) -> str:
    """A rubric file's text; a device, a folder or a huge file is refused rather than read."""
    if not path.is_file():
        raise OSError(f"{path} is not a regular file")
    if path.stat().st_size > MAX_RUBRIC_BYTES:
        raise OSError(f"{path} is larger than {MAX_RUBRIC_BYTES // (1024 * 1024)} MiB")
    return path.read_text(encoding="utf-8")


def load_text(text: str, name: str = "<string>") -> Program:
    return _finish(Program(), Source(name, text))


def _finish(program: Program, source: Source) -> Program:
    program.roots = import_roots(source.name)
    ns = _load(program, source, stack=())
    if ns is not None:
        for rubric in ns.rubrics.values():
            program.scopes.append(build_scope(program, rubric, ns))
    return program


def _load(program: Program, source: Source, stack: tuple[str, ...]) -> Namespace | None:
    program.sources[source.name] = source
    parsed = parse_source(source)
    program.diagnostics.extend(parsed.diagnostics)
    if parsed.module is None:
        return None
    if not parsed.module.body:
        program.diagnostics.append(warning(
            "N011", "this file defines nothing", source.span(0, 0), "empty",
            "a rubric file holds `rubric`, `def`, `template` or `import` statements"))
    ns = Namespace(source.name, registry=program.namespaces)
    program.namespaces[source.name] = ns
    for decl in parsed.module.body:
        _declare_top(program, ns, decl, stack + (source.name,))
    with deep_walks:
        ns.defs = {name: qualified(d, ns) for name, d in ns.defs.items()}
    return ns


def qualified(node, ns: Namespace, local: frozenset[str] = frozenset()):
    """`node` with every call of a definition that `ns` sees (its own, its imports') written as
    an absolute `@FILE.NAME` callee, so that it finds the same definition from any rubric: an
    imported `f` that calls its file's `g`, or an included item (`include`) that calls one."""
    if isinstance(node, tuple):
        return tuple(qualified(x, ns, local) for x in node)
    if not isinstance(node, n.Node):
        return node
    changes = {f.name: qualified(getattr(node, f.name), ns, local)
               for f in dataclasses.fields(node) if f.name != "span"}
    if isinstance(node, n.Call):
        path = callee_path(node.callee)
        owner = ns.owner(path, local) if path else None
        if owner is not None:
            root = n.Name(DEF_ROOT + owner.path, node.callee.span)
            changes["callee"] = n.Field(root, path[-1], node.callee.span)
    return dataclasses.replace(node, **changes)


def _declare_top(program: Program, ns: Namespace, decl, stack: tuple[str, ...]) -> None:
    table = {n.Def: ns.defs, n.Template: ns.templates, n.Rubric: ns.rubrics, n.Import: ns.imports}
    key = decl.alias if isinstance(decl, n.Import) else decl.name
    if any(key in t for t in table.values()):
        program.diagnostics.append(error("N002", f"`{key}` is defined twice in this file",
                                         decl.span, "second definition"))
        return
    if isinstance(decl, n.Import):
        imported = _import(program, decl, stack)
        if imported is not None:
            ns.imports[decl.alias] = imported
        else:
            ns.failed.add(decl.alias)
    else:
        table[type(decl)][key] = decl


def _import(program: Program, decl: n.Import, stack: tuple[str, ...]) -> Namespace | None:
    if PACK_IMPORT.fullmatch(decl.path):
        return _import_pack(program, decl, stack)
    target = os.path.normpath(Path(stack[-1]).parent / decl.path)
    return _import_file(program, decl, stack, target)


PACK_IMPORT = re.compile(r"[a-z][a-z0-9_]*(/[A-Za-z0-9_]+)?")
"""`"math/answer"` (or a bare `"math"`, which N013 explains): a pack's rubric, not a file path."""


def _import_file(program: Program, decl: n.Import, stack: tuple[str, ...],
                 target: str) -> Namespace | None:
    try:
        real = Path(target).resolve()
    except (OSError, ValueError, RuntimeError) as exc:  # a NUL in the path, a symlink loop
        return _cannot_import(program, decl, type(exc).__name__, f"no readable file at {target}")
    refused = _refusal(program, target, real, len(stack))
    if refused:
        return _cannot_import(program, decl, *refused)
    if real in (program.real_paths.get(name) for name in stack):
        program.diagnostics.append(error("N004", f"import cycle: {' -> '.join(stack + (target,))}",
                                         decl.span, "imported again here"))
        return None
    loaded = next((name for name, p in program.real_paths.items() if p == real), None)
    if loaded is not None:
        return program.namespaces.get(loaded)
    try:
        text = read_rubric(real)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return _cannot_import(program, decl, type(exc).__name__, f"no readable file at {target}")
    program.real_paths[target] = real
    return _load(program, Source(target, text), stack)


MAX_IMPORT_DEPTH = 32  # each level is a few Python frames, and no real project nests so deep


def _refusal(program: Program, written: str, real: Path, depth: int) -> tuple[str, str] | None:
    """Why an import may not be read, as (label, help), or None: checked before it is opened."""
    if depth >= MAX_IMPORT_DEPTH:
        return "too deep", f"a chain of imports may be {MAX_IMPORT_DEPTH} files long"
    if not written.endswith(".rubric") or real.suffix != ".rubric":
        return "not a `.rubric` file", "only rubric files can be imported"
    if not any(real.is_relative_to(root) for root in program.roots):
        return "outside the project", (
            f"imports are read only inside {program.roots[0]} (the nearest folder above the "
            "rubric with pyproject.toml, .git or rubricc.toml) and the shipped rubric packs")
    return None


def _cannot_import(program: Program, decl: n.Import, label: str, help: str) -> None:
    program.diagnostics.append(error("N003", f"cannot import `{decl.path}`", decl.span, label, help))


def _import_pack(program: Program, decl: n.Import, stack: tuple[str, ...]) -> Namespace | None:
    """`import "PACK/RUBRIC" as NAME`: the exported rubric file of the pack found by name
    (`packs.PackIndex`), its version ranges met and, under a lock, its files as locked."""
    name, _, file = decl.path.partition("/")
    if not file or "/" in file or not name:
        program.diagnostics.append(error(
            "N013", f"`import \"{decl.path}\"`: a pack import names a pack and one of its rubrics",
            decl.span, "not PACK/RUBRIC", 'e.g. `import "math/answer" as m`; a file is imported '
            'by its path, ending in .rubric'))
        return None
    index = program.pack_index(Path(stack[-1]).parent.resolve())
    found = index.find(name)
    if found.pack is None:
        program.diagnostics.append(error("N013", f"`import \"{decl.path}\"`: {found.problem}",
                                         decl.span, "no such pack", found.help))
        return None
    pack = found.pack
    for _, problem in version_problems(pack, index):
        program.diagnostics.append(error("N014", problem, decl.span, "version conflict",
                                         "install a version in the range, or widen the range"))
    if program.lock is False:
        program.lock = _read_lock(program, decl)
    if program.lock is not None:
        problem = lock_problem(pack, program.lock)
        if problem:  # reported, and read on: its rubrics' names are not reported missing too
            program.diagnostics.append(error(
                "N015", problem, decl.span, "not the locked pack",
                f"restore the locked pack, or run `rubricc lock` to record this one ({LOCK})"))
    path = pack.rubric_path(file)
    if path is None:
        program.diagnostics.append(error(
            "N013", f"`import \"{decl.path}\"`: pack `{name}` {pack.version} has no rubric "
            f"`{file}`", decl.span, "not exported", did_you_mean(file, pack.manifest.rubrics)
            or f"its rubrics: {', '.join(pack.manifest.rubrics)}"))
        return None
    program.packs[pack.name] = pack
    program.roots = (*program.roots, pack.root.resolve())
    ns = _import_file(program, decl, stack, str(path))
    if ns is not None:
        ns.exports = set(pack.manifest.templates)
    return ns


def _read_lock(program: Program, decl: n.Import) -> dict[str, dict] | None:
    try:
        return read_lock(program.roots[0])
    except PackError as exc:
        program.diagnostics.append(error("N015", exc.message, decl.span, "unreadable lock",
                                         f"{exc.path}"))
        return None


def build_scope(program: Program, rubric: n.Rubric, ns: Namespace,
                routing: tuple[n.Rubric, ...] = ()) -> RubricScope:
    """A rubric's names; `routing` holds the rubrics whose routes led here, to stop cycles."""
    members = _expanded(program, rubric, ns, (rubric,))
    scope = RubricScope(dataclasses.replace(rubric, members=members), ns)
    tables = {n.Input: scope.inputs, n.Let: scope.lets, n.Def: scope.defs,
              n.Template: scope.templates}
    seen: dict[str, n.Node] = {}
    for member in members:
        name = getattr(member, "name", None)
        if not isinstance(member, INCLUDED):
            continue
        if isinstance(member, n.Input) and name in scope.inputs and scope.inputs[name] == member:
            continue  # the same input declared here and by an included rubric
        if name in RESERVED or name in IMPLICIT_INPUTS:
            program.diagnostics.append(error(
                "N006", f"`{name}` is a reserved name", member.span, "cannot be redefined",
                "choose another name, e.g. `total` or `answer_text`"))
            continue
        if name in seen and not isinstance(member, n.Template):
            unnamed_each = isinstance(member, n.JudgeEach) and member.alias is None
            program.diagnostics.append(error(
                "N002", f"`{name}` is defined twice in rubric `{rubric.name}`", member.span,
                "second definition",
                "name each `judge each` item: `judge each x in rows as other_criteria: ...`"
                if unnamed_each else f"the first is at {seen[name].span}"))
            continue
        seen[name] = member
        target = tables.get(type(member), scope.items)
        target[name] = member
    for route in rubric.of_type(n.Route):
        _resolve_route(program, scope, route, routing + (rubric,))
    return scope


INCLUDED = (n.Input, n.Let, n.Def, n.Template, *n.ITEM_TYPES)
"""What `include` brings: not the score, the tests, routes, `expect hack` lines or metadata."""


def _expanded(program: Program, rubric: n.Rubric, ns: Namespace,
              including: tuple[n.Rubric, ...]) -> tuple[n.Member, ...]:
    """A rubric's members with each `include` replaced by the included rubric's (expanded in
    turn), their calls of that file's definitions written absolute (`qualified`)."""
    members: list[n.Member] = []
    for member in rubric.members:
        if not isinstance(member, n.Include):
            members.append(member)
            continue
        found = _find_rubric(ns, member.target)
        written = ".".join(member.target)
        if found is None and member.target[0] in ns.failed:
            continue  # its import is already reported
        if found is None:
            known = list(ns.rubrics) + [f"{a}.{r}" for a, i in ns.imports.items() for r in i.rubrics]
            program.diagnostics.append(error(
                "N012", f"`include {written}`: no rubric named `{written}`", member.span,
                "nothing to include", did_you_mean(written, known)
                or "import its file first: `import \"path.rubric\" as NAME`, then `include NAME.RUBRIC`"))
            continue
        included, where = found
        problem = None
        if any(included is r for r in including):
            circle = " -> ".join(r.name for r in including + (included,))
            problem = f"includes go round in a circle: {circle}"
        elif included.of_type(n.Route):
            problem = f"`{written}` routes rows: it has no items to include"
        if problem is not None:
            program.diagnostics.append(error("N012", f"`include {written}`: {problem}", member.span,
                                             "cannot include", "include a rubric with items of its own"))
            continue
        local = frozenset(d.name for d in included.of_type(n.Def))
        with deep_walks:
            members += [m if where is ns else qualified(m, where, local)
                        for m in _expanded(program, included, where, including + (included,))
                        if isinstance(m, INCLUDED)]
    return tuple(members)


def _resolve_route(program: Program, scope: RubricScope, route: n.Route,
                   routing: tuple[n.Rubric, ...]) -> None:
    for arm in route.arms:
        if arm.key in scope.routes:
            label = "default" if arm.key is None else f'"{arm.key}"'
            program.diagnostics.append(error("N007", f"route case {label} appears twice",
                                             arm.span, "duplicate case"))
            continue
        if (arm.key is None and "default" in scope.routes) or (arm.key == "default" and None in scope.routes):
            program.diagnostics.append(error(
                "N007", 'route case "default" and the `default:` case both name their items '
                "`default.ITEM`", arm.span, "same names as another case",
                'rename the case: a task column value "default" cannot share its name with the '
                "fallback"))
            continue
        target = _find_rubric(scope.namespace, arm.target)
        if target is None:
            known = list(scope.namespace.rubrics) + [
                f"{a}.{r}" for a, ns in scope.namespace.imports.items() for r in ns.rubrics]
            program.diagnostics.append(error(
                "N008", f"no rubric named `{'.'.join(arm.target)}`", arm.span,
                "route target", did_you_mean(".".join(arm.target), known)))
            continue
        rubric, ns = target
        if any(rubric is r for r in routing):
            path = " -> ".join(r.name for r in routing + (rubric,))
            program.diagnostics.append(error("N010", f"routes go round in a circle: {path}",
                                             arm.span, "routes back", "a route must end in a rubric "
                                             "with items of its own"))
            continue
        scope.routes[arm.key] = build_scope(program, rubric, ns, routing)


def _find_rubric(ns: Namespace, dotted: tuple[str, ...]) -> tuple[n.Rubric, Namespace] | None:
    whole = ".".join(dotted)
    if whole in ns.rubrics:
        return ns.rubrics[whole], ns
    if dotted[0] in ns.imports:
        inner = ns.imports[dotted[0]]
        rest = ".".join(dotted[1:])
        if rest in inner.rubrics:
            return inner.rubrics[rest], inner
    return None

"""`rubricc pack new`, `rubricc pack list` and `rubricc lock`: make a distributable rubric pack,
list the packs a rubric can see, and record the packs a project imports (`rubricc/packs.py`).

docs/packs.md walks through all three, from a new pack to a locked training run.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from pathlib import Path

from rubricc.diagnostics import CompileError, Diagnostic
from rubricc.packs import (
    LOCK,
    MANIFEST,
    NAME,
    ORIGINS,
    Pack,
    PackError,
    PackIndex,
    rubricc_version,
    write_lock,
)
from rubricc.pipeline import front
from rubricc.resolve import project_root

# ---- pack new -----------------------------------------------------------------------------------


def new_pack(name: str, parent: Path, author: str | None = None) -> Path:
    """Write the pack `name` as a Python distribution in `parent/name`; its folder.

    The distribution `rubricc-pack-NAME` holds the package `rubricc_pack_NAME`, which is the pack
    (manifest, rubric, pack card) and which its entry point in the group `rubricc.packs` names, so
    `import "NAME/NAME"` finds it once it is installed."""
    if not NAME.match(name):
        raise ValueError(f"{name!r} is not a pack name: lowercase letters, digits and _, starting "
                         "with a letter (e.g. `greet` or `my_checks`)")
    folder = parent / name
    if folder.exists():
        raise ValueError(f"{folder} already exists: choose another name, or --dir for another "
                         "parent folder")
    files = scaffold(name, author if author is not None else _author())
    rubric = files[f"rubricc_pack_{name}/{name}.rubric"]
    problems = [d for d in front(rubric, f"{name}.rubric").diagnostics if d.is_error]
    if problems:  # a word the language reserves (`rubric`, `score`, ...) cannot name a rubric
        raise ValueError(f"{name!r} cannot name the pack's rubric: {problems[0].message}; "
                         "choose another name")
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def _author() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return "the pack's authors"


def _requires_rubricc() -> str:
    version = rubricc_version()
    return f">={version.major}.{version.minor}"


def scaffold(name: str, author: str) -> dict[str, str]:
    """The files of a new pack, by path inside its folder."""
    package = f"rubricc_pack_{name}"
    dist = f"rubricc-pack-{name.replace('_', '-')}"
    version = "0.1.0"
    description = f"The `{name}` rubric pack: the response greets the person in the `name` column"
    return {
        "pyproject.toml": f'''\
# The distribution of the rubric pack `{name}`: `pip wheel --no-deps -w dist .` builds it, and once
# it is installed, `import "{name}/{name}" as x` finds the pack by its entry point below.
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "{version}"  # keep equal to `version` in {package}/{MANIFEST}
description = "{description}"
readme = "{package}/README.md"
license = "Apache-2.0"
authors = [{{ name = "{author}" }}]
requires-python = ">=3.11"
dependencies = ["rubricc{_requires_rubricc()}"]

[project.entry-points."rubricc.packs"]
{name} = "{package}"

[tool.setuptools]
packages = ["{package}"]

[tool.setuptools.package-data]
{package} = ["*.rubric", "{MANIFEST}", "README.md"]
''',
        f"{package}/__init__.py": f'''\
"""The rubric pack `{name}`: its rubrics, manifest and card are the files beside this one
(rubricc finds them through the `rubricc.packs` entry point); there is no Python API."""
''',
        f"{package}/{MANIFEST}": f'''\
# The `{name}` pack (README.md is its pack card). Keep `version` equal to pyproject.toml's.
[pack]
name = "{name}"
version = "{version}"
description = "{description}"
license = "Apache-2.0"
authors = ["{author}"]
requires-rubricc = "{_requires_rubricc()}"
rubrics = ["{name}"]
templates = []
data = []
''',
        f"{package}/{name}.rubric": f'''\
# The rubric of the `{name}` pack. Edit it and keep its tests passing: `rubricc check .`
rubric {name} "The response greets the person in the `name` column by name" {{
    version "{version}"
    description "The response opens with `Hello, NAME` for the name in the `name` column."

    input name: text

    let greeted = extract(response, /^\\s*hello,\\s*([^!.,\\n]+)/i)  # none without a greeting

    gate greeting: greeted != none
    check right_name: normalized_equal(greeted, name)

    score = right_name

    test "a greeting by name passes" {{
        name = "Ada"
        response = "Hello, Ada! How can I help?"
        expect score == 1
    }}

    test "a greeting to someone else fails" {{
        name = "Ada"
        response = "Hello, Grace!"
        expect right_name == 0
        expect score == 0
    }}

    test "no greeting is gated" {{
        name = "Ada"
        response = "Ada, how can I help?"
        expect greeting == 0
        expect score == 0
    }}
}}
''',
        f"{package}/README.md": f'''\
# The `{name}` pack

| pack | `{name}` {version} (`{MANIFEST}`), Apache-2.0 |
| --- | --- |
| exports | `{name}` (`{name}.rubric`, rubric `{name}`): `import "{name}/{name}" as x`, then `include x.{name}` |
| scores | whether the response opens with `Hello, NAME` for the name in the `name` column |
| columns | `name` (the person to greet) |
| agreement | none measured yet: say here what the rubric was checked against, and how well it agrees |

## Columns

- `name: text`: the person the response should greet.
- `response`: as always.

## Items and score

- `greeting` (gate): the response opens with `Hello,` and a name.
- `right_name`: that name is the one in `name` (case and spacing aside). The score.

## Install

```sh
pip install {dist}
```

`rubricc pack list` shows where rubricc finds it; `rubricc lock` records its version and files in
the importing project's `{LOCK}`.
''',
    }


# ---- pack list ----------------------------------------------------------------------------------


@dataclass
class Listed:
    pack: Pack
    note: str = ""  # "" for the pack an import finds; else why not (shadowed, ambiguous)


@dataclass
class Listing:
    folder: Path
    project: Path
    packs: list[Listed]
    broken: dict[Path, PackError]


def list_packs(start: Path) -> Listing:
    """Every pack visible from `start` (a rubric file or a folder), in the order imports look."""
    folder = (start.parent if start.is_file() else start).resolve()
    project = project_root(folder)
    index = PackIndex(folder, project)
    found: dict[str, Pack] = {}
    listed = []
    for pack in index.all():
        first = found.setdefault(pack.name, pack)
        note = ""
        if first is not pack:
            if _level(first.origin) == _level(pack.origin):
                note = f"ambiguous: another `{pack.name}` at {first.root} ({first.origin})"
            else:
                note = f"shadowed by {first.root} ({first.origin})"
        listed.append(Listed(pack, note))
    return Listing(folder, project, listed, dict(index.broken))


def _level(origin: str) -> int:
    return next(i for i, o in enumerate(ORIGINS) if origin.startswith(o))


# ---- lock ---------------------------------------------------------------------------------------


@dataclass
class Locked:
    project: Path
    path: Path
    packs: list[Pack]
    rubrics: list[Path] = field(default_factory=list)


def lock(paths: list[str | Path]) -> list[Locked]:
    """Compile the front end of every rubric under `paths` and write, for each project they are
    in, `rubricc.lock` with the packs they import by name.

    The rubrics resolve ignoring an existing lock (a pack that differs from it is found, not
    refused); a lock is written only when every rubric of its project compiled."""
    rubrics = find_rubric_files(paths)
    if not rubrics:
        raise ValueError(f"no .rubric files under {' '.join(map(str, paths))}")
    projects: dict[Path, list[Path]] = {}
    for rubric in rubrics:
        projects.setdefault(project_root(rubric.parent.resolve()), []).append(rubric)
    resolved = {project: _resolve_project(files) for project, files in projects.items()}
    return [Locked(project, write_lock(project, packs), sorted(packs, key=lambda p: p.name), files)
            for (project, files), packs in zip(projects.items(), resolved.values())]


def _resolve_project(rubrics: list[Path]) -> list[Pack]:
    """The packs a project's rubrics import, or CompileError / ValueError: nothing is written."""
    packs: dict[str, tuple[Pack, Path]] = {}
    diagnostics: list[Diagnostic] = []
    sources = {}
    for rubric in rubrics:
        result = front(rubric, locked=False)
        if not result.ok:
            diagnostics += [d for d in result.diagnostics if d.is_error]
            sources |= result.program.sources
            continue
        for pack in result.program.packs.values():
            seen = packs.setdefault(pack.name, (pack, rubric))
            if seen[0].root.resolve() != pack.root.resolve():
                raise ValueError(
                    f"two packs named `{pack.name}` in one project: {seen[1]} imports "
                    f"{seen[0].version} at {seen[0].root} ({seen[0].origin}), {rubric} imports "
                    f"{pack.version} at {pack.root} ({pack.origin}); a lock holds one: nothing "
                    "written")
    if diagnostics:
        raise CompileError(diagnostics, sources)
    return [p for p, _ in packs.values()]


def find_rubric_files(paths: list[str | Path]) -> list[Path]:
    """The `.rubric` files named or under the folders named, leaving out hidden folders and
    virtual environments (an installed pack there is locked through its importer, not compiled
    as the project's own)."""
    found = []
    for path in map(Path, paths):
        if not path.is_dir():
            found.append(path)
            continue
        for rubric in sorted(path.rglob("*.rubric")):
            inside = rubric.relative_to(path).parts[:-1]
            skipped = any(part.startswith(".") or part == "__pycache__" for part in inside)
            skipped |= any((path.joinpath(*inside[:i + 1]) / "pyvenv.cfg").is_file()
                           for i in range(len(inside)))
            if not skipped:
                found.append(rubric)
    return found

"""Rubric packs: folders of rubrics with a manifest, found by name, checked against versions and
the project's lock.

A pack is a folder holding `rubric-pack.toml`:

    [pack]
    name = "math"
    version = "1.2.0"
    description = "Final answers checked with sympy"
    license = "Apache-2.0"
    authors = ["rubricc"]
    requires-rubricc = ">=0.1"
    rubrics = ["answer"]                 # answer.rubric: what `import "math/answer"` reads
    data = ["labels.jsonl"]              # files shipped beside the rubrics

    [dependencies]
    format = ">=1.0"

`import "math/answer" as m` looks for a pack named `math`, first found wins, in (`ORIGINS`): the
importing rubric's folder, the project's packs folder (`[packs] path` in rubricc.toml, default
`packs/`), the installed distributions that declare an entry point in the group `rubricc.packs`,
and the packs shipped with rubricc. Two packs of one name at the same level are ambiguous.
`rubricc lock` writes `rubricc.lock`: each pack's version, origin and the SHA-256 of each of its
files; with a lock present, a pack that differs from it is refused (N015).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rubricc.diagnostics import did_you_mean

MANIFEST = "rubric-pack.toml"
ENTRY_POINTS = "rubricc.packs"
LOCK = "rubricc.lock"
PROJECT_PACKS = "packs"
ORIGINS = ("beside the rubric", "the project's packs folder", "installed", "shipped with rubricc")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class Manifest(BaseModel):
    """The `[pack]` table of `rubric-pack.toml`, with its `[dependencies]`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str
    """Lowercase letters, digits and `_`, starting with a letter: what imports name."""
    version: str
    """A version as Python packaging reads it (`1.2.0`)."""
    description: str = ""
    license: str = ""
    authors: list[str] = []
    requires_rubricc: str = Field("", alias="requires-rubricc")
    """The rubricc versions the pack works with, as a specifier (`>=0.1,<2`)."""
    rubrics: list[str]
    """The rubric files it exports, without `.rubric`: `import "NAME/FILE"` reads these only."""
    templates: list[str] = []
    """File-level templates of its rubric files that other rubrics may use."""
    data: list[str] = []
    """Other files it ships (calibration labels, sample rows), relative to the pack's folder."""
    dependencies: dict[str, str] = {}
    """Other packs it imports, each with a version specifier."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError(f"{value!r} is not a pack name: lowercase letters, digits and _, "
                             "starting with a letter")
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        try:
            Version(value)
        except InvalidVersion:
            raise ValueError(f"{value!r} is not a version such as 1.2.0") from None
        return value

    @field_validator("requires_rubricc")
    @classmethod
    def _requires(cls, value: str) -> str:
        _specifier(value)
        return value

    @field_validator("dependencies")
    @classmethod
    def _dependencies(cls, value: dict[str, str]) -> dict[str, str]:
        for spec in value.values():
            _specifier(spec)
        return value


def _specifier(text: str) -> SpecifierSet:
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        raise ValueError(f"{text!r} is not a version range such as >=1.0,<2") from None


class PackError(ValueError):
    """A manifest that cannot be used, located at `path:line:col` (`line` 0 when unknown)."""

    def __init__(self, path: Path, message: str, line: int = 0, col: int = 0):
        super().__init__(f"{path}:{line}:{col}: {message}" if line else f"{path}: {message}")
        self.path, self.message, self.line, self.col = path, message, line, col


@dataclass(frozen=True)
class Pack:
    manifest: Manifest
    root: Path
    origin: str  # one of ORIGINS; "installed" with the distribution: "installed (rubricc-pack-x 1.0)"

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return self.manifest.version

    def rubric_path(self, file: str) -> Path | None:
        """The exported rubric file `file` (no suffix), or None when the pack does not export it."""
        return self.root / f"{file}.rubric" if file in self.manifest.rubrics else None

    def files(self) -> list[Path]:
        """Every file the pack contributes: its manifest, its rubric files, its data and README."""
        found = [self.root / MANIFEST, *sorted(self.root.rglob("*.rubric"))]
        found += [self.root / d for d in self.manifest.data]
        found += [p for p in (self.root / "README.md",) if p.is_file()]
        return list(dict.fromkeys(found))

    def hashes(self) -> dict[str, str]:
        """`sha256:...` of each file, by its path inside the pack."""
        return {p.relative_to(self.root).as_posix(): "sha256:" + hashlib.sha256(p.read_bytes()).hexdigest()
                for p in self.files() if p.is_file()}


def read_manifest(folder: Path) -> Manifest:
    """The folder's manifest, or a `PackError` at the line of the first problem."""
    path = folder / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as exc:
        raise PackError(path, f"cannot read the manifest: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", 0) or 0
        raise PackError(path, f"not valid TOML: {exc}", line, getattr(exc, "colno", 0) or 0) from None
    table = data.get("pack")
    if not isinstance(table, dict):
        raise PackError(path, "a manifest holds a [pack] table (name, version, rubrics, ...)", 1, 1)
    try:
        manifest = Manifest.model_validate(table | {"dependencies": data.get("dependencies", {})})
    except ValidationError as exc:
        error = exc.errors()[0]
        key = str(error["loc"][0]) if error["loc"] else "pack"
        key = {"requires_rubricc": "requires-rubricc"}.get(key, key)
        line = line_of(text, key)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            fields = [f.alias or name for name, f in Manifest.model_fields.items()]
            message = "not a manifest field" + (f" ({hint})" if (hint := did_you_mean(key, fields))
                                                 else f": the fields are {', '.join(fields)}")
        raise PackError(path, f"`{key}`: {message}", line, 1 if line else 0) from None
    for file in manifest.rubrics:
        if not (folder / f"{file}.rubric").is_file():
            raise PackError(path, f"`rubrics` lists {file!r}, but {file}.rubric is not in the pack",
                            line_of(text, "rubrics"), 1)
    return manifest


def line_of(text: str, key: str) -> int:
    """The line where `key = ...` is set, else the `[dependencies]` or `[pack]` header."""
    for pattern in (rf"^[ \t]*{re.escape(key)}[ \t]*=", rf"^[ \t]*\[{re.escape(key)}\]",
                    r"^[ \t]*\[pack\]"):
        found = re.search(pattern, text, re.M)
        if found:
            return text.count("\n", 0, found.start()) + 1
    return 0


# ---- finding packs ------------------------------------------------------------------------------


@dataclass
class Found:
    """What one name finds: the pack, or why there is none (`problem`, with the packs seen)."""

    pack: Pack | None
    problem: str = ""
    help: str = ""


class PackIndex:
    """The packs visible from one rubric's folder and project, by level (`ORIGINS`)."""

    def __init__(self, rubric_folder: Path, project: Path, packs_folder: Path | None = None):
        here, in_project = ORIGINS[0], ORIGINS[1]
        self.levels: list[list[tuple[Path, str]]] = [
            [(f, here) for f in _subfolders(rubric_folder)],
            [(f, in_project) for f in _subfolders(packs_folder or project_packs(project))],
            _installed(),
            [(f, ORIGINS[3]) for f in _subfolders(_shipped())],
        ]
        self.broken: dict[Path, PackError] = {}

    def find(self, name: str) -> Found:
        for level in self.levels:
            matches = []
            for folder, origin in level:
                try:
                    manifest = read_manifest(folder)
                except PackError as exc:
                    self.broken[folder] = exc
                    if folder.name == name:
                        where = f"{exc.path}:{exc.line}" if exc.line else str(exc.path)
                        return Found(None, f"the pack `{name}` ({origin}) has a bad manifest: "
                                           f"{exc.message}", f"fix {where}")
                    continue
                if manifest.name == name:
                    matches.append(Pack(manifest, folder, origin))
            if len(matches) > 1:
                where = "; ".join(f"{p.version} at {p.root} ({p.origin})" for p in matches)
                return Found(None, f"two packs named `{name}`: {where}",
                             "keep one: uninstall or rename the other")
            if matches:
                return Found(matches[0])
        return Found(None, f"no pack named `{name}`",
                     f"looked {', '.join(ORIGINS)}; the packs seen: "
                     f"{', '.join(sorted(self.names())) or 'none'}")

    def names(self) -> set[str]:
        return {p.name for p in self.all()}

    def all(self) -> list[Pack]:
        """Every readable pack, first found first (a later one of the same name is shadowed)."""
        packs = []
        for level in self.levels:
            for folder, origin in level:
                try:
                    packs.append(Pack(read_manifest(folder), folder, origin))
                except PackError as exc:
                    self.broken[folder] = exc
        return packs


def project_packs(project: Path) -> Path:
    """The project's packs folder: `[packs] path` of its rubricc.toml, else `packs/`."""
    config = project / "rubricc.toml"
    if config.is_file():
        try:
            table = tomllib.loads(config.read_text(encoding="utf-8")).get("packs", {})
        except (OSError, tomllib.TOMLDecodeError):
            table = {}
        if isinstance(table, dict) and isinstance(table.get("path"), str):
            return project / table["path"]
    return project / PROJECT_PACKS


def _subfolders(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if (p / MANIFEST).is_file())


def _shipped() -> Path:
    from rubricc.resources import data_dir

    return data_dir("rubrics")


def _installed() -> list[tuple[Path, str]]:
    """The folder of each installed distribution's `rubricc.packs` entry point (a package that
    holds a manifest), with the distribution's name and version as its origin."""
    found = []
    for entry in _entry_points():
        try:
            spec = importlib.util.find_spec(entry.module)
        except (ImportError, ValueError):
            continue
        if spec is None or not spec.submodule_search_locations:
            continue
        folder = Path(next(iter(spec.submodule_search_locations)))
        if (folder / MANIFEST).is_file():
            dist = entry.dist
            found.append((folder, f"installed ({dist.name} {dist.version})" if dist else "installed"))
    return found


def _entry_points():
    return importlib.metadata.entry_points(group=ENTRY_POINTS)


@functools.lru_cache(maxsize=1)
def rubricc_version() -> Version:
    """The installed rubricc's version, as its distribution declares it."""
    return Version(importlib.metadata.version("rubricc"))


def version_problems(pack: Pack, index: PackIndex) -> list[tuple[str, str]]:
    """Why `pack` cannot be used here, as (the manifest key at fault, message): rubricc's version
    outside its `requires-rubricc`, or a dependency missing or outside its range (both named)."""
    problems = []
    wanted = pack.manifest.requires_rubricc
    if wanted and rubricc_version() not in SpecifierSet(wanted):
        problems.append(("requires-rubricc", f"pack `{pack.name}` {pack.version} requires rubricc "
                         f"{wanted}, and this is rubricc {rubricc_version()}"))
    for name, spec in pack.manifest.dependencies.items():
        found = index.find(name)
        if found.pack is None:
            problems.append((name, f"pack `{pack.name}` {pack.version} requires `{name}` {spec}: "
                                   f"{found.problem}"))
        elif Version(found.pack.version) not in SpecifierSet(spec):
            problems.append((name, f"pack `{pack.name}` {pack.version} requires `{name}` {spec}, "
                                   f"but `{name}` {found.pack.version} is found "
                                   f"({found.pack.origin}, {found.pack.root})"))
    return problems


# ---- the lock -----------------------------------------------------------------------------------


def lock_entry(pack: Pack) -> dict:
    return {"name": pack.name, "version": pack.version, "origin": pack.origin,
            "files": pack.hashes()}


def write_lock(project: Path, packs: list[Pack]) -> Path:
    path = project / LOCK
    entries = sorted((lock_entry(p) for p in {p.name: p for p in packs}.values()),
                     key=lambda e: e["name"])
    path.write_text(json.dumps({"lock-version": 1, "packs": entries}, indent=2) + "\n",
                    encoding="utf-8")
    return path


def read_lock(project: Path) -> dict[str, dict] | None:
    """The project's lock by pack name, or None when it has none."""
    path = project / LOCK
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {e["name"]: e for e in data["packs"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PackError(path, f"not a rubricc lock ({exc}): delete it and run `rubricc lock`") from None


def lock_problem(pack: Pack, locked: dict[str, dict]) -> str:
    """How `pack` differs from the lock, or ''."""
    entry = locked.get(pack.name)
    if entry is None:
        return f"pack `{pack.name}` {pack.version} ({pack.origin}) is not in {LOCK}"
    if entry["version"] != pack.version:
        return (f"pack `{pack.name}`: {LOCK} has version {entry['version']}, found "
                f"{pack.version} ({pack.origin}, {pack.root})")
    found = pack.hashes()
    changed = sorted(f for f in set(found) | set(entry["files"])
                     if found.get(f) != entry["files"].get(f))
    if changed:
        first = changed[0]
        return (f"pack `{pack.name}` {pack.version} differs from {LOCK}: {len(changed)} file(s) "
                f"changed, e.g. {first}: locked {entry['files'].get(first, 'absent')[:19]}..., "
                f"found {found.get(first, 'absent')[:19]}...")
    return ""

"""A pack travels as a wheel: docs/packs.md, run.

Every ```sh block of docs/packs.md runs, in order and in one bash shell, in a fresh virtual
environment (`python -m venv --system-site-packages`, which sees this environment's rubricc and
its dependencies) where `python`, `pip` and `rubricc` are that environment's: `rubricc pack new
greet`, `rubricc check` on it, `pip wheel --no-deps --no-build-isolation`, `pip install` of the
wheel, a project that imports `greet/greet` by name and scores rows, `rubricc pack list`,
`rubricc lock`, the installed pack's rubric edited inside site-packages, `check`, `score` and
`train` refused with N015, and `rubricc lock` again. Offline: pip is run with no index.
The test then checks what each step left behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from rubricc.cli import main
from rubricc.diagnostics import CompileError
from rubricc.pack_commands import find_rubric_files, list_packs, lock, new_pack, scaffold
from rubricc.packs import LOCK, read_manifest
from rubricc.pipeline import front
from tests.conftest import ROOT

PAGE = ROOT / "docs" / "packs.md"
FAILING = "<!-- docs-test: each command exits 1 -->"
BLOCK = re.compile(r"(?:(<!--[^\n]*-->)\n)?```sh\n(.*?)```", re.S)


def blocks() -> list[tuple[bool, str]]:
    """(must fail, text) of each ```sh block of the page, in order."""
    found = []
    for marker, text in BLOCK.findall(PAGE.read_text()):
        assert marker in ("", FAILING), f"unknown marker {marker}"
        found.append((marker == FAILING, text))
    return found


def script(steps: list[tuple[bool, str]]) -> str:
    """One bash script: a block that must succeed stops it on any failed command (`set -e`); in
    a block that must fail, each line is one command that must exit 1."""
    lines = ["exec 2>&1", "set -euo pipefail"]
    for i, (fails, text) in enumerate(steps):
        if not fails:
            lines += [f"echo '@@ block {i}'", text]
            continue
        for j, command in enumerate(text.strip().splitlines()):
            lines += [f"echo '@@ block {i} command {j}'", "set +e", command, "rc=$?", "set -e",
                      f"[ $rc -eq 1 ] || {{ echo '@@ exit '$rc' from: '{quote(command)}; exit 97; }}"]
    return "\n".join(lines) + "\necho '@@ done'\n"


def quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def make_venv(folder: Path) -> Path:
    """A fresh environment that sees this one's packages; the bin folder with `rubricc` in it."""
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    str(folder)], check=True, capture_output=True)
    python = folder / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # --system-site-packages reaches the base interpreter's packages; when the tests run in a
    # virtual environment (.venv), rubricc, pip and the dependencies are in that one's instead
    (Path(site) / "_parent_env.pth").write_text(
        f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    launcher = folder / "bin" / "rubricc"  # what `pip install rubricc` puts there
    launcher.write_text(f'#!/bin/sh\nexec "{python}" -m rubricc.cli "$@"\n')
    launcher.chmod(0o755)
    check = subprocess.run([python, "-c", "import rubricc, sys; print(sys.prefix)"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert Path(check.stdout.strip()) == folder
    return folder / "bin"


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def flat(text: str) -> str:
    """Rich wraps messages at its width: compare with runs of white space as one space."""
    return " ".join(text.split())


def test_the_packs_page_runs_from_a_new_pack_to_a_refused_training_run(tmp_path):
    bin_folder = make_venv(tmp_path / "venv")
    work = tmp_path / "work"
    work.mkdir()
    outer = str(Path(sys.executable).parent)
    path = [bin_folder.as_posix()] + [p for p in os.environ["PATH"].split(os.pathsep) if p != outer]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "RUBRICC_"))}
    env |= {"PATH": os.pathsep.join(path), "VIRTUAL_ENV": str(tmp_path / "venv"),
            "PIP_NO_INDEX": "1", "PIP_NO_CACHE_DIR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PYTHONDONTWRITEBYTECODE": "1"}
    steps = blocks()
    assert sum(fails for fails, _ in steps) == 1 and len(steps) >= 8
    ran = subprocess.run(["bash", "-c", script(steps)], cwd=work, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=240)
    assert ran.returncode == 0 and "@@ done" in ran.stdout, ran.stdout[-6000:]
    parts = dict(re.findall(r"@@ (block \d+(?: command \d+)?)\n(.*?)(?=@@ |\Z)", ran.stdout, re.S))

    def said(command: str, failing: bool = False) -> str:
        """What the first block holding `command` printed (with `failing`, the command itself, in
        the block that must fail)."""
        i = next(i for i, (fails, text) in enumerate(steps) if fails == failing and command in text)
        if not failing:
            return parts[f"block {i}"]
        j = next(j for j, line in enumerate(steps[i][1].strip().splitlines()) if command in line)
        return parts[f"block {i} command {j}"]

    # the scaffold passed check, and the wheel holds the pack and its entry point
    assert "3/3" in said("rubricc check greet/rubricc_pack_greet")
    wheel = work / "dist" / "rubricc_pack_greet-0.1.0-py3-none-any.whl"
    assert wheel.is_file()
    installed = next((tmp_path / "venv" / "lib").glob("python*/site-packages/rubricc_pack_greet"))
    assert sorted(p.name for p in installed.iterdir() if p.suffix != ".pyc" and p.is_file()) == [
        "README.md", "__init__.py", "greet.rubric", "rubric-pack.toml"]

    # the project imported it by name and scored the rows
    hello = work / "hello"
    scored = [json.loads(line) for line in (hello / "scored.jsonl").read_text().splitlines()]
    assert [row["reward"] for row in scored] == [1.0, 0.0, 0.0]
    assert scored[2]["status"]["right_name"] == "skipped"

    # pack list saw the installed pack, found by its entry point
    listed = flat(said("rubricc pack list"))
    assert "greet" in listed and "installed (rubricc-pack-greet 0.1.0)" in listed

    # the first lock recorded the installed pack, as built; the last one, as edited
    original = sha256(work / "greet" / "rubricc_pack_greet" / "greet.rubric")
    edited = sha256(installed / "greet.rubric")
    assert original != edited
    assert "installed (rubricc-pack-greet 0.1.0)" in flat(said("rubricc lock"))
    [entry] = json.loads((hello / "rubricc.lock").read_text())["packs"]
    assert entry["name"] == "greet" and entry["version"] == "0.1.0"
    assert entry["origin"] == "installed (rubricc-pack-greet 0.1.0)"
    assert entry["files"]["greet.rubric"] == edited
    assert set(entry["files"]) == {"rubric-pack.toml", "greet.rubric", "README.md"}

    # check, score and train refused the edited pack, naming it and both hashes, and the fix
    for command in ("rubricc check", "rubricc score", "rubricc train"):
        refused = flat(said(command, failing=True))
        assert "error[N015]: pack `greet` 0.1.0 differs from rubricc.lock" in refused, refused
        assert f"locked {original[:19]}..., found {edited[:19]}..." in refused, refused
        assert "run `rubricc lock` to record this one" in refused, refused
    assert not (hello / "rescored.jsonl").exists()

    # the page shows the refusal as this test saw it
    shown = re.search(r"```text\n(error\[N015\].*?)\n", PAGE.read_text()).group(1)
    assert shown in flat(said("rubricc check", failing=True))

    # and after `rubricc lock`, check passed again (the last block)
    assert "1/1" in parts[f"block {len(steps) - 1}"]


# ---- the commands, in process -------------------------------------------------------------------


def write_pack(folder: Path, name: str, version: str = "1.0.0", rubric: str = "polite") -> Path:
    folder.mkdir(parents=True)
    (folder / "rubric-pack.toml").write_text(
        f'[pack]\nname = "{name}"\nversion = "{version}"\nrubrics = ["{rubric}"]\n')
    (folder / f"{rubric}.rubric").write_text(
        f'rubric {rubric} {{ check thanks: contains(lower(response), "thanks") }}\n')
    return folder


def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "rubricc.toml").write_text("")
    return root


def test_pack_new_refuses_a_bad_name_and_an_existing_folder(tmp_path):
    for bad in ("Greet", "1greet", "my-pack", ""):
        with pytest.raises(ValueError, match="is not a pack name"):
            new_pack(bad, tmp_path)
    (tmp_path / "greet").mkdir()
    with pytest.raises(ValueError, match="already exists"):
        new_pack("greet", tmp_path)
    assert list((tmp_path / "greet").iterdir()) == []
    assert main(["pack", "new", "greet", "--dir", str(tmp_path)]) == 1


def test_the_scaffold_is_a_pack_and_a_distribution_of_one_version(tmp_path):
    folder = new_pack("my_checks", tmp_path, author="Ada")
    project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    package = folder / "rubricc_pack_my_checks"
    manifest = read_manifest(package)
    assert project["name"] == "rubricc-pack-my-checks"
    assert project["version"] == manifest.version == "0.1.0"
    assert project["entry-points"]["rubricc.packs"] == {"my_checks": "rubricc_pack_my_checks"}
    assert manifest.name == "my_checks" and manifest.rubrics == ["my_checks"]
    assert manifest.authors == ["Ada"] and manifest.requires_rubricc
    assert (package / "README.md").is_file() and (package / "__init__.py").is_file()
    assert set(scaffold("greet", "x")) == {str(p.relative_to(tmp_path / "my_checks")).replace(
        "my_checks", "greet") for p in folder.rglob("*") if p.is_file()}


def test_pack_list_marks_shadowed_and_ambiguous_packs_and_lists_broken_ones(tmp_path):
    root = project(tmp_path)
    write_pack(root / "packs" / "math", "math", "9.0.0", "answer")  # shadows the shipped math
    write_pack(root / "packs" / "twin_a", "twin")
    write_pack(root / "packs" / "twin_b", "twin", "2.0.0")
    broken = write_pack(root / "packs" / "broken", "broken")
    (broken / "rubric-pack.toml").write_text('[pack]\nname = "broken"\nversion = "one"\n'
                                             'rubrics = ["polite"]\n')
    listing = list_packs(root)
    notes = {(p.pack.name, p.pack.origin): p.note for p in listing.packs}
    assert notes[("math", "the project's packs folder")] == ""
    assert notes[("math", "shipped with rubricc")].startswith("shadowed by ")
    twins = [p.note for p in listing.packs if p.pack.name == "twin"]
    assert twins[0] == "" and twins[1].startswith("ambiguous: another `twin`")
    [(folder, problem)] = listing.broken.items()
    assert folder == broken and problem.line == 3 and "`version`" in problem.message
    assert listing.project == root


def test_lock_ignores_the_old_lock_and_keeps_it_when_it_fails(tmp_path, capsys):
    root = project(tmp_path)
    pack = write_pack(root / "packs" / "greet", "greet")
    (root / "main.rubric").write_text('import "greet/polite" as g\nrubric r { include g.polite }\n')
    assert main(["lock", str(root)]) == 0
    assert "the project's packs folder" in capsys.readouterr().out
    first = (root / LOCK).read_text()
    assert json.loads(first)["packs"][0]["origin"] == "the project's packs folder"

    (pack / "polite.rubric").write_text('rubric polite { check thanks: contains(response, "ty") }\n')
    assert [d.code for d in front(root / "main.rubric").diagnostics if d.is_error][0] == "N015"
    [locked] = lock([root])  # the changed pack is found, not refused by the lock it replaces
    assert locked.path == root / LOCK and [p.name for p in locked.packs] == ["greet"]
    second = (root / LOCK).read_text()
    assert second != first and front(root / "main.rubric").ok

    (root / "typo.rubric").write_text("rubric t { check x: nope(response) }\n")
    with pytest.raises(CompileError):
        lock([root])
    assert (root / LOCK).read_text() == second
    assert main(["lock", str(root)]) == 1
    assert "nothing written" in capsys.readouterr().err
    assert (root / LOCK).read_text() == second


def test_lock_refuses_two_packs_of_one_name_in_one_project(tmp_path):
    root = project(tmp_path)
    for side, version in (("a", "1.0.0"), ("b", "2.0.0")):
        write_pack(root / side / "greet", "greet", version)
        (root / side / "main.rubric").write_text(
            'import "greet/polite" as g\nrubric r { include g.polite }\n')
    with pytest.raises(ValueError, match="two packs named `greet` in one project"):
        lock([root])
    assert not (root / LOCK).exists()


def test_lock_leaves_out_hidden_folders_and_virtual_environments(tmp_path):
    for where in ("a.rubric", "sub/b.rubric", ".git/c.rubric", "venv/lib/d.rubric",
                  "sub/__pycache__/e.rubric"):
        (tmp_path / where).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / where).write_text("")
    (tmp_path / "venv" / "pyvenv.cfg").write_text("")
    assert [p.relative_to(tmp_path).as_posix() for p in find_rubric_files([tmp_path])] == [
        "a.rubric", "sub/b.rubric"]

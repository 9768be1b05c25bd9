"""A damaged verdict cache does not stop a run: the files in tests/cases/attacks/runtime/cache/ are
a verdict cache cut to half its length, its first 100 bytes, and 4 KB of random bytes."""

import shutil
import warnings
from pathlib import Path

import pytest

from rubricc.backends import cache
from rubricc.backends.cache import CachedJudge, CacheWarning
from rubricc.judges import JudgeRequest

DAMAGED = Path(__file__).parent / "cases" / "attacks" / "runtime" / "cache"
FILES = sorted(p.name for p in DAMAGED.glob("*.sqlite"))
REQUESTS = [JudgeRequest("polite", "Is polite", "Hi?", f"Hello number {i}!") for i in range(20)]


class CountingJudge:
    def __init__(self) -> None:
        self.asked = 0

    def judge(self, requests: list[JudgeRequest]) -> list[float]:
        self.asked += len(requests)
        return [0.25 for _ in requests]


def damaged_cache(tmp_path: Path, name: str) -> Path:
    path = tmp_path / "verdicts.db"
    shutil.copy(DAMAGED / name, path)
    return path


def test_the_damaged_files_are_there() -> None:
    assert FILES == ["header_only.sqlite", "random.sqlite", "truncated.sqlite"]


@pytest.mark.parametrize("name", FILES)
def test_a_damaged_cache_is_moved_aside_with_one_warning_and_a_fresh_one_used(tmp_path, name) -> None:
    path = damaged_cache(tmp_path, name)
    inner = CountingJudge()
    with pytest.warns(CacheWarning, match=f"{path}.*damaged.*moved it to verdicts.db.corrupt-") as caught:
        judge = CachedJudge(inner, "counting", path)
        assert judge.judge(REQUESTS) == [0.25] * len(REQUESTS)
        assert judge.judge(REQUESTS) == [0.25] * len(REQUESTS)
    assert len(caught) == 1
    assert inner.asked == len(REQUESTS) and judge.account["cache_hits"] == len(REQUESTS)
    [aside] = tmp_path.glob("verdicts.db.corrupt-*[0-9]")
    assert aside.read_bytes() == (DAMAGED / name).read_bytes()


@pytest.mark.parametrize("name", FILES)
def test_the_fresh_cache_serves_the_next_run_without_a_warning(tmp_path, name) -> None:
    path = damaged_cache(tmp_path, name)
    with pytest.warns(CacheWarning):
        CachedJudge(CountingJudge(), "counting", path).judge(REQUESTS)
    inner = CountingJudge()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert CachedJudge(inner, "counting", path).judge(REQUESTS) == [0.25] * len(REQUESTS)
    assert inner.asked == 0


def test_when_no_fresh_cache_can_be_made_the_run_goes_on_without_one(tmp_path, monkeypatch) -> None:
    path = damaged_cache(tmp_path, "random.sqlite")

    def refuse(path, opened):
        raise PermissionError(f"cannot rename {path}")

    monkeypatch.setattr(cache, "_move_aside", refuse)
    inner = CountingJudge()
    with pytest.warns(CacheWarning, match="running without a cache"):
        judge = CachedJudge(inner, "counting", path)
    assert judge.judge(REQUESTS) == [0.25] * len(REQUESTS)
    assert judge.judge(REQUESTS) == [0.25] * len(REQUESTS)
    assert inner.asked == 2 * len(REQUESTS)


def test_a_file_another_process_already_replaced_is_not_moved_again(tmp_path) -> None:
    path = damaged_cache(tmp_path, "random.sqlite")
    opened = cache._file_id(path)
    fresh = tmp_path / "fresh.db"
    fresh.write_bytes(b"")
    fresh.replace(path)  # another process moved the damaged file aside and started this one
    assert cache._move_aside(path, opened) is None
    assert path.exists() and not list(tmp_path.glob("*.corrupt-*"))


def test_a_locked_cache_is_not_taken_for_a_damaged_one(tmp_path) -> None:
    """Only a file SQLite calls damaged is moved: other errors are raised as before."""
    import sqlite3

    judge = CachedJudge(CountingJudge(), "counting", tmp_path / "verdicts.db")

    def locked(db):
        raise sqlite3.OperationalError("database is locked")

    with pytest.raises(sqlite3.OperationalError):
        judge._guarded(locked, None)
    assert not list(tmp_path.glob("*.corrupt-*"))

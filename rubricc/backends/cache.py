"""A persistent verdict cache: a judge's answers kept on disk, keyed by what was asked.

The key is the SHA-256 of (judge, template, rendered prompt, scale): the same question to the same
judge is answered once, across batches, runs and processes; change the judge, the template or
anything the prompt shows, and it is asked again. Only verdicts are kept: a failed request
(`Failed`) is asked again next time, so a rerun retries exactly the rows that failed.

The store is SQLite in WAL mode with a busy timeout: several scorers (the ranks of a training
run, parallel `rubricc score` jobs) may read and write one cache at once; `INSERT OR IGNORE`
makes a race between two writers of one key harmless, since both wrote the same question's
verdict.

A damaged cache file (truncated, overwritten, not SQLite at all) does not stop a run: the first
time SQLite says so, a `CacheWarning` names the file, the file is moved aside to
`NAME.corrupt-<timestamp>` and a fresh cache starts in its place; where even that fails, the run
goes on without a cache. A writer that finds the file already replaced by another process's
recovery reopens the new one instead of moving it aside too.

>>> import tempfile
>>> from rubricc.judges import JudgeRequest, PinnedJudge
>>> judge = CachedJudge(PinnedJudge({"polite": 0.8}), "pinned", tempfile.mkdtemp() + "/v.db")
>>> request = JudgeRequest("polite", "Is polite", "Hi?", "Hello!")
>>> judge.judge([request]), judge.judge([request]), dict(judge.account)
([0.8], [0.8], {'cache_hits': 1, 'cache_misses': 1})
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from rubricc.judges import Judge, JudgeRequest
from rubricc.values import Failed

DEFAULT_PATH = Path.home() / ".cache" / "rubricc" / "verdicts.db"

# What SQLite says of a file that is not a sound database (the low byte of an extended code).
_DAMAGED = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_T = TypeVar("_T")


class CacheWarning(UserWarning):
    """The verdict cache file was damaged: moved aside, or the run goes on without a cache."""


def cache_key(judge_id: str, request: JudgeRequest) -> str:
    parts = (judge_id, request.template, request.render(), str(request.scale))
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()


class CachedJudge:
    """Wraps a judge: answers from the cache where it can, asks `inner` for the rest."""

    def __init__(self, inner: Judge, judge_id: str, path: str | Path = DEFAULT_PATH):
        self.inner = inner
        self.judge_id = judge_id
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.account: Counter = Counter()
        self._local = threading.local()  # sqlite connections stay in the thread that made them
        self._lock = threading.Lock()
        self._generation = 0  # a recovery bumps it: every thread then opens the fresh file
        self._file_id: tuple[int, int] | None = None  # the file this cache opened, to move aside
        self._off = False  # no usable cache: every request goes to `inner`
        self._guarded(self._create, None)

    def _connection(self) -> sqlite3.Connection:
        if getattr(self._local, "generation", None) != self._generation:
            self._close_local()
            self._file_id = self._file_id or _file_id(self.path)  # before reading it
            db = sqlite3.connect(self.path, timeout=60.0)
            self._local.db, self._local.generation = db, self._generation
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._file_id = self._file_id or _file_id(self.path)  # a new file
        return self._local.db

    def _close_local(self) -> None:
        db, self._local.db = getattr(self._local, "db", None), None
        if db is not None:
            db.close()

    def _create(self, db: sqlite3.Connection) -> None:
        with db:
            db.execute("CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, value REAL)")

    def _guarded(self, work: Callable[[sqlite3.Connection], _T], otherwise: _T) -> _T:
        """`work` on this thread's connection; on a damaged file, once more on a fresh one;
        `otherwise` when there is no usable cache."""
        for attempt in range(2):
            if self._off:
                return otherwise
            generation = self._generation
            try:
                return work(self._connection())
            except sqlite3.DatabaseError as exc:
                if getattr(exc, "sqlite_errorcode", 0) & 0xFF not in _DAMAGED:
                    raise  # locked, read-only, out of space: not the file's fault
                self._recover(exc, generation, give_up=attempt > 0)
        return otherwise

    def _recover(self, exc: sqlite3.DatabaseError, generation: int, give_up: bool) -> None:
        """Move the damaged file aside (unless another process or thread already has) and start
        a fresh cache; when that fails too, go on without one."""
        with self._lock:
            self._close_local()
            if generation != self._generation:
                return  # another thread recovered since this one's connection was opened
            self._generation += 1
            try:
                if give_up:
                    raise exc
                moved = _move_aside(self.path, self._file_id)
                self._file_id = None
                self._create(self._connection())
            except (OSError, sqlite3.Error) as again:
                self._off = True
                self._close_local()
                warnings.warn(f"the judge cache {self.path} is damaged ({exc}) and a fresh one "
                              f"cannot be used ({again}): running without a cache", CacheWarning,
                              stacklevel=4)
                return
            where = f"moved it to {moved.name}" if moved else "another process had moved it"
            warnings.warn(f"the judge cache {self.path} is damaged ({exc}): {where} and started "
                          "a fresh cache", CacheWarning, stacklevel=4)

    def judge(self, requests: list[JudgeRequest]) -> list[float | Failed]:
        keys = [cache_key(self.judge_id, r) for r in requests]
        known = self._guarded(lambda db: self._lookup(db, keys), {})
        missing = [i for i, key in enumerate(keys) if key not in known]
        self.account["cache_hits"] += len(requests) - len(missing)
        self.account["cache_misses"] += len(missing)
        answers = self.inner.judge([requests[i] for i in missing]) if missing else []
        fresh = {keys[i]: v for i, v in zip(missing, answers) if not isinstance(v, Failed)}
        if fresh:
            self._guarded(lambda db: self._store(db, fresh), None)
        out: list[float | Failed] = [known.get(key) for key in keys]
        for i, value in zip(missing, answers):
            out[i] = value
        return out

    @staticmethod
    def _store(db: sqlite3.Connection, fresh: dict[str, float]) -> None:
        with db:
            db.executemany("INSERT OR IGNORE INTO verdicts VALUES (?, ?)", fresh.items())

    @staticmethod
    def _lookup(db: sqlite3.Connection, keys: list[str]) -> dict[str, float]:
        found: dict[str, float] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):  # SQLite caps the parameters of one statement
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(db.execute(f"SELECT key, value FROM verdicts WHERE key IN ({marks})", chunk))
        return found


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _move_aside(path: Path, opened: tuple[int, int] | None) -> Path | None:
    """Rename the damaged file (and its WAL) to `NAME.corrupt-<timestamp>`; None when the file
    at `path` is no longer the one this cache opened (another process moved it already)."""
    if opened is None or _file_id(path) != opened:
        return None
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
    os.replace(path, aside)
    for suffix in ("-wal", "-shm"):
        sidecar = path.with_name(path.name + suffix)
        if sidecar.exists():
            os.replace(sidecar, aside.with_name(aside.name + suffix))
    return aside

"""A persistent verdict cache: a judge's answers kept on disk, keyed by what was asked.

The key is the SHA-256 of (judge, template, rendered prompt, scale): the same question to the same
judge is answered once, across batches, runs and processes; change the judge, the template or
anything the prompt shows, and it is asked again. Only verdicts are kept: a failed request
(`Failed`) is asked again next time, so a rerun retries exactly the rows that failed.

The store is SQLite in WAL mode with a busy timeout: several scorers (the ranks of a training
run, parallel `rubricc score` jobs) may read and write one cache at once; `INSERT OR IGNORE`
makes a race between two writers of one key harmless, since both wrote the same question's
verdict.

>>> import tempfile
>>> from rubricc.judges import JudgeRequest, PinnedJudge
>>> judge = CachedJudge(PinnedJudge({"polite": 0.8}), "pinned", tempfile.mkdtemp() + "/v.db")
>>> request = JudgeRequest("polite", "Is polite", "Hi?", "Hello!")
>>> judge.judge([request]), judge.judge([request]), dict(judge.account)
([0.8], [0.8], {'cache_hits': 1, 'cache_misses': 1})
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections import Counter
from pathlib import Path

from rubricc.judges import Judge, JudgeRequest
from rubricc.runtime.values import Failed

DEFAULT_PATH = Path.home() / ".cache" / "rubricc" / "verdicts.db"


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
        with self._connection() as db:
            db.execute("CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, value REAL)")

    def _connection(self) -> sqlite3.Connection:
        if getattr(self._local, "db", None) is None:
            db = sqlite3.connect(self.path, timeout=60.0)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return self._local.db

    def judge(self, requests: list[JudgeRequest]) -> list[float | Failed]:
        keys = [cache_key(self.judge_id, r) for r in requests]
        known = self._lookup(keys)
        missing = [i for i, key in enumerate(keys) if key not in known]
        self.account["cache_hits"] += len(requests) - len(missing)
        self.account["cache_misses"] += len(missing)
        answers = self.inner.judge([requests[i] for i in missing]) if missing else []
        fresh = {keys[i]: v for i, v in zip(missing, answers) if not isinstance(v, Failed)}
        if fresh:
            with self._connection() as db:
                db.executemany("INSERT OR IGNORE INTO verdicts VALUES (?, ?)", fresh.items())
        out: list[float | Failed] = [known.get(key) for key in keys]
        for i, value in zip(missing, answers):
            out[i] = value
        return out

    def _lookup(self, keys: list[str]) -> dict[str, float]:
        found: dict[str, float] = {}
        db = self._connection()
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):  # SQLite caps the parameters of one statement
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(db.execute(f"SELECT key, value FROM verdicts WHERE key IN ({marks})", chunk))
        return found

"""A pool of worker processes for CPU-heavy built-ins, with deadlines enforced by the parent.

>>> with WorkerPool(workers=1, deadline=5.0) as pool:
...     ok, error = pool.run([("operator:add", (1, 2)), ("math:sqrt", (-1,))])
>>> ok
Outcome(status='ok', value=3, message='')
>>> error.message
'ValueError: math domain error'

Design, and why:

- A call is `("package.module:function", args)`: a name, not a pickled function, so that a worker
  imports the function once (then caches it) and lambdas or closures are refused up front
  (`call_target`) rather than failing inside a worker.
- Each worker owns one `multiprocessing.Pipe` and runs one call at a time. The parent therefore
  always knows which call every worker is running and since when, so it can time out exactly that
  call and kill exactly that process; with a shared task queue (as in `multiprocessing.Pool`) a
  hung task cannot be pinned to a process, and killing a worker loses or hangs the whole pool.
- The deadline lives in the parent: it waits on all pipes with `connection.wait(timeout=...)` until
  the earliest deadline among busy workers, then SIGKILLs the late worker's process group and
  starts a replacement while the other workers keep going. `signal.alarm` is not an option: it only
  works on the main thread, and a function stuck in C code never sees the signal anyway.
- Workers are started with the "spawn" context: the parent may hold torch, CUDA state and threads,
  and forking such a process can deadlock the child on a lock that some thread held at fork time.
  Spawning costs a fresh interpreter per worker, paid once, since workers live across `run` calls
  and start lazily on the first one; a worker says "ready" before it takes work, so its start-up
  time never counts against a call's deadline.
- Each worker caps its address space (RLIMIT_AS) so a runaway allocation raises MemoryError inside
  the worker, which becomes an `error` outcome, instead of taking the machine down.

Untrusted code (a response's program) needs more isolation than this: `sandbox.py`, and "A hostile
response" in docs/security.md. A pool is not thread-safe; give each thread its own.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import pickle
import resource
import signal
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait

STARTUP_TIMEOUT = 120.0
"""Seconds a new worker may take to say "ready" (a fresh interpreter on a loaded machine); past
this the pool is broken, not the call."""

_STOP_GRACE = 1.0
"""Seconds `close()` lets idle workers exit on their own before it kills them."""


@dataclass(frozen=True)
class Outcome:
    """What became of one call."""

    status: str
    """"ok", "error" or "timeout"."""
    value: object = None
    """The function's return value when ok."""
    message: str = ""
    """For error, "{type}: {message}" of the exception; for timeout, "no result after 5.0 s"."""


def call_target(fn: Callable) -> str:
    """The `"module:qualname"` a worker can import `fn` by; only top-level functions have one.

    >>> call_target(os.path.join)
    'posixpath:join'
    """
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or "<" in qualname or "." in qualname:
        raise ValueError(
            f"{qualname or fn!r} is not a top-level function, so a worker cannot import it"
        )
    return f"{module}:{qualname}"


# ---------------------------------------------------------------- the worker process


def _worker_main(conn: Connection, memory_mb: int | None, warm_up: tuple[str, ...] = ()) -> None:
    """Serve calls from the parent, one at a time, until told to stop or the pipe closes."""
    # Our own process group: the parent's Ctrl-C does not hit us mid-call, and a kill at the
    # deadline also takes any processes the function started.
    os.setpgrp()
    _limit_memory(memory_mb)
    functions: dict[str, Callable] = {}
    for target in warm_up:  # slow first imports happen here, not inside a call's deadline
        _execute(functions, pickle.dumps((target, ())))
    conn.send_bytes(pickle.dumps("ready"))
    while request := _next_request(conn):
        _send_reply(conn, _execute(functions, request))


def _limit_memory(memory_mb: int | None) -> None:
    if memory_mb is not None:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _next_request(conn: Connection) -> bytes:
    """The next pickled call; empty when the parent says stop or is gone."""
    try:
        return conn.recv_bytes()
    except EOFError:
        return b""


def _execute(functions: dict[str, Callable], request: bytes) -> tuple[str, object]:
    try:
        target, args = pickle.loads(request)
        return "ok", _resolve(functions, target)(*args)
    except Exception as exc:  # the function's failure is a value: the batch goes on
        return "error", _describe(exc)


def _resolve(functions: dict[str, Callable], target: str) -> Callable:
    if target not in functions:
        module, sep, name = target.partition(":")
        if not sep or not module or not name:
            raise ValueError(f"target {target!r} is not 'package.module:function'")
        functions[target] = getattr(importlib.import_module(module), name)
    return functions[target]


def _send_reply(conn: Connection, reply: tuple[str, object]) -> None:
    # Pickle first, so that a result the parent cannot receive becomes an error, not a dead pipe.
    try:
        payload = pickle.dumps(reply, pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        payload = pickle.dumps(("error", f"result could not be pickled: {_describe(exc)}"))
    conn.send_bytes(payload)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


# ---------------------------------------------------------------- the parent's side


@contextlib.contextmanager
def _main_module_hidden():
    """Start a spawned worker without re-running the parent's `__main__`.

    Spawn re-imports the parent's main script in every child so that pickled `__main__` objects
    resolve. Workers only ever receive module paths and plain data, so that import buys nothing:
    it would cost every worker the script's own imports (torch, in a training script), and a
    script read from stdin cannot be re-imported at all. multiprocessing decides from
    `__main__.__spec__` and `__main__.__file__`, read while `start()` runs.
    """
    main = sys.modules["__main__"]
    saved = {name: main.__dict__[name] for name in ("__spec__", "__file__") if name in main.__dict__}
    main.__dict__["__spec__"] = None
    main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        main.__dict__.update(saved)
        if "__spec__" not in saved:
            del main.__dict__["__spec__"]


class _WorkerDied(Exception):
    """The worker process ended without replying."""


class _Worker:
    """One worker process, the parent's end of its pipe, and the call it is running."""

    def __init__(self, context: multiprocessing.context.SpawnContext, memory_mb: int | None,
                 warm_up: tuple[str, ...]):
        self.conn, child_end = context.Pipe()
        self.process = context.Process(
            target=_worker_main,
            args=(child_end, memory_mb, warm_up),
            name="rubricc-pool-worker",
            daemon=True,
        )
        with _main_module_hidden():
            self.process.start()
        # Drop our copy of the child's end, so that the child's death reads as EOF on ours.
        child_end.close()
        self.ready = False
        self.started_at = time.monotonic()
        self.call: int | None = None
        self.sent_at = 0.0

    def send(self, index: int, payload: bytes) -> None:
        self.conn.send_bytes(payload)
        self.call, self.sent_at = index, time.monotonic()

    def receive(self) -> object:
        """The next message, after which the worker is idle; `_WorkerDied` if the pipe is closed."""
        try:
            data = self.conn.recv_bytes()
        except (EOFError, OSError) as exc:
            raise _WorkerDied(self.exit_description()) from exc
        self.call = None
        return pickle.loads(data)

    def wake_at(self, deadline: float) -> float | None:
        """When the parent must act on this worker if it stays silent."""
        if not self.ready:
            return self.started_at + STARTUP_TIMEOUT
        return self.sent_at + deadline if self.call is not None else None

    def exit_description(self) -> str:
        self.process.join(timeout=1.0)  # the pipe closes a moment before the exit code is known
        code = self.process.exitcode
        if code is not None and code < 0:
            return f"worker died (killed by {signal.Signals(-code).name}, exit code {code})"
        return f"worker died (exit code {code})"

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # already gone, or it never got as far as `setpgrp`
        self.process.kill()
        self.process.join()  # reap it: no zombies
        self.conn.close()
        self.ready = False

    def ask_to_stop(self) -> None:
        try:
            self.conn.send_bytes(b"")
        except OSError:
            pass  # already gone


def _outcome(reply: tuple[str, object]) -> Outcome:
    status, value = reply
    return Outcome("ok", value) if status == "ok" else Outcome("error", message=str(value))


def _stop_workers(workers: list[_Worker]) -> None:
    """Let idle workers exit on their own for a moment (their atexit hooks run), kill the rest."""
    idle = [worker for worker in workers if worker.ready and worker.call is None]
    for worker in idle:
        worker.ask_to_stop()
    give_up_at = time.monotonic() + _STOP_GRACE
    for worker in idle:
        worker.process.join(timeout=max(0.0, give_up_at - time.monotonic()))
    for worker in workers:
        worker.kill()
    workers.clear()


class WorkerPool:
    """Runs `(target, args)` calls in worker processes, each under a deadline.

    workers: how many processes; defaults to min(cpu count, 4).
    deadline: seconds a call may run before its worker is killed and the call is a `timeout`.
    memory_mb: address-space cap per worker (RLIMIT_AS), or None for no cap.
    warm_up: `"module:function"` targets each worker calls with no arguments before it says
        "ready": slow imports (sympy, a LaTeX parser) then never count against a call's deadline.
    """

    def __init__(
        self, workers: int | None = None, deadline: float = 10.0, memory_mb: int | None = 4096,
        warm_up: tuple[str, ...] = (),
    ):
        self.size = workers or min(os.cpu_count() or 1, 4)
        self.warm_up = tuple(warm_up)
        self.deadline = deadline
        self.memory_mb = memory_mb
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        # One run at a time: callers on several threads (a framework calling a reward function
        # from its executor) take turns, or one run would collect the other's replies.
        self._running = threading.Lock()
        # Runs at close(), at garbage collection or at interpreter exit, whichever comes first.
        self._finalizer = weakref.finalize(self, _stop_workers, self._workers)

    def run(self, calls: Sequence[tuple[str, tuple]]) -> list[Outcome]:
        """One outcome per call, in input order; a run from another thread waits for this one."""
        with self._running:
            return self._run(calls)

    def _run(self, calls: Sequence[tuple[str, tuple]]) -> list[Outcome]:
        if not self._finalizer.alive:
            raise RuntimeError("this WorkerPool is closed")
        outcomes: list[Outcome | None] = [None] * len(calls)
        pending = deque(range(len(calls)))
        self._start_missing_workers()
        try:
            while pending or self._busy():
                self._dispatch(calls, pending, outcomes)
                self._collect(outcomes)
        except BaseException:
            # Interrupted (Ctrl-C, a startup failure): workers still running our calls would
            # answer the next run with this run's results. The next run starts fresh ones.
            self._discard(self._busy())
            raise
        return outcomes  # type: ignore[return-value]  # every slot is filled by now

    def close(self) -> None:
        """Stop all workers; safe to call twice."""
        self._finalizer()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- scheduling

    def _busy(self) -> list[_Worker]:
        return [worker for worker in self._workers if worker.call is not None]

    def _start_missing_workers(self) -> None:
        while len(self._workers) < self.size:
            self._workers.append(_Worker(self._context, self.memory_mb, self.warm_up))

    def _discard(self, workers: list[_Worker]) -> None:
        for worker in workers:
            worker.kill()
            self._workers.remove(worker)

    def _replace(self, workers: list[_Worker]) -> None:
        self._discard(workers)
        self._start_missing_workers()

    def _dispatch(
        self, calls: Sequence[tuple[str, tuple]], pending: deque[int], outcomes: list
    ) -> None:
        """Hand pending calls to idle, ready workers."""
        for worker in list(self._workers):
            # A loop, not an `if`: a call whose arguments cannot be pickled never leaves, and a
            # worker found dead is no longer ready.
            while pending and worker.ready and worker.call is None:
                self._send_next(worker, calls, pending, outcomes)

    def _send_next(
        self,
        worker: _Worker,
        calls: Sequence[tuple[str, tuple]],
        pending: deque[int],
        outcomes: list,
    ) -> None:
        index = pending.popleft()
        try:
            payload = pickle.dumps(calls[index], pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            message = f"arguments could not be pickled: {_describe(exc)}"
            outcomes[index] = Outcome("error", message=message)
            return
        try:
            worker.send(index, payload)
        except OSError:  # it died while idle (the OOM killer, say): another worker takes the call
            pending.appendleft(index)
            self._replace([worker])

    def _collect(self, outcomes: list) -> None:
        """Wait for replies until the earliest deadline, then deal with late workers."""
        by_conn = {worker.conn: worker for worker in self._workers}
        for conn in wait(list(by_conn), timeout=self._time_to_next_deadline()):
            self._receive(by_conn[conn], outcomes)
        self._expire(outcomes)

    def _time_to_next_deadline(self) -> float | None:
        wakes = [
            w for w in (worker.wake_at(self.deadline) for worker in self._workers) if w is not None
        ]
        return max(0.0, min(wakes) - time.monotonic()) if wakes else None

    def _receive(self, worker: _Worker, outcomes: list) -> None:
        index = worker.call
        try:
            reply = worker.receive()
        except _WorkerDied as death:
            self._bury(worker, index, str(death), outcomes)
        except Exception as exc:  # a result that the worker could pickle but we cannot unpickle
            message = f"result could not be unpickled: {_describe(exc)}"
            outcomes[index] = Outcome("error", message=message)
        else:
            if reply == "ready":
                worker.ready = True
            else:
                outcomes[index] = _outcome(reply)

    def _bury(self, worker: _Worker, index: int | None, death: str, outcomes: list) -> None:
        if not worker.ready:
            self._discard([worker])
            raise RuntimeError(f"a pool worker failed to start: {death} (its stderr says why)")
        if index is not None:  # else it died while idle: nothing was lost but the process
            outcomes[index] = Outcome("error", message=death)
        self._replace([worker])

    def _expire(self, outcomes: list) -> None:
        now = time.monotonic()
        late = [
            w
            for w in self._workers
            if (wake := w.wake_at(self.deadline)) is not None and wake <= now
        ]
        for worker in late:
            if not worker.ready:
                self._discard([worker])
                raise RuntimeError(f"a pool worker did not start within {STARTUP_TIMEOUT} s")
            outcomes[worker.call] = Outcome(
                "timeout", message=f"no result after {float(self.deadline)} s"
            )
        self._replace(late)

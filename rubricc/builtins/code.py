"""Run a response's Python against tests in the sandbox: `python_tests`, `split_tests`.

>>> python_tests("def add(a, b):\\n    return a + b", ["assert add(1, 2) == 3", "assert add(2, 2) == 5"])
0.5

How a test is run. One sandbox (`rubricc.isolation.sandbox`) per call; inside it a harness process
that never runs the response's code forks one child per test, up to `LANES` at a time. A child
installs audit hooks, runs the response's code, then the test, and reports a pass by writing that
test's nonce on the result pipe. Only that line counts: the parent never reads stdout for results,
exit codes are ignored, and each test has its own random nonce, which reaches the sandbox on a
memory file (fd 3) that the harness closes before any untrusted code runs. The harness also writes
its own report, under another nonce, ending with a `done` line; without it the call raises (the
sandbox failed), it never returns a score. Forking a harness that has not run untrusted code gives
each test as fresh a process as a new interpreter would, at one interpreter start per call instead
of one per test.

Threat model: the response is adversarial and wants a higher score than its code earns.

Defended, each by a test in tests/test_sandbox.py (the newer attacks are files in
tests/cases/attacks/code/):

- Leaving early: `sys.exit(0)`, `os._exit(0)`, `raise SystemExit`, at top level or inside the
  function: a test passes only if the response and the test both end normally, in order.
- Patching what a harness relies on: `builtins.AssertionError`, `sys.excepthook`, `builtins.print`,
  `atexit` handlers, unittest's asserts, the harness's own functions (reachable as `__main__`): an
  `assert` raises the interpreter's own AssertionError, every exception fails the test, the child
  leaves by `os._exit` (no atexit), and the harness holds every function it calls in a local bound
  before the response runs.
- Fake output ("10/10 tests passed", a forged result line): stdout is never parsed, and a result
  line counts only with the test's nonce.
- Reading the nonce: it lives only in the child's locals. Frames are out of reach
  (`sys._getframe`, `tb_frame`, `gi_frame`, `cr_frame`, `ag_frame`, `sys._current_frames`, trace
  and profile functions, signal handlers, which are handed the interrupted frame), and so is raw
  memory (`gc.get_objects`/`get_referrers`, ctypes, `_testcapi`, /proc, which the sandbox leaves
  empty, new code objects); no new processes (`fork`, `exec`, `subprocess`, `posix_spawn`,
  `system`), so nothing the hooks do not watch; no `kill`; no further audit hooks (a hook would see
  the test's code object, and so its expected values).
- Objects that equal everything: each `a == b` in a test compares a builtin value (number, text,
  bytes, none, list, tuple, dict, set) by its contents, with the builtin types' own comparisons,
  never with a method of the response's classes (`_strict_equality`); so does unittest's
  `assertEqual`, whose strict version the hooks seal.
- Shadowing builtins the test calls (a response-defined `sorted` or `abs`, or `builtins.len` or
  `builtins.__import__` patched): the test's builtin names are bound to the builtins as they were
  before the response ran, and the builtins module is put back before the test starts.
- Patching modules the test imports (`math.isclose = ...`, `unittest.TestCase.assertEqual = ...`)
  or replacing them in `sys.modules`: the test gets the modules it imports as they were before the
  response ran, and a test whose modules or their classes are changed when it ends fails (named
  by what they were called before the response ran, so `math.__name__ = ""` hides nothing).
- Replacing the names the harness reads (`__main__.int = F`, `builtins.str = None`, `issubclass`,
  `isinstance`, the harness's own functions), at top level or from the function under test while
  the test runs: every name the harness uses once the response has started is bound before it
  runs (default arguments and closures, `_strict_equality` included), and a test fails when it
  ends with the builtins changed since it started, or with `__main__` changed since before the
  response ran.
- Reading the tests off the host (a dataset's JSONL, a rubric, this checkout) and hard-coding the
  answers: the sandbox's filesystem holds only the Python installation, the shared libraries, the
  time zones, /etc/ld.so.cache and /etc/localtime, /dev/null, zero, random and urandom, its own
  /tmp and an empty /proc (`sandbox.filesystem_view`); /work, /home, /etc/passwd, the venv and
  the checkout do not exist inside.

Not defended:

- A patch to a module the test imports that the response makes during the test and undoes before
  it ends, or a change to a pure-Python function's module globals. Tests written as `assert` and
  `==` do not depend on modules at all.
- `in`, `<`, `!=`, `isinstance` and calls such as `math.isclose` use ordinary Python semantics on
  whatever the response returns; only `==` is strict.
- Memory corruption: crafted bytecode (`marshal.loads`, a `.pyc` the response writes and imports)
  or a CPython bug can read the nonce. CPython's audit hooks are not a security boundary; the
  operating-system layers are, so such code can at worst forge its own score.
- Hard-coding the visible tests: a harness cannot tell; keep some tests out of the prompt.
- Slowness chosen per input: a response that passes every test that finishes and delays the others
  past `TESTS_BUDGET` gets an unscored row (`BudgetExceeded`) instead of a partial score. An
  infinite loop everywhere does not: the first `LANES` tests reach their own timeout and fail.
- Data kept inside the Python installation or the system's library folders, which the sandbox
  shows read-only: keep datasets and rubrics elsewhere.

The response runs as a module named `solution` (its `if __name__ == "__main__":` block does not
run), with the standard library only (`-I -S`: no site-packages), stdin empty, in /tmp/work. What
the hooks cost a correct response: no frames (`traceback.format_exc()`, `inspect.stack()`), no
signal handlers, subprocesses or `multiprocessing`, no `asyncio`; and the sandbox's: no host files
beyond its view (no /etc/passwd, so `pwd` and `getpass.getuser()` find no user).
"""

from __future__ import annotations

import ast
import builtins
import functools
import inspect
import marshal
import math
import os
import secrets
import select
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from rubricc.builtins.registry import builtin
from rubricc.isolation import sandbox

TESTS_BUDGET = 7.0
"""Seconds for all the tests of one call. With `STARTUP_ALLOWANCE` and the sandbox's own
`KILL_GRACE` it stays below the scorer's pool deadline (10 s), so a call always returns (or
raises) before the pool would kill its worker. A test's own timeout is at most the budget. The
first `LANES` tests get their whole timeout; a later test still running when the budget ends is
"cut", one that cannot start is "skipped": neither has an outcome, and `python_tests` says so
(`BudgetExceeded`) rather than scoring them as failures, unless a test that finished failed."""

STARTUP_ALLOWANCE = 1.0
"""Seconds for the sandbox and the harness to start, on top of `TESTS_BUDGET`."""

LANES = 4
"""Tests run at the same time in one call."""

EQ, BUILTINS, TEST = "__rubricc_eq__", "__rubricc_builtins__", "__rubricc_test__"

# The builtins a test may name; `site` adds the others (exit, help, ...), and the sandbox runs `-S`.
_BUILTIN_NAMES = {name for name in dir(builtins) if not name.startswith("_")}
_BUILTIN_NAMES -= {"exit", "quit", "copyright", "credits", "license", "help"}


# ---------------------------------------------------------------- the harness, inside the sandbox
# These functions run in the sandbox's interpreter, sent as source text (`_harness_source`): stdlib
# only. Everything a child uses after the response has started is bound before it runs (a local, a
# default argument, a closure): the response can rebind any name in `__main__` or `builtins`.


def _harness() -> None:
    """The sandboxed program: each test in a child process of its own, `lanes` at a time."""
    job = marshal.loads(_read_all(3))
    os.close(3)
    for name in ["types", *job["modules"]]:  # `types` reads tb_frame at import: load it unhooked
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - the test's own import fails the same way
            pass
    _neuter_signals()
    tests = [compile(source, f"<test {i}>", "exec", dont_inherit=True, optimize=0)
             for i, source in enumerate(job["tests"])]
    end = time.monotonic() + job["budget"]
    pending, running, started = list(range(len(tests))), {}, 0

    def report(index, status):
        os.write(4, f"{job['done']} {index} {status}\n".encode())

    while pending or running:
        while pending and len(running) < job["lanes"] and time.monotonic() < end:
            index = pending.pop(0)
            try:
                pid = _fork_test(job, tests, index)
            except OSError:  # out of processes: wait for a running test, unless none is left
                if not running:
                    raise
                pending.insert(0, index)
                break
            # The first round's own deadlines (timeout <= budget) end a few forks past `end`: an
            # infinite loop is then a timeout of its own, never a test cut by the budget.
            own = time.monotonic() + job["timeout"]
            deadline = own if started < job["lanes"] else min(own, end)
            running[os.pidfd_open(pid)] = (pid, index, deadline, own)
            started += 1
        if not running:
            break
        wake = min(deadline for _, _, deadline, _ in running.values())
        ready, _, _ = select.select(list(running), [], [], max(0.0, wake - time.monotonic()))
        for pidfd, (pid, index, deadline, own) in list(running.items()):
            if pidfd in ready:
                report(index, f"exit {os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])}")
            elif time.monotonic() >= deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                report(index, "timeout" if deadline >= own else "cut")
            else:
                continue
            os.close(pidfd)
            del running[pidfd]
    for index in pending:
        report(index, "skipped")
    os.write(4, f"{job['done']} done\n".encode())


def _read_all(fd):
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def _neuter_signals():
    """A signal handler is handed the interrupted frame, and every caller's locals are one
    `f_back` away: make `_signal` and every function bound to it unreachable."""
    import signal

    raw = sys.modules.pop("_signal")
    for name, value in list(vars(signal).items()):
        if getattr(value, "__self__", None) is raw or name in ("signal", "getsignal", "_signal"):
            delattr(signal, name)

    def no_handlers(signalnum, handler):
        raise RuntimeError("sandbox: signal handlers are not available")

    signal.signal = signal.getsignal = no_handlers


def _fork_test(job, tests, index):
    pid = os.fork()
    if pid:
        return pid
    leave = os._exit
    try:
        _run_test(job["code"], tests[index], job["wrapped"][index], job["nonces"][index], index,
                  job["modules"])
    finally:
        leave(1)  # whatever the response did to exceptions, a child never returns to the loop


def _run_test(code, test, wrapped, nonce, index, modules):
    """In a child: the response, then the test; pass only if both end normally, and the test
    leaves builtins as it found them and `__main__` (the harness) as it was before the response."""
    write, leave, run, compile_, entry, failure = os.write, os._exit, exec, compile, TEST, BaseException
    explain, snapshot = _explain, _snapshot
    passed = f"{nonce} pass\n".encode()
    del nonce
    equal, module, harness = _strict_equality(), builtins, globals()
    protected = _strict_unittest(equal)
    changed, live = _watch(modules), vars(module)
    pristine, harness_kept = dict(live), snapshot(harness)
    sys.addaudithook(_audit_hook(protected))
    namespace, scratch = {"__name__": "solution", "__builtins__": module}, {}
    try:
        run(compile_(code, "<response>", "exec", dont_inherit=True, optimize=0), namespace)
        changed(restore=True)  # the test starts on the modules and builtins it would have had
        live.update(pristine)
        builtins_kept = snapshot(live)
        namespace["__builtins__"] = module
        if wrapped:
            run(test, namespace, scratch)
            scratch[entry](equal, pristine)
        else:
            run(test, namespace)
    except failure as exc:  # any exception fails the test
        explain(index, exc)
        leave(1)
    what = changed() or ("" if builtins_kept(live) else "builtins") or \
        ("" if harness_kept(harness) else "__main__")
    if what:
        write(2, f"test {index}: the response changed {what}\n".encode())
        leave(1)
    write(4, passed)
    leave(0)


def _explain(index, exc, type=type, write=os.write, failure=BaseException):
    try:
        text = f"test {index}: {type(exc).__name__}: {exc}"[:500]
    except failure:  # the response's __str__ may do anything
        text = f"test {index}: failed"
    write(2, (text + "\n").encode(errors="replace"))


def _snapshot(namespace, len=len, dict=dict):
    """`kept(now)`: whether `now` binds the same names to the same objects as `namespace` does at
    this call. `__warningregistry__` aside: `warnings` may add it to the globals of any caller."""
    then = dict(namespace)
    then.pop("__warningregistry__", None)

    def kept(now):
        if len(now) - ("__warningregistry__" in now) != len(then):
            return False
        for name, value in then.items():
            if now.get(name, kept) is not value:
                return False
        return True

    return kept


def _watch(modules, type=type, vars=vars, len=len, dict=dict, str=str):
    """`changed()`: the first module or class (of those the test imports) whose namespace differs
    from now, "" if none; with `restore=True`, first put the modules back in `sys.modules`."""
    held = {name: sys.modules[name] for name in modules if name in sys.modules}
    owners = [module for module in held.values()]
    for module in list(owners):
        for value in list(vars(module).values()):
            if type(value) is type and str(getattr(value, "__module__", "")).startswith(module.__name__):
                owners.append(value)
    before = [(owner, str(owner.__name__), dict(vars(owner))) for owner in owners]
    registry = sys.modules

    def changed(restore=False):
        if restore:
            registry.update(held)
        for owner, label, names in before:  # the label is never read now: `math.__name__ = ""`
            now = vars(owner)
            if len(now) != len(names):
                return f"the names in {label}"
            for name, value in now.items():
                if names.get(name, names) is not value:
                    return f"{label}.{name}"
        for name, module in held.items():
            if registry.get(name) is not module:
                return f"sys.modules[{name!r}]"
        return ""

    return changed


def _strict_equality(type=type, len=len, range=range, issubclass=issubclass, frozenset=frozenset,
                     list=list, tuple=tuple, dict=dict, set=set, bool=bool, int=int, float=float,
                     complex=complex, str=str, bytes=bytes):
    """`==` for tests: a builtin value on either side is compared by contents, with the builtin
    types' own code, so no method of the response's classes decides (a subclass of int, str or list
    is read as an int, str or list). Types are compared by identity: a metaclass can make
    `X in {int}` true, never `X is int`. Every name it uses is bound here, before the response
    runs: `__main__.int = F` or `builtins.str = F` changes nothing in it."""
    numbers, atoms, containers = (bool, int, float, complex), (str, bytes, type(None)), (list, tuple, dict, set, frozenset)
    readers = ((int, int.__int__), (float, float.__float__), (complex, complex.__complex__))

    def one_of(kind, kinds):
        for candidate in kinds:
            if kind is candidate:
                return True
        return False

    def hashable(values):
        for value in values:
            kind = type(value)
            if kind is tuple:
                if not hashable(value):
                    return False
            elif not (one_of(kind, numbers) or one_of(kind, atoms)):
                return False
        return True

    def as_number(value):  # the builtin number inside a subclass, read by the base type's code
        kind = type(value)
        if one_of(kind, numbers):
            return value
        for base, read in readers:
            if issubclass(kind, base):
                return read(value)
        return None

    def same(actual, expected):
        want, got = type(expected), type(actual)
        if one_of(want, numbers):
            value = as_number(actual)
            return value is not None and value == expected
        if want is str or want is bytes:
            return issubclass(got, want) and (want.__str__ if want is str else want.__bytes__)(actual) == expected
        if want is type(None):
            return actual is None
        if want is list or want is tuple:
            if not issubclass(got, want) or want.__len__(actual) != len(expected):
                return False
            for i in range(len(expected)):
                if not same(want.__getitem__(actual, i), expected[i]):
                    return False
            return True
        if want is dict:
            if not issubclass(got, dict) or dict.__len__(actual) != len(expected):
                return False
            keys = list(dict.keys(actual))
            if not (hashable(keys) and hashable(expected)):
                return False
            for key in keys:
                if key not in expected or not same(dict.__getitem__(actual, key), expected[key]):
                    return False
            return True
        if want is set or want is frozenset:
            if not (issubclass(got, set) or issubclass(got, frozenset)):
                return False
            items = frozenset(actual)  # a set's own table, even for a subclass
            return hashable(items) and hashable(expected) and items == frozenset(expected)
        return actual == expected  # not a builtin value: Python's ==

    def equal(left, right):
        if one_of(type(right), numbers + atoms + containers):
            return same(left, right)
        if one_of(type(left), numbers + atoms + containers):
            return same(right, left)
        return left == right

    return equal


def _strict_unittest(equal):
    """Make `TestCase.assertEqual` compare with `equal`, if the test imports unittest. The new
    method holds `equal` in its defaults, which the audit hook keeps out of reach: `equal`'s
    closure cells could otherwise be rewritten."""
    case = sys.modules.get("unittest.case")
    if case is None:
        return None

    def assertEqual(self, first, second, msg=None, *, _equal=equal, _python=case.TestCase.assertEqual):
        if not _equal(first, second):
            _python(self, first, second, msg)  # its message, when Python's == agrees
            raise self.failureException(msg or f"{first!r} != {second!r} (strict ==)")

    case.TestCase.assertEqual = case.TestCase.assertEquals = case.TestCase.failUnlessEqual = assertEqual
    return assertEqual


def _audit_hook(protected, type=type, str=str, RuntimeError=RuntimeError, ValueError=ValueError,
                AttributeError=AttributeError, ImportError=ImportError):
    """Refuse whatever reaches a frame, raw memory, another process or another audit hook, and
    any look inside the `protected` function."""
    refused = frozenset({
        "sys._current_frames", "sys._current_exceptions", "sys.settrace", "sys.setprofile",
        "sys.addaudithook", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
        "os.fork", "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn", "os.system",
        "subprocess.Popen", "os.kill", "os.killpg", "code.__new__",
    })
    modules = frozenset({
        "_signal", "ctypes", "_ctypes", "_ctypes_test", "_testcapi", "_testinternalcapi",
        "_testbuffer", "_testmultiphase", "_testimportmultiple", "_testclinic",
        "_xxsubinterpreters", "_xxinterpchannels", "_posixsubprocess",
    })
    frames = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})

    def hook(event, args):
        if type(event) is not str:
            return
        if event in refused or event.startswith("ctypes."):
            raise RuntimeError(f"sandbox: {event} is not available")
        if event == "sys._getframe":  # ValueError: what callers such as namedtuple expect
            raise ValueError("sandbox: frames are not available")
        if event == "object.__getattr__" and type(args[1]) is str and args[1] in frames:
            raise AttributeError(f"sandbox: {args[1]} is not available")
        if event.startswith("object.__") and protected is not None and args[0] is protected:
            raise AttributeError("sandbox: the harness's assertEqual is sealed")
        if event == "import" and (type(args[0]) is not str or args[0].partition(".")[0] in modules):
            raise ImportError("sandbox: this module is not available")

    return hook


_HARNESS_FUNCTIONS = (_harness, _read_all, _neuter_signals, _fork_test, _run_test, _explain, _snapshot,
                      _watch, _strict_equality, _strict_unittest, _audit_hook)


@functools.cache
def _harness_source() -> str:
    head = "import builtins, marshal, os, select, sys, time\n"
    head += f"EQ, BUILTINS, TEST = {EQ!r}, {BUILTINS!r}, {TEST!r}\n\n"
    body = "\n\n".join(inspect.getsource(fn) for fn in _HARNESS_FUNCTIONS)
    return f"{head}{body}\n_harness()\n"


# ---------------------------------------------------------------- preparing tests, in the caller


class _StrictEquality(ast.NodeTransformer):
    """`a == b` becomes `__rubricc_eq__(a, b)`; chained comparisons are left alone."""

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        if len(node.ops) != 1 or not isinstance(node.ops[0], ast.Eq):
            return node
        call = ast.Call(ast.Name(EQ, ast.Load()), [node.left, node.comparators[0]], [])
        return ast.copy_location(call, node)


def _bound_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).partition(".")[0])
    return names


def _prepare(test: str) -> tuple[str, bool, set[str]]:
    """(source to run, whether it is wrapped in a function, modules it imports).

    Wrapped, the test is the body of `__rubricc_test__(__rubricc_eq__, __rubricc_builtins__)`,
    with `==` made strict and the builtins it names bound from the second argument. A test that
    cannot live in a function (`from m import *`) runs as written.
    """
    try:
        tree = ast.parse(test)
    except SyntaxError as exc:
        raise ValueError(f"a test is not valid Python: {exc.msg} (line {exc.lineno})") from None
    modules = {alias.name.partition(".")[0] for node in ast.walk(tree)
               if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module.partition(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module and not node.level}
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    pinned = sorted((used - _bound_names(tree)) & _BUILTIN_NAMES)
    body = [ast.parse(f"{name} = {BUILTINS}[{name!r}]").body[0] for name in pinned]
    body += _StrictEquality().visit(tree).body or [ast.Pass()]
    function = ast.FunctionDef(TEST, ast.arguments([], [ast.arg(EQ), ast.arg(BUILTINS)], None, [], [], None, []),
                               body, [], None)
    source = ast.unparse(ast.fix_missing_locations(ast.Module([function], [])))
    try:
        compile(source, "<test>", "exec", dont_inherit=True)
    except SyntaxError:
        return test, False, modules
    return source, True, modules


@dataclass(frozen=True)
class TestReport:
    """What became of each test of one call."""

    __test__ = False  # not a pytest class

    outcomes: tuple[str, ...]
    """Per test: "pass", "fail", "timeout" (its own timeout), or, without an outcome, "cut" (still
    running when `TESTS_BUDGET` ended) or "skipped" (it could not start within it)."""
    output: str
    """The sandbox's stdout and stderr, capped: the response's prints, and why each test failed."""
    seconds: float

    @property
    def fraction(self) -> float:
        return sum(o == "pass" for o in self.outcomes) / len(self.outcomes)

    @property
    def unfinished(self) -> int:
        """Tests the budget left without an outcome."""
        return sum(o in ("cut", "skipped") for o in self.outcomes)

    @property
    def failed(self) -> bool:
        """Did a test that finished fail (an exception, an exit, its own timeout)?"""
        return any(o in ("fail", "timeout") for o in self.outcomes)


class BudgetExceeded(RuntimeError):
    """Tests left without an outcome by `TESTS_BUDGET`, all the others passed: no score."""


def run_tests(code: str, tests: Sequence[str], timeout: float = 5.0) -> TestReport:
    """Run `code` then each test, each test in a fresh process, in one sandbox.

    Raises ValueError for an invalid test and `sandbox.SandboxError` when the harness did not
    finish (the sandbox failed, not the response).
    """
    if not tests:
        raise ValueError("there are no tests to run")
    if not timeout > 0:
        raise ValueError(f"timeout must be positive, not {timeout}")
    prepared = [_prepare(test) for test in tests]
    nonces, done = [secrets.token_hex(16) for _ in tests], secrets.token_hex(16)
    job = {"code": code, "tests": [p[0] for p in prepared], "wrapped": [p[1] for p in prepared],
           "modules": sorted(set().union(*(p[2] for p in prepared)) - {"sys", "builtins", "__main__"}),
           "nonces": nonces, "done": done, "timeout": min(float(timeout), TESTS_BUDGET),
           "budget": TESTS_BUDGET, "lanes": LANES}
    limits = sandbox.Limits(cpu_s=math.ceil(min(timeout, TESTS_BUDGET)) + 1)
    # Only lines that carry a nonce come back: a response that floods fd 4 cannot push the
    # harness's report past the cap and turn its own failures into an unscored row.
    tokens = tuple(f"{token} ".encode() for token in (done, *nonces))
    run = sandbox.run_python(_harness_source(), marshal.dumps(job), flags=("-I", "-S", "-u"),
                             timeout=TESTS_BUDGET + STARTUP_ALLOWANCE, limits=limits, tokens=tokens)
    lines = set(run.results.decode("ascii", errors="replace").splitlines())
    output = run.output.decode(errors="replace")
    if f"{done} done" not in lines:
        raise sandbox.SandboxError(f"the test harness did not finish (exit code {run.returncode},"
                                   f" timed out: {run.timed_out}): {output[-2000:]}")
    statuses = dict(line.split(" ", 2)[1:] for line in lines if line.startswith(f"{done} ") and line.count(" ") >= 2)
    outcomes = tuple("pass" if f"{nonce} pass" in lines else _failure(statuses.get(str(i), ""))
                     for i, nonce in enumerate(nonces))
    return TestReport(outcomes, output, run.seconds)


def _failure(status: str) -> str:
    return status if status in ("timeout", "cut", "skipped") else "fail"


# ---------------------------------------------------------------- the built-ins


@builtin(heavy=True)
def python_tests(code: str | None, tests: list[str], timeout: float = 5.0) -> float:
    """The fraction of `tests` that the Python `code` passes, run in a sandbox.

    Each test is a snippet such as `assert add(1, 2) == 3` (MBPP style), run after the code in a
    fresh process; it passes when both end without an exception. `timeout` is each test's
    wall-clock limit in seconds (at most 7), and a test that reaches it fails. All the tests of
    one call share a budget of 7 seconds, 4 at a time; when it ends before every test has, and
    every test that finished passed, the call raises `BudgetExceeded` (the item is an `error`,
    the row is not scored) instead of counting the others as failures: slow but correct code is
    not scored as wrong. Once a test has failed, the tests the budget left count as failures, so
    slowness never turns a failing response into an unscored row. Missing code (no code block in
    the response) scores 0. A sandbox that fails raises: the item is an `error`, never a 0. `==`
    in a test is strict: an object from the response that claims to equal everything does not
    pass. See `split_tests` for tests given as one text.

    >>> python_tests("def sq(x):\\n    return x * x", ["assert sq(3) == 9"]), python_tests(None, ["assert f()"])
    (1.0, 0.0)
    """
    if code is None:
        return 0.0
    report = run_tests(code, tests, timeout)
    if report.unfinished and not report.failed:
        raise BudgetExceeded(
            f"{report.unfinished} of {len(tests)} tests did not finish within the {TESTS_BUDGET:g} s"
            f" that the tests of one call share, and the {len(tests) - report.unfinished} that did"
            " passed: not scored (give fewer tests per row, or a smaller timeout)")
    return report.fraction


@builtin()
def split_tests(text: str) -> list[str]:
    """Tests given as one text, split into one test per top-level `assert`.

    The other top-level statements (imports, definitions, assignments) before an assert are kept in
    front of it, so that each test runs on its own. A text without a top-level assert (a `check`
    function and its call, say) is one test.

    >>> split_tests("import math\\nassert f(1) == 1\\nx = 2\\nassert f(x) == 4")
    ['import math\\nassert f(1) == 1', 'import math\\nx = 2\\nassert f(x) == 4']
    """
    try:
        statements = ast.parse(text).body
    except SyntaxError as exc:
        raise ValueError(f"split_tests: not valid Python: {exc.msg} (line {exc.lineno})") from None
    tests, prelude = [], []
    for statement in statements:
        if isinstance(statement, ast.Assert):
            tests.append("\n".join([*prelude, ast.unparse(statement)]))
        else:
            prelude.append(ast.unparse(statement))
    return tests or [text]

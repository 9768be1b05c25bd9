"""Run a response's Python against tests in the sandbox: `python_tests`, `split_tests`.

>>> python_tests("def add(a, b):\\n    return a + b", ["assert add(1, 2) == 3", "assert add(2, 2) == 5"])
0.5

Three modules: this one holds the built-ins and `run_tests`, the caller's side of one call;
`code_tests` prepares each test (parsed and rewritten before it runs, `==` made strict);
`code_harness` is the harness, the program shipped into the sandbox that runs them.

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
import marshal
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from rubricc.builtins.code_harness import harness_source
from rubricc.builtins.code_tests import prepare
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


# ---------------------------------------------------------------- running the tests, in the caller


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
    prepared = [prepare(test) for test in tests]
    nonces, done = [secrets.token_hex(16) for _ in tests], secrets.token_hex(16)
    job = {"code": code, "tests": [p[0] for p in prepared], "wrapped": [p[1] for p in prepared],
           "modules": sorted(set().union(*(p[2] for p in prepared)) - {"sys", "builtins", "__main__"}),
           "nonces": nonces, "done": done, "timeout": min(float(timeout), TESTS_BUDGET),
           "budget": TESTS_BUDGET, "lanes": LANES}
    limits = sandbox.Limits(cpu_s=math.ceil(min(timeout, TESTS_BUDGET)) + 1)
    # Only lines that carry a nonce come back: a response that floods fd 4 cannot push the
    # harness's report past the cap and turn its own failures into an unscored row.
    tokens = tuple(f"{token} ".encode() for token in (done, *nonces))
    run = sandbox.run_python(harness_source(), marshal.dumps(job), flags=("-I", "-S", "-u"),
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

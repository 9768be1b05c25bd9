"""The sandbox and the test harness against hostile code: every layer, every way to fool a score.

Real subprocesses and namespaces throughout; each hostile run is bounded to a few seconds, and the
last test checks that no sandbox process outlived its run.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import secrets
import site
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import rubricc
from rubricc.builtins import code as harness
from rubricc.builtins import code_harness
from rubricc.isolation import sandbox
from rubricc.scorer import DEFAULT_DEADLINE
from tests.conftest import ROOT

MARK = f"rubricc-sandbox-test-{os.getpid()}"
"""In the source of every raw program below, so that its processes can be found on the host."""


def marked_processes(mark: str = MARK) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and mark.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            pass  # gone while we looked
    return [pid for pid in found if pid != os.getpid()]


def eventually_none(mark: str = MARK, seconds: float = 3.0) -> list[int]:
    give_up = time.monotonic() + seconds
    while (left := marked_processes(mark)) and time.monotonic() < give_up:
        time.sleep(0.05)
    return left


def run(program: str, timeout: float = 2.0, **kwargs) -> sandbox.SandboxRun:
    return sandbox.run_python(f"# {MARK}\n{program}", timeout=timeout, **kwargs)


ATTACK_CASES = ROOT / "tests/cases/attacks/code"
"""Hostile programs kept as files: `harness/` holds responses that replace names the harness
uses, `filesystem/` programs that look for the host's files, `flood/` responses that flood the
result pipe."""


# ---------------------------------------------------------------- the isolation layers


def test_every_layer_is_on_here() -> None:
    layers = sandbox.isolation_layers()
    assert [name for name, state in layers.items() if not state.startswith("on")] == []
    assert {"pid namespace", "network namespace", "mount namespace", "unprivileged uid",
            "own user namespace", "parent-death signal", "resource limits"} <= set(layers)


def test_unprivileged_empty_environment_own_folder(monkeypatch) -> None:
    monkeypatch.setenv("RUBRICC_TEST_SECRET", "hunter2")
    result = run("""
import os, json
found = [name for name in os.listdir("/proc")]
print(json.dumps({"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
                  "cwd": os.getcwd(), "env": dict(os.environ), "proc": found,
                  "fds": sorted(int(f) for f in os.listdir("/dev/fd")) if os.path.exists("/dev/fd/0") else None,
                  "payload": os.read(3, 100).decode()}))
""", payload=b"hello")
    seen = json.loads(result.output)
    assert (seen["uid"], seen["gid"], seen["groups"]) == (sandbox.NOBODY, sandbox.NOBODY, [])
    assert seen["cwd"] == sandbox.WORKDIR and seen["env"] == sandbox.ENVIRONMENT
    assert seen["proc"] == []  # no process list, no /proc/<pid>/environ, no /proc/self/mem
    assert seen["payload"] == "hello"
    assert b"hunter2" not in result.output


def test_environment_secret_unreadable_even_through_proc(monkeypatch) -> None:
    monkeypatch.setenv("RUBRICC_TEST_SECRET", "hunter2")
    result = run("""
import os, glob
print(os.environ.get("RUBRICC_TEST_SECRET"))
for path in glob.glob("/proc/*/environ") + ["/proc/1/environ", "/proc/self/environ"]:
    try:
        print(open(path, "rb").read())
    except OSError as exc:
        print("no", path, exc.strerror)
""")
    assert b"hunter2" not in result.output and result.output.startswith(b"None\n")


def test_fork_bomb_stops_at_the_process_limit_and_dies_at_the_deadline() -> None:
    started = time.monotonic()
    result = run("""
import os, time
made = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        made += 1
except OSError as exc:
    print("fork refused after", made, exc.errno, flush=True)
time.sleep(60)
""", timeout=2.0, limits=sandbox.Limits(processes=32))
    assert result.timed_out and time.monotonic() - started < 2.0 + 2 * sandbox.KILL_GRACE
    made = int(result.output.split()[3])
    assert 20 <= made < 32  # the limit binds, though we run as root
    assert eventually_none() == []


def test_process_limits_are_per_sandbox() -> None:
    """A fork bomb in one sandbox leaves another free to fork (each has its own user namespace)."""
    bomb = subprocess.Popen([sys.executable, "-c", f"""
from rubricc.isolation.sandbox import run_python, Limits
run_python('# {MARK}\\nimport os, time\\nwhile True:\\n    try:\\n        os.fork() or time.sleep(60)\\n    except OSError:\\n        time.sleep(0.01)', timeout=2.0, limits=Limits(processes=16))
"""], cwd=ROOT)
    try:
        give_up = time.monotonic() + 1.5
        while len(marked_processes()) < 16 and time.monotonic() < give_up:
            time.sleep(0.05)
        assert len(marked_processes()) >= 16, "the bomb never reached its limit"
        other = run("import os\npid = os.fork()\nos._exit(0) if pid == 0 else print(os.waitpid(pid, 0)[1])",
                    limits=sandbox.Limits(processes=16))
        assert other.output == b"0\n"
    finally:
        bomb.wait(timeout=10)
    assert eventually_none() == []


def test_infinite_loop_and_sleeping_children_end_at_the_deadline() -> None:
    started = time.monotonic()
    result = run("import os, time\nif os.fork() == 0:\n    time.sleep(60)\nwhile True:\n    pass",
                 timeout=1.0)
    assert result.timed_out and result.returncode == 124
    assert time.monotonic() - started < 1.0 + 2 * sandbox.KILL_GRACE
    assert eventually_none() == []


def test_cpu_limit_binds_before_a_long_deadline() -> None:
    result = run("while True:\n    pass", timeout=30.0, limits=sandbox.Limits(cpu_s=1))
    assert not result.timed_out and result.returncode in (128 + 9, 128 + 24)  # SIGKILL or SIGXCPU
    assert result.seconds < 5


def test_huge_allocation_fails_inside() -> None:
    result = run("x = bytearray(4 * 1024 ** 3)", limits=sandbox.Limits(memory_mb=256))
    assert result.returncode == 1 and b"MemoryError" in result.output


def test_writes_outside_its_folder_fail_or_vanish(tmp_path) -> None:
    targets = [ROOT / f"{MARK}.txt", Path.home() / f"{MARK}.txt", Path("/tmp") / f"{MARK}.txt",
               Path("/dev/shm") / f"{MARK}.txt", tmp_path / "x.txt"]
    result = run(f"""
import os
for path in {[str(p) for p in targets]!r} + ["/tmp/work/../{MARK}.txt"]:
    try:
        with open(path, "w") as f:
            f.write("pwned")
        print("wrote", path)
    except OSError as exc:
        print("refused", path, exc.strerror)
open("kept.txt", "w").write("ok")
print("local", open("kept.txt").read())
try:
    open("big", "wb").write(b"x" * (32 * 1024 * 1024))
except OSError as exc:
    print("big refused", exc.strerror)
""")
    text = result.output.decode()
    assert "wrote" not in text.replace("wrote /tmp/work", ""), text
    assert "local ok" in text and "big refused File too large" in text
    assert [p for p in targets if p.exists()] == []
    assert not list(Path("/tmp").glob("work/kept.txt"))  # its folder lived in its own tmpfs


def shown_in(folder: str) -> list[str]:
    """What `folder` lists inside the sandbox: the next name of each path in view below it."""
    view = sandbox._plan().view
    paths = [*view.binds, *(link for link, _ in view.links), "/tmp", "/proc"]
    below = folder.rstrip("/") + "/"
    return sorted({path[len(below):].split("/")[0] for path in paths if path.startswith(below)})


def test_the_sandbox_sees_only_its_view() -> None:
    """No checkout (this very file), no venv, no /home, /etc/shadow or /run: only the Python
    installation, the shared libraries and a few devices are there, and /etc has two files."""
    binds = sandbox._plan().view.binds
    venv = [path for path in site.getsitepackages()  # a system Python's are under /usr/lib: in view
            if not any(path == bind or path.startswith(bind + "/") for bind in binds)]
    absent = [__file__, str(ROOT / "pyproject.toml"), "/etc/shadow", "/etc/passwd", "/etc/hostname",
              "/etc/hosts", *venv]
    on_the_way = [str(ROOT), "/home", "/work", "/run", "/srv", "/opt", "/var", "/mnt", "/root"]
    result = run((ATTACK_CASES / "filesystem/look_around.py").read_text(),
                 payload=json.dumps(absent + on_the_way).encode())
    seen = json.loads(result.output)
    assert seen["/"] == shown_in("/") and {"dev", "proc", "tmp", "usr"} <= set(seen["/"])
    assert set(seen["/etc"]) <= {"ld.so.cache", "localtime"}
    assert {path: seen["seen"][path] for path in absent} == dict.fromkeys(absent, "No such file or directory")
    for path in on_the_way:  # absent, or a folder on the way to the Python installation
        names = shown_in(path)
        assert seen["seen"][path] == (f"folder: {', '.join(names)}" if names else "No such file or directory")


def writable_folder_outside_tmp() -> Path:
    """Where the walk attack's data goes: the sandbox has its own /tmp, so data under the host's
    would be out of reach even without the view."""
    for folder in (ROOT, Path("/home"), Path("/srv"), Path("/opt"), Path("/var/tmp"), Path.home()):
        if not str(folder.resolve()).startswith("/tmp/") and os.access(folder, os.W_OK):
            return folder
    return ROOT


def test_tests_left_on_the_host_cannot_be_read() -> None:
    """A dataset row whose test expects a value nothing else gives, world-readable on the host:
    the response walks the filesystem for `assert NAME(...) == VALUE` lines, and finds nothing."""
    token = secrets.token_hex(8)
    test = "assert secret_of('probe') == " + repr(token)  # not a line the attack matches here
    folder = Path(tempfile.mkdtemp(prefix="rubricc-attack-", dir=writable_folder_outside_tmp()))
    try:
        folder.chmod(0o755)
        (folder / "rows.jsonl").write_text(json.dumps({"prompt": "secret_of", "tests": [test]}) + "\n")
        (folder / "rows.jsonl").chmod(0o644)
        report = harness.run_tests((ATTACK_CASES / "filesystem/walk_for_asserts.py").read_text(), [test],
                                   timeout=4.0)
    finally:
        (folder / "rows.jsonl").unlink()
        folder.rmdir()
    assert report.outcomes == ("fail",) and token not in report.output, report.output
    assert "NameError: name 'secret_of' is not defined" in report.output


STDLIB = ["json", "re", "math", "collections", "itertools", "functools", "fractions", "decimal",
          "datetime", "random", "heapq", "bisect", "string", "typing", "dataclasses", "unittest"]


def test_the_standard_library_works_in_the_view() -> None:
    code = f"import os, time, {', '.join(STDLIB)}\n" + """
@dataclasses.dataclass
class Point:
    x: int

used = [json.dumps([1]), re.sub("a", "b", "a"), math.sqrt(4), collections.Counter("aa"),
        list(itertools.pairwise([1, 2])), functools.reduce(max, [1, 2]), fractions.Fraction(1, 3),
        decimal.Decimal("1.1") + 1, datetime.datetime.now().astimezone(), time.localtime(),
        random.random(), heapq.nsmallest(1, [2, 1]), bisect.bisect([1, 3], 2), string.ascii_letters,
        typing.NamedTuple("Pair", [("a", int)]), Point(1), unittest.TestCase, os.urandom(4)]
with open(os.devnull, "w") as sink:
    sink.write("x")

def add(a, b):
    return a + b
"""
    report = harness.run_tests(code, ["assert add(1, 2) == 3"], timeout=5.0)
    assert report.outcomes == ("pass",), report.output


def test_no_network_even_to_the_hosts_loopback() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        result = run(f"""
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=1)
    print("connected")
except OSError as exc:
    print("refused", exc.errno)
try:
    socket.getaddrinfo("example.com", 80)
    print("resolved")
except OSError as exc:
    print("no dns")
""")
        with pytest.raises(TimeoutError):
            listener.accept()
    assert b"connected" not in result.output and b"resolved" not in result.output


def test_output_is_capped() -> None:
    result = run("import sys\nfor _ in range(200):\n    sys.stdout.write('x' * 65536)",
                 limits=sandbox.Limits(output_bytes=1000))
    assert len(result.output) == 1000 and result.returncode == 0


def test_sandbox_dies_with_the_process_that_started_it() -> None:
    """A pool worker killed at its deadline takes its sandbox along (pdeathsig, then pid ns)."""
    worker = subprocess.Popen([sys.executable, "-c", f"""
from rubricc.isolation.sandbox import run_python
run_python('# {MARK}\\nimport os, time\\nos.fork()\\ntime.sleep(60)', timeout=30.0)
"""], cwd=ROOT)
    give_up = time.monotonic() + 10
    while len(marked_processes()) < 3 and time.monotonic() < give_up:  # pid 1, pid 2, its child
        time.sleep(0.05)
    assert len(marked_processes()) >= 3
    worker.kill()
    worker.wait()
    assert eventually_none(seconds=2.0) == []


def test_a_non_root_caller_gets_namespaces_and_is_told_what_is_missing() -> None:
    """As uid 1000 (in a user namespace; outside it that is still root, so no fork bomb here:
    RLIMIT_NPROC never binds the kernel's root user)."""
    script = f"""
import json, warnings
from rubricc.isolation import sandbox
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    result = sandbox.run_python('# {MARK}\\nimport os, socket\\ntry:\\n    open("{ROOT}/{MARK}", "w")\\nexcept OSError as e:\\n    print(e.strerror)\\ntry:\\n    socket.create_connection(("1.1.1.1", 53), timeout=1)\\nexcept OSError as e:\\n    print(e.errno)', timeout=3.0)
print(json.dumps({{"layers": sandbox.isolation_layers(), "output": result.output.decode(),
                  "warnings": [str(w.message) for w in caught]}}))
"""
    done = subprocess.run(["unshare", "--user", "--map-user=1000", "--map-group=1000", sys.executable,
                           "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    report = json.loads(done.stdout)
    assert report["layers"]["unprivileged uid"].startswith("off: not root")
    assert report["layers"]["network namespace"] == "on"
    # read-only, or absent when the checkout lies under /tmp (the sandbox has its own /tmp)
    error, errno = report["output"].splitlines()
    assert error in ("Read-only file system", "No such file or directory")
    assert errno == "101"  # ENETUNREACH
    assert any("unprivileged uid" in w for w in report["warnings"])
    assert not (ROOT / MARK).exists()


def test_a_program_too_long_for_a_command_line_is_refused() -> None:
    with pytest.raises(ValueError, match="payload"):
        sandbox.run_python("#" * (sandbox.MAX_PROGRAM + 1), timeout=1.0)


def test_a_sandbox_that_cannot_start_raises(monkeypatch) -> None:
    broken = dataclasses.replace(sandbox._plan(), python="/nonexistent/python3")
    monkeypatch.setattr(sandbox, "_plan", lambda: broken)
    with pytest.raises(sandbox.SandboxError, match="did not start the program"):
        sandbox.run_python("print(1)", timeout=2.0)


# ---------------------------------------------------------------- the harness: scores


ADD_TESTS = ["assert add(1, 2) == 3", "assert add(2, 2) == 4", "assert add(-1, 1) == 0"]


@pytest.mark.parametrize(("code", "fraction"), [
    ("def add(a, b):\n    return a + b", 1.0),
    ("def add(a, b):\n    return a * b if a == 2 else a + b", 1.0),
    ("def add(a, b):\n    return 3", 1 / 3),
    ("def add(a, b):\n    return a * b", 1 / 3),
    ("def add(a, b):\n    return 4 if a == 2 else 3", 2 / 3),
    ("def add(a, b):\n    return a - b", 0.0),
    ("print('no function')", 0.0),
])
def test_scores_are_the_fraction_of_tests_passed(code: str, fraction: float) -> None:
    assert harness.python_tests(code, ADD_TESTS) == pytest.approx(fraction)


def test_a_slow_test_times_out_alone() -> None:
    code = "def add(a, b):\n    while a == 2:\n        pass\n    return a + b"
    report = harness.run_tests(code, ADD_TESTS, timeout=1.0)
    assert report.outcomes == ("pass", "timeout", "pass") and report.seconds < 3.0


WRONG = "def add(a, b):\n    return a - b\n"
ATTACKS = {
    "sys.exit at top level": "import sys\nsys.exit(0)",
    "os._exit at top level": "import os\nos._exit(0)",
    "sys.exit in the function": "import sys\ndef add(a, b):\n    sys.exit(0)",
    "os._exit in the function": "import os\ndef add(a, b):\n    os._exit(0)",
    "raise SkipTest": "import unittest\ndef add(a, b):\n    raise unittest.SkipTest('skip')",
    "fake results on stdout": WRONG + "print('PASSED 3/3')\nprint('OK (tests=3)')",
    "forged result lines": WRONG + "import os\nfor i in range(3):\n    os.write(4, f'{i} pass\\n'.encode())",
    "patched AssertionError": WRONG + "import builtins\nbuiltins.AssertionError = type('E', (Exception,), {})",
    "patched excepthook": WRONG + "import sys\nsys.excepthook = lambda *args: None",
    "patched print": WRONG + "import builtins\nbuiltins.print = lambda *a, **k: None",
    "atexit forging a pass": WRONG + "import atexit, os\natexit.register(os.write, 4, b'x pass\\n')",
    "patched harness functions": WRONG + "import __main__\n__main__._strict_equality = lambda: (lambda a, b: True)\n"
                                         "__main__._run_test = None\n__main__._explain = None",
    "object equal to everything": "class A:\n    def __eq__(self, other):\n        return True\n"
                                  "def add(a, b):\n    return A()",
    "int subclass equal to everything": "class A(int):\n    def __eq__(self, other):\n        return True\n"
                                        "    __hash__ = int.__hash__\ndef add(a, b):\n    return A(0)",
    "metaclass faking int": "class M(type):\n    def __eq__(cls, other):\n        return True\n"
                            "    def __hash__(cls):\n        return hash(int)\n"
                            "class A(metaclass=M):\n    def __eq__(self, other):\n        return True\n"
                            "def add(a, b):\n    return A()",
    "reading the caller's frame": "import sys\ndef add(a, b):\n    return sys._getframe(1).f_code.co_consts[-1]",
    "frames through a traceback": "def add(a, b):\n    try:\n        1 / 0\n    except ZeroDivisionError as e:\n"
                                  "        return e.__traceback__.tb_frame.f_back.f_locals",
    "frames through a generator": "def add(a, b):\n    g = (i for i in [1])\n    return g.gi_frame.f_back",
    "frames through a signal handler": "import signal\ndef add(a, b):\n    signal.signal(14, lambda s, f: None)\n"
                                       "    return 0",
    "raw _signal": "import signal\ndef add(a, b):\n    return signal.alarm.__self__.signal(14, print)",
    "trace function skipping lines": "import sys\nsys.settrace(lambda *a: None)\n" + WRONG,
    "heap scan": "import gc\ndef add(a, b):\n    return [o for o in gc.get_objects() if isinstance(o, bytes)]",
    "ctypes": "import ctypes\ndef add(a, b):\n    return ctypes.string_at(id(a), 64)",
    "/proc/self/mem": "def add(a, b):\n    return open('/proc/self/mem', 'rb').read(1)",
    "fork to try both answers": "import os\ndef add(a, b):\n    return a + b if os.fork() else a - b",
    "subprocess": "import subprocess\ndef add(a, b):\n    return int(subprocess.check_output(['echo', '3']))",
    "another audit hook": WRONG + "import sys\nsys.addaudithook(lambda event, args: None)",
    "killing the harness": "import os\nos.kill(1, 9)\n" + WRONG,
    "shadowing a builtin the test calls": WRONG + "def abs(x):\n    return 0",
    "patching a builtin the test calls": WRONG + "import builtins\nbuiltins.abs = lambda x: 0",
    "replacing __builtins__": WRONG + "__builtins__ = {'abs': lambda x: 0}",
    "patching math.isclose": WRONG + "import math\nmath.isclose = lambda *a, **k: True",
    "patching __import__ and vars": WRONG + "import builtins, types\nreal = builtins.__import__\n"
                                            "fake = types.ModuleType('math')\nfake.isclose = lambda *a, **k: True\n"
                                            "builtins.__import__ = lambda n, *a, **k: fake if n == 'math' else real(n, *a, **k)\n"
                                            "builtins.vars = lambda *a: {}",
    "replacing math in sys.modules": WRONG + "import sys, types\nfake = types.ModuleType('math')\n"
                                             "fake.isclose = lambda *a, **k: True\nsys.modules['math'] = fake",
    "unsealing unittest's strict ==": "class A:\n    def __eq__(self, other):\n        return True\n"
                                      "import unittest\nsealed = unittest.TestCase.assertEqual\n"
                                      "sealed.__kwdefaults__['_equal'] = lambda a, b: True\n"
                                      "def add(a, b):\n    return A()",
    "patching unittest's asserts": WRONG + "import unittest\n"
                                           "unittest.TestCase.assertEqual = lambda *a, **k: None\n"
                                           "unittest.TestCase.assertTrue = lambda *a, **k: None",
}
ATTACKED_TESTS = ["assert add(1, 2) == 3", "assert abs(add(2, 2) - 4) < 1e-9",
                  "import math\nassert math.isclose(add(1, 1), 2)",
                  "import unittest\nunittest.TestCase().assertEqual(add(0, 3), 3)"]


@pytest.mark.parametrize("attack", list(ATTACKS), ids=list(ATTACKS))
def test_the_harness_is_not_fooled(attack: str) -> None:
    report = harness.run_tests(ATTACKS[attack], ATTACKED_TESTS, timeout=2.0)
    assert "pass" not in report.outcomes, report.output


@pytest.mark.parametrize("extra", [
    "import builtins\nbuiltins.print = lambda *a, **k: None",
    "def abs(x):\n    return 0",
    "import sys\nsys.excepthook = None",
])
def test_harmless_patches_leave_a_correct_solution_passing(extra: str) -> None:
    code = "def add(a, b):\n    return a + b\n" + extra
    assert harness.run_tests(code, ATTACKED_TESTS, timeout=2.0).outcomes == ("pass",) * 4


HARNESS_ATTACKS = sorted((ATTACK_CASES / "harness").glob("*.py"))
GLOBALS_TESTS = ["assert add(1, 2) == 3", "assert add(0.5, 0.25) == 0.75", "assert add('a', 'b') == 'ab'",
                 "assert add(b'a', b'b') == b'ab'", "assert add([1], [2]) == [1, 2]",
                 "import math\nassert math.isclose(add(1, 1), 2)"]


def test_the_harness_attacks_are_there_and_their_tests_can_pass() -> None:
    assert len(HARNESS_ATTACKS) >= 6
    code = "def add(a, b):\n    return a + b"
    assert harness.run_tests(code, GLOBALS_TESTS, timeout=2.0).outcomes == ("pass",) * len(GLOBALS_TESTS)


@pytest.mark.parametrize("attack", HARNESS_ATTACKS, ids=[path.stem for path in HARNESS_ATTACKS])
def test_the_harness_keeps_its_own_names(attack: Path) -> None:
    """Each response replaces names the harness uses (`int`, `str`, `issubclass`, its own
    functions, a module's `__name__`) in `__main__` or `builtins`, before or during the test."""
    report = harness.run_tests(attack.read_text(), GLOBALS_TESTS, timeout=2.0)
    assert "pass" not in report.outcomes, report.output


FLOOD_ATTACKS = sorted((ATTACK_CASES / "flood").glob("*.py"))


@pytest.mark.parametrize("attack", FLOOD_ATTACKS, ids=[path.stem for path in FLOOD_ATTACKS])
def test_flooding_the_result_pipe_cannot_unscore_a_response(attack: Path) -> None:
    """Megabytes of junk on fd 4, with newlines or without, at import or during each test: the
    call still returns each test's outcome (no SandboxError, so the row is scored, not masked)."""
    source = attack.read_text()
    # a generous deadline: megabytes through the pipe at import took over 2 s on a loaded 2-core
    # machine, and the deadline is not what this test is about
    report = harness.run_tests(source, ["assert add(1, 2) == 3", "assert add(2, 2) == 4"], timeout=6.0)
    want = "pass" if "# expect: pass" in source else "fail"
    assert report.outcomes == (want, want), report.output


def test_changing_builtins_or_the_harness_during_the_test_fails_it() -> None:
    """Harmless at top level (builtins are put back), failing when done during the test."""
    correct = "import builtins, __main__\ndef add(a, b):\n    {}\n    return a + b\n"
    outcomes = [harness.run_tests(correct.format(change), ["assert add(1, 2) == 3"], timeout=2.0).outcomes
                for change in ("pass", "builtins.print = len", "builtins.extra = 1", "__main__.extra = 1",
                               "__main__.int = int")]
    assert outcomes == [("pass",), ("fail",), ("fail",), ("fail",), ("fail",)]


EQUALITY = [  # (left, right, strict ==)
    (3, 3, True), (3, 3.0, True), (True, 1, True), ("a", "a", True), ("a", b"a", False),
    ([1, [2, (3,)]], [1, [2, (3,)]], True), ([1, 2], (1, 2), False), ({"a": [1]}, {"a": [1]}, True),
    ({1: 2}, {1.0: 2}, True), ({1, 2}, frozenset({2, 1}), True), (None, None, True), (None, 0, False),
    (float("nan"), float("nan"), False),
]


@pytest.mark.parametrize(("left", "right", "equal"), EQUALITY)
def test_strict_equality_agrees_with_python_on_builtin_values(left, right, equal) -> None:
    strict = code_harness._strict_equality()
    assert strict(left, right) is equal is (left == right) and strict(right, left) is equal


def test_strict_equality_ignores_the_responses_methods() -> None:
    class Anything:
        def __eq__(self, other):
            return True

        __hash__ = object.__hash__

    class Int(int):
        def __eq__(self, other):
            return True

    class Listy(list):
        def __eq__(self, other):
            return True

    class Texty(str):
        def __eq__(self, other):
            return True

        __hash__ = str.__hash__

    strict = code_harness._strict_equality()
    assert not strict(Anything(), 3) and not strict(3, Anything()) and not strict([Anything()], [3])
    assert not strict(Int(5), 3) and strict(Int(3), 3)  # compared by its int value
    assert not strict(Listy([9]), [3]) and strict(Listy([3]), [3])
    assert not strict(Texty("b"), "a") and strict(Texty("a"), "a")
    assert not strict({Anything(): 1}, {3: 1})
    assert strict(Anything(), Anything())  # no builtin value on either side: Python's ==


def test_a_harness_that_cannot_finish_raises_instead_of_scoring(monkeypatch) -> None:
    monkeypatch.setattr(harness, "TESTS_BUDGET", 3.0)
    monkeypatch.setattr(harness, "STARTUP_ALLOWANCE", -2.5)  # the sandbox ends before the harness
    with pytest.raises(sandbox.SandboxError, match="harness did not finish"):
        harness.python_tests("def add(a, b):\n    while True:\n        pass", ADD_TESTS)


def test_the_call_budget_fits_inside_the_pool_deadline() -> None:
    worst = harness.TESTS_BUDGET + harness.STARTUP_ALLOWANCE + sandbox.KILL_GRACE
    assert worst < DEFAULT_DEADLINE


# ---------------------------------------------------------------- the pack, end to end


def code_row(body: str, tests: list[str] = ADD_TESTS) -> dict:
    return {"prompt": "Write add(a, b).", "tests": tests, "timeout": 1.0,
            "response": f"```python\n{body}\n```"}


def test_a_batch_with_hostile_rows_scores_every_row() -> None:
    rows = [
        code_row("def add(a, b):\n    return a + b"),
        code_row("def add(a, b):\n    return 3"),
        {"prompt": "Write add(a, b).", "tests": ADD_TESTS, "timeout": None, "response": "I cannot."},
        code_row("import sys\nsys.exit(0)"),
        code_row("import os\nwhile True:\n    os.fork()"),
        code_row("def add(a, b):\n    while True:\n        pass"),
        code_row("x = bytearray(8 * 1024 ** 3)"),
        code_row("class A:\n    def __eq__(self, o):\n        return True\ndef add(a, b):\n    return A()"),
        code_row("print('PASSED 3/3')"),
        code_row("def add(a, b):\n    return a + b", ["assert add(1, 2) =="]),
    ]
    scorer = rubricc.compile(str(ROOT / "rubrics/code/python_tests.rubric"))
    try:
        batch = scorer.score_rows(rows)
    finally:
        scorer.close()
    results = batch.rows
    assert len(results) == len(rows)
    totals = [r.total for r in results[:9]]
    assert totals == pytest.approx([1.0, 1 / 3, 0, 0, 0, 0, 0, 0, 0])
    assert results[2].items["passes"].status == "skipped"
    assert [r.items["passes"].status for r in results[3:9]] == ["ok"] * 6
    assert results[9].items["passes"].status == "error" and results[9].status == "error"
    assert "not valid Python" in results[9].items["passes"].message


def test_the_harness_module_ships_all_its_functions() -> None:
    """`code_harness` is the shipped program and nothing else: a function of it left out of the
    shipped ones would only fail inside the sandbox, as a NameError."""
    defined = {name for name, fn in vars(code_harness).items()
               if inspect.isfunction(fn) and fn.__module__ == code_harness.__name__}
    assert defined - {"harness_source"} == {fn.__name__ for fn in code_harness._HARNESS_FUNCTIONS}


def test_no_sandbox_process_outlived_its_run() -> None:
    """Last: nothing marked by this file is alive, and no sandbox's pid 1 lost its `unshare`."""
    assert eventually_none() == []
    orphans = []
    for pid in marked_processes("_setup(sys.argv[1])"):
        try:
            parent = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
            if b"unshare" not in Path(f"/proc/{parent}/cmdline").read_bytes():
                orphans.append(pid)
        except OSError:
            pass  # it ended while we looked
    assert orphans == []


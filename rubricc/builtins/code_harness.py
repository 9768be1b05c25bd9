"""The test harness of `python_tests`: the program the sandbox runs, one call's tests in it.

These functions never run in rubricc's process (but for tests of `_strict_equality`): they are
shipped to the sandbox's interpreter as source text (`harness_source`, made by
`sandbox.program_source`), so they use the standard library only, the names in `harness_source`'s
constants and each other. The harness reads its job (the response's code, the prepared tests of
`code_tests`, a nonce per test) from fd 3, forks one child per test, `lanes` at a time, and
writes each test's outcome on fd 4. Everything a child uses after the response has started is
bound before it runs (a local, a default argument, a closure): the response can rebind any name in
`__main__` or `builtins`. What it defends against, and what not: the docstring of
`rubricc.builtins.code`.
"""

from __future__ import annotations

import builtins
import functools
import marshal
import os
import select
import sys
import time

from rubricc.builtins.code_tests import BUILTINS, EQ, TEST
from rubricc.isolation import sandbox


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
def harness_source() -> str:
    """The harness as one program, for `sandbox.run_python`."""
    return sandbox.program_source("import builtins, marshal, os, select, sys, time",
                                  {"EQ": EQ, "BUILTINS": BUILTINS, "TEST": TEST}, _HARNESS_FUNCTIONS,
                                  "_harness()")

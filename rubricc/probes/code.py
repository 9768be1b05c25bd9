"""Code-targeted hacks: code that passes the tests without implementing the function.

They run on rubrics that execute the response (`python_tests`), on rows whose tests call a
function (`assert add(1, 2) == 3`; the runner gives them no other rows): each probe defines that
function so that it cheats.
"""

from __future__ import annotations

from collections.abc import Iterator

from rubricc.probes.context import Context, literal_cases
from rubricc.probes.registry import probe

FIND_TESTS = '''
import ast, os, re
_FOUND = {}
_PATTERN = re.compile(r"assert\\s+NAME\\((.*?)\\)\\s*==\\s*([^\\n\\"]+)")
def _scan(text):
    for args, want in _PATTERN.findall(text):
        try:
            _FOUND[repr(tuple(ast.literal_eval("(" + args + ",)")))] = ast.literal_eval(want.strip())
        except Exception:
            pass
_seen = 0
_SKIP = {"proc", "sys", "dev", "usr", "lib", "lib64", "bin", "sbin", "boot", ".git", "node_modules",
         "site-packages", "__pycache__", ".venv"}
for _root in (os.getcwd(), os.path.expanduser("~"), "/work", "/home", "/srv", "/mnt", "/data",
              "/opt", "/var", "/tmp", "/"):
    for _dir, _subdirs, _files in os.walk(_root):
        _subdirs[:] = [d for d in _subdirs if d not in _SKIP]
        for _name in _files:
            _seen += 1
            if _seen > 50000:
                break
            if _name.endswith((".rubric", ".jsonl", ".json", ".py", ".txt", ".md")):
                try:
                    with open(os.path.join(_dir, _name), errors="replace") as _f:
                        _scan(_f.read(1 << 20))
                except Exception:
                    pass
def NAME(*args):
    return _FOUND.get(repr(args))
'''

READ_STACK = '''
import gc, sys
def NAME(*args):
    for getter in (lambda: sys._getframe(1), lambda: sys._getframe(2)):
        try:
            frame = getter()
            for value in frame.f_code.co_consts:
                if value is not None and not isinstance(value, (str, type(frame.f_code))):
                    return value
        except Exception:
            pass
    for obj in gc.get_objects():
        if type(obj).__name__ == "code" and "assert" in str(getattr(obj, "co_names", "")):
            return obj.co_consts[-1]
    return None
'''


def fence(code: str) -> str:
    return f"```python\n{code.strip()}\n```"


def define(ctx: Context, template: str) -> str:
    return fence(template.replace("NAME", ctx.function or "f"))


@probe("H040", "early-exit")
def early_exit(ctx: Context) -> Iterator[str]:
    """Code that leaves before the tests can fail.

    What it does:
        Defines the function under test so that the process ends first: `sys.exit(0)` at import
        or inside the function, `os._exit(0)`, `raise SystemExit`, and an `atexit` handler that
        prints a pass.

    Why it matters:
        A harness that reads the exit code, or counts a test as passed unless an assertion is
        seen, scores a process that never ran its assertions as all passed.

    Example:
        check passes: python_tests(code, tests, 5)   # with a harness that reads exit codes

    Use instead:
        `python_tests`, whose tests pass only by writing a per-test nonce after the assertion ran
    """
    yield define(ctx, "import sys\ndef NAME(*args, **kwargs):\n    sys.exit(0)")
    yield define(ctx, "import os\ndef NAME(*args, **kwargs):\n    os._exit(0)")
    yield define(ctx, "def NAME(*args, **kwargs):\n    raise SystemExit(0)")
    yield define(ctx, "import sys\nprint('All tests passed')\nsys.exit(0)\ndef NAME(*a):\n    return None")
    yield define(ctx, "import atexit, os\natexit.register(lambda: print('OK: all tests passed'))\n"
                      "def NAME(*args, **kwargs):\n    os._exit(0)")


@probe("H041", "always-equal")
def always_equal(ctx: Context) -> Iterator[str]:
    """An object that equals everything.

    What it does:
        Returns an instance whose `__eq__` is always true (and `__ne__` always false), plain and
        as a subclass of `int`, `str` and `list`.

    Why it matters:
        `assert f(x) == expected` calls the left operand's `__eq__` first: a plain `==` in the
        harness lets the response decide every comparison.

    Example:
        tests written `assert f(1) == 2`, run with Python's own `==`

    Use instead:
        `python_tests`, whose `==` compares builtin values by their contents with the builtin
        types' code, never a method of the response's classes
    """
    # a subclass holds a value no test expects: only its `__eq__` can make it pass
    for base, value in (("object", ""), ("int", "-987654321"), ("str", "'\\x00'"),
                        ("list", "[object()]")):
        yield define(ctx, f"class Anything({base}):\n"
                          "    def __eq__(self, other):\n        return True\n"
                          "    def __ne__(self, other):\n        return False\n"
                          "    __hash__ = object.__hash__\n"
                          f"def NAME(*args, **kwargs):\n    return Anything({value})")


@probe("H042", "patched-builtins")
def patched_builtins(ctx: Context) -> Iterator[str]:
    """Builtins and the harness's global names replaced.

    What it does:
        Replaces what the test and the harness use: `builtins.AssertionError`, `builtins.int` set
        inside the function under test, `__main__.int`, `__main__.str`, `__main__.isinstance`
        and `__main__.issubclass`, each with a class whose instances equal everything.

    Why it matters:
        The harness runs in the same interpreter as the response. If it reads a name at call time
        (`int`, `str`, `isinstance`), the response can swap that name between definition and use
        and make the harness's own comparison say yes.

    Example:
        a harness whose comparison reads `int` from its globals when it runs

    Use instead:
        `python_tests`, which binds every name its comparison uses before the response runs and
        fails a test whose builtins or `__main__` changed
    """
    # F() converts to itself: a harness that calls `int.__int__` after `int` became F gets an F
    anything = ("class F:\n    def __init__(self, *a, **k): pass\n"
                "    def __eq__(self, other): return True\n    def __ne__(self, other): return False\n"
                "    __hash__ = object.__hash__\n"
                "    def __int__(self): return self\n    __float__ = __complex__ = __int__\n"
                "    def __str__(self): return self\n    __bytes__ = __str__\n")
    yield define(ctx, "import builtins\nclass Nope(Exception): pass\n"
                      "builtins.AssertionError = Nope\ndef NAME(*args, **kwargs):\n    return None")
    yield define(ctx, anything + "import builtins\ndef NAME(*args, **kwargs):\n"
                                 "    builtins.int = builtins.float = builtins.str = F\n    return F()")
    for name in ("int", "str", "float", "isinstance", "issubclass", "type"):
        yield define(ctx, anything + f"import __main__\n__main__.{name} = F\n"
                                     "def NAME(*args, **kwargs):\n    return F()")


@probe("H043", "patched-runner")
def patched_runner(ctx: Context) -> Iterator[str]:
    """The test runner patched: assertions that cannot fail.

    What it does:
        Replaces `unittest.TestCase.assertEqual` and `assertTrue` with functions that do nothing,
        swaps `sys.modules["unittest"]`, replaces the harness's functions reachable from
        `__main__`, and sets `sys.excepthook` to swallow the failure.

    Why it matters:
        Tests written against a framework trust the framework's code; if the response can patch
        it, every assertion passes.

    Example:
        tests written with `unittest.TestCase.assertEqual`, run in the response's interpreter

    Use instead:
        `python_tests`, which gives each test the modules as they were before the response ran
        and fails a test whose modules or classes changed
    """
    yield define(ctx, "import unittest\nunittest.TestCase.assertEqual = lambda *a, **k: None\n"
                      "unittest.TestCase.assertTrue = lambda *a, **k: None\n"
                      "def NAME(*args, **kwargs):\n    return None")
    yield define(ctx, "import sys, types\nsys.modules['unittest'] = types.ModuleType('unittest')\n"
                      "def NAME(*args, **kwargs):\n    return None")
    yield define(ctx, "import __main__\nfor _n in list(vars(__main__)):\n"
                      "    if callable(getattr(__main__, _n)) and not _n.startswith('__'):\n"
                      "        setattr(__main__, _n, lambda *a, **k: True)\n"
                      "def NAME(*args, **kwargs):\n    return None")
    yield define(ctx, "import sys\nsys.excepthook = lambda *a: None\n"
                      "def NAME(*args, **kwargs):\n    return None")


@probe("H044", "tests-from-stack")
def tests_from_stack(ctx: Context) -> Iterator[str]:
    """The expected values read off the caller's frame or the heap.

    What it does:
        Defines the function under test to look up the calling frame (`sys._getframe`) and return
        a constant of the test's code object, or to search `gc.get_objects()` for it.

    Why it matters:
        The expected value is a constant in the test's own code: a response that can reach the
        frame that calls it can return the answer without computing it.

    Example:
        tests run in the same process as the response, with frames reachable

    Use instead:
        `python_tests`, whose audit hooks refuse frames, `gc` and raw memory to the response
    """
    yield define(ctx, READ_STACK)


@probe("H045", "tests-from-filesystem")
def tests_from_filesystem(ctx: Context) -> Iterator[str]:
    """The expected values read from files on disk.

    What it does:
        Walks the filesystem from `/`, the home folder and the working folder for rubric, JSONL,
        JSON, Python and text files, reads every `assert NAME(ARGS) == EXPECTED` in them, and
        returns the expected value for the arguments it is called with.

    Why it matters:
        The tests of a training run sit on the same machine: in the dataset, the rubric, a cache.
        A sandbox that leaves the host's files readable hands them to the response.

    Example:
        a sandbox whose filesystem is the host's, read-only

    Use instead:
        `python_tests`, whose sandbox sees the interpreter and the standard library only
    """
    yield define(ctx, FIND_TESTS)


@probe("H046", "hardcoded-visible-tests")
def hardcoded_visible_tests(ctx: Context) -> Iterator[str]:
    """The outputs of the tests shown in the prompt, hard-coded.

    What it does:
        Reads the tests that appear in the row's prompt (`assert f(ARGS) == EXPECTED` with literal
        arguments and results) and defines the function as a lookup table of them.

    Why it matters:
        No harness can tell a lookup table from an implementation on the inputs it was shown. If
        every test the reward runs is in the prompt, a policy can earn full reward by copying
        them, and learns nothing about the task.

    Example:
        a dataset whose prompt lists all of the row's tests

    Use instead:
        show the model a few examples and score it on tests it has not seen (a `tests` column
        with hidden cases), or mark the probe expected in a rubric whose data does this on purpose
    """
    table = literal_cases(ctx.visible_tests, ctx.function or "")
    if table:
        yield fence(f"_TABLE = {table!r}\n"
                    f"def {ctx.function}(*args):\n    return _TABLE.get(repr(args))")

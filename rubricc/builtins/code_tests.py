"""Preparing a test of `python_tests` before it runs, in rubricc's process: `prepare`.

A test is parsed and, if it can live in a function, rewritten as the body of
`__rubricc_test__(__rubricc_eq__, __rubricc_builtins__)` (`TEST`, `EQ`, `BUILTINS`): each `a == b`
becomes a call of the harness's strict equality, and each builtin the test names is bound from
the builtins as they were before the response ran. The harness (`code_harness`) calls it so.

>>> source, wrapped, modules = prepare("import math\\nassert sorted(x) == [1]")
>>> wrapped, modules
(True, {'math'})
>>> print(source)
def __rubricc_test__(__rubricc_eq__, __rubricc_builtins__):
    sorted = __rubricc_builtins__['sorted']
    import math
    assert __rubricc_eq__(sorted(x), [1])
"""

from __future__ import annotations

import ast
import builtins

EQ, BUILTINS, TEST = "__rubricc_eq__", "__rubricc_builtins__", "__rubricc_test__"
"""The names of a wrapped test's strict `==`, of its builtins, and of the function it is."""

# The builtins a test may name; `site` adds the others (exit, help, ...), and the sandbox runs `-S`.
_BUILTIN_NAMES = {name for name in dir(builtins) if not name.startswith("_")}
_BUILTIN_NAMES -= {"exit", "quit", "copyright", "credits", "license", "help"}


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


def prepare(test: str) -> tuple[str, bool, set[str]]:
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

"""A check that rewards a response for merely containing the reference answer.

What it does:
    Reports a rewarded check (weight above 0) that is met because the whole response contains a
    reference column (a declared input such as `answer`): `contains`, `starts_with`, `ends_with`,
    `fuzzy_contains`, or `count(...) >= 1`, with `response` (or text that keeps all of it:
    `lower(response)`, `strip_think(response)`, a `let` of these) as the text searched and the
    reference in what is searched for, and not under a `not`. Containment in an extracted answer
    (`tag`, `final_answer`, `last_boxed`, `extract`, ...) is not reported. Nor is a check that
    requires, in its own `and` or in an earlier gate, a short response (`words(response) <= 3`,
    `length(final) < 20`) or an exact comparison of the response with the reference (`equals`,
    `math_equal`, `normalized_equal`, `close`, `==`). A regex built from the reference is out of
    scope.

Why it matters:
    `Maybe 6, 7, 8, 9 or 10.` contains "8". A policy learns to list candidates, or to restate the
    question with every option in it, and is paid as if it had answered.

Example:
    input answer: text
    check correct: contains(lower(response), lower(answer))

Use instead:
    input answer: text
    let final = tag(response, "answer")
    check correct: normalized_equal(final ?? "", answer)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from rubricc import nodes as n
from rubricc.checked_rubric import Checked, ItemInfo, fold_number
from rubricc.diagnostics import Diagnostic, warning
from rubricc.lint import itemsets
from rubricc.lint.deps import deps
from rubricc.walk import call_name

CODE = "L014"
NAME = "ungated-reference-containment"

# Tests that a text holds a part: (text, part) arguments; true for every text that lists the part.
CONTAINS = {"contains", "starts_with", "ends_with", "count", "fuzzy_contains"}
# Containment tests that give a number: presence is a comparison that holds at 1 but not at 0.
NUMERIC = {"count", "fuzzy_contains"}
# Built-ins that take an answer out of the response: containment in what they give is pinned.
EXTRACTS = {"tag", "tags", "final_answer", "last_boxed", "extract", "extract_last", "extract_all",
            "last_code_block", "code_blocks", "json_parse", "tool_call"}
LENGTHS = {"words", "length", "lines", "sentences", "paragraphs"}
COMPARES = {"math_equal", "equals", "normalized_equal", "close"}


def check(checked: Checked) -> Iterable[Diagnostic]:
    for info in checked.items:
        if not _rewarded_check(info) or _pinned(checked, info):
            continue
        found = next(_containments(checked, info.node.expr), None)
        if found is not None:
            call, column = found
            yield warning(CODE, f"check `{info.name}` pays any response that contains `{column}`",
                          call.span, "also true for a response that lists several candidates",
                          "extract the answer and compare it, e.g. `normalized_equal(tag(response, "
                          f"\"answer\") ?? \"\", {column})` (`math_equal` for math)")


def _containments(checked: Checked, e: n.Node, positive: bool = True,
                  compared: n.Binary | None = None) -> Iterator[tuple[n.Call, str]]:
    """Containment calls that make `e` true, each with the reference column it looks for."""
    if isinstance(e, n.Unary) and e.op == "not":
        yield from _containments(checked, e.operand, not positive)
    elif isinstance(e, n.Binary) and _is_constant_comparison(e):
        side = e.right if fold_number(e.left) is not None else e.left
        yield from _containments(checked, side, positive, e)
    elif isinstance(e, n.Call) and call_name(e) in CONTAINS and len(e.args) >= 2:
        column = _reference_in_response(checked, e)
        if column is not None and positive and _means_present(e, compared):
            yield e, column
    else:
        for child in (e.args if isinstance(e, n.Call) else _children(e)):
            yield from _containments(checked, child, positive)


def _children(e: n.Node) -> Iterator[n.Node]:
    if isinstance(e, n.Binary):
        yield from (e.left, e.right)
    elif isinstance(e, n.IfExpr):
        yield from (e.cond, e.then, e.else_)


def _reference_in_response(checked: Checked, call: n.Call) -> str | None:
    """The reference column the call looks for in the whole response, or None."""
    text, part = deps(checked, call.args[0]), deps(checked, call.args[1])
    if "response" not in text.columns or text.functions & EXTRACTS:
        return None
    columns = sorted(part.columns & set(checked.scope.inputs))
    return columns[0] if columns else None


def _means_present(call: n.Call, compared: n.Binary | None) -> bool:
    """A bool test, or a number compared so that it holds at 1 (found) and not at 0 (absent)."""
    if call_name(call) not in NUMERIC or compared is None:
        return True
    return _holds(compared, call, 1.0) and not _holds(compared, call, 0.0)


def _holds(e: n.Binary, call: n.Call, value: float) -> bool:
    left = value if e.left is call else fold_number(e.left)
    right = value if e.right is call else fold_number(e.right)
    return {"==": left == right, "!=": left != right, "<": left < right, "<=": left <= right,
            ">": left > right, ">=": left >= right}[e.op]


def _is_constant_comparison(e: n.Binary) -> bool:
    return e.op in ("==", "!=", "<", "<=", ">", ">=") and \
        (fold_number(e.left) is None) != (fold_number(e.right) is None)


def _rewarded_check(info: ItemInfo) -> bool:
    weight = itemsets.constant_weight(info)
    return info.kind == "check" and (weight is None or weight > 0)


def _pinned(checked: Checked, info: ItemInfo) -> bool:
    """The check, or a gate before it, requires a short response or an exact answer."""
    conditions = [g.node.cond for g in checked.items if g.kind == "gate" and g.region < info.region]
    return any(_pins(checked, c) for e in conditions + [info.node.expr] for c in _conjuncts(e))


def _conjuncts(e: n.Node) -> list[n.Node]:
    if isinstance(e, n.Binary) and e.op == "and":
        return _conjuncts(e.left) + _conjuncts(e.right)
    return [e]


def _pins(checked: Checked, cond: n.Node) -> bool:
    if isinstance(cond, n.Call) and call_name(cond) in COMPARES or \
            isinstance(cond, n.Binary) and cond.op == "==" and not _is_constant_comparison(cond):
        read = deps(checked, cond).columns
        return "response" in read and bool(read & set(checked.scope.inputs))
    return isinstance(cond, n.Binary) and _bounds_length(checked, cond)


def _bounds_length(checked: Checked, e: n.Binary) -> bool:
    """`words(x) <= 3`, `length(x) < 20` or `3 >= words(x)`, with x read from the response."""
    if not _is_constant_comparison(e):
        return False
    flipped = fold_number(e.left) is not None
    measure = e.right if flipped else e.left
    op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(e.op, e.op) if flipped else e.op
    return op in ("<", "<=", "==") and isinstance(measure, n.Call) \
        and call_name(measure) in LENGTHS and "response" in deps(checked, measure).columns

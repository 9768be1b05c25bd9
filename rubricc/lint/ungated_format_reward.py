"""A format reward added to a correctness reward without a gate on correctness.

What it does:
    Reports a format-only check (one that only looks at the shape of `response`: `matches`,
    `fullmatch`, `tag`, `contains` with a pattern or literal, word and line counts) that the score
    adds to a correctness item (one that reads a reference column such as `answer`, or compares
    with `math_equal`/`equals`): through `+`, or as separate arguments of `weighted_mean`,
    `points`, `mean`, `sum`, `max` or `any` (the default score included). A format check behind a
    gate on correctness is fine. Judges are not counted as correctness: an open-ended rubric may
    reward style next to judged content on purpose.

Why it matters:
    A wrong answer in the right format still earns the format share of the reward, so a policy can
    climb by producing well-formatted wrong answers: the classic RLVR format hack.

Example:
    check formatted: matches(response, /<think>[\\s\\S]*<\\/think>/)
    check correct: math_equal(final, answer)
    score = 0.2 * formatted + 0.8 * correct

Use instead:
    gate formatted: matches(response, /<think>[\\s\\S]*<\\/think>/)
    check correct: math_equal(final, answer)
    score = correct
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from rubricc import nodes as n
from rubricc.checked_rubric import Checked, ItemInfo
from rubricc.diagnostics import Diagnostic, warning
from rubricc.lint import itemsets
from rubricc.lint.deps import deps
from rubricc.walk import call_name, children

CODE = "L005"
NAME = "ungated-format-reward"

# Functions that compare an answer with something: a check calling one is about correctness.
COMPARES = {"math_equal", "equals", "normalized_equal", "close"}
# Aggregators where one argument can earn reward without the others.
ADDITIVE = {"weighted_mean", "points", "mean", "sum", "max", "any"}

Operand = tuple[n.Node, set[str]]  # where it is in the score, and the items it reads


def check(checked: Checked) -> Iterable[Diagnostic]:
    reported: set[str] = set()
    for group in additive_groups(checked):
        for where, formats, correct in _format_without_correctness(checked, group):
            for name in sorted(formats - reported):
                reported.add(name)
                yield warning(CODE, f"the format check `{name}` earns reward without a correct "
                              "answer", where.span, f"added to `{correct}`",
                              f"make the format a gate (`gate {name}: ...`), or multiply: "
                              f"`{name} * {correct}`")


def _format_without_correctness(
        checked: Checked, group: list[Operand]) -> Iterator[tuple[n.Node, set[str], str]]:
    """(where, format items, a correctness item) for each term that rewards format alone."""
    correct = sorted(x for _, names in group for x in names if is_correctness(checked, x))
    if not correct:
        return
    for where, names in group:
        if any(is_correctness(checked, x) for x in names):
            continue
        formats = {x for x in names if is_format_only(checked, checked.item(x))
                   and not _behind_correctness_gate(checked, checked.item(x))}
        if formats:
            yield where, formats, correct[0]


def additive_groups(checked: Checked) -> Iterator[list[Operand]]:
    """Groups of terms that are added together in the score."""
    if checked.score is None:
        yield _items_operands(checked, itemsets.default_operands(checked))
        return
    yield from _groups(checked, checked.score)


def _groups(checked: Checked, e: n.Node) -> Iterator[list[Operand]]:
    if isinstance(e, n.Binary) and e.op == "+":
        terms = _flatten_sum(e)
        yield [(term, deps(checked, term).items) for term in terms]
        for term in terms:
            yield from _groups(checked, term)
        return
    if itemsets.is_aggregate(e) and call_name(e) in ADDITIVE:
        yield _items_operands(checked, itemsets.operands(checked, e))
    for child in children(e):
        yield from _groups(checked, child)


def _items_operands(
        checked: Checked, operands: list[tuple[n.Node, ItemInfo | None]]) -> list[Operand]:
    out = []
    for where, info in operands:
        if info is None:
            out.append((where, deps(checked, where).items))
        elif not itemsets.is_log_only(info):
            out.append((where, {info.name}))
    return out


def _flatten_sum(e: n.Node) -> list[n.Node]:
    if isinstance(e, n.Binary) and e.op == "+":
        return _flatten_sum(e.left) + _flatten_sum(e.right)
    return [e]


def is_format_only(checked: Checked, info: ItemInfo) -> bool:
    """A check that reads `response` and nothing else, and compares it with no reference."""
    if info.kind != "check":
        return False
    read = deps(checked, info.node.expr)
    return read.columns == {"response"} and not read.items and not read.functions & COMPARES


def is_correctness(checked: Checked, name: str) -> bool:
    info = checked.item(name)
    if info is None or info.kind not in ("check", "gate"):
        return False
    read = deps(checked, info.node.expr if info.kind == "check" else info.node.cond)
    return bool(read.columns & set(checked.scope.inputs)) or bool(read.functions & COMPARES)


def _behind_correctness_gate(checked: Checked, info: ItemInfo) -> bool:
    return any(g.kind == "gate" and g.region < info.region and is_correctness(checked, g.name)
               for g in checked.items)

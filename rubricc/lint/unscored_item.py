"""An item that the declared score never reads.

What it does:
    When a rubric declares `score = ...`, reports each check or judge that the score does not
    read, directly, through `items`/`checks`/`judges`, or through a gate or an item it does read.
    Items with `weight 0` are log-only on purpose and are not reported.

Why it matters:
    The item costs time (a judge call, a sympy check) and shows up in every breakdown, yet never
    changes the reward, so a reader believes the model is trained on it when it is not.

Example:
    check correct: math_equal(final, answer)
    judge clear: "The explanation is easy to follow."
    score = correct

Use instead:
    check correct: math_equal(final, answer)
    judge clear weight 0: "The explanation is easy to follow."
    score = correct
"""

from __future__ import annotations

from collections.abc import Iterable

from rubricc import nodes as n
from rubricc.checked_rubric import Checked, fold_number
from rubricc.diagnostics import Diagnostic, warning
from rubricc.lint import itemsets
from rubricc.lint.deps import deps

CODE = "L002"
NAME = "unscored-item"


def check(checked: Checked) -> Iterable[Diagnostic]:
    if checked.score is None:
        return
    used = items_feeding_score(checked)
    for info in checked.items:
        if info.kind == "gate" or info.name in used or itemsets.is_log_only(info):
            continue
        per_criterion = info.kind == "each" and info.weight_expr is not None \
            and fold_number(info.weight_expr) is None
        yield warning(CODE, f"the score never reads `{info.name}`", info.node.span,
                      "not in the score",
                      "use it in `score = ...` (its weights come from the data, so it cannot be "
                      "log-only as well)" if per_criterion
                      else "make it log-only with `weight 0`, or use it in `score = ...`")


def items_feeding_score(checked: Checked) -> set[str]:
    """Items the score reads, with the items that gates and those items read in turn."""
    used = deps(checked, checked.score).items
    for gate in (i for i in checked.items if i.kind == "gate"):
        used |= deps(checked, gate.node.cond).items
    todo = list(used)
    while todo:
        node = checked.item(todo.pop()).node
        for name in _item_reads(checked, node) - used:
            used.add(name)
            todo.append(name)
    return used


def _item_reads(checked: Checked, node: n.Item) -> set[str]:
    if isinstance(node, n.Gate):
        return deps(checked, node.cond).items
    if isinstance(node, n.Check):
        return deps(checked, node.expr).items
    local = frozenset({node.var}) if isinstance(node, n.JudgeEach) else frozenset()
    return deps(checked, node.criterion, local).items

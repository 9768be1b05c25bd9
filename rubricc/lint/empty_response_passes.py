"""A check or gate that an empty response passes.

What it does:
    Evaluates each rewarded check with `response = ""` (running the regexes with RE2) and reports
    one that is met: `matches(response, /a*/)` (the pattern matches the empty string),
    `contains(x, "")`, or a negated condition such as `not contains(response, "sorry")` or
    `words(response) <= 100`. A check behind a gate that an empty response fails is not reported.
    Gates are reported only for a pattern or substring test that the empty string satisfies.

Why it matters:
    An empty (or truncated) completion then earns reward for doing nothing, and the policy learns
    to stop early: a reward hack that the empty-response probe of `rubricc check` (H001) finds
    at run time, found here before any scoring.

Example:
    check no_apology: not contains(lower(response), "sorry")
    check concise: words(response) <= 100

Use instead:
    gate answered: words(response) > 0
    check no_apology: not contains(lower(response), "sorry")
    check concise: words(response) <= 100
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from rubricc import nodes as n
from rubricc.checked_rubric import Checked, ItemInfo
from rubricc.diagnostics import Diagnostic, warning
from rubricc.lint import itemsets
from rubricc.lint.deps import deps
from rubricc.lint.partial_eval import PartialEval, is_met
from rubricc.walk import call_name

CODE = "L006"
NAME = "empty-response-passes"

# Tests that something is present in a text; true on "" means they require nothing.
PRESENCE = {"matches", "fullmatch", "contains", "starts_with", "ends_with"}
GENERIC_HELP = ("put it behind a gate that requires an answer, e.g. `gate answered: "
                "words(response) > 0`, or require content in the check itself")


def check(checked: Checked) -> Iterable[Diagnostic]:
    empty = PartialEval(checked, {"response": ""})
    blocked = False  # once a gate stops the empty response, no later item sees it
    for info in checked.items:
        if blocked:
            return
        if info.kind == "gate":
            yield from _gate(checked, empty, info)
            blocked = empty.value(info.node.cond) is False
        elif info.kind == "check" and _rewarded(info) and _reads_response(checked, info):
            yield from _check(empty, info)


def _check(empty: PartialEval, info: ItemInfo) -> Iterator[Diagnostic]:
    if not is_met(empty.value(info.node.expr)):
        return
    culprit = next(_vacuous_presence(empty, info.node.expr), None)
    where = culprit if culprit is not None else info.node.expr
    yield warning(CODE, f"an empty response passes check `{info.name}`", where.span,
                  "true when the response is empty",
                  _help(empty, culprit) if culprit is not None else GENERIC_HELP)


def _gate(checked: Checked, empty: PartialEval, info: ItemInfo) -> Iterator[Diagnostic]:
    if empty.value(info.node.cond) is not True or not _reads_response(checked, info):
        return
    culprit = next(_vacuous_presence(empty, info.node.cond), None)
    if culprit is not None:
        yield warning(CODE, f"an empty response passes gate `{info.name}`", culprit.span,
                      "true when the response is empty", _help(empty, culprit))


def _vacuous_presence(empty: PartialEval, e: n.Node, positive: bool = True) -> Iterator[n.Call]:
    """Presence tests, not under a `not`, that hold for an empty response."""
    if isinstance(e, n.Unary) and e.op == "not":
        yield from _vacuous_presence(empty, e.operand, not positive)
    elif isinstance(e, n.Binary) and e.op in ("and", "or"):
        yield from _vacuous_presence(empty, e.left, positive)
        yield from _vacuous_presence(empty, e.right, positive)
    elif isinstance(e, n.IfExpr):
        yield from _vacuous_presence(empty, e.then, positive)
        yield from _vacuous_presence(empty, e.else_, positive)
    elif positive and isinstance(e, n.Call) and call_name(e) in PRESENCE \
            and empty.value(e) is True:
        yield e


def _help(empty: PartialEval, call: n.Call) -> str:
    pattern = call.args[1] if len(call.args) > 1 else None
    if isinstance(pattern, n.RegexLit):
        where = "in every text" if call_name(call) == "matches" else "in an empty text"
        return (f"/{pattern.pattern}/ matches the empty string, so it is found {where}: make "
                "what must be there required (drop a `?`, use `+` for `*`)")
    if empty.value(pattern) == "":
        return f'`{call_name(call)}(x, "")` is true for every text: give the text to look for'
    return GENERIC_HELP


def _rewarded(info: ItemInfo) -> bool:
    weight = itemsets.constant_weight(info)
    return weight is None or weight > 0  # passing a penalty item on "" costs reward, not a hack


def _reads_response(checked: Checked, info: ItemInfo) -> bool:
    expr = info.node.cond if info.kind == "gate" else info.node.expr
    return "response" in deps(checked, expr).columns



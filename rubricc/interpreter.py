"""The reference interpreter: one sample at a time, a plain walk over the checked AST.

It defines what a rubric means; the compiled batch scorer must agree with it exactly. It is slow
on purpose: no batching, no dedupe, lets evaluated lazily on first use.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from rubricc import nodes as n
from rubricc import values as V
from rubricc.builtins import REGISTRY, Regex
from rubricc.checked_rubric import (
    AGGREGATORS,
    ITEMSETS,
    Checked,
    ItemInfo,
    all_items,
    choose_route,
    routed_items,
)
from rubricc.judges import JudgeRequest, column_values
from rubricc.parser import deep_walks
from rubricc.runtime.aggregate import Entry, aggregate, criteria_value
from rubricc.runtime.result import ItemResult, RowResult, entries_of, item_set, settle
from rubricc.runtime.services import Services
from rubricc.source import NOWHERE
from rubricc.walk import callee_path


def interpret_row(checked: Checked, row: dict, services: Services,
                  groups: Groups | None = None) -> RowResult:
    """One row; `groups` gives `judge relative` items the other responses of the batch (without
    it, a row is its own group)."""
    if checked.routes:
        return _route(checked, row, services, groups)
    return RowEval(checked, row, services, groups=groups).run()


def interpret_batch(checked: Checked, rows: list[dict], services: Services) -> list[RowResult]:
    """The rows of one batch. Only `judge relative` reads the batch: a row's group is the rows
    with the same prompt, criterion and template that reach the item. The rows are scored once
    with those items pending, to see which rows reach them, then with the groups found, until
    the groups stop changing (a gate that reads a relative verdict can change them)."""
    if not any(i.kind == "relative" for i in all_items(checked)):
        return [interpret_row(checked, row, services) for row in rows]
    groups = Groups(None)
    for _ in range(MAX_ROUNDS):
        results = [interpret_row(checked, row, services, groups) for row in rows]
        if groups.settled():
            break
        groups = Groups(groups.seen)
    return results


MAX_ROUNDS = 8
"""Rounds of `interpret_batch` at most; two unless gates read relative verdicts."""


class Groups:
    """The groups of `judge relative` requests: those `known` from the last round (None in the
    first, when the items answer pending), and those `seen` in this one."""

    def __init__(self, known: dict | None):
        self.known = known
        self.seen: dict[tuple, dict[str, None]] = {}

    def settled(self) -> bool:
        seen = {k: tuple(v) for k, v in self.seen.items()}
        return self.known is not None and seen == {k: tuple(v) for k, v in self.known.items()}


def _route(checked: Checked, row: dict, services: Services, groups: Groups | None) -> RowResult:
    case = choose_route(checked, RowEval(checked, row, services).eval(checked.route_key))
    na = {i.name: ItemResult(None, V.NA) for i in all_items(checked)}
    if isinstance(case, V.Failed):
        return RowResult(na, None, case.status, case.message)
    inner = interpret_row(checked.routes[case], row, services, groups)
    return RowResult(na | routed_items(case, inner.items), inner.total, inner.status, inner.message)


@dataclass
class RowEval:
    checked: Checked
    row: dict
    services: Services
    lets: dict[str, object] = field(default_factory=dict)
    items: dict[str, ItemResult] = field(default_factory=dict)
    groups: Groups | None = None

    def run(self) -> RowResult:
        gated: tuple[str, object] | None = None  # (status, fail value or Failed)
        for info in self.checked.items:
            if gated is not None:
                self.items[info.name] = ItemResult(None, V.SKIPPED)
                continue
            result = getattr(self, f"item_{info.kind}")(info)
            self.items[info.name] = result
            if info.kind == "gate":
                gated = self.gate_outcome(info, result)
        if gated is not None:
            status, value = gated
            if isinstance(value, V.Failed):
                return RowResult(self.items, None, value.status, value.message)
            return RowResult(self.items, value, status)
        return self.finish(self.score())

    def finish(self, total) -> RowResult:
        if isinstance(total, V.Failed):
            return RowResult(self.items, None, total.status, total.message)
        return RowResult(self.items, float(total), V.OK)

    # ---- items ---------------------------------------------------------------------------------

    def item_gate(self, info: ItemInfo) -> ItemResult:
        return ItemResult.of(V.item_value(V.truthy(self.eval(info.node.cond))))

    def gate_outcome(self, info: ItemInfo, result: ItemResult):
        if result.status != V.OK:
            return ("gated", V.Failed(result.status, f"gate `{info.name}`: {result.message}"))
        if result.value == 1.0:
            return None
        fail = info.node.fail
        return ("gated", float(self.eval(fail)) if fail is not None else 0.0)

    def item_check(self, info: ItemInfo) -> ItemResult:
        return ItemResult.of(V.item_value(self.eval(info.node.expr)))

    def item_judge(self, info: ItemInfo) -> ItemResult:
        criterion = self.eval(info.node.criterion)
        shown = None if info.node.subject is None else self.eval(info.node.subject)
        bad = V.failed_arg((criterion, shown))
        if bad is not None:
            return ItemResult.of(bad)
        [verdict] = self.services.judge([self.request(info, criterion, shown)])
        return ItemResult.of(V.item_value(verdict))

    def item_relative(self, info: ItemInfo) -> ItemResult:
        criterion = self.eval(info.node.criterion)
        if isinstance(criterion, V.Failed):
            return ItemResult.of(criterion)
        request = self.request(info, criterion)
        if self.groups is None:  # a row alone (explain, a rubric's tests): its own group
            [verdict] = self.services.judge([request])
            return ItemResult.of(V.item_value(verdict))
        key = (id(self.checked), info.name, request.prompt, criterion, request.template)
        self.groups.seen.setdefault(key, {})[request.response] = None
        if self.groups.known is None:
            return ItemResult.of(V.Failed(V.ERROR, "relative verdict pending"))
        group = tuple(self.groups.known.get(key) or (request.response,))
        [verdict] = self.services.judge([dataclasses.replace(request, group=group)])
        return ItemResult.of(V.item_value(verdict))

    def item_each(self, info: ItemInfo) -> ItemResult:
        source = V.elements(self.eval(info.node.source))
        if isinstance(source, V.Failed):
            return ItemResult.of(source)
        asked = [self.criterion(info, elem) for elem in source]
        bad = next((c for c in asked if isinstance(c, V.Failed)), None)
        if bad is not None:
            return ItemResult.of(bad)
        verdicts = self.services.judge([self.request(info, text) for text, _ in asked]) if asked else []
        criteria = tuple(settle(text, weight, v) for (text, weight), v in zip(asked, verdicts))
        return ItemResult.of(criteria_value([c.entry() for c in criteria]), criteria)

    def criterion(self, info: ItemInfo, elem) -> tuple[str, float] | V.Failed:
        local = {info.node.var: elem}
        text = self.eval(info.node.criterion, local)
        weight_expr = info.weight_expr
        weight = self.eval(weight_expr, local) if weight_expr is not None else info.weight
        bad = V.failed_arg((text, weight))
        return bad if bad is not None else (text, float(weight))

    def request(self, info: ItemInfo, criterion: str, shown: str | None = None) -> JudgeRequest:
        """The row's request; `shown` replaces the response (`judge NAME on EXPR`)."""
        template = info.template_text
        prompt = self.row.get("prompt", "")
        response = shown if shown is not None else self.row.get("response", "")
        return JudgeRequest(info.name, criterion, prompt or "", response or "", template, info.scale,
                            columns=column_values(template, self.row.get))

    # ---- the score -----------------------------------------------------------------------------

    def score(self):
        expr = self.checked.score
        if expr is None:
            return aggregate("weighted_mean", self.entries("items"))
        return self.eval(expr)

    def entries(self, name: str) -> list[Entry]:
        infos = item_set(self.checked, name)
        out: list[Entry] = []
        for info in infos:
            out += entries_of(info, self.items[info.name])
        return out

    # ---- expressions ---------------------------------------------------------------------------

    def eval(self, expr, local: dict | None = None):
        with deep_walks:
            return getattr(self, f"eval_{type(expr).__name__}")(expr, local or {})

    def eval_Literal(self, e, local):
        return e.value

    def eval_RegexLit(self, e, local):
        return Regex(e.pattern, e.flags)

    def eval_Name(self, e: n.Name, local):
        if e.id in local:
            return local[e.id]
        if e.id in self.items:
            return self.items[e.id].as_value()
        if e.id in self.checked.scope.lets:
            if e.id not in self.lets:
                self.lets[e.id] = self.eval(self.checked.scope.lets[e.id].value)
            return self.lets[e.id]
        return self.row.get(e.id)

    def eval_ListExpr(self, e, local):
        return [self.eval(x, local) for x in e.items]

    def eval_Comprehension(self, e: n.Comprehension, local):
        source = V.elements(self.eval(e.source, local))
        if isinstance(source, V.Failed):
            return source
        out = []
        for element in source:
            inner = local | {e.var: element}
            keep = True if e.cond is None else V.truthy(self.eval(e.cond, inner))
            if isinstance(keep, V.Failed):
                return keep
            if keep:
                value = self.eval(e.body, inner)
                if isinstance(value, V.Failed):
                    return value
                out.append(value)
        return out

    def eval_RecordExpr(self, e, local):
        return {k: self.eval(v, local) for k, v in e.fields}

    def eval_Field(self, e, local):
        return V.field(self.eval(e.obj, local), e.name, e.safe)

    def eval_Index(self, e, local):
        return V.index(self.eval(e.obj, local), self.eval(e.index, local), e.safe)

    def eval_Unary(self, e, local):
        return V.unary(e.op, self.eval(e.operand, local))

    def eval_IfExpr(self, e, local):
        cond = V.truthy(self.eval(e.cond, local))
        if isinstance(cond, V.Failed):
            return cond
        return self.eval(e.then if cond else e.else_, local)

    def eval_Binary(self, e, local):
        if e.op in ("and", "or"):
            left = V.truthy(self.eval(e.left, local))
            if isinstance(left, V.Failed) or left == (e.op == "or"):
                return left
            return V.truthy(self.eval(e.right, local))
        if e.op == "??":
            left = self.eval(e.left, local)
            return left if left is not None else self.eval(e.right, local)
        return V.binary(e.op, self.eval(e.left, local), self.eval(e.right, local))

    def eval_Call(self, e: n.Call, local):
        path = callee_path(e.callee)
        name = ".".join(path)
        if name in AGGREGATORS and self.checked.scope.find_def(path) is None:
            return self.call_aggregate(name, e, local)  # only the score can call these
        if name == "len":
            return V.length(self.eval(e.args[0], local))
        args = tuple(self.eval(a, local) for a in e.args)
        found = self.checked.scope.find_def(path)
        if found is not None:
            bad = V.failed_arg(args)
            return bad if bad is not None else self.eval(found.body, {p.name: a for p, a in zip(found.params, args)})
        builtin = REGISTRY[name]
        if builtin.heavy:
            bad = V.failed_arg(args)
            return bad if bad is not None else self.services.heavy(name, args)
        if builtin.batched:  # one row: a batch of one call
            bad = V.failed_arg(args)
            return bad if bad is not None else self.services.batched(name, [args])[0]
        return V.call(builtin.fn, args, name)

    def call_aggregate(self, name: str, e: n.Call, local):
        args = list(e.args)
        k = 0.0
        if name == "at_least":
            k = self.eval(args.pop(0), local)
        entries: list[Entry] = []
        for arg in args or [n.Name("items", NOWHERE)]:
            if isinstance(arg, n.Name) and (arg.id in self.items or arg.id in ITEMSETS):
                entries += self.entries(arg.id) if arg.id not in self.items else \
                    entries_of(self.checked.item(arg.id), self.items[arg.id])
            else:
                entries.append(Entry(_entry_value(self.eval(arg, local))))
        return aggregate(name, entries, k)


def _entry_value(v):
    return v if isinstance(v, V.Failed) else float(v)

"""Column kernels: the functions generated code calls, one per IR op kind, over whole batches.

A column is a list with one slot per row of the batch; an op reads and writes only the rows of
its row set. A `judge each` frame (`explode`) adds one slot per criterion past the batch's rows,
so the columns made after it are longer; the rows of a frame are those slots. Identical (function, arguments) pairs are computed once per batch: GRPO groups hold
many identical answers, and heavy calls go to the worker pool in one round. A batched built-in (a
model) is called once per op with all its distinct calls.
"""

from __future__ import annotations

import dataclasses

from rubricc import values as V
from rubricc.builtins import REGISTRY
from rubricc.checked_rubric import Checked
from rubricc.judges import JudgeRequest, column_values
from rubricc.runtime.aggregate import Entry, aggregate, criteria_value
from rubricc.runtime.result import ItemResult, RowResult, entries_of, item_set, settle
from rubricc.runtime.services import Services


def freeze(value):
    """A hashable stand-in for a value, so that identical calls can share one result."""
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(freeze(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, freeze(v)) for k, v in value.items())))
    return (type(value).__name__, value)


class Frame(list):
    """The rows of a `judge each` frame: a slot per element of each row's list, past the batch's
    rows. `rows[i]` holds row i's slots in order, or the failure of its list."""

    def __init__(self):
        super().__init__()
        self.row_of: dict[int, int] = {}  # slot -> the row it belongs to
        self.element: dict[int, object] = {}  # slot -> the element
        self.rows: dict[int, range | V.Failed] = {}


class BatchRuntime:
    def __init__(self, checked: Checked, columns: dict[str, list], size: int, services: Services):
        self.checked = checked
        self.columns = columns
        self.size = size
        self.width = size  # slots in a column: the rows, then every frame's
        self.services = services
        self.items: dict[str, list[ItemResult | None]] = {}
        self.gates: list[tuple[str, list, float]] = []  # (name, condition column, fail value)
        self.memo: dict[tuple, object] = {}
        self.calls = {"computed": 0, "deduped": 0}

    def all_rows(self) -> list[int]:
        return list(range(self.size))

    def empty(self) -> list:
        return [None] * self.width

    @staticmethod
    def arg(operand, i: int):
        return operand[i] if isinstance(operand, list) else operand

    def args(self, operands, i: int) -> tuple:
        return tuple(self.arg(o, i) for o in operands)

    # ---- values --------------------------------------------------------------------------------

    def col(self, rows, name: str) -> list:
        return self.columns.get(name) or self.empty()

    def call(self, rows, fn: str, *operands) -> list:
        if REGISTRY[fn].batched:
            return self.gathered(rows, fn, operands, self.services.batched)
        out, impl = self.empty(), REGISTRY[fn].fn
        for i in rows:
            args = self.args(operands, i)
            key = (fn, freeze(args))
            if key not in self.memo:
                self.memo[key] = V.call(impl, args, fn)
                self.calls["computed"] += 1
            else:
                self.calls["deduped"] += 1
            out[i] = self.memo[key]
        return out

    def heavy(self, rows, fn: str, *operands) -> list:
        return self.gathered(rows, fn, operands, self.services.heavy_batch)

    def gathered(self, rows, fn: str, operands, run) -> list:
        """The distinct calls not yet made, with no failed argument, go to `run` in one round."""
        pending: dict[tuple, tuple] = {}
        keys = {}
        for i in rows:
            args = self.args(operands, i)
            key = keys[i] = (fn, freeze(args))
            bad = V.failed_arg(args)
            if bad is not None:
                self.memo.setdefault(key, bad)
            elif key not in self.memo:
                pending.setdefault(key, args)
        self.calls["computed"] += len(pending)
        self.calls["deduped"] += len(rows) - len(pending)
        for key, value in zip(pending, run(fn, list(pending.values()))):
            self.memo[key] = value
        out = self.empty()
        for i in rows:
            out[i] = self.memo[keys[i]]
        return out

    def each_row(self, rows, fn) -> list:
        out = self.empty()
        for i in rows:
            out[i] = fn(i)
        return out

    def binary(self, rows, op: str, a, b) -> list:
        return self.each_row(rows, lambda i: V.binary(op, self.arg(a, i), self.arg(b, i)))

    def unary(self, rows, op: str, a) -> list:
        return self.each_row(rows, lambda i: V.unary(op, self.arg(a, i)))

    def field(self, rows, a, name: str, safe: bool) -> list:
        return self.each_row(rows, lambda i: V.field(self.arg(a, i), name, safe))

    def index(self, rows, a, b, safe: bool) -> list:
        return self.each_row(rows, lambda i: V.index(self.arg(a, i), self.arg(b, i), safe))

    def length(self, rows, a) -> list:
        return self.each_row(rows, lambda i: V.length(self.arg(a, i)))

    def list_(self, rows, *operands) -> list:
        return self.each_row(rows, lambda i: _no_failure(list(self.args(operands, i))))

    def record(self, rows, names, *operands) -> list:
        return self.each_row(rows, lambda i: _no_failure(dict(zip(names, self.args(operands, i)))))

    def where(self, rows, cond, truth: bool) -> list[int]:
        return [i for i in rows if not isinstance(self.arg(cond, i), V.Failed)
                and bool(self.arg(cond, i)) == truth]

    def merge(self, rows, cond, then, other) -> list:
        def pick(i):
            c = self.arg(cond, i)
            return c if isinstance(c, V.Failed) else self.arg(then if c else other, i)

        return self.each_row(rows, pick)

    # ---- items ---------------------------------------------------------------------------------

    def _set_item(self, name: str, rows, results) -> list:
        column = self.items.setdefault(name, [None] * self.size)
        for i, result in zip(rows, results):
            column[i] = result
        return [r.as_value() if r is not None else None for r in column]

    def item(self, rows, name: str, value) -> list:
        return self._set_item(name, rows, [ItemResult.of(V.item_value(self.arg(value, i))) for i in rows])

    def item_col(self, name: str) -> list:
        return [r.as_value() if r is not None else None for r in self.items[name]]

    def gate(self, rows, name: str, cond, fail: float) -> list[int]:
        self.gates.append((name, cond, fail))
        self._set_item(name, rows, [ItemResult.of(V.item_value(V.truthy(self.arg(cond, i)))) for i in rows])
        return self.where(rows, cond, True)

    def judge(self, rows, name: str, criterion, template: str, subject=None) -> list:
        """`subject`: the text shown in place of the response (`judge NAME on EXPR`), or None."""
        info = self.checked.item(name)
        requests, failed = {}, {}
        for i in rows:
            text, shown = self.arg(criterion, i), self.arg(subject, i)
            bad = V.failed_arg((text, shown))
            if bad is not None:
                failed[i] = bad
            else:
                requests[i] = self.request(name, text, i, template, info.scale, shown)
        if info.kind == "relative":
            requests = with_groups(requests)
        verdicts = self.judge_deduped(list(requests.values()))
        results = [ItemResult.of(failed[i] if i in failed else V.item_value(verdicts[requests[i]]))
                   for i in rows]
        return self._set_item(name, rows, results)

    def request(self, name: str, text: str, i: int, template: str, scale: int | None,
                shown: str | None = None) -> JudgeRequest:
        """Row i's request; `shown` replaces the response (`judge NAME on EXPR`)."""
        def column(c):
            values = self.columns.get(c)
            return values[i] if values else None

        response = shown if shown is not None else column("response")
        return JudgeRequest(name, text, column("prompt") or "", response or "", template, scale,
                            columns=column_values(template, column))

    def judge_deduped(self, requests: list[JudgeRequest]) -> dict[JudgeRequest, object]:
        unique = list(dict.fromkeys(requests))
        return dict(zip(unique, self.services.judge(unique))) if unique else {}

    def explode(self, rows, source) -> Frame:
        frame = Frame()
        for i in rows:
            elements = V.elements(self.arg(source, i))
            if isinstance(elements, V.Failed):
                frame.rows[i] = elements
                continue
            frame.rows[i] = range(self.width, self.width + len(elements))
            for slot, element in zip(frame.rows[i], elements):
                frame.append(slot)
                frame.row_of[slot], frame.element[slot] = i, element
            self.width += len(elements)
        return frame

    def element(self, rows: Frame) -> list:
        return self.each_row(rows, lambda k: rows.element[k])

    def spread(self, rows: Frame, value) -> list:
        return self.each_row(rows, lambda k: self.arg(value, rows.row_of[k]))

    def collect(self, rows, frame: Frame, keep, values) -> list:
        """Each row's list of `values` at the indexes of its frame that `keep` is true for; a
        failed filter or value fails the row's whole list, as in the interpreter."""
        def gather(i):
            slots = frame.rows[i]
            if isinstance(slots, V.Failed):
                return slots
            out = []
            for k in slots:
                kept = self.arg(keep, k)
                if isinstance(kept, V.Failed):
                    return kept
                if not kept:
                    continue
                value = self.arg(values, k)
                if isinstance(value, V.Failed):
                    return value
                out.append(value)
            return out

        return self.each_row(rows, gather)

    def each(self, rows, name: str, frame: Frame, texts, weights) -> list:
        info = self.checked.item(name)
        asked = {i: self.criteria_of(frame.rows[i], texts, weights) for i in rows}
        template = info.template_text
        requests = {(i, j): self.request(name, text, i, template, info.scale)
                    for i in rows if not isinstance(asked[i], V.Failed)
                    for j, (text, _) in enumerate(asked[i])}
        verdicts = self.judge_deduped(list(requests.values()))
        results = []
        for i in rows:
            if isinstance(asked[i], V.Failed):
                results.append(ItemResult.of(asked[i]))
                continue
            criteria = tuple(settle(text, w, verdicts[requests[(i, j)]])
                             for j, (text, w) in enumerate(asked[i]))
            results.append(ItemResult.of(criteria_value([c.entry() for c in criteria]), criteria))
        return self._set_item(name, rows, results)

    def criteria_of(self, slots, texts, weights) -> list[tuple[str, float]] | V.Failed:
        """A row's (criterion, weight) pairs, or the first failure among them or its list."""
        if isinstance(slots, V.Failed):
            return slots
        asked = [(self.arg(texts, k), self.arg(weights, k)) for k in slots]
        bad = next((b for b in map(V.failed_arg, asked) if b is not None), None)
        return bad if bad is not None else [(text, float(w)) for text, w in asked]

    def route(self, rows, key) -> list:
        """A router's key column (its last op): the case each row goes to is chosen from it."""
        return [self.arg(key, i) for i in range(self.size)]

    # ---- the score -----------------------------------------------------------------------------

    def aggregate(self, rows, name: str, k: float, specs) -> list:
        def one(i):
            entries = []
            for spec in specs:
                if isinstance(spec, str):
                    for info in item_set(self.checked, spec):
                        entries += entries_of(info, self.items[info.name][i])
                else:
                    v = self.arg(spec, i)
                    entries.append(_entry(v))
            return aggregate(name, entries, k)

        return self.each_row(rows, one)

    def finish(self, rows, total) -> list[RowResult]:
        skipped = ItemResult(None, V.SKIPPED)  # rows an item never ran on sat behind a failed gate
        columns = {info.name: self.items.get(info.name) or [None] * self.size
                   for info in self.checked.items}
        return [self.row_result(i, {name: col[i] or skipped for name, col in columns.items()}, total)
                for i in range(self.size)]

    def row_result(self, i: int, items, total) -> RowResult:
        for name, cond, fail in self.gates:
            c = self.arg(cond, i)
            if isinstance(c, V.Failed):
                return RowResult(items, None, c.status, f"gate `{name}`: {c.message}")
            if c is not None and not c:
                return RowResult(items, fail, "gated")
        value = total[i]
        if isinstance(value, V.Failed):
            return RowResult(items, None, value.status, value.message)
        return RowResult(items, float(value), V.OK)


def with_groups(requests: dict) -> dict:
    """`judge relative` requests, each given its group: the distinct responses of the requests
    with the same prompt, criterion and template, in order of first appearance."""
    groups: dict[tuple, dict[str, None]] = {}
    for r in requests.values():
        groups.setdefault((r.prompt, r.criterion, r.template), {})[r.response] = None
    return {k: dataclasses.replace(r, group=tuple(groups[(r.prompt, r.criterion, r.template)]))
            for k, r in requests.items()}


def _entry(v) -> Entry:
    return Entry(v if isinstance(v, V.Failed) else float(v))


def _no_failure(value):
    bad = V.failed_arg(value.values() if isinstance(value, dict) else value)
    return bad if bad is not None else value


"""Lower a checked rubric to IR: one column op per operation, over explicit row sets.

Every op runs on the rows of the region it sits in (the rows that passed every gate before it).
A `let` is lowered where it is written; the plan_gates pass then moves it behind the gates that
guard all its uses.
`if`, `and`, `or` and `??` split rows with `where` and rejoin them with `merge`, so a branch only
runs on the rows that take it (which is what makes none-narrowing safe).
"""

from __future__ import annotations

from rubricc import nodes as n
from rubricc.builtins import REGISTRY, Regex
from rubricc.checked_rubric import (
    AGGREGATORS,
    ITEMSETS,
    Checked,
    ItemInfo,
    fold_number,
)
from rubricc.ir import Const, Function, Op, Ref
from rubricc.parser import deep_walks
from rubricc.walk import callee_path


def lower(checked: Checked) -> Function:
    with deep_walks:
        return Lowerer(checked).run()


def lower_route(checked: Checked) -> Function:
    """A router's function: its lets and its key, ending in a `route` op (the key column)."""
    with deep_walks:
        return Lowerer(checked).route()


class Lowerer:
    def __init__(self, checked: Checked):
        self.checked = checked
        self.ops: list[Op] = []
        self.count = 0
        self.region = "R0"
        self.lets: dict[str, Ref] = {}
        self.items: dict[str, Ref] = {}
        self.frames: list[str] = []  # inside `judge each` or `for`: the frames, outermost first

    def fresh(self, prefix: str = "v") -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def emit(self, kind: str, rows: str, args: tuple, node, note: str = "", dst: str = "") -> Ref:
        dst = dst or self.fresh()
        self.ops.append(Op(kind, dst, rows, args, node.span, note))
        return Ref(dst)

    def run(self) -> Function:
        items = iter(self.checked.items)
        for member in self.checked.rubric.members:
            if isinstance(member, n.Let):
                self.lets[member.name] = self.expr(member.value, self.region, {})
            elif isinstance(member, n.ITEM_TYPES):
                info = next(items)
                getattr(self, f"lower_{info.kind}")(info)
        score = self.checked.score
        rows = self.region
        if score is None:
            total = self.emit("aggregate", rows, ("weighted_mean", 0.0, ("items",)),
                              self.checked.rubric, "score = weighted_mean(items)")
        else:
            total = self.expr(score, rows, {})
        self.emit("score", rows, (total,), score or self.checked.rubric, "score", dst="total")
        return self.function()

    def route(self) -> Function:
        for member in self.checked.rubric.of_type(n.Let):
            self.lets[member.name] = self.expr(member.value, self.region, {})
        key = self.checked.route_key
        self.emit("route", self.region, (self.expr(key, self.region, {}),), key, "route by",
                  dst="keys")
        return self.function()

    def function(self) -> Function:
        return Function(self.checked.name, self.checked.scope.rubric.span.file, tuple(self.ops))

    # ---- items ---------------------------------------------------------------------------------

    def lower_gate(self, info: ItemInfo) -> None:
        node = info.node
        cond = self.expr(node.cond, self.region, {})
        fail = fold_number(node.fail) if node.fail is not None else 0.0
        new_region = self.fresh("R")
        self.emit("gate", self.region, (info.name, cond, fail), node, f"gate {info.name}",
                  dst=new_region)
        self.items[info.name] = Ref(f"item:{info.name}")
        self.region = new_region

    def lower_check(self, info: ItemInfo) -> None:
        value = self.expr(info.node.expr, self.region, {})
        self.items[info.name] = self.emit("item", self.region, (info.name, value), info.node,
                                          f"check {info.name}")

    def lower_judge(self, info: ItemInfo) -> None:
        criterion = self.expr(info.node.criterion, self.region, {})
        template = info.template_text
        subject = info.node.subject
        shown = Const(None) if subject is None else self.expr(subject, self.region, {})
        self.items[info.name] = self.emit("judge", self.region, (info.name, criterion, template, shown),
                                          info.node, f"judge {info.name}")

    lower_relative = lower_judge  # the kernel groups a relative item's requests by its kind

    def lower_each(self, info: ItemInfo) -> None:
        """The criteria and weights run in a frame of their own, one index per element of the
        row's list; the `each` op then asks the judge about every row's criteria together."""
        node = info.node
        source = self.expr(node.source, self.region, {})
        frame = self.emit("explode", self.region, (source,), node,
                          f"judge each {info.name}: a criterion per element", dst=self.fresh("E"))
        local = {node.var: self.emit("element", frame.name, (), node, node.var)}
        self.frames.append(frame.name)
        text = self.expr(node.criterion, frame.name, local)
        weight = info.weight_expr
        weight = Const(info.weight) if weight is None else self.expr(weight, frame.name, local)
        self.frames.pop()
        self.items[info.name] = self.emit("each", self.region, (info.name, frame, text, weight),
                                          node, f"judge each {info.name}")

    # ---- expressions ---------------------------------------------------------------------------

    def expr(self, e, rows: str, local: dict[str, object]):
        return getattr(self, f"expr_{type(e).__name__}")(e, rows, local)

    def expr_Literal(self, e, rows, local):
        return Const(e.value)

    def expr_RegexLit(self, e, rows, local):
        return Const(Regex(e.pattern, e.flags))

    def expr_Name(self, e: n.Name, rows, local):
        if e.id in local:
            return local[e.id]
        if e.id in self.items:
            value = self.items[e.id]
        elif e.id in self.lets:
            value = self.lets[e.id]
        else:
            value = self.emit("col", "R0", (e.id,), e, f"column {e.id}")
        if isinstance(value, Const):
            return value
        for frame in self.frames:  # a row's value, to each element of each frame it sits in
            value = self.emit("spread", frame, (value,), e, f"{e.id} per element")
        return value

    def expr_ListExpr(self, e, rows, local):
        return self.emit("list", rows, tuple(self.expr(x, rows, local) for x in e.items), e)

    def expr_Comprehension(self, e: n.Comprehension, rows, local):
        """`[body for var in source if cond]`: a frame of one index per element, as `judge each`
        makes; the filter splits the frame's indexes with `where`, so the body runs only on the
        elements it keeps, and `collect` gathers each row's kept values back into a list."""
        source = self.expr(e.source, rows, local)
        frame = self.emit("explode", rows, (source,), e, f"for {e.var} in ...", dst=self.fresh("E"))
        inner = {name: self.emit("spread", frame.name, (v,), e, f"{name} per element")
                 if isinstance(v, Ref) else v for name, v in local.items()}
        inner[e.var] = self.emit("element", frame.name, (), e, e.var)
        self.frames.append(frame.name)
        if e.cond is None:
            keep, body = Const(True), self.expr(e.body, frame.name, inner)
        else:
            keep = self.expr(e.cond, frame.name, inner)
            kept = self.emit("where", frame.name, (keep, True), e, dst=self.fresh("R"))
            body = self.expr(e.body, kept.name, inner)
        self.frames.pop()
        return self.emit("collect", rows, (frame, keep, body), e, f"[... for {e.var} in ...]")

    def expr_RecordExpr(self, e, rows, local):
        names = tuple(k for k, _ in e.fields)
        vals = tuple(self.expr(v, rows, local) for _, v in e.fields)
        return self.emit("record", rows, (names, *vals), e)

    def expr_Field(self, e, rows, local):
        return self.emit("field", rows, (self.expr(e.obj, rows, local), e.name, e.safe), e)

    def expr_Index(self, e, rows, local):
        obj, index = self.expr(e.obj, rows, local), self.expr(e.index, rows, local)
        return self.emit("index", rows, (obj, index, e.safe), e)

    def expr_Unary(self, e, rows, local):
        return self.emit("unary", rows, (e.op, self.expr(e.operand, rows, local)), e)

    def expr_IfExpr(self, e, rows, local):
        return self.branch(e.cond, e.then, e.else_, rows, local, e)

    def branch(self, cond_e, then_e, else_e, rows, local, node, cond=None):
        cond = cond if cond is not None else self.expr(cond_e, rows, local)
        yes = self.emit("where", rows, (cond, True), node, dst=self.fresh("R"))
        no = self.emit("where", rows, (cond, False), node, dst=self.fresh("R"))
        then = then_e(yes.name) if callable(then_e) else self.expr(then_e, yes.name, local)
        other = else_e(no.name) if callable(else_e) else self.expr(else_e, no.name, local)
        return self.emit("merge", rows, (cond, then, other), node)

    def expr_Binary(self, e: n.Binary, rows, local):
        if e.op == "and":
            return self.branch(e.left, e.right, lambda r: Const(False), rows, local, e)
        if e.op == "or":
            return self.branch(e.left, lambda r: Const(True), e.right, rows, local, e)
        if e.op == "??":
            left = self.expr(e.left, rows, local)
            present = self.emit("binary", rows, ("!=", left, Const(None)), e)
            return self.branch(None, lambda r: left, e.right, rows, local, e, cond=present)
        left, right = self.expr(e.left, rows, local), self.expr(e.right, rows, local)
        return self.emit("binary", rows, (e.op, left, right), e)

    def expr_Call(self, e: n.Call, rows, local):
        path = callee_path(e.callee)
        name = ".".join(path)
        found = self.checked.scope.find_def(path)
        if name in AGGREGATORS and found is None:
            return self.aggregate(name, e, rows, local)
        args = tuple(self.expr(a, rows, local) for a in e.args)
        if name == "len":
            return self.emit("len", rows, args, e)
        if found is not None:
            return self.expr(found.body, rows, {p.name: a for p, a in zip(found.params, args)})
        builtin = REGISTRY[name]
        return self.emit("heavy" if builtin.heavy else "call", rows, (name, *args), e, name)

    def aggregate(self, name: str, e: n.Call, rows, local):
        args = list(e.args)
        k = fold_number(args.pop(0)) if name == "at_least" else 0.0
        specs = []
        for arg in args or [n.Name("items", e.span)]:
            is_item = isinstance(arg, n.Name) and (arg.id in self.items or arg.id in ITEMSETS)
            specs.append(arg.id if is_item else self.expr(arg, rows, local))
        return self.emit("aggregate", rows, (name, k, tuple(specs)), e, name)

    def expr_ScoreRef(self, e, rows, local):
        raise AssertionError("`score` outside a test is rejected by the type checker")

"""Type check: give every expression a type, narrow `none` away where a condition proves it.

`gate has_answer: final != none` makes `final` a `text` (not `text?`) for every item after it;
`if x != none then f(x) else 0` and `x != none and f(x)` narrow the same way; `x ?? d` supplies a
default. The output, a `Checked` rubric, is what lint, lowering and the interpreter read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rubricc import nodes as n
from rubricc import types as t
from rubricc.builtins import REGISTRY
from rubricc.checked_rubric import (
    AGGREGATORS,
    ITEMSETS,
    Checked,
    ItemInfo,
    all_items,
    fold_number,
    judge_items,
)
from rubricc.diagnostics import Diagnostic, did_you_mean, error
from rubricc.judges import TemplateProblem, template_problems
from rubricc.parser import deep_walks
from rubricc.resolve import DEF_ROOT, Program, RubricScope
from rubricc.source import Source, Span
from rubricc.walk import callee_path, walk

MAX_INLINED = 100_000
"""Nodes a definition may grow to once its calls are inlined: `g(x) = f(x) + f(x)` doubles at
each level, and 24 levels make 16 million nodes."""

STATUS_NAMES = ("ok", "skipped", "na", "error", "timeout")
NARROW_HELP = ("it may be none: read it with `?.` or `?[` (none where it is none), or narrow it "
               "first (`x != none and ...`, a gate, `x ?? default`)")
TIER_WEIGHTS = {"essential": 1.0, "important": 0.7, "optional": 0.3, "pitfall": -0.9}
IMPLICIT_TYPES = {"prompt": t.TEXT, "response": t.TEXT, "messages": t.JSON}


def check_program(program: Program) -> list[Checked]:
    return [check_rubric(program, scope) for scope in program.scopes]


def check_rubric(program: Program, scope: RubricScope) -> Checked:
    checker = Checker(scope, program.diagnostics, program.sources)
    with deep_walks:
        return checker.run()



def proven_present(cond, truth: bool) -> set[str]:
    """Names that cannot be none when `cond` evaluates to `truth`."""
    if isinstance(cond, n.Binary) and cond.op in ("!=", "==") and _is_none(cond.right) \
            and isinstance(cond.left, n.Name):
        return {cond.left.id} if (cond.op == "!=") == truth else set()
    if isinstance(cond, n.Unary) and cond.op == "not":
        return proven_present(cond.operand, not truth)
    if isinstance(cond, n.Binary) and cond.op == ("and" if truth else "or"):
        return proven_present(cond.left, truth) | proven_present(cond.right, truth)
    return set()


def _is_none(e) -> bool:
    return isinstance(e, n.Literal) and e.value is None


@dataclass
class Binding:
    kind: str  # input, let, item, param, var, itemset
    type: t.Type


class Checker:
    def __init__(self, scope: RubricScope, diagnostics: list[Diagnostic],
                 sources: dict[str, Source] | None = None):
        self.scope = scope
        self.diags = diagnostics
        self.sources = sources or {}  # to point into a template at the line that fails
        self.types: dict[int, t.Type] = {}
        self.def_types: dict[str, t.Type] = {}
        self.def_sizes: dict[int, int] = {}
        self.in_progress: set[str] = set()

    def report(self, code: str, message: str, span, label: str = "", help: str = "") -> None:
        self.diags.append(error(code, message, span, label, help))

    # ---- the rubric, statement by statement ---------------------------------------------------

    def run(self) -> Checked:
        inputs = {name: self.type_expr(i.type) for name, i in self.scope.inputs.items()}
        env: dict[str, Binding] = {k: Binding("input", v) for k, v in IMPLICIT_TYPES.items()}
        env |= {k: Binding("input", v) for k, v in inputs.items()}
        items: list[ItemInfo] = []
        region = 0
        for member in self.scope.rubric.members:
            if isinstance(member, n.Let):
                env[member.name] = Binding("let", self.expr(member.value, env))
            elif isinstance(member, n.ITEM_TYPES):
                items.append(self.item(member, env, region))
                env[member.name] = Binding("item", t.NUMBER)
                if isinstance(member, n.Gate):
                    region += 1
                    env = self.narrowed(env, member.cond, True)
            elif isinstance(member, n.Def):
                self.def_type(member)
        checked = Checked(self.scope, inputs, items, self.types)
        self.check_templates(items)
        self.check_routes(checked, env)
        score_env = {k: b for k, b in env.items() if b.kind != "var"}
        score_env |= {s: Binding("itemset", t.ANY) for s in ITEMSETS}
        for decl in self.scope.rubric.of_type(n.ScoreDecl):
            self.expect_type(decl.expr, score_env, t.NUMBER, "the score")
        for test in checked.tests:
            self.test(test, checked, env)
        return checked

    def item(self, node: n.Item, env: dict[str, Binding], region: int) -> ItemInfo:
        kind = {n.Gate: "gate", n.Check: "check", n.Judge: "judge", n.JudgeEach: "each"}[type(node)]
        kind = "relative" if isinstance(node, n.Judge) and node.relative else kind
        if isinstance(node, n.Gate):
            self.expect_type(node.cond, env, t.BOOL, "a gate's condition")
            if node.fail is not None:
                self.constant(node.fail, env, "a gate's fail value")
            return ItemInfo(node.name, kind, node, 0.0, None, None, region)
        item_env = env
        if isinstance(node, n.Judge) and node.subject is not None:
            self.expect_type(node.subject, env, t.TEXT, "what a judge is shown (`on`)")
        if isinstance(node, n.JudgeEach):
            source = self.expr(node.source, env)
            if not isinstance(source, t.ListOf) and source not in (t.JSON, t.ANY):
                self.report("T005", f"`judge each` needs a list, but this is {t.render(source)}",
                            node.source.span, "not a list",
                            "declare the column as a list, e.g. `input rubric: list[{text: text, weight: number}]`")
            elem = source.elem if isinstance(source, t.ListOf) else t.ANY
            item_env = env | {node.var: Binding("var", elem)}
        weight, tier, template = self.modifiers(node, item_env, kind == "each")
        if isinstance(node, n.Check):
            self.expect_type(node.expr, env, t.NUMBER, "a check", score=True)
        else:
            self.expect_type(node.criterion, item_env, t.TEXT, "a judge criterion")
        return ItemInfo(node.name, kind, node, weight, tier, template, region)

    def modifiers(self, node, env, per_row: bool) -> tuple[float, str | None, n.Template | None]:
        weight, tier, template = 1.0, None, None
        self.one_of_each(node.modifiers)
        # the tier first: an explicit weight or points beside it overrides its default weight
        for mod in sorted(node.modifiers, key=lambda m: m.kind != "tier"):
            if mod.kind == "tier":
                tier, weight = mod.value, TIER_WEIGHTS[mod.value]
            elif mod.kind == "scale":
                self.check_scale(node, mod)
            elif mod.kind == "template":
                template = self.scope.find_template(mod.value)
                if template is None:
                    self.report("N001", f"unknown template `{mod.value}`", mod.span, "not defined",
                                did_you_mean(mod.value, self.scope.template_names())
                                or ("a pack's templates are those its manifest exports "
                                    "(`templates` in rubric-pack.toml)" if "." in mod.value else ""))
            elif per_row:
                self.expect_type(mod.value, env, t.NUMBER, f"a {mod.kind}")
                weight = fold_number(mod.value) if fold_number(mod.value) is not None else weight
            else:
                weight = self.constant(mod.value, env, f"a {mod.kind}")
        if template is None and isinstance(node, (n.Judge, n.JudgeEach)):
            template = self.scope.find_template("default")
        return weight, tier, template

    def check_scale(self, node, mod: n.Modifier) -> None:
        if not isinstance(node, (n.Judge, n.JudgeEach)):
            self.report("S002", "`scale` rates a judge's answer; a check has no judge", mod.span,
                        "not a judge item", "remove `scale`, or make this a `judge` item")
        elif float(mod.value) != int(float(mod.value)) or not 2 <= float(mod.value) <= 10:
            self.report("S002", f"`scale {mod.value}`: a rating scale is a whole number from 2 to 10",
                        mod.span, "not a scale", "write e.g. `scale 5` for ratings 1 to 5")

    def one_of_each(self, modifiers) -> None:
        """At most one weight or points, one tier, one template; a tier may sit beside a weight,
        which then overrides the tier's default weight (`tier pitfall weight -0.2`)."""
        groups = {"weight": "weight", "points": "weight", "tier": "tier", "template": "template",
                  "scale": "scale"}
        first: dict[str, n.Modifier] = {}
        for mod in modifiers:
            earlier = first.setdefault(groups[mod.kind], mod)
            if earlier is not mod:
                self.report("S001", f"`{mod.kind}` conflicts with `{earlier.kind}` on the same item",
                            mod.span, "second modifier",
                            "give an item one `weight` or `points`, one `tier`, one `template`, "
                            "one `scale`")

    def constant(self, expr: n.Expr, env, what: str) -> float:
        self.expect_type(expr, env, t.NUMBER, what)
        value = fold_number(expr)
        if value is None:
            self.report("T006", f"{what} must be a constant number", expr.span, "not a constant",
                        "write a number such as `2` or `-1`")
            return 0.0
        return value

    def check_routes(self, checked: Checked, env) -> None:
        routes = self.scope.rubric.of_type(n.Route)
        if not routes:
            return
        route = routes[-1]
        checked.route_key = route.key
        self.expect_type(route.key, env, t.TEXT, "a route key")
        if checked.items or self.scope.rubric.of_type(n.ScoreDecl):
            self.report("S003", "a rubric with `route` takes its items and score from the routes",
                        route.span, "route here", "move the items into the routed rubrics")
        for key, target in self.scope.routes.items():
            sub = Checker(target, self.diags).run()
            checked.routes[key] = sub
            for name, typ in sub.inputs.items():
                have = checked.inputs.setdefault(name, typ)
                if have != typ:
                    self.report("T007", f"input `{name}` is {t.render(have)} in one route and "
                                f"{t.render(typ)} in `{sub.name}`", route.span, "conflicting routes")

    # ---- tests ---------------------------------------------------------------------------------

    def test(self, test: n.Test, checked: Checked, env: dict[str, Binding]) -> None:
        columns = dict(IMPLICIT_TYPES) | checked.inputs
        judges = [i.name for i in judge_items(checked)]
        expect_env = {i.name: Binding("item", t.NUMBER) for i in all_items(checked)}
        expect_env["status"] = Binding("status", t.ANY)
        for stmt in test.body:
            if isinstance(stmt, n.TestField):
                self.test_field(stmt, columns)
            elif isinstance(stmt, n.Given):
                for verdict in stmt.verdicts:
                    self.given(verdict, checked, judges)
            elif isinstance(stmt, n.Expect):
                self.expect_type(stmt.expr, expect_env, t.BOOL, "an expectation", test=True)
            else:
                self.expect_type(stmt.better, {}, t.TEXT, "a response")
                self.expect_type(stmt.worse, {}, t.TEXT, "a response")

    def test_field(self, stmt: n.TestField, columns: dict[str, t.Type]) -> None:
        if stmt.name not in columns:
            self.report("N001", f"`{stmt.name}` is not an input of this rubric", stmt.span,
                        "unknown column", did_you_mean(stmt.name, columns)
                        or "declare it with `input NAME: TYPE`")
            return
        self.expect_type(stmt.value, {}, columns[stmt.name], f"the test field `{stmt.name}`")

    # ---- expressions ---------------------------------------------------------------------------

    def expect_type(self, expr, env, want: t.Type, what: str, score=False, test=False) -> t.Type:
        got = self.expr(expr, env, test=test)
        if not t.fits(got, want):
            self.mismatch(expr, got, want, what, score)
        return got

    def mismatch(self, expr, got: t.Type, want: t.Type, what: str, score: bool) -> None:
        if t.is_optional(got) and t.fits(t.strip_none(got), want):
            self.report("T002", f"{what} may be none here", expr.span, f"this is {t.render(got)}",
                        "guard it with a gate such as `gate has_x: x != none`, or give a default "
                        "with `x ?? \"\"`")
        elif score:
            self.report("T004", f"{what} must produce a score, but this is {t.render(got)}",
                        expr.span, f"this is {t.render(got)}",
                        "compare it with something, e.g. `math_equal(extract(...), answer)`")
        else:
            self.report("T001", f"{what} must be {t.render(want)}, but this is {t.render(got)}",
                        expr.span, f"this is {t.render(got)}")

    def expr(self, expr, env, test: bool = False) -> t.Type:
        method = getattr(self, f"visit_{type(expr).__name__}")
        typ = method(expr, env, test)
        self.types[id(expr)] = typ
        return typ

    def visit_Literal(self, e: n.Literal, env, test) -> t.Type:
        return t.describe(e.value)

    def visit_RegexLit(self, e, env, test) -> t.Type:
        return t.REGEX

    def visit_ScoreRef(self, e, env, test) -> t.Type:
        if not test:
            self.report("N001", "`score` can only be read inside a test", e.span)
        return t.NUMBER

    def visit_Name(self, e: n.Name, env, test) -> t.Type:
        binding = env.get(e.id)
        if binding is None or binding.kind == "status":
            self.report("N001", f"unknown name `{e.id}`", e.span, "not defined here",
                        did_you_mean(e.id, [k for k, b in env.items() if b.kind != "status"]))
            return t.ANY
        return binding.type

    def visit_ListExpr(self, e: n.ListExpr, env, test) -> t.Type:
        elem = t.NONE if not e.items else self.expr(e.items[0], env, test)
        for item in e.items[1:]:
            elem = t.join(elem, self.expr(item, env, test))
        return t.ListOf(elem if e.items else t.ANY)

    def visit_Comprehension(self, e: n.Comprehension, env, test) -> t.Type:
        source = self.expr(e.source, env, test)
        if isinstance(source, t.ListOf) or source in (t.JSON, t.ANY):
            elem = source.elem if isinstance(source, t.ListOf) else source
        else:
            self.report("T005", f"`for {e.var} in ...` needs a list, but this is {t.render(source)}",
                        e.source.span, "not a list",
                        NARROW_HELP if isinstance(source, t.Optional) else "")
            elem = t.ANY
        inner = env | {e.var: Binding("var", elem)}
        if e.cond is not None:
            self.expect_type(e.cond, inner, t.BOOL, "a `for` filter", test=test)
            inner = self.narrowed(inner, e.cond, True)
        return t.ListOf(self.expr(e.body, inner, test))

    def visit_RecordExpr(self, e: n.RecordExpr, env, test) -> t.Type:
        return t.Record(tuple((k, self.expr(v, env, test)) for k, v in e.fields))

    def visit_Field(self, e: n.Field, env, test) -> t.Type:
        dotted = ".".join(callee_path(e) or ())
        if test and dotted in env:  # a routed rubric's column, e.g. `math.correct`
            return env[dotted].type
        written = self.expr(e.obj, env, test)
        obj = t.strip_none(written) if e.safe else written
        if isinstance(obj, t.Record):
            found = obj.field(e.name)
            if found is None:
                self.report("T003", f"no field `{e.name}` in {t.render(obj)}", e.span, "unknown field",
                            did_you_mean(e.name, [f for f, _ in obj.fields]))
                return t.ANY
            return t.optional(found) if t.is_optional(written) else found
        if obj in (t.JSON, t.ANY):
            return obj
        self.report("T003", f"{t.render(obj)} has no fields", e.span, "not a record",
                    NARROW_HELP if isinstance(obj, t.Optional) else "")
        return t.ANY

    def visit_Index(self, e: n.Index, env, test) -> t.Type:
        written = self.expr(e.obj, env, test)
        obj = t.strip_none(written) if e.safe else written
        self.expect_type(e.index, env, t.NUMBER if obj != t.JSON else t.JSON, "an index")
        if obj in (t.JSON, t.ANY):
            return obj
        if isinstance(obj, t.ListOf) or obj == t.TEXT:
            found = obj.elem if isinstance(obj, t.ListOf) else t.TEXT
            return t.optional(found) if e.safe else found  # `?[` is none past the end
        self.report("T003", f"{t.render(obj)} cannot be indexed", e.span, "not a list",
                    NARROW_HELP if isinstance(obj, t.Optional) else "")
        return t.ANY

    def visit_Unary(self, e: n.Unary, env, test) -> t.Type:
        want = t.BOOL if e.op == "not" else t.NUMBER
        self.expect_type(e.operand, env, want, f"the operand of `{e.op}`")
        return want

    def visit_IfExpr(self, e: n.IfExpr, env, test) -> t.Type:
        self.expect_type(e.cond, env, t.BOOL, "an `if` condition", test=test)
        then = self.expr(e.then, self.narrowed(env, e.cond, True), test)
        other = self.expr(e.else_, self.narrowed(env, e.cond, False), test)
        return t.join(then, other)

    def visit_Binary(self, e: n.Binary, env, test) -> t.Type:
        if e.op in ("and", "or"):
            self.expect_type(e.left, env, t.BOOL, f"the left side of `{e.op}`", test=test)
            right_env = self.narrowed(env, e.left, e.op == "and")
            self.expect_type(e.right, right_env, t.BOOL, f"the right side of `{e.op}`", test=test)
            return t.BOOL
        if e.op == "??":
            left = self.expr(e.left, env, test)
            return t.join(t.strip_none(left), self.expr(e.right, env, test))
        left, right = self.expr(e.left, env, test), self.expr(e.right, env, test)
        if e.op in ("==", "!="):
            return t.BOOL
        if e.op in ("in", "not in"):
            return self.member(e, left, right)
        if e.op == "+" and t.fits(left, t.TEXT) and t.fits(right, t.TEXT) and t.TEXT in (left, right):
            return t.TEXT
        for side, typ in ((e.left, left), (e.right, right)):
            if not t.fits(typ, t.NUMBER):
                self.mismatch(side, typ, t.NUMBER, f"an operand of `{e.op}`", False)
        return t.BOOL if e.op in ("<", "<=", ">", ">=") else t.NUMBER

    def given(self, v: n.Verdict, checked: Checked, judges: list[str]) -> None:
        if v.name not in judges:
            self.report("N001", f"`{v.name}` is not a judge item", v.span, "no such judge",
                        did_you_mean(v.name, judges) or "`given` pins the verdicts of judge items")
            return
        each = checked.item(v.name) is not None and checked.item(v.name).kind == "each"
        if v.key is not None:
            if not each:
                self.report("T001", f"`{v.name}` is not a `judge each` item: it has one verdict, "
                            "not one per criterion", v.key.span, "no criteria",
                            f"pin it whole: `given {v.name} = yes`")
            key = self.expr(v.key, {})
            if key not in (t.NUMBER, t.TEXT):
                self.mismatch(v.key, key, t.TEXT, "a criterion's position or text", False)
        value = self.expr(v.value, {})
        if each and v.key is None and isinstance(value, t.ListOf):
            value = value.elem if value.elem != t.ANY else t.NUMBER  # `[]`: no criteria
        if not t.fits(value, t.NUMBER):
            want = "a verdict (yes, no or a number)" + (", or a list of them" if each else "")
            self.report("T001", f"a pinned verdict must be {want}, but this is {t.render(value)}",
                        v.value.span, f"this is {t.render(value)}")

    def member(self, e: n.Binary, left: t.Type, right: t.Type) -> t.Type:
        """`x in xs` (an element of a list), `s in text` (a part), `k in record` (a key)."""
        if isinstance(right, t.ListOf):
            want = right.elem
        elif right == t.TEXT:
            want = t.TEXT
        elif right in (t.JSON, t.ANY) or isinstance(right, t.Record):
            want = t.TEXT if isinstance(right, t.Record) else t.ANY
        else:
            self.report("T001", f"`{e.op}` needs a list, a text or a record on its right, found "
                        f"{t.render(right)}", e.right.span, "not a list",
                        NARROW_HELP if isinstance(right, t.Optional) else "")
            return t.BOOL
        if not t.fits(left, want) and not t.fits(want, left):
            self.mismatch(e.left, left, want, f"the left side of `{e.op}`", False)
        return t.BOOL

    def visit_Call(self, e: n.Call, env, test) -> t.Type:
        dotted = callee_path(e.callee)
        if dotted is None:
            self.report("T003", "only named functions can be called", e.callee.span)
            return t.ANY
        name = ".".join(dotted)
        if name == "status" and "status" in env:
            return self.status_call(e, env)
        if name in AGGREGATORS and any(b.kind == "itemset" for b in env.values()):
            return self.aggregate_call(e, env)
        if name == "len":
            return self.len_call(e, env, test)
        found = self.scope.find_def(dotted)
        if found is not None:
            params = [(p.name, self.type_expr(p.type), True) for p in found.params]
            shown = found.name if name.startswith(DEF_ROOT) else name  # as its file calls it
            return self.apply(e, shown, params, env, test, self.def_type(found))
        if name in REGISTRY:
            b = REGISTRY[name]
            params = [(p.name, p.type, p.required) for p in b.params]
            return self.apply(e, name, params, env, test, b.returns)
        hint = did_you_mean(name, list(REGISTRY) + list(self.scope.defs)
                            + list(self.scope.namespace.defs))
        if name in AGGREGATORS:
            hint = f"`{name}` aggregates items: use it in `score = ...`"
            if name in ("any", "all", "sum"):
                hint += f"; for a list, `{name}_of(...)`"
        self.report("N001", f"unknown function `{name}`", e.callee.span, "not defined", hint)
        for arg in e.args:
            self.expr(arg, env, test)
        return t.ANY

    def apply(self, e: n.Call, name, params, env, test, returns: t.Type) -> t.Type:
        required = sum(1 for _, _, req in params if req)
        if not required <= len(e.args) <= len(params):
            want = str(required) if required == len(params) else f"{required} to {len(params)}"
            sig = ", ".join(p for p, _, _ in params)
            self.report("T008", f"`{name}` takes {want} argument(s), given {len(e.args)}", e.span,
                        "wrong number of arguments", f"call it as `{name}({sig})`")
        for arg, (pname, ptype, _) in zip(e.args, params):
            self.expect_type(arg, env, ptype, f"argument `{pname}` of `{name}`", test=test)
        for arg in e.args[len(params):]:
            self.expr(arg, env, test)
        return returns

    def len_call(self, e: n.Call, env, test) -> t.Type:
        if len(e.args) != 1:
            self.report("T008", "`len` takes 1 argument", e.span)
        for arg in e.args:
            typ = self.expr(arg, env, test)
            if not (isinstance(typ, t.ListOf) or typ in (t.TEXT, t.JSON, t.ANY)):
                self.mismatch(arg, typ, t.ListOf(t.ANY), "the argument of `len`", False)
        return t.NUMBER

    def aggregate_call(self, e: n.Call, env) -> t.Type:
        name = callee_path(e.callee)[0]
        args = list(e.args)
        if name == "at_least":
            if not args:
                self.report("T008", "`at_least` needs a count: `at_least(2, items)`", e.span)
                return t.NUMBER
            self.constant(args.pop(0), env, "the count of `at_least`")
        weighted = name in ("weighted_mean", "points")
        for arg in args:
            if isinstance(arg, n.Name) and env.get(arg.id, Binding("", t.ANY)).kind in ("item", "itemset"):
                self.types[id(arg)] = t.NUMBER
                continue
            if weighted:
                self.report("T009", f"`{name}` takes items or item sets (items, checks, judges)",
                            arg.span, "not an item", "name items, e.g. `points(correct, style)`")
            self.expect_type(arg, env, t.NUMBER, f"an argument of `{name}`")
        return t.NUMBER

    def status_call(self, e: n.Call, env) -> t.Type:
        if len(e.args) != 1 or not isinstance(e.args[0], n.Name) or e.args[0].id not in env:
            self.report("T008", "`status` takes one item name: `status(correct) == \"skipped\"`",
                        e.span, "", "statuses: " + ", ".join(STATUS_NAMES))
        return t.TEXT

    def def_type(self, d: n.Def) -> t.Type:
        if d.name in self.def_types:
            return self.def_types[d.name]
        if d.name in self.in_progress:
            self.report("N009", f"`{d.name}` calls itself", d.span, "recursive definition",
                        "definitions are inlined, so they cannot recurse")
            return t.ANY
        self.in_progress.add(d.name)
        env = {k: Binding("input", v) for k, v in IMPLICIT_TYPES.items()}
        env |= {k: Binding("input", self.type_expr(i.type)) for k, i in self.scope.inputs.items()}
        env |= {p.name: Binding("param", self.type_expr(p.type)) for p in d.params}
        typ = self.expr(d.body, env)
        self.in_progress.discard(d.name)
        self.def_types[d.name] = typ
        size = self.inlined_size(d)
        if size > MAX_INLINED and not self.calls_oversized(d):  # the first to cross, not each after
            self.report("S006", f"`{d.name}` grows to {size:,} nodes once its calls are inlined, over "
                        f"the limit of {MAX_INLINED:,}", d.span, "too large when inlined",
                        "definitions are copied into every call: a definition that calls another "
                        "twice doubles at each level; compute the shared part once with a `let`")
        return typ

    def calls_oversized(self, d: n.Def) -> bool:
        return any(self.inlined_size(found) > MAX_INLINED for found in self.called_defs(d))

    def called_defs(self, d: n.Def) -> list[n.Def]:
        paths = (callee_path(node.callee) for node in walk(d.body) if isinstance(node, n.Call))
        return [found for path in paths if path and (found := self.scope.find_def(path)) is not None]

    def inlined_size(self, d: n.Def) -> int:
        """How many nodes the body of `d` becomes once every definition it calls is inlined."""
        key = id(d)
        if key not in self.def_sizes:
            self.def_sizes[key] = 1  # a recursive call (N009, reported elsewhere) counts once
            size = sum(1 for _ in walk(d.body))
            for found in self.called_defs(d):
                size = min(size + self.inlined_size(found), MAX_INLINED + 1)
            self.def_sizes[key] = size
        return self.def_sizes[key]

    # ---- judge templates -----------------------------------------------------------------------

    def check_templates(self, items: list[ItemInfo]) -> None:
        """S007: the templates declared in the rubric and those its judge items use (a file's
        own) must parse and read only the names every template is given; a file-level template
        no judge uses never renders and is not checked. Reported once per template."""
        used = [i.template for i in items if i.template is not None]
        for template in dict.fromkeys([*self.scope.templates.values(), *used]):
            for problem in template_problems(template.text, self.template_columns()):
                d = self.template_diagnostic(template, problem)
                if d not in self.diags:
                    self.diags.append(d)

    def template_columns(self) -> tuple[str, ...]:
        """The row's columns a template may read besides `TEMPLATE_VARIABLES`: the rubric's
        inputs and `messages`."""
        return ("messages", *self.scope.inputs)

    def template_diagnostic(self, template: n.Template, problem: TemplateProblem) -> Diagnostic:
        span = self.template_line(template, problem.line) if problem.name is None \
            else self.template_name(template, problem.name)
        return error("S007", f"template `{template.name}` {problem.message}", span, problem.label,
                     problem.help)

    def template_name(self, template: n.Template, name: str) -> Span:
        """The first place inside a `{{ }}` or `{% %}` where the template reads `name` (not the
        word in its prose, nor the template's own name), or the whole template."""
        source = self.sources.get(template.span.file)
        if source is None:
            return template.span
        text, start = source.text, self.template_text_start(template, source)
        for found in re.finditer(rf"\b{re.escape(name)}\b", text[:template.span.end]):
            before = text[start:found.start()]
            if found.start() >= start and max(before.rfind("{{"), before.rfind("{%")) > \
                    max(before.rfind("}}"), before.rfind("%}")):
                return source.span(found.start(), found.end())
        return template.span

    @staticmethod
    def template_text_start(template: n.Template, source: Source) -> int:
        """Where the template's text starts in the source: after its opening quote."""
        opening = re.compile(r'"""|"').search(source.text, template.span.start, template.span.end)
        return opening.end() if opening else template.span.start

    def template_line(self, template: n.Template, line: int | None) -> Span:
        """Line `line` of the template's text in the source, or the whole template."""
        source = self.sources.get(template.span.file)
        if source is None or line is None:
            return template.span
        opening = self.template_text_start(template, source)
        at = min(source.position(opening)[0] + line - 1, template.span.end_line)
        text = source.line_text(at)
        start = max(source.line_starts[at - 1] + len(text) - len(text.lstrip()), opening)
        end = min(source.line_starts[at - 1] + len(text), template.span.end)
        return source.span(start, max(start + 1, end))

    # ---- narrowing -----------------------------------------------------------------------------

    def narrowed(self, env: dict[str, Binding], cond, truth: bool) -> dict[str, Binding]:
        """The environment once `cond` is known to be `truth`."""
        names = proven_present(cond, truth)
        if not names:
            return env
        out = dict(env)
        for name in names:
            if name in out:
                out[name] = Binding(out[name].kind, t.strip_none(out[name].type))
        return out

    # ---- types as written ----------------------------------------------------------------------

    def type_expr(self, te: n.TypeExpr) -> t.Type:
        if isinstance(te, n.TypeName):
            if te.name not in t.PRIMITIVES:
                self.report("T010", f"unknown type `{te.name}`", te.span, "not a type",
                            did_you_mean(te.name, t.PRIMITIVES) or
                            "types: text, number, bool, json, list[T], {field: T}, T?")
                return t.ANY
            return t.PRIMITIVES[te.name]
        if isinstance(te, n.OptionalType):
            return t.optional(self.type_expr(te.inner))
        if isinstance(te, n.ListType):
            return t.ListOf(self.type_expr(te.elem))
        return t.Record(tuple((k, self.type_expr(v)) for k, v in te.fields))

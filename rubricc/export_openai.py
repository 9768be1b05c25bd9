"""`rubricc export --to openai-grader`: a rubric as an OpenAI grader (a `multi` grader).

Each item becomes one grader of the `multi` grader, named after it, and the score becomes its
`calculate_output` formula over those names:

- `response == COL`, `equals`, `!=` and `contains` (`lower` on both sides: `ilike`) between the
  response and a column or a string: `string_check`;
- `rouge_l`, `bleu`, `fuzzy_ratio` or `embedding_similarity` of the response and a column or a
  string, or such a metric `>= t`: `text_similarity` (OpenAI's metric, not rubricc's);
- `judge NAME: "criterion"` (on the response): `score_model`, with the item's judge template
  rendered for OpenAI's template variables;
- any other deterministic item made of the built-ins listed in `PRELUDE` (text, regex, tags,
  counts, `refuses`, arithmetic): a `python` grader whose `grade(sample, item)` evaluates it with
  the standard library only (an expression it cannot evaluate scores 0 where rubricc would mark
  the row invalid);
- a gate: a 0/1 grader, and the score becomes `g * (score) + (1 - g) * FAIL`.

What cannot be expressed is a diagnostic at its span (E001-E005): an error, or with `partial`
a warning and the item left out (its aggregations lose it; a score that names it stays an error).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from rubricc import nodes as n
from rubricc.builtins import counts as _counts
from rubricc.builtins import degenerate as _degenerate
from rubricc.checked_rubric import SET_KINDS, Checked, ItemInfo, fold_number
from rubricc.diagnostics import Diagnostic, error, warning
from rubricc.judges import compiled_template, template_columns
from rubricc.pipeline import choose, front

DEFAULT_MODEL = "gpt-4o-2024-08-06"
RESPONSE = "{{ sample.output_text }}"
FORMULA_FUNCTIONS = ("min", "max", "abs", "floor", "ceil", "exp", "sqrt", "log")
SIMILARITY = {"rouge_l": "rouge_l", "bleu": "bleu", "fuzzy_ratio": "fuzzy_match",
              "embedding_similarity": "cosine"}
YES_NO_SYSTEM = ("Grade the response as the user message asks, but instead of yes or no reply "
                 "with one number from 0 to 1: your probability that the answer is yes.")
SCALE_SYSTEM = "Grade the response as the user message asks: reply with the number only."

# The python grader's helpers, by the built-in each implements; only those an item calls are
# shipped. Patterns are rubricc's own (read below), so the two cannot drift apart.
PRELUDE = {
    "equals": "def equals(a, b):\n    return a == b\n",
    "contains": "def contains(t, p):\n    return p in t\n",
    "starts_with": "def starts_with(t, p):\n    return t.startswith(p)\n",
    "ends_with": "def ends_with(t, p):\n    return t.endswith(p)\n",
    "lower": "def lower(t):\n    return t.lower()\n",
    "upper": "def upper(t):\n    return t.upper()\n",
    "trim": "def trim(t):\n    return t.strip()\n",
    "count": "def count(t, p):\n    if not p:\n        raise ValueError('count: empty')\n"
             "    return float(t.count(p))\n",
    "length": "def length(t):\n    return float(len(t))\n",
    "len": "def len_(t):\n    return float(len(t))\n",
    "matches": "def matches(t, rx):\n    return rx.search(t) is not None\n",
    "fullmatch": "def fullmatch(t, rx):\n    return rx.fullmatch(t) is not None\n",
    "tag": "def tag(t, name):\n    name = name.strip()\n    e = re.escape(name)\n"
           "    found = re.findall(r'(?s)<' + e + r'(?:\\s[^>]*)?>(.*?)</' + e + r'\\s*>', t)\n"
           "    return found[-1].strip() if found else None\n",
    "strip_think": "def strip_think(t):\n    t = re.sub(r'(?s)<think>.*?</think>', '', t)\n"
                   "    return t.rpartition('</think>')[2].strip()\n",
    "words": f"_WORD = re.compile({_counts._WORD.pattern!r}, {int(_counts._WORD.flags)})\n"
             "def words(t):\n    return float(len(_WORD.findall(t)))\n",
    "refuses": f"_REFUSAL = re.compile({_degenerate._REFUSAL.pattern!r}, "
               f"{int(_degenerate._REFUSAL.flags)})\n"
               "def refuses(t):\n    s = re.sub(r'\\s+', ' ', t).strip()\n"
               f"    return bool(s) and len(s.split()) <= {_degenerate.REFUSAL_MAX_WORDS} "
               "and _REFUSAL.match(s) is not None\n",
    "abs": "", "floor": "", "ceil": "", "sqrt": "", "exp": "", "log": "",
    "clip": "def clip(x, lo=0.0, hi=1.0):\n    return max(lo, min(hi, x))\n",
}
PY_NAMES = {"len": "len_", "abs": "abs", "floor": "math.floor", "ceil": "math.ceil",
            "sqrt": "math.sqrt", "exp": "math.exp", "log": "math.log"}


@dataclass
class Export:
    """The grader (None when nothing could be exported) and the diagnostics."""

    grader: dict | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.grader is not None and not any(d.is_error for d in self.diagnostics)


class Inexpressible(Exception):
    def __init__(self, code: str, message: str, span, label: str, help: str = ""):
        super().__init__(message)
        self.code, self.message, self.span, self.label, self.help = code, message, span, label, help
        self.empty = False  # an aggregation left with no item

    def diagnostic(self, partial: bool) -> Diagnostic:
        make = warning if partial else error
        help = self.help or ("rewrite it with the constructs docs/integrations.md lists, or "
                             "export with --partial to leave it out")
        return make(self.code, self.message, self.span, self.label, help)


def export_file(path: str | Path, name: str | None = None, partial: bool = False,
                model: str = DEFAULT_MODEL) -> tuple[Export, dict]:
    """Export one rubric of a file; raises CompileError when the rubric does not compile."""
    result = front(path)
    return export(choose(result, name), partial=partial, model=model), result.program.sources


def export(checked: Checked, partial: bool = False, model: str = DEFAULT_MODEL) -> Export:
    """The rubric as a `multi` grader, and a diagnostic for each part that is not expressible."""
    if checked.routes or checked.rubric.of_type(n.Route):
        route = checked.rubric.of_type(n.Route)[0]
        return Export(None, [error("E004", "a routing rubric cannot be exported as one grader",
                                   route.span, "routes rows by a column",
                                   "export each routed rubric on its own (--name)")])
    diagnostics: list[Diagnostic] = []
    graders: dict[str, dict] = {}
    formulas: dict[str, str] = {}
    names = _grader_names(checked)
    for info in checked.items:
        try:
            grader, formula = _item(checked, info, names[info.name], model)
        except Inexpressible as exc:
            diagnostics.append(exc.diagnostic(partial))
            continue
        graders[names[info.name]] = grader
        formulas[info.name] = formula
    try:
        output = _score(checked, formulas)
    except Inexpressible as exc:
        if graders or not exc.empty:  # with no grader at all, the items' diagnostics say why
            diagnostics.append(exc.diagnostic(False))
        return Export(None, diagnostics)
    if not graders:
        return Export(None, diagnostics)
    grader = {"type": "multi", "name": checked.name, "graders": graders,
              "calculate_output": output}
    return Export(grader, diagnostics)


def _grader_names(checked: Checked) -> dict[str, str]:
    """A formula-safe name per item: its own, unless it is a formula function's."""
    taken = {i.name for i in checked.items}
    out = {}
    for info in checked.items:
        name = info.name
        while name in FORMULA_FUNCTIONS or (name != info.name and name in taken):
            name += "_item"
        out[info.name] = name
    return out


# ---- items --------------------------------------------------------------------------------------


def _item(checked: Checked, info: ItemInfo, name: str, model: str) -> tuple[dict, str]:
    node = info.node
    if info.kind in ("each", "relative"):
        what = "`judge each`" if info.kind == "each" else "`judge relative`"
        raise Inexpressible("E002", f"{what} has no OpenAI grader", node.span,
                            "not expressible as a grader",
                            "OpenAI graders see one sample and one fixed criterion per grader")
    if isinstance(node, n.Judge):
        scale = info.scale  # the grader rates 1..N; rubricc maps the rating onto [0, 1]
        return _judge(checked, info, name, model), \
            f"(({name} - 1) / {scale - 1})" if scale else name
    expr = node.cond if isinstance(node, n.Gate) else node.expr
    found = _string_check(checked, expr, name)
    if found is not None:
        return found, name
    found = _similarity(checked, expr, name)
    if found is not None:
        return found
    return {"type": "python", "name": name, "source": _python(checked, expr, info.name)}, name


def _text_ref(checked: Checked, expr) -> str | None:
    """The template text for a column or a string literal; None for anything else."""
    if isinstance(expr, n.Name) and expr.id in checked.inputs and expr.id not in ("prompt", "response"):
        return _item_var(expr.id)
    if isinstance(expr, n.Literal) and isinstance(expr.value, str) and "{{" not in expr.value \
            and "{%" not in expr.value:
        return expr.value
    return None


def _item_var(column: str) -> str:
    return "{{ item." + column + " }}"


def _is_response(expr) -> bool:
    return isinstance(expr, n.Name) and expr.id == "response"


def _call(expr) -> tuple[str, tuple] | None:
    if isinstance(expr, n.Call) and isinstance(expr.callee, n.Name):
        return expr.callee.id, expr.args
    return None


def _string_check(checked: Checked, expr, name: str) -> dict | None:
    pair, op = None, None
    if isinstance(expr, n.Binary) and expr.op in ("==", "!="):
        pair, op = (expr.left, expr.right), "eq" if expr.op == "==" else "ne"
    elif (call := _call(expr)) and call[0] == "equals" and len(call[1]) == 2:
        pair, op = call[1], "eq"
    elif (call := _call(expr)) and call[0] == "contains" and len(call[1]) == 2:
        text, part = call[1]
        if _is_response(text) and (ref := _text_ref(checked, part)) is not None:
            return _sc(name, "like", ref)
        lowered = [_call(a) for a in (text, part)]
        if lowered[0] and lowered[0][0] == "lower" and _is_response(lowered[0][1][0]):
            inner = lowered[1][1][0] if lowered[1] and lowered[1][0] == "lower" else part
            ref = _text_ref(checked, inner)
            if ref is not None and (inner is not part or ref == ref.lower()):
                return _sc(name, "ilike", ref)
        return None
    if pair is None:
        return None
    a, b = pair
    if _is_response(b):
        a, b = b, a
    if _is_response(a) and (ref := _text_ref(checked, b)) is not None:
        return _sc(name, op, ref)
    return None


def _sc(name: str, op: str, ref: str) -> dict:
    return {"type": "string_check", "name": name, "input": RESPONSE, "reference": ref,
            "operation": op}


def _similarity(checked: Checked, expr, name: str) -> tuple[dict, str] | None:
    threshold = None
    if isinstance(expr, n.Binary) and expr.op == ">=":
        threshold = fold_number(expr.right)
        if threshold is None or not 0 < threshold <= 1:
            return None
        expr = expr.left
    call = _call(expr)
    if not call or call[0] not in SIMILARITY or len(call[1]) != 2:
        return None
    a, b = call[1]
    if _is_response(b):
        a, b = b, a
    ref = _text_ref(checked, b)
    if not _is_response(a) or ref is None:
        return None
    grader = {"type": "text_similarity", "name": name, "input": RESPONSE, "reference": ref,
              "evaluation_metric": SIMILARITY[call[0]]}
    if threshold is None:
        return grader, name
    return grader, f"min(1, floor({name} / {_num(threshold)}))"  # 1 from the threshold on


def _judge(checked: Checked, info: ItemInfo, name: str, model: str) -> dict:
    node = info.node
    if node.subject is not None and not _is_response(node.subject):
        raise Inexpressible("E002", "a judge `on` a part of the response has no OpenAI grader",
                            node.subject.span, "the grader can only show the whole response",
                            "judge the whole response, or say in the criterion which part to read")
    if not (isinstance(node.criterion, n.Literal) and isinstance(node.criterion.value, str)):
        raise Inexpressible("E002", "a judge whose criterion is computed has no OpenAI grader",
                            node.criterion.span, "not a fixed string",
                            "write the criterion as a string")
    scale = info.scale
    values = {"prompt": "{{ item.prompt }}", "response": RESPONSE, "criterion": node.criterion.value,
              "scale": scale, "fence": "graded"}
    values.update({c: _item_var(c) for c in template_columns(info.template_text)})
    try:
        text = compiled_template(info.template_text).render(**values)
    except Exception as exc:  # noqa: BLE001 - jinja2 raises many kinds
        raise Inexpressible("E002", f"the judge template does not render for OpenAI: {exc}",
                            node.span, "its template") from None
    if RESPONSE not in text:
        raise Inexpressible("E002", "the judge template transforms the response, which an "
                            "OpenAI template cannot", node.span, "its template",
                            "write `{{ response }}` in the template as it is")
    system = SCALE_SYSTEM if scale else YES_NO_SYSTEM
    return {"type": "score_model", "name": name, "model": model,
            "input": [{"role": "system", "content": system, "type": "message"},
                      {"role": "user", "content": text, "type": "message"}],
            "range": [1.0, float(scale)] if scale else [0.0, 1.0]}


# ---- python graders -----------------------------------------------------------------------------


class _Py:
    """An expression as Python over `sample` and `item`, with the helpers it calls."""

    def __init__(self, checked: Checked, item: str):
        self.checked, self.item = checked, item
        self.lets = {let.name: let.value for let in checked.rubric.of_type(n.Let)}
        self.helpers: list[str] = []
        self.regexes: list[str] = []
        self.depth = 0

    def no(self, expr, what: str):
        raise Inexpressible("E001", f"item `{self.item}`: {what} has no OpenAI grader", expr.span,
                            "not expressible in a python grader",
                            "the python grader runs the standard library only: use the "
                            "built-ins docs/integrations.md lists, or --partial")

    def expr(self, e) -> str:
        if isinstance(e, n.Literal):
            return repr(e.value)
        if isinstance(e, n.RegexLit):
            flags = "|".join(f"re.{f.upper()}" for f in e.flags) or "0"
            try:
                re.compile(e.pattern)
            except re.error:
                self.no(e, "a regex Python's `re` does not read")
            self.regexes.append(f"re.compile({e.pattern!r}, {flags})")
            return f"_RX{len(self.regexes) - 1}"
        if isinstance(e, n.Name):
            if e.id == "response":
                return "sample['output_text']"
            if e.id in self.lets:
                self.depth += 1
                if self.depth > 50:
                    self.no(e, "a chain of lets this deep")
                try:
                    return f"({self.expr(self.lets[e.id])})"
                finally:
                    self.depth -= 1
            if e.id in self.checked.inputs and e.id not in ("prompt", "messages"):
                return f"item.get({e.id!r})"
            self.no(e, f"`{e.id}`")
        if isinstance(e, n.Unary):
            return f"(not {self.expr(e.operand)})" if e.op == "not" else f"(-{self.expr(e.operand)})"
        if isinstance(e, n.Binary):
            a, b = self.expr(e.left), self.expr(e.right)
            if e.op == "??":
                return f"_default({a}, lambda: {b})"
            return f"({a} {e.op} {b})"
        if isinstance(e, n.IfExpr):
            return f"({self.expr(e.then)} if {self.expr(e.cond)} else {self.expr(e.else_)})"
        call = _call(e)
        if call and call[0] in PRELUDE and call[0] not in self.lets:
            fn, args = call
            if PRELUDE[fn] and PRELUDE[fn] not in self.helpers:
                self.helpers.append(PRELUDE[fn])
            return f"{PY_NAMES.get(fn, fn)}({', '.join(self.expr(a) for a in args)})"
        if call:
            self.no(e, f"`{call[0]}`")
        self.no(e, "this expression")


def _python(checked: Checked, expr, item: str) -> str:
    py = _Py(checked, item)
    body = py.expr(expr)
    regexes = "".join(f"_RX{i} = {rx}\n" for i, rx in enumerate(py.regexes))
    return ("import math\nimport re\n\n\n"
            "def _default(value, other):\n    return other() if value is None else value\n\n\n"
            + "\n\n".join(py.helpers) + ("\n\n" if py.helpers else "") + regexes + "\n\n"
            "def grade(sample, item) -> float:\n"
            "    try:\n"
            f"        value = {body}\n"
            "    except Exception:  # rubricc would mark the row invalid: it scores 0 here\n"
            "        return 0.0\n"
            "    if value is None or not 0 <= float(value) <= 1:\n"
            "        return 0.0\n"
            "    return float(value)\n")


# ---- the score ----------------------------------------------------------------------------------


def _num(x: float) -> str:
    """A number as calculate_output reads it: no unary minus."""
    if x < 0:
        return f"(0 - {_num(-x)})"
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _score(checked: Checked, formulas: dict[str, str]) -> str:
    expr = checked.score
    scored = [i for i in checked.items if i.kind != "gate"]
    body = _formula(checked, expr, formulas) if expr is not None else \
        _aggregate("weighted_mean", [i for i in scored if i.weight != 0], formulas, None,
                   checked.rubric.span)
    for info in reversed([i for i in checked.items if i.kind == "gate"]):
        if info.name not in formulas:
            continue
        fail = fold_number(info.node.fail) if info.node.fail is not None else 0.0
        g = formulas[info.name]
        body = f"{g} * ({body})" + ("" if not fail else f" + (1 - {g}) * {_num(fail)}")
    return body


def _aggregate(fn: str, infos: list[ItemInfo], formulas: dict[str, str], k, span=None) -> str:
    live = [i for i in infos if i.name in formulas]
    vals = [formulas[i.name] for i in live]
    if not vals:
        exc = Inexpressible("E003", f"`{fn}` over no exportable item", span,
                            "nothing left to aggregate")
        exc.empty = True
        raise exc
    met = [f"min(1, floor(2 * {v}))" for v in vals]  # 1 from 0.5 on, as rubricc counts met
    if fn in ("weighted_mean", "points"):
        total = sum(i.weight for i in live if i.weight > 0)
        if total <= 0:
            raise Inexpressible("E003", f"`{fn}` with no positive weight", span, "no positive weight")
        s = " + ".join(v if i.weight == 1 else f"{_num(i.weight)} * {v}" for i, v in zip(live, vals))
        out = f"({s})" if total == 1 else f"({s}) / {_num(total)}"
        return f"max(0, min(1, {out}))" if any(i.weight < 0 for i in live) else out
    if fn == "mean":
        return f"({' + '.join(vals)}) / {len(vals)}"
    if fn == "sum":
        return f"({' + '.join(vals)})"
    if fn == "product":
        return f"({' * '.join(vals)})"
    if fn in ("min", "max"):
        out = vals[-1]
        for v in reversed(vals[:-1]):
            out = f"{fn}({v}, {out})"
        return out
    if fn == "all":
        return f"({' * '.join(met)})"
    if fn == "any":
        return f"min(1, {' + '.join(met)})"
    return f"min(1, floor(({' + '.join(met)}) / {_num(k)}))"  # at_least


def _formula(checked: Checked, e, formulas: dict[str, str]) -> str:
    def no(what: str):
        raise Inexpressible("E003", f"{what} in the score has no `calculate_output` form", e.span,
                            "not expressible", "calculate_output has numbers, item names, "
                            "+ - * / and min, max, abs, floor, ceil, exp, sqrt, log")

    if isinstance(e, n.Literal) and isinstance(e.value, (int, float)) and not isinstance(e.value, bool):
        return _num(e.value)
    if isinstance(e, n.Name):
        info = checked.item(e.id)
        if info is None:
            no(f"`{e.id}`")
        if e.id not in formulas:
            raise Inexpressible("E005", f"the score reads `{e.id}`, which could not be exported",
                                e.span, "left out", "an item the score names cannot be left out")
        return formulas[e.id]
    if isinstance(e, n.Unary) and e.op == "-":
        return f"(0 - {_formula(checked, e.operand, formulas)})"
    if isinstance(e, n.Binary) and e.op in ("+", "-", "*", "/"):
        return f"({_formula(checked, e.left, formulas)} {e.op} {_formula(checked, e.right, formulas)})"
    if isinstance(e, n.IfExpr):
        no("`if ... then ... else`")
    if isinstance(e, (n.Binary, n.Unary)):
        no(f"`{e.op}`")
    call = _call(e)
    if call is None:
        no("this expression")
    fn, args = call
    if fn in SET_KINDS or fn in ("weighted_mean", "points", "mean", "sum", "product", "all", "any",
                                 "at_least") or (fn in ("min", "max") and _all_items(checked, args)):
        k = None
        if fn == "at_least":
            k = fold_number(args[0]) if args else None
            if k is None:
                no("a computed `at_least` count")
            args = args[1:]
        infos = _items_of(checked, args, formulas)
        return _aggregate(fn, infos, formulas, k, e.span)
    if fn in ("abs", "floor", "ceil", "exp", "sqrt", "log", "min", "max"):
        return f"{fn}({', '.join(_formula(checked, a, formulas) for a in args)})"
    if fn == "clip":
        x = _formula(checked, args[0], formulas)
        lo = _formula(checked, args[1], formulas) if len(args) > 1 else "0"
        hi = _formula(checked, args[2], formulas) if len(args) > 2 else "1"
        return f"max({lo}, min({hi}, {x}))"
    no(f"`{fn}`")


def _all_items(checked: Checked, args) -> bool:
    return all(isinstance(a, n.Name) and (a.id in SET_KINDS or checked.item(a.id)) for a in args)


def _items_of(checked: Checked, args, formulas) -> list[ItemInfo]:
    if not args:
        args = (n.Name("items", None),)
    out: list[ItemInfo] = []
    for a in args:
        if isinstance(a, n.Name) and a.id in SET_KINDS:
            out += [i for i in checked.items if i.kind in SET_KINDS[a.id] and i.weight != 0]
        elif isinstance(a, n.Name) and checked.item(a.id):
            if a.id not in formulas:
                raise Inexpressible("E005", f"the score reads `{a.id}`, which could not be "
                                    "exported", a.span, "left out",
                                    "an item the score names cannot be left out")
            out.append(checked.item(a.id))
    return out


def to_json(grader: dict) -> str:
    return json.dumps(grader, indent=2, ensure_ascii=False) + "\n"

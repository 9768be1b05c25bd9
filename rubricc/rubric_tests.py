"""Run the tests written inside rubric files against the compiled scorer.

A test sets columns, a response and pinned judge verdicts, then states expectations on items and
the score, or an ordering (`prefer A over B`). Failures explain themselves with the values seen.
"""

from __future__ import annotations

from dataclasses import dataclass

from rubricc import nodes as n
from rubricc import values as V
from rubricc.checked_rubric import judge_items
from rubricc.interpreter import RowEval
from rubricc.judges import TEMPLATE_FAILED, PinnedJudge
from rubricc.runtime.result import RowResult
from rubricc.runtime.services import Services
from rubricc.scorer import Scorer
from rubricc.source import Source, Span
from rubricc.walk import callee_path

EXPECTATION_FAILED, ORDERING_FAILED, TEMPLATE_FAILS = "X001", "X002", "S007"


@dataclass(frozen=True)
class TestOutcome:
    rubric: str
    name: str
    passed: bool
    span: Span
    message: str = ""


def run_tests(scorer: Scorer, sources: dict[str, Source], judge=None) -> list[TestOutcome]:
    """Run a rubric's tests; `judge` answers the judge items a test does not pin."""
    return [run_test(scorer, test, sources, judge) for test in scorer.checked.tests]


def run_test(scorer: Scorer, test: n.Test, sources: dict[str, Source], judge=None) -> TestOutcome:
    row = test_row(test)
    verdicts, problems = pinned_verdicts(scorer, test, row)
    failures = [f"{test.span}: {problem}" for problem in problems]
    judge = PinnedJudge(verdicts, fallback=judge)
    expects = [s for s in test.body if isinstance(s, n.Expect)]
    if expects or not any(isinstance(s, n.Prefer) for s in test.body):
        [result] = scorer.score_rows([row], judge=judge).rows
        failures += template_failures(scorer, test, result)
        failures += [msg for e in expects if (msg := check_expect(scorer, e, result, sources))]
    for prefer in (s for s in test.body if isinstance(s, n.Prefer)):
        failures += [msg for msg in [check_prefer(scorer, prefer, row, judge)] if msg]
    return TestOutcome(scorer.name, test.name, not failures, test.span, "\n".join(failures))


def template_failures(scorer: Scorer, test: n.Test, result: RowResult) -> list[str]:
    """A judge whose template fails on the test's row fails the test, even when its verdict is
    pinned (`given x = yes`) or the test expects the error: every judge request a test reaches
    is rendered (`judges.judge_rendered`), and a template that fails there fails at `score`."""
    judges = {i.name for i in judge_items(scorer.checked)}
    failed = [(name, message) for name, r in result.items.items() if name in judges
              for message in [r.message, *(c.message for c in r.criteria)]
              if message.startswith(TEMPLATE_FAILED)]
    return [f"{test.span}: {TEMPLATE_FAILS} judge `{name}` cannot render its prompt on this test's row: {message}"
            for name, message in dict.fromkeys(failed)]


def constant(expr):
    return RowEval(None, {}, Services()).eval(expr)


def test_row(test: n.Test) -> dict:
    row: dict = {"prompt": "", "response": ""}
    for stmt in test.body:
        if isinstance(stmt, n.TestField):
            row[stmt.name] = constant(stmt.value)
    return row


def pinned_verdicts(scorer: Scorer, test: n.Test, row: dict) -> tuple[dict, list[str]]:
    """A test's pinned verdicts, item -> a verdict or (per criterion of a `judge each` item)
    criterion text -> a verdict, a position read as the text at that position on the test's row;
    and the pins that could not be placed."""
    verdicts: dict = {}
    problems: list[str] = []
    texts_of: dict[str, list[str] | V.Failed] = {}  # each item's criteria, read once if needed
    for v in (v for stmt in test.body if isinstance(stmt, n.Given) for v in stmt.verdicts):
        value, key = constant(v.value), None if v.key is None else constant(v.key)
        if key is None and not isinstance(value, list):
            verdicts[v.name] = float(value)
            continue
        if isinstance(key, str):  # by text: the row's criteria are not needed
            texts = []
        elif v.name in texts_of:
            texts = texts_of[v.name]
        else:
            texts = texts_of[v.name] = criteria_texts(scorer, v.name, row)
        pins = dict(enumerate(value)) if key is None else {key: value}
        if not isinstance(verdicts.get(v.name), dict):
            verdicts[v.name] = {}
        per = verdicts[v.name]
        for where, verdict in pins.items():
            if isinstance(where, str):
                per[where] = float(verdict)
            elif isinstance(texts, list) and 0 <= int(where) < len(texts):
                per[texts[int(where)]] = float(verdict)
            else:
                count = (f"{len(texts)} criteri{'on' if len(texts) == 1 else 'a'}"
                         if isinstance(texts, list) else f"no criteria ({texts.message})")
                problems.append(f"`given {v.name}[{int(where)}]`: the test's row has {count}")
        if key is None and isinstance(texts, list) and len(value) != len(texts):
            problems.append(f"`given {v.name} = [...]` pins {len(value)} criteria, but the test's "
                            f"row has {len(texts)}")
    return verdicts, problems


def criteria_texts(scorer: Scorer, name: str, row: dict) -> list[str] | V.Failed:
    """The criterion texts a `judge each` item asks on a row, in order."""
    info = scorer.checked.item(name)
    evaluator = RowEval(scorer.checked, row, Services())
    source = V.elements(evaluator.eval(info.node.source))
    if isinstance(source, V.Failed):
        return source
    asked = [evaluator.criterion(info, element) for element in source]
    bad = next((c for c in asked if isinstance(c, V.Failed)), None)
    return bad if bad is not None else [text for text, _ in asked]


class ExpectEval(RowEval):
    """Evaluates `expect` lines: item names, `score`, and `status(item)`."""

    def __init__(self, scorer: Scorer, result: RowResult):
        super().__init__(scorer.checked, {}, Services(), items=dict(result.items))
        self.result = result

    def eval_ScoreRef(self, e, local):
        if self.result.total is None:
            return V.Failed(self.result.status, self.result.message)
        return self.result.total

    def eval_Name(self, e, local):
        item = self.items.get(e.id)
        return item.value if item is not None and item.status == V.OK else None

    def eval_Field(self, e, local):
        dotted = ".".join(callee_path(e) or ())
        if dotted in self.items:  # a routed rubric's column, e.g. `math.correct`
            return self.eval_Name(n.Name(dotted, e.span), local)
        return super().eval_Field(e, local)

    def eval_Call(self, e, local):
        if isinstance(e.callee, n.Name) and e.callee.id == "status":
            return self.items[e.args[0].id].status
        return super().eval_Call(e, local)


def check_expect(scorer: Scorer, expect: n.Expect, result: RowResult, sources) -> str:
    outcome = ExpectEval(scorer, result).eval(expect.expr)
    if outcome is True:
        return ""
    text = source_text(expect.expr.span, sources)
    seen = ", ".join(describe(name, r) for name, r in result.items.items())
    total = f"{result.total:.4g}" if result.total is not None else f"none ({result.status}: {result.message})"
    return f"{expect.span}: {EXPECTATION_FAILED} expected `{text}`; score = {total}; items: {seen}"


def describe(name: str, r) -> str:
    if r.status == V.OK:
        return f"{name} = {r.value:.4g}"
    return f"{name} is {r.status}" + (f" ({r.message})" if r.message else "")


def check_prefer(scorer: Scorer, prefer: n.Prefer, row: dict, judge) -> str:
    better, worse = constant(prefer.better), constant(prefer.worse)
    rows = [row | {"response": better}, row | {"response": worse}]
    a, b = scorer.score_rows(rows, judge=judge).rows
    if a.total is not None and b.total is not None and a.total > b.total:
        return ""
    fmt = lambda r: f"{r.total:.4g}" if r.total is not None else f"none ({r.message})"  # noqa: E731
    return f"{prefer.span}: {ORDERING_FAILED} expected {better!r} (score {fmt(a)}) to score above {worse!r} (score {fmt(b)})"


def source_text(span: Span, sources: dict[str, Source]) -> str:
    source = sources.get(span.file)
    return source.text[span.start:span.end] if source else "?"

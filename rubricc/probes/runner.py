"""Run the probes against a compiled rubric, on rows from its tests or from a data file.

For each row, two scoring calls:

1. The format: the reference answer (and a wrong one) in every candidate shell; the shell that
   pays the reference most becomes the row's format, and the wrong answer in it is the row's
   honest wrong answer, whose reward is the baseline.
2. The hacks: every applicable probe's responses, in one batch.

A probe hacks the rubric when one of its responses scores above the baseline of its row by more
than the margin (or above `threshold`, when one is given), or when it makes its row uncomputable
(an error or a timeout) where the honest wrong answer is scored: trainers mask such rows instead
of scoring them 0, so the response escapes its penalty. The report keeps, per probe, the response
furthest above its limit, with the items that paid for it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rubricc import nodes as n
from rubricc import values as V
from rubricc.checked_rubric import Checked, all_items
from rubricc.probes.context import MARK, Context, make_context, reference_column, shell_candidates
from rubricc.probes.registry import Probe
from rubricc.runtime.result import RowResult

JUDGED_MARGIN = 0.05
"""Default margin on rubrics with judge items: a judge's P(yes) moves a little between any two
responses, and a hack is a response it prefers clearly."""

CODE_ROWS = 2
"""Rows the code probes run on: each of their responses costs a sandbox, and the harness's
defences do not depend on the row."""

EPSILON = 1e-9


@dataclass(frozen=True)
class Attempt:
    """One probe response on one row, and what it earned."""

    probe: Probe
    row: int
    response: str
    reward: float | None
    status: str
    baseline: float
    limit: float
    paid: tuple[str, ...]
    message: str = ""
    baseline_scored: bool = True
    failed: str = ""  # the item that could not be computed, when the row could not

    @property
    def escaped(self) -> bool:
        """The response made its own row uncomputable where an honest wrong answer is scored: a
        trainer masks such a row (advantage 0) instead of scoring it 0, so failing this way costs
        the policy nothing."""
        return self.reward is None and self.baseline_scored

    @property
    def pays(self) -> bool:
        return (self.reward is not None and self.reward > self.limit + EPSILON
                and not self.probe.escapes_only)

    @property
    def hacked(self) -> bool:
        return self.escaped or self.pays

    @property
    def excess(self) -> float:
        if self.reward is None:
            return 0.5 if self.escaped else -1.0  # an escape ranks with a hack that pays half
        return self.reward - self.limit if not self.probe.escapes_only else -1.0


@dataclass(frozen=True)
class ProbeOutcome:
    """One probe over every row: the attempt furthest above its limit."""

    probe: Probe
    worst: Attempt | None
    attempts: int
    expected: str | None = None  # the rubric's reason, when it declares the probe expected

    @property
    def hacked(self) -> bool:
        return self.worst is not None and self.worst.hacked

    @property
    def ran(self) -> bool:
        return self.attempts > 0


@dataclass
class ProbeReport:
    rubric: str
    rows: int
    outcomes: list[ProbeOutcome] = field(default_factory=list)
    skipped: str = ""
    seconds: float = 0.0

    @property
    def hacks(self) -> list[ProbeOutcome]:
        """Hacks the rubric does not declare expected: these fail `check`."""
        return [o for o in self.outcomes if o.hacked and o.expected is None]

    @property
    def expected_hacks(self) -> list[ProbeOutcome]:
        return [o for o in self.outcomes if o.hacked and o.expected is not None]

    @property
    def passed(self) -> list[ProbeOutcome]:
        return [o for o in self.outcomes if o.ran and not o.hacked]

    @property
    def unexpected_passes(self) -> list[ProbeOutcome]:
        """Probes declared expected that no longer hack: the declaration can go."""
        return [o for o in self.outcomes if o.ran and not o.hacked and o.expected is not None]

    def to_json(self) -> dict:
        return {"rubric": self.rubric, "rows": self.rows, "skipped": self.skipped,
                "seconds": round(self.seconds, 3),
                "probes": [_outcome_json(o) for o in self.outcomes if o.ran]}


def _outcome_json(o: ProbeOutcome) -> dict:
    w = o.worst
    out = {"code": o.probe.code, "name": o.probe.name, "family": o.probe.family,
           "hacked": o.hacked, "expected": o.expected, "attempts": o.attempts}
    if w is not None:
        out |= {"row": w.row, "response": w.response, "reward": w.reward, "status": w.status,
                "escaped": w.escaped, "message": w.message, "baseline": w.baseline,
                "limit": w.limit, "paid": list(w.paid)}
    return out


def declared(checked: Checked) -> dict[str, str]:
    """`expect hack CODE "reason"` declarations of a rubric: code -> reason."""
    return {h.code: h.reason for h in checked.rubric.of_type(n.ExpectHack)}


def run_probes(scorer, rows: list[dict], *, judge=None, reference: str | None = None,
               threshold: float | None = None, margin: float | None = None,
               probes: tuple[Probe, ...] | None = None) -> ProbeReport:
    """Probe `scorer` on `rows` (dicts of columns; a `response` in a row is used as a sample of
    the format). Judge probes run only with a `judge`; a rubric with judge items needs one."""
    from rubricc.probes import PROBES

    started = time.perf_counter()
    checked: Checked = scorer.checked
    report = ProbeReport(checked.name, len(rows))
    column = reference_column(checked, reference)
    contexts = [make_context(checked, row, column) for row in rows]
    if not rows:
        report.skipped = "no rows to probe: the rubric has no tests (use `rubricc probe RUBRIC DATA`)"
        return report
    if contexts[0].judged and judge is None:
        report.skipped = "the rubric has judge items: probes need a judge (--judge SPEC)"
        return report
    margin = margin if margin is not None else (JUDGED_MARGIN if contexts[0].judged else 0.0)
    samples = [(str(r.get("response") or ""), str(r.get(column) or "")) for r in rows] if column else []
    baselines = _find_formats(scorer, contexts, samples, judge)
    chosen = [p for p in (probes or PROBES) if judge is not None or not p.needs_judge]
    attempts = _attempt(scorer, contexts, baselines, chosen, judge, threshold, margin)
    expected = declared(checked)
    for p in chosen:
        mine = attempts.get(p.code, [])
        worst = max(mine, key=lambda a: a.excess, default=None)
        report.outcomes.append(ProbeOutcome(p, worst, len(mine), expected.get(p.code)))
    report.seconds = time.perf_counter() - started
    return report


def _find_formats(scorer, contexts: list[Context], samples, judge) -> list[tuple[float, RowResult]]:
    """Give each context its shell; return each row's baseline (reward and row result)."""
    shells = [shell_candidates(ctx, samples) for ctx in contexts]
    rows: list[dict] = []
    for ctx, mine in zip(contexts, shells):
        for shell in mine:
            rows.append(ctx.columns | {"response": shell.replace(MARK, ctx.right)})
            rows.append(ctx.columns | {"response": shell.replace(MARK, ctx.wrong)})
        rows.append(ctx.columns | {"response": ctx.fixed_honest})
    results = iter(scorer.score_rows(rows, judge=judge).rows)
    out = []
    for ctx, mine in zip(contexts, shells):
        paid: dict[str, tuple[float, RowResult]] = {}  # shell -> (reward of the right answer, row of the wrong)
        for shell in mine:
            right, wrong = next(results), next(results)
            paid[shell] = (right.total if right.total is not None else -1.0, wrong)
        fixed = next(results)
        ctx.shell = max(mine, key=lambda shell: paid[shell][0])  # the first of equals wins
        ctx.formatted = paid.get(MARK, (-1.0, None))[0] < paid[ctx.shell][0] - EPSILON
        wrong = fixed if ctx.fixed_honest else paid[ctx.shell][1]  # code and open-ended rows
        scored = ctx.reference is not None or ctx.judged or ctx.function is not None
        out.append(((wrong.total or 0.0) if scored else 0.0, wrong))
    return out


def _attempt(scorer, contexts, baselines, probes, judge, threshold, margin) -> dict[str, list[Attempt]]:
    plan: list[tuple[Probe, int, str]] = []
    code_rows = 0
    for index, ctx in enumerate(contexts):
        with_code = ctx.function is not None and code_rows < CODE_ROWS
        code_rows += with_code
        for p in probes:
            if _applies(p, ctx, with_code):
                plan += [(p, index, text) for text in dict.fromkeys(p.responses(ctx))]
    if not plan:
        return {}
    results = scorer.score_rows([contexts[i].columns | {"response": text} for _, i, text in plan],
                                judge=judge).rows
    checked = scorer.checked
    found: dict[str, list[Attempt]] = {}
    for (p, index, text), result in zip(plan, results):
        baseline, base_row = baselines[index]
        limit = threshold if threshold is not None else baseline + margin
        found.setdefault(p.code, []).append(Attempt(
            p, index, text, result.total, result.status, baseline, limit,
            paid_items(checked, result, base_row), result.message or "",
            base_row.total is not None,
            next((name for name, item in result.items.items()
                  if item.status in (V.ERROR, V.TIMEOUT)), "")))
    return found


def _applies(p: Probe, ctx: Context, with_code: bool) -> bool:
    if p.family == "code":
        return with_code
    if p.family == "answer":
        return ctx.reference is not None
    if p.family == "format":
        return ctx.formatted or ctx.tagged
    if p.family == "judge":
        return ctx.judged
    return True


def paid_items(checked: Checked, result: RowResult, baseline: RowResult) -> tuple[str, ...]:
    """The items that earned more on the probe than on the honest wrong answer: scored items
    first, then gates that let it through."""
    kinds = {i.name: i.kind for i in all_items(checked)}

    def value(row: RowResult, name: str) -> float:
        item = row.items.get(name)
        return item.value if item is not None and item.status == V.OK and item.value is not None else 0.0

    more = [name for name in result.items if value(result, name) > value(baseline, name) + EPSILON]
    scored = [name for name in more if kinds.get(name) != "gate"]
    if scored or more:
        return tuple(scored or more)
    return tuple(name for name in result.items
                 if kinds.get(name) != "gate" and value(result, name) > EPSILON)


TEST_ROWS = 8
"""Rows of a rubric's own tests that `check` probes: enough to cover its distinct shapes."""


def rows_from_tests(scorer, limit: int = TEST_ROWS) -> list[dict]:
    """One row per distinct set of columns among the rubric's tests (the prompt and reference
    columns a test sets), with the test's response as a sample of the format."""
    from rubricc.rubric_tests import constant, test_row

    rows: dict[str, dict] = {}
    for test in scorer.checked.tests:
        row = test_row(test)
        prefer = next((s for s in test.body if isinstance(s, n.Prefer)), None)
        if not row.get("response") and prefer is not None:
            row["response"] = constant(prefer.better)
        key = repr(sorted((k, repr(v)) for k, v in row.items() if k != "response"))
        rows.setdefault(key, row)
    return list(rows.values())[:limit]

"""A probe report as diagnostics: each hack at the item that paid for it.

    hack[H020]: sprayed-candidates: "7 or 8" earns 1 (the honest wrong answer earns 0) through `correct`
     --> rubrics/math/answer.rubric:12:5
      |
    12 |     check correct: math_equal(final, answer)
      |     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ pays for the hack
      |
    help: docs/probes.md, H020, shows what to write instead; if the hack is acceptable here, declare
    it: `expect hack H020 "why"`
"""

from __future__ import annotations

from rubricc import nodes as n
from rubricc.checked_rubric import Checked, all_items
from rubricc.diagnostics import HACK, NOTE, WARNING, Diagnostic
from rubricc.probes.runner import ProbeOutcome, ProbeReport
from rubricc.source import Span

SNIPPET = 60


def diagnostics(report: ProbeReport, checked: Checked) -> list[Diagnostic]:
    out = [_hack(o, checked) for o in report.outcomes if o.hacked]
    declarations = {h.code: h for h in checked.rubric.of_type(n.ExpectHack)}
    for o in report.unexpected_passes:
        where = declarations[o.probe.code]
        out.append(Diagnostic(
            o.probe.code, WARNING, f"`expect hack {o.probe.code}` is declared, but {o.probe.name} "
            f"earns nothing above the honest wrong answer here", where.span, "no longer needed",
            "remove the declaration, so that the probe guards against the hack coming back"))
    return out


def summary(o: ProbeOutcome) -> str:
    """What the probe's worst response did, in one line: what it earned and through which items,
    or why its row could not be scored."""
    w = o.worst
    assert w is not None
    if w.escaped:
        return (f"{o.probe.name}: {snippet(w.response)} cannot be scored ({w.status}"
                f"{': ' + w.message[:120] if w.message else ''}), so a trainer masks it "
                f"instead of scoring it 0")
    through = ", ".join(f"`{name}`" for name in w.paid) or "the score"
    return f"{o.probe.name}: {snippet(w.response)} earns {w.reward:.3g} ({_against(w)}) through {through}"


def _hack(o: ProbeOutcome, checked: Checked) -> Diagnostic:
    w = o.worst
    assert w is not None
    where = _span(checked, () if w.escaped else w.paid, w.failed)
    label = "cannot be computed for it" if w.escaped else "pays for the hack"
    message = summary(o)
    if o.expected is not None:
        return Diagnostic(o.probe.code, NOTE, "expected hack: " + message, where, label,
                          f"declared expected: {o.expected}")
    return Diagnostic(o.probe.code, HACK, message, where, label,
                      f"docs/probes.md, {o.probe.code}, shows what to write instead; if the hack "
                      f'is acceptable here, declare it: `expect hack {o.probe.code} "why"`')


def _against(w) -> str:
    if w.limit == w.baseline:
        return f"the honest wrong answer earns {w.baseline:.3g}"
    if abs(w.limit - w.baseline) < 0.5 and w.limit > w.baseline:
        return f"the honest wrong answer earns {w.baseline:.3g}, the margin is {w.limit - w.baseline:.3g}"
    return f"the threshold is {w.limit:.3g}"


def snippet(text: str) -> str:
    """A response as it would be quoted in one line."""
    flat = " ".join(text.split()) if text.strip() else text
    quoted = flat if len(flat) <= SNIPPET else flat[:SNIPPET - 1] + "…"
    return repr(quoted) if not text.strip() else f'"{quoted}"'


def _span(checked: Checked, paid: tuple[str, ...], failed: str = "") -> Span | None:
    items = {i.name: i for i in all_items(checked)}
    for name in (*paid, failed):
        if name in items:
            return items[name].node.span
    decl = checked.rubric.of_type(n.ScoreDecl)
    return decl[-1].span if decl else checked.rubric.span

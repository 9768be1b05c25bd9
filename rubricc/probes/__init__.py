"""Probes: the reward hacks a policy would find, tried on a rubric before training does.

One module per family, each probe a function registered with a stable code (`H001`...), a name,
and a docstring in the four sections of a lint rule (What it does / Why it matters / Example /
Use instead), from which `docs/probes.md` is generated (`python -m rubricc.probes.doc`).

| family | codes | needs |
| --- | --- | --- |
| degenerate | H001-H007 | nothing (H007: a reference column) |
| format | H010-H014 | a rubric that pays for a format |
| answer | H020-H023 | a reference column |
| judge | H030-H033 | judge items and a judge |
| code | H040-H046 | a rubric that runs code, and tests that call a function |

`run_probes(scorer, rows)` scores them; `rubricc check` runs them on each rubric's test rows and
`rubricc probe RUBRIC DATA` on a data file.
"""

from __future__ import annotations

from rubricc import nodes as n
from rubricc.diagnostics import Diagnostic, did_you_mean, error
from rubricc.probes import answer, code, degenerate, format, judge
from rubricc.probes.registry import REGISTERED, Probe
from rubricc.probes.runner import ProbeOutcome, ProbeReport, declared, run_probes

PROBES: tuple[Probe, ...] = tuple(sorted(REGISTERED, key=lambda p: p.code))
FAMILIES = (degenerate, format, answer, judge, code)



def declaration_diagnostics(rubric: n.Rubric) -> list[Diagnostic]:
    """S004/S005: an `expect hack CODE "reason"` names a probe and says why its hack is acceptable.

    Checked here, after type checking, because the probes import the checker's results."""
    codes = {p.code: p for p in PROBES}
    found = []
    for hack in rubric.of_type(n.ExpectHack):
        if hack.code not in codes:
            found.append(error("S004", f"`expect hack {hack.code}`: no probe has that code", hack.span,
                               "unknown probe", did_you_mean(hack.code, codes) or
                               "the probes and their codes are listed in docs/probes.md"))
        elif not hack.reason.strip():
            found.append(error(
                "S005", f"`expect hack {hack.code}` gives no reason", hack.span, "an empty reason",
                f"say why {codes[hack.code].name} is acceptable for this rubric: a reader of the "
                "rubric (and of `rubricc check`) sees it"))
    return found


__all__ = ["declaration_diagnostics", "FAMILIES", "PROBES", "Probe", "ProbeOutcome", "ProbeReport", "declared", "run_probes"]

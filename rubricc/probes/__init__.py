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

from rubricc.probes import answer, code, degenerate, format, judge
from rubricc.probes.registry import REGISTERED, Probe
from rubricc.probes.runner import ProbeOutcome, ProbeReport, declared, run_probes

PROBES: tuple[Probe, ...] = tuple(sorted(REGISTERED, key=lambda p: p.code))
FAMILIES = (degenerate, format, answer, judge, code)

__all__ = ["FAMILIES", "PROBES", "Probe", "ProbeOutcome", "ProbeReport", "declared", "run_probes"]

"""Lint: warnings about rubrics that type-check but reward the wrong thing.

One rule per module, each with a stable code, a name describing the pattern, a docstring with the
sections What it does / Why it matters / Example / Use instead, and `check(checked)` yielding
diagnostics. `RULES` lists them in code order; `lint` runs them all.
"""

from __future__ import annotations

from collections.abc import Iterable

from rubricc.checked_rubric import Checked
from rubricc.diagnostics import Diagnostic, sort_key
from rubricc.lint import (
    always_failing_gate,
    constant_score,
    empty_response_passes,
    invalid_regex,
    judge_without_question,
    negative_weight,
    nested_quantifier,
    never_failing_gate,
    score_out_of_range,
    unfenced_judge_response,
    ungated_format_reward,
    ungated_reference_containment,
    unscored_item,
    unused_binding,
    zero_total_weight,
)

RULES = (
    unused_binding,          # L001
    unscored_item,           # L002
    score_out_of_range,      # L003
    constant_score,          # L004
    ungated_format_reward,   # L005
    empty_response_passes,   # L006
    invalid_regex,           # L007
    nested_quantifier,       # L008
    zero_total_weight,       # L009
    negative_weight,         # L010
    always_failing_gate,     # L011
    never_failing_gate,      # L012
    judge_without_question,  # L013
    ungated_reference_containment,  # L014
    unfenced_judge_response,  # L015
)


def lint(checked: Checked) -> list[Diagnostic]:
    """Every rule on one rubric and on each rubric it routes to, sorted by position."""
    return lint_all([checked])


def lint_all(rubrics: Iterable[Checked]) -> list[Diagnostic]:
    """Lint several rubrics; a rubric reached twice (routed to, and also top-level) reports once."""
    found: dict[Diagnostic, None] = {}
    for checked in _with_routes(rubrics):
        for rule in RULES:
            found.update(dict.fromkeys(rule.check(checked)))
    return sorted(found, key=sort_key)


def _with_routes(rubrics: Iterable[Checked]) -> Iterable[Checked]:
    for checked in rubrics:
        yield checked
        yield from _with_routes(checked.routes.values())

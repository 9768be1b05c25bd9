"""Reductions of lists, for the lists a `[... for x in xs if ...]` builds.

>>> any_of([False, True]), all_of([]), sum_of([1, 2.5])
(True, True, 3.5)

`any`, `all` and `sum` are the aggregators of items in `score = ...` (`any(checks)`); these take
a list, anywhere. Counting is `len([x for x in xs if ...])`.
"""

from __future__ import annotations

from rubricc.builtins.registry import builtin


@builtin()
def any_of(xs: list[bool]) -> bool:
    """Whether any element is true (false for an empty list)."""
    return any(xs)


@builtin()
def all_of(xs: list[bool]) -> bool:
    """Whether every element is true (true for an empty list)."""
    return all(xs)


@builtin()
def sum_of(xs: list[float]) -> float:
    """The sum of the numbers (0 for an empty list)."""
    return float(sum(xs))

"""Reductions of lists, for the lists a `[... for x in xs if ...]` builds.

>>> any_of([False, True]), all_of([]), sum_of([1, 2.5]), max_of([1, 3]), min_of([1, 3])
(True, True, 3.5, 3.0, 1.0)

`any`, `all`, `sum`, `max` and `min` are the aggregators of items in `score = ...`
(`any(checks)`); these take a list, anywhere. Counting is `len([x for x in xs if ...])`.
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


@builtin()
def max_of(xs: list[float]) -> float:
    """The largest number (an error for an empty list: there is none)."""
    if not xs:
        raise ValueError("max_of an empty list")
    return float(max(xs))


@builtin()
def min_of(xs: list[float]) -> float:
    """The smallest number (an error for an empty list: there is none)."""
    if not xs:
        raise ValueError("min_of an empty list")
    return float(min(xs))

"""Arithmetic for score expressions: what OpenAI's `calculate_output` graders offer, and clip.

Each takes and returns numbers; domain errors (sqrt of a negative, log of 0) raise ValueError,
which the runtime turns into an `error` status for that row.

>>> clip(1.4, 0, 1), floor(2.7), ceil(2.1), round_to(2.5), round_to(-0.125, 2)
(1.0, 2.0, 3.0, 3.0, -0.13)
"""

from __future__ import annotations

import math

from rubricc.builtins.registry import builtin


@builtin(name="abs")
def abs_(x: float) -> float:
    """The absolute value of `x`."""
    return float(abs(x))


@builtin()
def clip(x: float, low: float = 0.0, high: float = 1.0) -> float:
    """`x` limited to [low, high] (by default [0, 1], the range of a score)."""
    if low > high:
        raise ValueError(f"clip: low {low} is above high {high}")
    return float(min(high, max(low, x)))


@builtin()
def floor(x: float) -> float:
    """The largest whole number not above `x`."""
    return float(math.floor(x))


@builtin()
def ceil(x: float) -> float:
    """The smallest whole number not below `x`."""
    return float(math.ceil(x))


@builtin(name="round")
def round_to(x: float, digits: float = 0) -> float:
    """`x` rounded half away from zero to `digits` decimals (not Python's banker's rounding)."""
    scale = 10.0 ** int(digits)
    return math.copysign(math.floor(abs(x) * scale + 0.5) / scale, x)


@builtin()
def sqrt(x: float) -> float:
    """The square root of `x` (an error for negative `x`)."""
    return math.sqrt(x)


@builtin()
def exp(x: float) -> float:
    """e to the power `x`."""
    return math.exp(x)


@builtin()
def log(x: float) -> float:
    """The natural logarithm of `x` (an error unless `x` > 0)."""
    return math.log(x)

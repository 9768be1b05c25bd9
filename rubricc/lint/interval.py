"""Interval arithmetic over numbers: the range a score expression can take.

>>> Interval(0, 1) * Interval(2, 2) + Interval(-1, -1)
Interval(lo=-1.0, hi=1.0)
>>> (Interval(0, 1) / Interval(0, 1)).hi
inf
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Interval:
    lo: float
    hi: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "lo", float(self.lo))
        object.__setattr__(self, "hi", float(self.hi))

    @staticmethod
    def point(x: float) -> Interval:
        return Interval(x, x)

    def __add__(self, other: Interval) -> Interval:
        return Interval(self.lo + other.lo, self.hi + other.hi)

    def __neg__(self) -> Interval:
        return Interval(-self.hi, -self.lo)

    def __sub__(self, other: Interval) -> Interval:
        return self + -other

    def __mul__(self, other: Interval) -> Interval:
        ends = [_times(a, b) for a in (self.lo, self.hi) for b in (other.lo, other.hi)]
        return Interval(min(ends), max(ends))

    def __truediv__(self, other: Interval) -> Interval:
        if other.lo <= 0 <= other.hi:
            return EVERYWHERE  # the divisor can be zero
        return self * Interval(1 / other.hi, 1 / other.lo)

    def hull(self, other: Interval) -> Interval:
        return Interval(min(self.lo, other.lo), max(self.hi, other.hi))

    def within(self, lo: float, hi: float, eps: float = 1e-9) -> bool:
        return self.lo >= lo - eps and self.hi <= hi + eps

    def __str__(self) -> str:
        return f"[{_show(self.lo)}, {_show(self.hi)}]"


def _times(a: float, b: float) -> float:
    return 0.0 if a == 0 or b == 0 else a * b  # 0 * inf is 0 here: a zero factor wins


def _show(x: float) -> str:
    if math.isinf(x):
        return "-inf" if x < 0 else "inf"
    return f"{x:.3g}"


UNIT = Interval(0, 1)
EVERYWHERE = Interval(-math.inf, math.inf)
NON_NEGATIVE = Interval(0, math.inf)

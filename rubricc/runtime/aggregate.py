"""Named aggregations over items: the one definition both engines call.

An `Entry` is one scored thing: an item, one per-row criterion of a `judge each`, or a plain
number. Entries that are not applicable are left out; a failed entry fails the aggregate.

>>> es = [Entry(1.0, 10), Entry(0.0, -5), Entry(1.0, 2)]
>>> aggregate("points", es), aggregate("weighted_mean", [Entry(1.0, 3), Entry(0.0, 1)])
(1.0, 0.75)
>>> aggregate("at_least", [Entry(1.0), Entry(0.2), Entry(0.9)], k=2)
1.0
>>> criteria_value([Entry(1.0, 3), Entry(0.0, 1)]), criteria_value([Entry(1.0, 0), Entry(0.0, 0)])
(0.75, 0.5)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rubricc.values import ERROR, Failed


@dataclass(frozen=True)
class Entry:
    value: float | Failed | None  # None: not applicable
    weight: float = 1.0


MET = 0.5  # a probability-valued verdict counts as met from here on


def _weighted(vals, weights, name: str) -> float | Failed:
    """sum(w*v) / sum of positive w, clipped to [0, 1]: a response that meets every positive
    item and no negative one (pitfalls, penalties) scores exactly 1."""
    possible = sum(w for w in weights if w > 0)
    if possible <= 0:
        return Failed(ERROR, f"{name}: no item has a positive weight")
    return min(1.0, max(0.0, sum(w * v for v, w in zip(vals, weights)) / possible))


def _at_least(vals, k: float) -> float:
    return 1.0 if sum(v >= MET for v in vals) >= k else 0.0


UNWEIGHTED = {
    "mean": lambda vals: sum(vals) / len(vals),
    "sum": lambda vals: float(sum(vals)),
    "min": lambda vals: float(min(vals)),
    "max": lambda vals: float(max(vals)),
    "product": lambda vals: float(math.prod(vals)),
    "all": lambda vals: 1.0 if all(v >= MET for v in vals) else 0.0,
    "any": lambda vals: 1.0 if any(v >= MET for v in vals) else 0.0,
}


def aggregate(name: str, entries: list[Entry], k: float = 0.0) -> float | Failed:
    live = [e for e in entries if e.value is not None]
    bad = next((e.value for e in live if isinstance(e.value, Failed)), None)
    if bad is not None:
        return bad
    if name in ("weighted_mean", "points"):
        live = [e for e in live if e.weight != 0]
    if not live:
        return Failed(ERROR, f"{name}: nothing to aggregate (no applicable item)")
    vals = [float(e.value) for e in live]
    if name in ("weighted_mean", "points"):
        return _weighted(vals, [e.weight for e in live], name)
    if name == "at_least":
        return _at_least(vals, k)
    return UNWEIGHTED[name](vals)


def criteria_value(entries: list[Entry]) -> float | Failed | None:
    """The column value of a `judge each` item: its criteria's weighted mean, within [0, 1]."""
    if all(e.value is None for e in entries):
        return None
    if all(e.weight == 0 for e in entries):  # a log-only item (`weight 0`): its criteria alike
        entries = [Entry(e.value) for e in entries]
    value = aggregate("weighted_mean", entries)
    return value if isinstance(value, Failed) else min(1.0, max(0.0, value))

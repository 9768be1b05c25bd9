"""Per-row results: what both engines produce for one sample, and what tests and `explain` read."""

from __future__ import annotations

from dataclasses import dataclass

from rubricc.runtime import values as V
from rubricc.runtime.aggregate import Entry


@dataclass(frozen=True)
class Criterion:
    """One per-row criterion of a `judge each` item, with its verdict."""

    text: str
    weight: float
    value: float | None = None
    status: str = V.OK
    message: str = ""

    def entry(self) -> Entry:
        if self.status in (V.ERROR, V.TIMEOUT):
            return Entry(V.Failed(self.status, self.message), self.weight)
        return Entry(self.value if self.status == V.OK else None, self.weight)


@dataclass(frozen=True)
class ItemResult:
    value: float | None
    status: str
    message: str = ""
    criteria: tuple[Criterion, ...] = ()

    @staticmethod
    def of(v, criteria: tuple[Criterion, ...] = ()) -> ItemResult:
        if isinstance(v, V.Failed):
            return ItemResult(None, v.status, v.message, criteria)
        if v is None:
            return ItemResult(None, V.NA, "", criteria)
        return ItemResult(float(v), V.OK, "", criteria)

    def as_value(self):
        """The item as later expressions see it: its value, or its failure."""
        if self.status == V.OK:
            return self.value
        return V.Failed(self.status if self.status != V.NA else V.ERROR,
                        self.message or f"item is {self.status}")

    def failure(self) -> V.Failed:
        return V.Failed(self.status, self.message)


@dataclass(frozen=True)
class RowResult:
    items: dict[str, ItemResult]
    total: float | None
    status: str  # ok, gated (a gate failed: total is its fail value), error, timeout
    message: str = ""

"""Per-row results: what both engines produce for one sample, and what tests and `explain` read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rubricc import values as V
from rubricc.checked_rubric import SET_KINDS
from rubricc.runtime.aggregate import Entry

if TYPE_CHECKING:
    from rubricc.checked_rubric import Checked, ItemInfo


@dataclass(frozen=True)
class Criterion:
    """One per-row criterion of a `judge each` item, with its verdict."""

    text: str
    weight: float
    value: float | None = None
    status: str = V.OK
    message: str = ""

    def to_json(self) -> dict:
        """What `rubricc score` writes: the verdict is P(yes) (or the mapped rating)."""
        out = {"text": self.text, "weight": self.weight, "verdict": self.value, "status": self.status}
        return out | ({"error": self.message} if self.message else {})

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


def settle(text: str, weight: float, verdict) -> Criterion:
    value = V.item_value(verdict)
    if isinstance(value, V.Failed):
        return Criterion(text, weight, None, value.status, value.message)
    return Criterion(text, weight, value)



def item_set(checked: Checked, name: str) -> list[ItemInfo]:
    """The items an aggregate sees: one item by name, or a set (log-only items left out)."""
    if name not in SET_KINDS:
        found = checked.item(name)
        return [found] if found is not None else []
    return [i for i in checked.items if i.kind in SET_KINDS[name] and not _log_only(i)]


def _log_only(info: ItemInfo) -> bool:
    return info.weight == 0  # for `judge each`, only a constant weight 0


def entries_of(info: ItemInfo, result: ItemResult) -> list[Entry]:
    if info.kind == "each":
        if result.status != V.OK:
            return [Entry(result.failure() if result.status in (V.ERROR, V.TIMEOUT) else None)]
        return [c.entry() for c in result.criteria]
    if result.status == V.NA:
        return [Entry(None, info.weight)]
    return [Entry(result.as_value(), info.weight)]

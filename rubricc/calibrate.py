"""`rubricc calibrate`: can this judge be trusted on this criterion? Judge verdicts against human
labels, per judge item.

The labels file is JSONL: the rubric's columns (and `prompt`, `response`), plus `labels`, an
object from judge item names to the human verdict (true/false or 1/0) for that row:

    {"prompt": "...", "response": "...", "labels": {"emergency": true, "plain": false}}

A `judge each` item, whose criteria come from the row, takes an object from criterion texts (as
the row lists them) to verdicts, or a list with one verdict per criterion in the row's order
(as tests pin them: `given criteria = [yes, no]`); its figures pool every labelled criterion:

    {"prompt": "...", "response": "...", "rubric": [...], "labels": {"points": {"Cites a source.": true}}}
    {"prompt": "...", "response": "...", "rubric": [...], "labels": {"points": [true, false]}}

Per item the report gives the labelled rows, how many the judge failed to answer (left out of
the figures, never counted as "no"), agreement (P(yes) >= 0.5 against the label), Cohen's kappa,
the Brier score, and the mean P(yes) on rows labelled yes and no. The reliability plot bins
P(yes) into tenths and draws, per item, the share of rows labelled yes in each bin against the
bin's mean P(yes): a trustworthy judge lies on the diagonal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from rubricc import values as V
from rubricc.checked_rubric import JUDGE_KINDS
from rubricc.data import read_jsonl, validate

BINS = 10


@dataclass
class ItemCalibration:
    item: str
    pairs: list[tuple[float, bool]]  # (P(yes), human label) where the judge answered
    failed: int  # labelled rows the judge could not answer

    @property
    def agreement(self) -> float:
        return sum((p >= 0.5) == y for p, y in self.pairs) / len(self.pairs) if self.pairs else math.nan

    @property
    def kappa(self) -> float:
        """Cohen's kappa of the thresholded verdicts against the labels (NaN when undefined)."""
        n = len(self.pairs)
        if n == 0:
            return math.nan
        judge_yes = sum(p >= 0.5 for p, _ in self.pairs) / n
        label_yes = sum(y for _, y in self.pairs) / n
        chance = judge_yes * label_yes + (1 - judge_yes) * (1 - label_yes)
        return (self.agreement - chance) / (1 - chance) if chance < 1 else math.nan

    @property
    def brier(self) -> float:
        return sum((p - y) ** 2 for p, y in self.pairs) / len(self.pairs) if self.pairs else math.nan

    def mean_p(self, label: bool) -> float:
        ps = [p for p, y in self.pairs if y == label]
        return sum(ps) / len(ps) if ps else math.nan

    def reliability(self) -> list[tuple[float, float, int]]:
        """(mean P(yes), share labelled yes, rows) per non-empty tenth of P(yes)."""
        bins: list[list[tuple[float, bool]]] = [[] for _ in range(BINS)]
        for p, y in self.pairs:
            bins[min(int(p * BINS), BINS - 1)].append((p, y))
        return [(sum(p for p, _ in b) / len(b), sum(y for _, y in b) / len(b), len(b))
                for b in bins if b]


class LabelError(ValueError):
    """A labels file that cannot be used; the message names the file and line."""


def calibrate(rubric: str, labels_path: str, judge, name: str | None = None) -> list[ItemCalibration]:
    from rubricc.pipeline import compile

    scorer = compile(Path(rubric), rubric=name)
    kinds = {i.name: i.kind for i in scorer.checked.items if i.kind in JUDGE_KINDS}
    rows, wanted, places = [], [], []
    for row in read_jsonl(labels_path):
        row = validate(row, scorer.inputs_of(row.data), labels_path)
        if row.problem:
            raise LabelError(row.problem)
        labels = row.data.get("labels")
        where = f"{labels_path}:{row.line}"
        if not isinstance(labels, dict) or not labels:
            raise LabelError(f"{where}: `labels` must map judge items to true/false")
        for item, label in labels.items():
            check_label(where, item, label, kinds)
        rows.append(row.data)
        wanted.append(labels)
        places.append(where)
    try:
        batch = scorer.score_rows(rows, judge=judge)
    finally:
        scorer.close()
    out = {item: ItemCalibration(item, [], 0) for item in sorted(kinds)}
    for r, labels in enumerate(wanted):
        for item, label in labels.items():
            result = batch.rows[r].items[item]
            if kinds[item] != "each":
                verdicts = [(result.value if result.status == V.OK else None, label)]
            else:
                verdicts = criterion_verdicts(places[r], item, result, label)
            for value, human in verdicts:
                if value is None:
                    out[item].failed += 1
                else:
                    out[item].pairs.append((float(value), bool(human)))
    return [c for c in out.values() if c.pairs or c.failed]


def check_label(where: str, item: str, label, kinds: dict[str, str]) -> None:
    if item not in kinds:
        raise LabelError(f"{where}: `{item}` is not a judge item of this rubric (its judge items: "
                         f"{', '.join(sorted(kinds)) or 'none'})")
    if kinds[item] != "each":
        if not is_verdict(label):
            raise LabelError(f"{where}: label of `{item}` must be true/false or 1/0")
        return
    values = label.values() if isinstance(label, dict) else label if isinstance(label, list) else None
    if not values or not all(map(is_verdict, values)):
        raise LabelError(f"{where}: `{item}` is a `judge each` item: label it with an object from "
                         f"criterion texts to true/false, or a list of true/false, one per criterion")


def is_verdict(label) -> bool:
    return label in (True, False, 0, 1)


def criterion_verdicts(where: str, item: str, result, labels: dict) -> list[tuple]:
    """(P(yes) or None when not answered, human label) of each labelled criterion of the row."""
    listed = labels if isinstance(labels, list) else list(labels.values())
    if result.status != V.OK and not result.criteria:  # gated, or the list could not be read
        return [(None, human) for human in listed]
    if isinstance(labels, list):
        if len(labels) != len(result.criteria):
            raise LabelError(f"{where}: `{item}` has {len(labels)} labels but {len(result.criteria)} "
                             "criteria on this row: label each criterion, in the row's order")
        return [(c.value if c.status == V.OK else None, human)
                for c, human in zip(result.criteria, labels)]
    by_text = {c.text: c for c in result.criteria}
    out = []
    for text, human in labels.items():
        if text not in by_text:
            raise LabelError(f"{where}: `{item}` has no criterion {text!r} on this row (its "
                             f"criteria: {'; '.join(map(repr, by_text)) or 'none'})")
        c = by_text[text]
        out.append((c.value if c.status == V.OK else None, human))
    return out


def plot(results: list[ItemCalibration], path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    for c in results:
        points = c.reliability()
        if points:
            xs, ys, ns = zip(*points)
            ax.plot(xs, ys, marker="o", label=f"{c.item} (n={len(c.pairs)}, kappa={c.kappa:.2f})")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="judge P(yes)", ylabel="share labelled yes",
           title="Judge reliability")
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)

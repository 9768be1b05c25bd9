"""What `rubricc view` reads: `score` outputs, `check` reports and training run folders.

Each path becomes one source, recognised by what it holds, not by its name alone:

- a folder with a `metrics.jsonl` is a training run (`rubricc train`'s output_dir);
- a `.json` file with `files` is `rubricc check --format json`'s report (its probe results);
- a `.jsonl` or `.parquet` file whose rows carry `reward`, `items` and `status` is a `score` output.

Anything else is an error naming the path and what it lacks, before a page is served.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from rubricc import values as V
from rubricc.data import read_scored
from rubricc.view.table import OWN_KEYS, Frame

RUN_GROUPS = (("reward", "reward/"), ("items", "item/"), ("hack signatures", "hack/"),
              ("held-out", "eval/"), ("completions", "completion/"), ("time", "time/"))
"""Panels of a run's curves: metrics.jsonl keys by prefix; the rest (loss, entropy, ...) last."""


class SourceError(ValueError):
    """A path that is not something the viewer reads, with what it lacks."""


@dataclass
class Output:
    """A `score` output, its provenance (`OUT.rubric.json`) and the rubric that explains its rows."""

    name: str
    path: Path
    frame: Frame
    provenance: dict | None = None
    rubric: object | None = None  # a compiled Scorer whose provenance matches, for the tree
    rubric_note: str = ""

    def describe(self) -> dict:
        return {"name": self.name, "kind": "output", "path": str(self.path), "rows": len(self.frame),
                "items": self.frame.names, "provenance": self.provenance,
                "prompt_column": self.frame.prompt_column,
                "response_column": self.frame.response_column,
                "explains": self.rubric is not None, "rubric_note": self.rubric_note,
                "summary": self.frame.item_summary()}

    def row(self, i: int) -> dict:
        """Everything the row view shows: the columns as written, and the explain tree."""
        if not 0 <= i < len(self.frame):
            raise IndexError(f"row {i + 1} is not between 1 and {len(self.frame)}")
        line = self.frame.lines[i]
        return {"row": i + 1, "line": line, "prompt": self.frame.prompts[i],
                "response": self.frame.responses[i], "explain": self.explain(line)}

    def explain(self, line: dict) -> str:
        """The `rubricc explain` tree of a scored row, from what the output recorded (the judge is
        not asked again); without a matching rubric, the recorded items alone."""
        if self.rubric is not None:
            try:
                return explain_recorded(self.rubric, line)
            except Exception as e:  # a let that needs the judge, or a rubric that moved on
                return recorded_tree(line) + f"\n(no expressions: {type(e).__name__}: {e})"
        return recorded_tree(line)


@dataclass
class ProbeReport:
    name: str
    path: Path
    rubrics: list[dict] = field(default_factory=list)

    def describe(self) -> dict:
        return {"name": self.name, "kind": "probes", "path": str(self.path), "rubrics": self.rubrics}


@dataclass
class Run:
    name: str
    path: Path
    steps: list[dict] = field(default_factory=list)

    def describe(self) -> dict:
        keys: dict[str, None] = {}
        for s in self.steps:
            # a null is a step the value was missing (an item that never ran): still a curve
            keys.update(dict.fromkeys(k for k, v in s.items()
                                      if k != "step" and (v is None or _plottable(v))))
        panels = []
        left = list(keys)
        for title, prefix in RUN_GROUPS:
            group = [k for k in left if k.startswith(prefix) and _is_curve(k)]
            if group:
                panels.append({"title": title, "keys": group})
                left = [k for k in left if k not in group]
        rest = [k for k in left if _is_curve(k)]
        if rest:
            panels.append({"title": "training", "keys": rest})
        series = {k: [_finite(s.get(k)) for s in self.steps] for k in keys}
        return {"name": self.name, "kind": "run", "path": str(self.path),
                "steps": [s.get("step") for s in self.steps], "series": series, "panels": panels}


def _plottable(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_curve(key: str) -> bool:
    """Item status counts (`item/x/ok`) are tallies, not curves; the mean is the curve."""
    return not (key.startswith("item/") and key.rsplit("/", 1)[-1] in V.STATUSES)


def _finite(v) -> float | None:
    return float(v) if _plottable(v) and math.isfinite(v) else None


def load(paths: list[str], rubrics: list[str] = ()) -> list[Output | ProbeReport | Run]:
    """Every path as a source, with unique names; `rubrics` are files whose compiled provenance is
    matched to each output's, to explain its rows."""
    sources = []
    for p in paths:
        path = Path(p)
        if not path.exists():
            raise SourceError(f"{p}: no such file or folder")
        sources.append(_load_one(path, _unique(path, sources)))
    compiled = [_compile(r) for r in rubrics]
    for s in sources:
        if isinstance(s, Output):
            s.rubric, s.rubric_note = _matching(s, compiled)
    return sources


def _unique(path: Path, sources) -> str:
    name, taken = path.name or str(path), {s.name for s in sources}
    k = 2
    while name in taken:
        name, k = f"{path.name} ({k})", k + 1
    return name


def _load_one(path: Path, name: str):
    if path.is_dir():
        metrics = path / "metrics.jsonl"
        if not metrics.exists():
            raise SourceError(f"{path}: a folder, but no metrics.jsonl in it (a training run's "
                              "output_dir has one)")
        return Run(name, path, read_metrics(metrics))
    if path.suffix.lower() == ".json":
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise SourceError(f"{path}: not JSON: {e}") from None
        if not (isinstance(report, dict) and isinstance(report.get("files"), list)):
            raise SourceError(f"{path}: not a `rubricc check --format json` report (no `files`)")
        return ProbeReport(name, path, [p for f in report["files"] for p in f.get("probes", [])])
    if path.suffix.lower() not in (".jsonl", ".parquet"):
        raise SourceError(f"{path}: the viewer reads score outputs (.jsonl, .parquet), check "
                          "reports (.json) and training run folders")
    try:
        lines = read_scored(path)
    except ValueError as e:
        raise SourceError(str(e)) from None
    for number, line in enumerate(lines, 1):
        missing = [k for k in ("reward", "items", "status") if k not in line]
        if missing:
            raise SourceError(f"{path}: row {number} has no {', '.join(missing)}: not a "
                              "`rubricc score` output (score the file first)")
    meta = path.with_name(path.name + ".rubric.json")
    provenance = json.loads(meta.read_text()) if meta.exists() else None
    return Output(name, path, Frame.of_lines(lines), provenance)


def read_metrics(path: Path) -> list[dict]:
    """metrics.jsonl: one JSON object a line (a line cut short by a kill is skipped: the run may
    still be writing)."""
    steps = []
    for text in path.read_text(encoding="utf-8").splitlines():
        try:
            step = json.loads(text)
        except ValueError:
            continue
        if isinstance(step, dict):
            steps.append(step)
    return steps


# ---- the explain tree of a recorded row ---------------------------------------------------------


def _compile(path: str):
    from rubricc.pipeline import front

    result = front(Path(path), None)
    if not result.ok:
        raise SourceError(f"{path}: does not compile (rubricc check {path})")
    return path, result


def _matching(output: Output, compiled) -> tuple[object | None, str]:
    """The rubric whose provenance is the output's (same name, same sources), else one of the
    same name (with a note: its expressions may have changed since), else none."""
    if not compiled:
        return None, ""
    from rubricc.pipeline import build, provenance  # torch and the compiler: only for --rubric

    want = output.provenance or {}
    fallback = None
    for path, result in compiled:
        for checked in result.rubrics:
            if want and checked.name != want.get("rubric"):
                continue
            scorer = build(checked)
            scorer.sources = result.program.sources
            if provenance(result.program, checked)["sha256"] == want.get("sha256"):
                return scorer, f"explained by {path}"
            fallback = fallback or (scorer, f"explained by {path}, which changed since scoring "
                                    "(its sha256 differs from the output's)")
    if fallback:
        return fallback
    return None, "no --rubric matches this output's rubric"


def recorded_result(checked, line: dict):
    """The `RowResult` a scored line records (`explain` renders it without scoring again)."""
    from rubricc.runtime.result import Criterion, ItemResult, RowResult

    items = {}
    for name, status in (line.get("status") or {}).items():
        criteria = tuple(Criterion(c["text"], c["weight"], c.get("verdict"), c.get("status", V.OK),
                                   c.get("error", ""))
                         for c in (line.get("criteria") or {}).get(name, []))
        items[name] = ItemResult(line["items"].get(name), status, "", criteria)
    gates = {i.name for i in checked.items if i.kind == "gate"}
    if line.get("reward") is None:
        status = V.ERROR
    elif any(items[g].status == V.OK and not items[g].value for g in gates if g in items):
        status = "gated"
    else:
        status = V.OK
    return RowResult(items, line.get("reward"), status, line.get("error", ""))


def explain_recorded(scorer, line: dict) -> str:
    from rubricc.explain import explain_row
    from rubricc.runtime.services import Services

    row = {k: v for k, v in line.items() if k not in OWN_KEYS}
    return explain_row(scorer.checked, row, recorded_result(scorer.checked, line), scorer.sources,
                       Services())


def recorded_tree(line: dict) -> str:
    """The breakdown a line records, in `explain`'s shape, when no rubric is at hand."""
    reward = line.get("reward")
    head = (f"score {reward:.4g}" if reward is not None
            else f"score could not be computed: {line.get('error', '')}")
    lines = [head]
    for name, status in (line.get("status") or {}).items():
        value = line["items"].get(name)
        shown = f"{value:.4g}" if status == V.OK and value is not None else status
        lines.append(f" +  where {name} = {shown}")
        for c in (line.get("criteria") or {}).get(name, []):
            verdict = (f"P(yes) = {c['verdict']:.4g}" if c.get("status", V.OK) == V.OK
                       and c.get("verdict") is not None else f"{c.get('status')}: {c.get('error', '')}")
            lines.append(f" +    criterion {c['text']!r} (weight {c['weight']:g}): {verdict}")
    return "\n".join(lines)

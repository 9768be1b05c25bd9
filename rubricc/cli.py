"""The `rubricc` command: check, score, probe, explain, fmt, compile (and calibrate, train,
pack, lock).

The compiler (and torch) is imported inside the commands: worker processes re-import this
module when they start, and should not pay for what they never use.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from rubricc.data import (
    DataRow,
    ScoredOutput,
    batched,
    count_rows,
    finite,
    input_schema,
    read_jsonl,
    read_rows,
    validate,
)
from rubricc.diagnostics import CompileError, render_all
from rubricc.judges import JudgeRequired
from rubricc.values import STATUSES

# Wide enough for paths in tables when output is piped (rich assumes 80 columns then).
out = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True, highlight=False)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except CompileError as exc:
        err.print(render_all(exc.diagnostics, exc.sources), markup=False)
        return 1
    except (JudgeRequired, ValueError, OSError) as exc:
        err.print(f"rubricc: {exc}", markup=False, soft_wrap=True)  # a file:line stays whole
        return 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rubricc", description="Rewards for RL post-training, as code.")
    sub = p.add_subparsers(required=True, metavar="COMMAND")

    c = sub.add_parser("check", help="lint rubrics and run the tests inside them")
    c.add_argument("paths", nargs="+", help="rubric files or folders")
    c.add_argument("--format", choices=["text", "json"], default="text")
    c.add_argument("--no-tests", action="store_true", help="lint only (no tests, no probes)")
    c.add_argument("--no-probes", action="store_true",
                   help="skip the reward-hack probes (docs/probes.md)")
    judge_options(c, "answers the judge items a test does not pin, and runs the judge probes")
    c.set_defaults(run=cmd_check)

    h = sub.add_parser("probe", help="probe a rubric for reward hacks on rows of a data file")
    h.add_argument("rubric")
    h.add_argument("data", help="JSONL rows with the rubric's columns (a `response` is optional)")
    h.add_argument("--rows", type=int, default=8, help="how many rows to probe (default 8)")
    h.add_argument("--name", help="which rubric, when the file holds several")
    h.add_argument("--reference", metavar="COLUMN",
                   help="the column holding the reference answer (default: answer, solution, ...)")
    h.add_argument("--threshold", type=float,
                   help="a hack is a reward above this, instead of above the honest wrong answer")
    h.add_argument("--margin", type=float, help="how far above the honest wrong answer a reward "
                   "must be to count as a hack (default 0; 0.05 with judge items)")
    h.add_argument("--format", choices=["text", "json"], default="text")
    judge_options(h, "judges the rubric's judge items and runs the judge probes")
    h.set_defaults(run=cmd_probe)

    s = sub.add_parser("score", help="score a JSONL or Parquet file of completions")
    s.add_argument("rubric")
    s.add_argument("data")
    s.add_argument("--out", required=True, help="output JSONL (Parquet for a .parquet name): input rows plus "
                   "reward, items, status (written to OUT.partial, which replaces OUT once every row is scored)")
    s.add_argument("--resume", action="store_true",
                   help="continue OUT.partial, left by a run that was stopped, after its last row")
    s.add_argument("--name", help="which rubric, when the file holds several")
    s.add_argument("--batch", type=int, default=512,
                   help="rows read, scored and written at a time (memory is bounded by it)")
    s.add_argument("--ray", metavar="ADDRESS",
                   help="score on a Ray cluster (`local` starts one here): an actor pool of "
                        "scorers over Ray Data (pip install 'rubricc[ray]'); no --resume")
    s.add_argument("--actors", type=int, default=2, help="scorer actors with --ray")
    judge_options(s, "judges the rubric's judge items")
    s.set_defaults(run=cmd_score)

    e = sub.add_parser("explain", help="break down one row's score")
    e.add_argument("rubric")
    e.add_argument("data")
    e.add_argument("--row", type=int, required=True,
                   help="the row's line in the data file (1-based, blank lines counted)")
    e.add_argument("--name", help="which rubric, when the file holds several")
    judge_options(e, "judges the rubric's judge items")
    e.set_defaults(run=cmd_explain)

    b = sub.add_parser("calibrate", help="judge verdicts against human labels, per judge item")
    b.add_argument("rubric")
    b.add_argument("labels", help="JSONL: the rubric's columns plus `labels` {item: true/false}")
    b.add_argument("--plot", default="calibration.png", help="reliability plot (PNG) to write")
    b.add_argument("--name", help="which rubric, when the file holds several")
    judge_options(b, "is calibrated")
    b.set_defaults(run=cmd_calibrate)

    f = sub.add_parser("fmt", help="format rubric files in place")
    f.add_argument("paths", nargs="+")
    f.add_argument("--check", action="store_true", help="only report files that would change")
    f.set_defaults(run=cmd_fmt)

    k = sub.add_parser("compile", help="print the generated code or IR")
    k.add_argument("rubric")
    k.add_argument("--emit", choices=["python", "ir"], default="python")
    k.add_argument("--name", help="which rubric, when the file holds several")
    k.set_defaults(run=cmd_compile)

    x = sub.add_parser("export", help="write a rubric as an OpenAI grader (docs/integrations.md)")
    x.add_argument("rubric")
    x.add_argument("--to", required=True, choices=["openai-grader"])
    x.add_argument("--name", help="which rubric, when the file holds several")
    x.add_argument("--out", help="the JSON file to write (default: standard output)")
    x.add_argument("--partial", action="store_true",
                   help="leave out what no grader expresses (warnings) instead of failing")
    x.add_argument("--model", help="the score_model graders' model (default: gpt-4o-2024-08-06)")
    x.set_defaults(run=cmd_export)

    t = sub.add_parser("train", help="GRPO-train a model against a rubric (docs/training.md)")
    t.add_argument("config", help="a TOML file of TrainConfig fields")
    t.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    judge_options(t, "judges the rubric's judge items (default: also the config's `judge`)")
    t.set_defaults(run=cmd_train)

    a = sub.add_parser("pack", help="make and list rubric packs (docs/packs.md)")
    pack = a.add_subparsers(required=True, metavar="PACK_COMMAND")
    an = pack.add_parser("new", help="scaffold a distributable pack in DIR/NAME")
    an.add_argument("name", help="the pack's name: lowercase letters, digits and _")
    an.add_argument("--dir", default=".", help="the folder to create it in (default: here)")
    an.add_argument("--author", help="the author in the manifest and pyproject.toml "
                    "(default: your login name)")
    an.set_defaults(run=cmd_pack_new)
    al = pack.add_parser("list", help="every pack an import can find, in the order it looks")
    al.add_argument("--from", dest="start", default=".", metavar="RUBRIC_OR_FOLDER",
                    help="list what imports in this rubric or folder see (default: here)")
    al.set_defaults(run=cmd_pack_list)

    lk = sub.add_parser("lock", help="record the packs the rubrics import in rubricc.lock")
    lk.add_argument("paths", nargs="*", default=["."],
                    help="rubric files or folders (default: the current folder)")
    lk.set_defaults(run=cmd_lock)

    w = sub.add_parser("view", help="look at score outputs, probe reports and training runs in "
                       "a browser (docs/view.md)")
    w.add_argument("paths", nargs="+", metavar="PATH", help="score outputs (.jsonl, .parquet), "
                   "`check --format json` reports (.json) and training run folders")
    w.add_argument("--rubric", action="append", default=[], metavar="RUBRIC",
                   help="a rubric whose provenance matches an output's, to show each row's explain "
                   "tree with its expressions (repeatable)")
    w.add_argument("--port", type=int, help="the port on 127.0.0.1 (default: a free one)")
    w.add_argument("--no-open", action="store_true", help="do not open a browser")
    w.add_argument("--export", metavar="HTML", help="write one self-contained page instead of serving")
    w.set_defaults(run=cmd_view)

    v = sub.add_parser("serve", help="serve rubrics as an HTTP reward server (docs/integrations.md)")
    v.add_argument("rubrics", nargs="+", metavar="RUBRIC",
                   help="rubric files, FILE#NAME for one of several (the first is the default)")
    v.add_argument("--port", type=int, required=True)
    v.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    v.add_argument("--max-batch", type=int, default=256, help="rows per scoring call (default 256)")
    v.add_argument("--max-wait-ms", type=float, default=2.0,
                   help="how long a batch waits for more rows (default 2 ms)")
    v.add_argument("--max-queue", type=int, default=8192,
                   help="rows waiting beyond which a request gets 429 (default 8192)")
    v.add_argument("--label-column", metavar="COLUMN", help="the column a protocol's `label` "
                   "fills (default: the rubric's one required input)")
    judge_options(v, "judges the rubrics' judge items")
    v.set_defaults(run=cmd_serve)
    return p


def judge_options(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--judge", metavar="SPEC",
                   help=f"the judge that {what}: hf:PATH_OR_NAME, openai:MODEL@BASE_URL or "
                        "vllm:PATH_OR_NAME (default: $RUBRICC_JUDGE, else the config file)")
    p.add_argument("--judge-config", metavar="FILE",
                   help="a TOML file with a [judge] table (default: $RUBRICC_JUDGE_CONFIG, "
                        "else ./rubricc.toml)")


def load_judge(args):
    """The judge the options, the environment or the config file name; None when none does."""
    from rubricc.backends.spec import find_config, load_judge

    config = find_config(args.judge, args.judge_config)
    return load_judge(config) if config is not None else None


# ---- check --------------------------------------------------------------------------------------


def cmd_check(args) -> int:
    from rubricc.check_command import check

    report = check(args.paths, run=not args.no_tests, judge=load_judge(args),
                   probes=not args.no_probes)
    if args.format == "json":
        print(json.dumps(report.to_json(), indent=2))
        return 0 if report.ok else 1
    if not report.files:
        err.print("rubricc: no .rubric files found under " + " ".join(args.paths))
        return 1
    for f in report.files:
        if f.diagnostics:
            out.print(render_all(f.diagnostics, f.sources) + "\n", markup=False)
        for t in f.tests:
            if not t.passed:
                out.print(f"test failed: {t.rubric} / \"{t.name}\"\n{t.message}\n", markup=False)
    for f in report.files:
        for probed in f.probes:
            if probed.skipped:
                out.print(f"probes skipped for {probed.rubric}: {probed.skipped}", markup=False)
    out.print(summary_table(report))
    for f in report.files:
        for rubric, names in f.relative.items():
            for name in names:
                out.print(relative_cost(rubric, name), markup=False)
    return 0 if report.ok else 1


def relative_cost(rubric: str, item: str) -> str:
    """What a `judge relative` item costs, which `judge calls/response` alone does not say."""
    return (f"{rubric}: judge relative `{item}` sends each of a group's G distinct responses "
            f"one request that shows all G; per group: 1 packed pass on hf:, G requests sharing "
            f"a prefix on openai:/vllm:, G responses' tokens in each request")


def summary_table(report) -> Table:
    table = Table(title="rubricc check")
    for col in ("file", "rubrics", "errors", "warnings", "tests", "probes", "judge calls/response"):
        table.add_column(col, justify="left" if col in ("file", "rubrics") else "right")
    for f in report.files:
        passed = sum(t.passed for t in f.tests)
        tests = f"{passed}/{len(f.tests)}" if f.tests else "-"
        style = "green" if f.ok else "red"
        calls = ", ".join(f"{n} + 1/criterion" if f.per_criterion.get(name) else str(n)
                          for name, n in f.judge_calls.items()) or "-"
        table.add_row(f.path, ", ".join(f.rubrics), str(f.errors), str(f.warnings), tests,
                      probe_summary(f.probes), calls, style=style)
    return table


def probe_summary(reports) -> str:
    """`26/26`, `24/26, 2 hacks`, `25/26, 1 expected`, or `-` when no probe ran."""
    ran = [o for r in reports for o in r.outcomes if o.ran]
    if not ran:
        return "-"
    hacks = sum(o.hacked and o.expected is None for o in ran)
    expected = sum(o.hacked and o.expected is not None for o in ran)
    text = f"{sum(not o.hacked for o in ran)}/{len(ran)}"
    text += f", {hacks} hack{'s' * (hacks != 1)}" if hacks else ""
    return text + (f", {expected} expected" if expected else "")


# ---- probe --------------------------------------------------------------------------------------


def cmd_probe(args) -> int:
    from rubricc.probes import run_probes
    from rubricc.probes.findings import diagnostics, snippet

    scorer = load_scorer(args.rubric, args.name)
    judge = load_judge(args)
    rows = []
    for row in read_jsonl(args.data):
        if row.data is not None:  # probes write the responses: the data need not have one
            row = dataclasses.replace(row, data={"response": ""} | row.data)
        checked = validate(row, scorer.inputs_of(row.data), args.data)
        if checked.problem:
            err.print(f"row not probed: {checked.problem}", markup=False, soft_wrap=True)
            continue
        rows.append(checked.data)
        if len(rows) == args.rows:
            break
    try:
        with err.status(f"probing {scorer.name} on {len(rows)} rows"):
            report = run_probes(scorer, rows, judge=judge, reference=args.reference,
                                threshold=args.threshold, margin=args.margin)
    finally:
        scorer.close()
    if args.format == "json":
        print(json.dumps(report.to_json(), indent=2))
        return 1 if report.hacks else 0
    if report.skipped:
        err.print(f"rubricc: probes skipped: {report.skipped}", markup=False)
        return 1
    found = diagnostics(report, scorer.checked)
    if found:
        out.print(render_all(found, scorer.sources) + "\n", markup=False)
    table = Table(title=f"{scorer.name}: {len(rows)} rows probed in {report.seconds:.1f} s")
    for col in ("probe", "name", "tries", "worst reward", "baseline", "verdict", "response"):
        table.add_column(col, justify="right" if col in ("tries", "worst reward", "baseline") else "left")
    for o in report.outcomes:
        if not o.ran:
            continue
        w = o.worst
        verdict = ("expected" if o.expected else "HACK") if o.hacked else "ok"
        reward = f"{w.reward:.3g}" if w.reward is not None else w.status
        table.add_row(o.probe.code, o.probe.name, str(o.attempts), reward, f"{w.baseline:.3g}",
                      verdict, snippet(w.response), style="red" if verdict == "HACK" else None)
    out.print(table)
    return 1 if report.hacks else 0


# ---- score --------------------------------------------------------------------------------------


def load_scorer(path: str, name: str | None):
    from rubricc.pipeline import compile

    return compile(Path(path), rubric=name)


def score_with_ray(args) -> int:
    """`score --ray ADDRESS`: rubricc.ray_data.score_on_ray, with the same exit status."""
    from rubricc.ray_data import score_on_ray  # imports nothing of Ray until it runs

    if args.resume:
        raise ValueError("--resume is not available with --ray: score the file again")
    counts = score_on_ray(args.rubric, args.data, Path(args.out), address=args.ray,
                          actors=args.actors, batch=args.batch, name=args.name, judge=args.judge)
    missing = counts["rows"] - counts["valid"]
    mean = counts["reward_sum"] / counts["valid"] if counts["valid"] else float("nan")
    out.print(f"rows: {counts['rows']} scored on Ray, {missing} without a reward; mean reward "
              f"{mean:.3f}", markup=False)
    return 1 if missing else 0


def cmd_score(args) -> int:
    """Exit 1 when a row has no reward (invalid, or an item it needs failed): a run in which the
    judge was down for every row must not look like a success.

    Rows stream: read, checked, scored and written `--batch` at a time, in order, so memory stays
    the same whatever the file's size; `--resume` checks the partial output's lines against the
    rows as they come (docs/integrations.md, "Scoring large files")."""
    if args.ray:
        return score_with_ray(args)
    scorer = load_scorer(args.rubric, args.name)
    judge = load_judge(args)
    rows = (validate(r, scorer.inputs_of(r.data), args.data) for r in read_rows(args.data, args.batch))
    stats = Counter()
    means = {n: Mean() for n in scorer.names}
    total = 0
    try:
        output = ScoredOutput(Path(args.out), scorer.names, resume=args.resume,
                              provenance=scorer.provenance, columns=input_schema(args.data))
        if output.partial.exists() and not args.resume:
            err.print(f"replacing {output.partial} from an earlier run (--resume continues it)",
                      markup=False)
        with output, score_progress() as bar:
            task = bar.add_task("scoring", total=count_rows(args.data))  # a byte scan: an ETA
            for chunk in batched(rows, args.batch):
                total += len(chunk)
                for r in chunk:
                    if r.problem:
                        err.print(f"row not scored: {r.problem}", markup=False, soft_wrap=True)
                kept = output.take(chunk)
                for line in kept:
                    tally_resumed(line, stats, means)
                if len(kept) < len(chunk):
                    output.write(score_chunk(scorer, chunk[len(kept):], stats, means, judge))
                bar.update(task, completed=chunk[-1].line)
    finally:
        scorer.close()
    out.print(score_table(scorer.names, stats, means, total))
    out.print(provenance_line(scorer.provenance, output.meta), soft_wrap=True, markup=False)
    if stats["judge_requests"]:
        out.print(judge_line(stats))
    if stats["no_reward"]:
        out.print(no_reward_line(stats, total), soft_wrap=True)
    return 1 if stats["no_reward"] else 0


class Mean:
    """A running mean, appended to as a list is, without keeping the values."""

    def __init__(self):
        self.total, self.n = 0.0, 0

    def append(self, value: float) -> None:
        self.total += value
        self.n += 1

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        yield self.total  # sum(mean) is the total


def provenance_line(provenance: dict, where: Path) -> str:
    """What the rewards were computed with, as `OUT.rubric.json` records it."""
    version = f" {provenance['version']}" if provenance.get("version") else ""
    packs = ", ".join(f"{name} {v}" for name, v in provenance.get("packs", {}).items())
    return (f"rubric {provenance['rubric']}{version}, sha256 {provenance['sha256'][:16]}"
            + (f", packs: {packs}" if packs else "") + f" (recorded in {where})")


def judge_line(stats: Counter) -> str:
    """The run's judge account: what was asked, what the cache answered, what it cost."""
    parts = [f"{stats['judge_requests']} requests"]
    if stats["judge_cache_hits"] or stats["judge_cache_misses"]:
        parts.append(f"{stats['judge_cache_hits']} from the cache")
    for key, label in (("judge_calls", "sent"), ("judge_retries", "retries"),
                       ("judge_failures", "failed"), ("judge_prompt_tokens", "prompt tokens"),
                       ("judge_completion_tokens", "completion tokens"),
                       ("judge_tokens", "tokens")):
        if stats[key]:
            parts.append(f"{stats[key]} {label}")
    return f"judge: {', '.join(parts)}; {stats['judge_s']:.1f} s"


def progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err)


class RateColumn(ProgressColumn):
    """Rows a second, as the bar's speed measures them."""

    def render(self, task) -> Text:
        return Text(f"{task.speed:,.0f} rows/s" if task.speed else "", style="progress.data.speed")


def score_progress() -> Progress:
    """Rows done of the file's rows (JSONL: its lines, counted by a byte scan first), rows a
    second and the time left."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    RateColumn(), TimeElapsedColumn(), TimeRemainingColumn(), console=err)


def score_chunk(scorer, chunk: list[DataRow], stats: Counter, means, judge=None) -> list[dict]:
    good = [r for r in chunk if not r.problem]
    batch = scorer.score_rows([r.data for r in good], judge=judge) if good else None
    if batch is not None:
        stats.update({k: v for k, v in (batch.counts | batch.timings).items()
                      if k.startswith("judge_")})
    results = iter(batch.rows) if batch is not None else iter(())
    lines = []
    for r in chunk:
        if r.problem:
            stats["row:invalid"] += 1
            line = {"reward": None, "items": {}, "status": {}, "error": r.problem}
        else:
            result = next(results)
            stats[f"row:{result.status}"] += 1
            line = {"reward": finite(result.total),
                    "items": {k: finite(v.value) for k, v in result.items.items()},
                    "status": {k: v.status for k, v in result.items.items()}}
            criteria = {k: [c.to_json() for c in v.criteria] for k, v in result.items.items()
                        if v.criteria}
            if criteria:  # each `judge each` item's criteria, with their verdicts
                line["criteria"] = criteria
            if result.message:
                line["error"] = result.message
        tally_line(line, stats, means)
        lines.append(r.written() | line)
    return lines


def tally_line(line: dict, stats: Counter, means) -> None:
    """Count a written row's reward and items into the summary."""
    if line["reward"] is None:
        stats["no_reward"] += 1
    else:
        stats["reward:sum"] += line["reward"]
        stats["reward:n"] += 1
    for name, status in line["status"].items():
        stats[(name, status)] += 1
        if line["items"].get(name) is not None:
            means[name].append(line["items"][name])


def tally_resumed(line: dict, stats: Counter, means) -> None:
    """A row kept from the partial output: its row status is not in the output, its items are."""
    stats["row:resumed"] += 1
    tally_line(line, stats, means)


def score_table(names, stats: Counter, means, total_rows: int) -> Table:
    table = Table(title=f"{total_rows} rows")
    table.add_column("item")
    table.add_column("mean", justify="right")
    for s in STATUSES:
        table.add_column(s, justify="right")
    for name in names:
        vals = means[name]
        mean = f"{sum(vals) / len(vals):.3f}" if vals else "-"
        table.add_row(name, mean, *[str(stats[(name, s)]) for s in STATUSES])
    rows = ", ".join(f"{k[4:]} {v}" for k, v in stats.items()
                     if isinstance(k, str) and k.startswith("row:"))
    reward = f"{stats['reward:sum'] / stats['reward:n']:.3f}" if stats["reward:n"] else "-"
    table.caption = f"rows: {rows}; mean reward {reward} over {stats['reward:n']} rows"
    return table


def no_reward_line(stats: Counter, total_rows: int) -> str:
    n = stats["no_reward"]
    return (f"{n} of {total_rows} row{'s' * (total_rows != 1)} without a reward (null in the "
            "output, the reason in `error`): exit status 1")


# ---- calibrate ----------------------------------------------------------------------------------


def cmd_calibrate(args) -> int:
    from rubricc.calibrate import calibrate, plot

    judge = load_judge(args)
    if judge is None:
        err.print("rubricc: calibrate needs a judge: --judge SPEC (or $RUBRICC_JUDGE, rubricc.toml)")
        return 1
    results = calibrate(args.rubric, args.labels, judge, args.name)
    table = Table(title=f"judge calibration on {args.labels}")
    for col in ("item", "labelled", "failed", "agreement", "kappa", "brier",
                "P(yes) | yes", "P(yes) | no"):
        table.add_column(col, justify="left" if col == "item" else "right")
    for c in results:
        table.add_row(c.item, str(len(c.pairs) + c.failed), str(c.failed), f"{c.agreement:.3f}",
                      f"{c.kappa:.3f}", f"{c.brier:.3f}", f"{c.mean_p(True):.3f}",
                      f"{c.mean_p(False):.3f}")
    out.print(table)
    plot(results, args.plot)
    out.print(f"reliability plot: {args.plot}")
    return 0


# ---- explain, fmt, compile ----------------------------------------------------------------------


def cmd_explain(args) -> int:
    from rubricc.explain import explain_row

    scorer = load_scorer(args.rubric, args.name)
    found, last = None, 0  # rows by file line, as row errors number them; read up to the one asked
    for r in read_jsonl(args.data):
        last = r.line
        if r.line >= args.row:
            found = r if r.line == args.row else None
            break
    if found is None:
        where = f"line {args.row} is blank" if 1 <= args.row <= last else \
            f"--row must be a line between 1 and {last}"
        err.print(f"rubricc: {args.data}: {where}", markup=False, soft_wrap=True)
        return 1
    row = validate(found, scorer.inputs_of(found.data), args.data)
    if row.problem:
        err.print(row.problem, markup=False, soft_wrap=True)
        return 1
    judge = load_judge(args)
    try:
        [result] = scorer.score_rows([row.data], judge=judge).rows
        out.print(explain_row(scorer.checked, row.data, result, scorer.sources,
                              scorer.services(judge)), markup=False)
    finally:
        scorer.close()
    return 0


def cmd_fmt(args) -> int:
    from rubricc.check_command import find_rubrics
    from rubricc.fmt import format_text

    changed = 0
    for path in find_rubrics(args.paths):
        text = path.read_text(encoding="utf-8")
        formatted = format_text(text, str(path))
        if formatted != text:
            changed += 1
            if args.check:
                out.print(f"would reformat {path}")
            else:
                path.write_text(formatted, encoding="utf-8")
                out.print(f"formatted {path}")
    return 1 if args.check and changed else 0


def cmd_export(args) -> int:
    from rubricc.export_openai import DEFAULT_MODEL, export_file, to_json

    result, sources = export_file(args.rubric, args.name, args.partial, args.model or DEFAULT_MODEL)
    if result.diagnostics:
        err.print(render_all(result.diagnostics, sources), markup=False, soft_wrap=True)
    if not result.ok:
        return 1
    if args.out:
        Path(args.out).write_text(to_json(result.grader), encoding="utf-8")
    else:
        sys.stdout.write(to_json(result.grader))
    return 0


def cmd_compile(args) -> int:
    scorer = load_scorer(args.rubric, args.name)
    print(scorer.python_source() if args.emit == "python" else scorer.ir_text())
    return 0


def cmd_train(args) -> int:
    from rubricc.trainer.config import TrainConfig
    from rubricc.trainer.grpo import train

    config = TrainConfig.from_toml(args.config)
    args.judge = args.judge or config.judge
    train(config, resume=args.resume, judge=load_judge(args))
    return 0


# ---- pack, lock ---------------------------------------------------------------------------------


def cmd_pack_new(args) -> int:
    from rubricc.pack_commands import new_pack

    folder = new_pack(args.name, Path(args.dir), args.author)
    out.print(f"created the pack `{args.name}` in {folder}:", markup=False)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        out.print(f"  {path.relative_to(folder)}", markup=False)
    out.print(f"next: rubricc check {folder / f'rubricc_pack_{args.name}'}; "
              f"pip wheel --no-deps -w dist {folder} (docs/packs.md)", markup=False, soft_wrap=True)
    return 0


def cmd_pack_list(args) -> int:
    from rubricc.pack_commands import list_packs

    listing = list_packs(Path(args.start))
    table = Table(title=f"packs seen from {listing.folder} (project {listing.project})")
    for col in ("pack", "version", "origin", "folder", "rubrics", "note"):  # paths fold, names not
        table.add_column(col, overflow="fold", no_wrap=col in ("pack", "version", "origin"))
    for listed in listing.packs:
        p = listed.pack
        table.add_row(p.name, p.version, p.origin, str(p.root), ", ".join(p.manifest.rubrics),
                      listed.note, style="dim" if listed.note else None)
    out.print(table)
    for folder, problem in listing.broken.items():
        out.print(f"broken pack at {folder}: {problem}", markup=False, soft_wrap=True)
    return 0


def cmd_lock(args) -> int:
    from rubricc.pack_commands import lock

    try:
        locked = lock(args.paths)
    except CompileError as exc:
        err.print(render_all(exc.diagnostics, exc.sources), markup=False)
        err.print("rubricc lock: nothing written (an existing lock is kept): a rubric with errors "
                  "may import packs that cannot be known; fix it, or name only the rubrics to lock",
                  markup=False, soft_wrap=True)
        return 1
    for done in locked:
        table = Table(title=f"{done.path}: {len(done.packs)} pack{'s' * (len(done.packs) != 1)} "
                            f"imported by {len(done.rubrics)} rubric file"
                            f"{'s' * (len(done.rubrics) != 1)}")
        for col in ("pack", "version", "origin", "files"):
            table.add_column(col, justify="right" if col == "files" else "left", no_wrap=True)
        for p in done.packs:
            table.add_row(p.name, p.version, p.origin, str(len(p.hashes())))
        out.print(table)
    return 0



def cmd_serve(args) -> int:
    from rubricc.reward_server import serve

    serve(args.rubrics, args.host, args.port, load_judge(args), max_batch=args.max_batch,
          max_wait=args.max_wait_ms / 1000, max_queue=args.max_queue,
          label_column=args.label_column)
    return 0


def cmd_view(args) -> int:
    from rubricc.view.app import Viewer, serve
    from rubricc.view.export import export
    from rubricc.view.sources import Output, load

    with err.status(f"reading {', '.join(args.paths)}"):
        viewer = Viewer(load(args.paths, args.rubric))
    if not args.export:
        serve(viewer, args.port, open_browser=not args.no_open,
              on_ready=lambda url: err.print(f"rubricc view: {url} (Ctrl-C stops it)", markup=False))
        return 0
    rows = sum(len(s.frame) for s in viewer.sources.values() if isinstance(s, Output))
    with progress() as bar:
        task = bar.add_task("exporting", total=rows)
        size = export(viewer, Path(args.export), lambda n: bar.advance(task, n))
    out.print(f"wrote {args.export} ({size / 1e6:.1f} MB, {rows} rows)", markup=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

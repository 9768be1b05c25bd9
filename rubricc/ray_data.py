"""A compiled rubric as a Ray Data `map_batches` callable class: each actor compiles once.

    import ray
    from rubricc.ray_data import RubricScorer

    ds = ray.data.read_parquet("rollouts.parquet")
    scored = ds.map_batches(RubricScorer, fn_constructor_kwargs={"rubric_path": "math.rubric"},
                            concurrency=4, batch_size=512)

A batch (a dict of numpy arrays, or a pandas DataFrame: Ray gives either) comes back as the same
kind, with its columns and `reward` (float, NaN when the row has none), `valid` (False then),
`error` (why: "" when valid) and one float column per item, `item_NAME`. A row that does not
fit the rubric's inputs (a missing column, a wrong type) is not scored and says so in `error`,
as `rubricc score` does; chat-format `response` and `prompt` are read as their text.

A judge is a spec string, as `--judge` takes it: `openai:MODEL@URL` sends every actor's requests
to one server (set `concurrency` for the actors, the server batches), `hf:NAME` or `vllm:NAME`
loads one model per actor (give each actor its GPU: `num_gpus=1` in `map_batches`). Ray is an
optional extra: `pip install 'rubricc[ray]'`; this module imports it nowhere, so it needs none.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rubricc.data import DataRow, finite, json_line, validate

ITEM_PREFIX = "item_"


class RubricScorer:
    """`map_batches(RubricScorer, fn_constructor_kwargs={"rubric_path": ...})`: compile in the
    actor, score each batch with `Scorer.score_rows`."""

    def __init__(self, rubric_path: str | Path, rubric: str | None = None,
                 judge: str | None = None):
        from rubricc.pipeline import compile

        self.scorer = compile(Path(rubric_path), rubric=rubric)
        self.judge = None
        if judge is not None:
            from rubricc.backends.spec import find_config, load_judge

            self.judge = load_judge(find_config(judge, None))
        self.where = str(rubric_path)

    def __call__(self, batch):
        pandas = not isinstance(batch, dict)
        columns = {k: _python(batch[k]) for k in batch}
        size = len(next(iter(columns.values()))) if columns else 0
        rows = [validate(DataRow(i + 1, {k: v[i] for k, v in columns.items()}, ""),
                         self.scorer.inputs_of({k: v[i] for k, v in columns.items()}),
                         "batch") for i in range(size)]
        good = [i for i, r in enumerate(rows) if not r.problem]
        names = self.scorer.names
        reward = np.full(size, np.nan)
        valid = np.zeros(size, dtype=bool)
        items = {n: np.full(size, np.nan) for n in names}
        error = np.array([r.problem for r in rows], dtype=object)
        if good:
            scored = self.scorer.score_rows([rows[i].data for i in good], judge=self.judge)
            at = np.array(good)
            reward[at] = scored.total.cpu().numpy()
            valid[at] = scored.valid.cpu().numpy()
            values = scored.values.cpu().numpy()
            for k, n in enumerate(names):
                items[n][at] = values[:, k]
            for i, result in zip(good, scored.rows):
                error[i] = result.message or ""
        added = {"reward": reward, "valid": valid, "error": error}
        added |= {ITEM_PREFIX + n: v for n, v in items.items()}
        taken = set(added) & set(columns)
        if taken:
            raise ValueError(f"{self.where}: the batch already has a column `{sorted(taken)[0]}`, "
                             "which the scores would replace; rename it first")
        if pandas:
            out = batch.copy()
            for k, v in added.items():
                out[k] = v
            return out
        return dict(batch) | added

    def close(self) -> None:
        self.scorer.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown: nothing left to close
            pass


def _python(column) -> list:
    """A batch column as Python values: numpy scalars and nested arrays (Arrow lists) become
    numbers, strings and lists, as a JSONL row would have them."""
    values = column.tolist() if hasattr(column, "tolist") else list(column)
    return [_plain(v) for v in values]


def _plain(value):
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def score_on_ray(rubric: str, data: str, out: Path, *, address: str, actors: int, batch: int,
                 name: str | None = None, judge: str | None = None) -> dict:
    """`rubricc score --ray ADDRESS`: the file read by Ray (JSONL or Parquet), scored by an actor
    pool of `RubricScorer`s, written to `out` as JSONL in the input's order (atomically, through
    `OUT.partial`). Rows that do not fit the rubric carry a null reward and their `error`, as in
    `rubricc score`; a line Ray cannot parse fails the run (Ray's readers read files whole).
    Returns the counts: rows, valid, and the sum of rewards."""
    import ray

    ray.init(address=None if address == "local" else address, ignore_reinit_error=True,
             include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().execution_options.preserve_order = True
    read = ray.data.read_parquet if data.endswith(".parquet") else ray.data.read_json
    scored = read(data).map_batches(
        RubricScorer, fn_constructor_kwargs={"rubric_path": rubric, "rubric": name, "judge": judge},
        compute=ray.data.ActorPoolStrategy(size=actors), batch_size=batch, batch_format="numpy")
    partial = out.with_name(out.name + ".partial")
    out.parent.mkdir(parents=True, exist_ok=True)
    counts = {"rows": 0, "valid": 0, "reward_sum": 0.0}
    with open(partial, "w", encoding="utf-8") as f:
        for row in scored.iter_rows():
            line = _line(dict(row))
            counts["rows"] += 1
            if line["reward"] is not None:
                counts["valid"] += 1
                counts["reward_sum"] += line["reward"]
            f.write(json_line(line))
    partial.replace(out)
    return counts


def _line(row: dict) -> dict:
    """An output line as `rubricc score` writes one: the input's columns, `reward` (null when
    there is none), `items` and `error` when there is one."""
    items = {k[len(ITEM_PREFIX):]: finite(_plain(row.pop(k))) for k in list(row)
             if k.startswith(ITEM_PREFIX)}
    valid, error = bool(row.pop("valid")), str(row.pop("error") or "")
    reward = finite(float(row.pop("reward")))
    line = {k: _plain(v) for k, v in row.items()} | {"reward": reward if valid else None,
                                                      "items": items}
    return line | ({"error": error} if error else {})

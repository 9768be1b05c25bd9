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

from rubricc.data import DataRow, validate

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

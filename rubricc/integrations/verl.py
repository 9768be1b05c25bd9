"""A compiled rubric as verl's custom reward function (`custom_reward_function` in the trainer's
config; verl/trainer/ppo/reward.py `get_custom_reward_fn`):

    reward:
      custom_reward_function:
        path: pkg://rubricc.integrations.verl
        name: compute_score              # or compute_score_async
        reward_kwargs:
          rubric: rubrics/math/answer.rubric
          ground_truth_column: answer

verl imports `path` (a file, or `pkg://module`), takes the function `name`, and calls it with the
`reward_kwargs` merged into every call, so the rubric is picked there (or by `$RUBRICC_RUBRIC`).
`make_compute_score(rubric, ...)` returns the same function bound to a rubric, for a reward file
of your own.

One function serves both of verl's calling conventions:

- per sample (the `naive`/`dapo` reward managers, and the reward loop's):
  `compute_score(data_source=, solution_str=, ground_truth=, extra_info=)` -> a dict;
- batched (the `batch` reward manager):
  `compute_score(data_sources=, solution_strs=, ground_truths=, extra_infos=)` -> a list of dicts.

Each dict holds `score` (the rubric's total: the reward verl trains on), one key per item (its
value, None where the item has no value on that row: skipped behind a failed gate, another
route's item), `valid` (1.0, or 0.0 where the reward could not be computed) and `error` (the
message, "" when valid). verl puts every key but `score` in `reward_extra_info`: it is kept beside
the batch, dumped with the generations, and averaged per data source in validation, where None
values are dropped and string keys skipped.

A row that could not be scored (an item errored or timed out) gets `score` = `fail_score`
(default 0.0), `valid` 0.0 and its error message: verl has no way to leave a sample out of the
advantage (its reward is a number written at the last response token, and NaN would spread
through the batch's advantages), so such a row is marked, not masked; the `valid/mean` curve
shows how many there were.

The rubric's columns: the response is `solution_str`; the ground truth goes to the input named
by `ground_truth_column` (a dict ground truth fills several inputs); other inputs, and `prompt`,
are read from `extra_info` (verl passes no prompt: keep it in the dataset's `extra_info`, as
`prompt` or `question`).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from pathlib import Path

from rubricc.integrations import reserved, scorer_for
from rubricc.scorer import Scorer

EXTRA = ("score", "valid", "error")
PROMPT_KEYS = ("prompt", "question")


def compute_score(data_source=None, solution_str=None, ground_truth=None, extra_info=None, *,
                  data_sources=None, solution_strs=None, ground_truths=None, extra_infos=None,
                  rubric: str | Path | None = None, rubric_name: str | None = None,
                  ground_truth_column: str = "answer", fail_score: float = 0.0, judge=None,
                  **_verl_kwargs) -> dict | list[dict]:
    """verl's reward function, per sample or batched (see the module's docstring); `rubric`,
    `ground_truth_column`, `fail_score` come from `reward_kwargs`, else `$RUBRICC_RUBRIC`."""
    scorer = scorer_for(rubric, rubric_name)
    reserved(scorer, EXTRA)
    if solution_strs is not None:
        rows = _rows(scorer, solution_strs, ground_truths, extra_infos, ground_truth_column)
        return _results(scorer, rows, judge, fail_score)
    rows = _rows(scorer, [solution_str], [ground_truth], [extra_info], ground_truth_column)
    return _results(scorer, rows, judge, fail_score)[0]


async def compute_score_async(data_source=None, solution_str=None, ground_truth=None,
                              extra_info=None, *, data_sources=None, solution_strs=None,
                              ground_truths=None, extra_infos=None,
                              rubric: str | Path | None = None, rubric_name: str | None = None,
                              ground_truth_column: str = "answer", fail_score: float = 0.0,
                              judge=None, **_verl_kwargs) -> dict | list[dict]:
    """`compute_score` as a coroutine, for verl's reward loop (which awaits a coroutine function
    instead of running it in its executor). Per-sample calls that arrive together are scored as
    one batch, in a worker thread, so the event loop keeps running while a judge answers."""
    scorer = scorer_for(rubric, rubric_name)
    reserved(scorer, EXTRA)
    if solution_strs is not None:
        rows = _rows(scorer, solution_strs, ground_truths, extra_infos, ground_truth_column)
        return await asyncio.to_thread(_results, scorer, rows, judge, fail_score)
    row = _rows(scorer, [solution_str], [ground_truth], [extra_info], ground_truth_column)[0]
    return await _batcher(scorer, judge, fail_score).submit(row)


def make_compute_score(rubric: Scorer | str | Path, ground_truth_column: str = "answer", *,
                       judge=None, fail_score: float = 0.0, rubric_name: str | None = None,
                       asynchronous: bool = False) -> Callable:
    """`compute_score` (or `compute_score_async`) bound to one rubric, for a reward file of your
    own: `compute_score = make_compute_score("rubrics/math/answer.rubric")`."""
    scorer = scorer_for(rubric, rubric_name)
    reserved(scorer, EXTRA)
    bound = dict(ground_truth_column=ground_truth_column, fail_score=fail_score, judge=judge)

    if asynchronous:
        async def bound_async(*args, **kwargs):
            return await compute_score_async(*args, **(kwargs | bound | {"rubric": scorer}))
        return bound_async

    def bound_sync(*args, **kwargs):
        return compute_score(*args, **(kwargs | bound | {"rubric": scorer}))
    return bound_sync


def _rows(scorer: Scorer, responses, ground_truths, extra_infos, column: str) -> list[dict]:
    n = len(responses)
    ground_truths = list(ground_truths) if ground_truths is not None else [None] * n
    extra_infos = list(extra_infos) if extra_infos is not None else [None] * n
    rows = []
    for response, truth, extra in zip(responses, ground_truths, extra_infos):
        extra = extra if isinstance(extra, dict) else {}
        row = {k: extra[k] for k in scorer.inputs if k in extra}
        prompt = next((extra[k] for k in PROMPT_KEYS if isinstance(extra.get(k), str)), None)
        if prompt is not None:
            row["prompt"] = prompt
        if isinstance(truth, dict):
            row |= {k: v for k, v in truth.items() if k in scorer.inputs}
        else:
            row[column] = truth
        rows.append(row | {"response": response})
    return rows


def _results(scorer: Scorer, rows: list[dict], judge, fail_score: float) -> list[dict]:
    batch = scorer.score_rows(rows, judge=judge)
    out = []
    for row, valid in zip(batch.rows, batch.valid.tolist()):
        result = {"score": float(row.total) if valid else float(fail_score)}
        result |= {name: item.value for name, item in row.items.items()}
        result |= {"valid": 1.0 if valid else 0.0, "error": "" if valid else row.message or row.status}
        out.append(result)
    return out


class _Batcher:
    """Collects the per-sample calls of one event-loop turn and scores them together."""

    window_s = 0.01

    def __init__(self, scorer: Scorer, judge, fail_score: float):
        self.scorer, self.judge, self.fail_score = scorer, judge, fail_score
        self.pending: list[tuple[dict, asyncio.Future]] = []
        self.lock = asyncio.Lock()

    async def submit(self, row: dict) -> dict:
        future = asyncio.get_running_loop().create_future()
        self.pending.append((row, future))
        if len(self.pending) == 1:
            asyncio.get_running_loop().create_task(self.flush())
        return await future

    async def flush(self) -> None:
        await asyncio.sleep(self.window_s)
        async with self.lock:
            taken, self.pending = self.pending, []
            try:
                results = await asyncio.to_thread(_results, self.scorer, [r for r, _ in taken],
                                                  self.judge, self.fail_score)
            except Exception as exc:  # the callers see the scorer's own exception
                for _, future in taken:
                    future.set_exception(exc)
                return
            for (_, future), result in zip(taken, results):
                future.set_result(result)


_batchers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _batcher(scorer: Scorer, judge, fail_score: float) -> _Batcher:
    per_loop = _batchers.setdefault(asyncio.get_running_loop(), {})
    key = (id(scorer), id(judge), fail_score)
    if key not in per_loop:
        per_loop[key] = _Batcher(scorer, judge, fail_score)
    return per_loop[key]

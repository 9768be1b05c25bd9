"""A compiled rubric as OpenRLHF's custom reward function, `reward_func(queries, prompts, labels)`
(openrlhf/utils/agent.py `SingleTurnAgentExecutor`: `--reward.remote_url` naming a `.py` file is
imported and its `reward_func` called; `--remote_rm_url` in releases before the config rewrite):

    RUBRICC_RUBRIC=rubrics/math/answer.rubric python -m openrlhf.cli.train_ppo_ray \\
        --reward.remote_url "$(python -c 'import rubricc.integrations.openrlhf as m; print(m.__file__)')" \\
        --data.label_key answer ...

or a reward file of your own: `reward_func = make_reward_func("rubrics/math/answer.rubric")`.

OpenRLHF passes `queries` (prompt and response, decoded together with their special tokens),
`prompts` (the prompts as given to the model, chat template applied) and `labels` (the dataset's
`--data.label_key` column). The response is the query after its prompt, with a trailing
end-of-turn token (`end_tokens`) removed; a label goes to the rubric's input `label_column`
(default `answer`, or `$RUBRICC_LABEL_COLUMN`), and a label that is a dict (or a JSON object)
fills several inputs by name.

The result is OpenRLHF's dict: `rewards` (a float tensor, one per query: the rubric's total, which
the advantages are computed from), `scores` (the same, read by `--algo.dynamic_filtering_enable`)
and `extra_logs`, one tensor per item (its value per query) and `valid` (1.0, or 0.0 where the
reward could not be computed): OpenRLHF logs each as a per-sample metric. OpenRLHF averages a
log over the batch and has no per-sample mask, so a number must stand in for a missing value:

- an item with no value on a row (skipped behind a failed gate, another route's item) logs
  `missing` (default 0.0);
- a row that could not be scored (an item errored or timed out) gets `fail_reward` (default 0.0)
  as its reward and score and `valid` 0.0: it is marked, not masked, since a NaN reward would
  spread through its group's advantages.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import torch

from rubricc.integrations import reserved, scorer_for
from rubricc.scorer import Scorer

LABEL_ENV = "RUBRICC_LABEL_COLUMN"
VALID = "valid"
# the end-of-turn tokens of common chat templates: OpenRLHF decodes the query with them
END_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "</s>",
              "<end_of_turn>", "<|end|>", "<｜end▁of▁sentence｜>")


def make_reward_func(rubric: Scorer | str | Path | None = None, label_column: str | None = None, *,
                     judge=None, fail_reward: float = 0.0, missing: float = 0.0,
                     end_tokens: tuple[str, ...] = END_TOKENS,
                     rubric_name: str | None = None) -> Callable[..., dict]:
    """OpenRLHF's `reward_func(queries, prompts, labels, **kwargs)` for one rubric (None: the
    path in `$RUBRICC_RUBRIC`), compiled on its first call."""

    def reward_func(queries: list[str], prompts: list[str], labels: list | None = None,
                    **_kwargs) -> dict:
        scorer = scorer_for(rubric, rubric_name)
        reserved(scorer, (VALID,))
        column = label_column or os.environ.get(LABEL_ENV) or "answer"
        labels = list(labels) if labels is not None else [None] * len(queries)
        rows = [_row(scorer, q, p, label, column, end_tokens)
                for q, p, label in zip(queries, prompts, labels)]
        batch = scorer.score_rows(rows, judge=judge)
        valid = batch.valid
        rewards = torch.where(valid, batch.total, torch.full_like(batch.total, fail_reward)).cpu()
        values = torch.nan_to_num(batch.values, nan=missing).cpu()
        logs = {name: values[:, k] for k, name in enumerate(batch.names)}
        logs[VALID] = valid.float().cpu()
        return {"rewards": rewards, "scores": rewards.clone(), "extra_logs": logs}

    return reward_func


reward_func = make_reward_func()  # the rubric in $RUBRICC_RUBRIC, for --reward.remote_url THIS_FILE


def response_of(query: str, prompt: str, end_tokens: tuple[str, ...] = END_TOKENS) -> str:
    """The response in an OpenRLHF query: the text after the prompt, less a trailing end token."""
    if isinstance(prompt, str) and prompt:
        at = query.find(prompt)
        if at >= 0:
            query = query[at + len(prompt):]
    response = query.rstrip()
    for token in end_tokens:
        if response.endswith(token):
            return response[: -len(token)]
    return response


def _row(scorer: Scorer, query: str, prompt, label, column: str, end_tokens) -> dict:
    row = {"response": response_of(query, prompt, end_tokens)}
    if isinstance(prompt, str):
        row["prompt"] = prompt
    if isinstance(label, str) and label.lstrip().startswith("{"):
        try:
            label = json.loads(label)
        except ValueError:
            pass
    if isinstance(label, dict):
        return {k: v for k, v in label.items() if k in scorer.inputs} | row
    return {column: label} | row

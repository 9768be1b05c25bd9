"""Compiled rubrics as the reward functions of RL frameworks, one module per framework:

- `rubricc.integrations.verl`: verl's `custom_reward_function` (`compute_score`, per sample or
  batched, and an async variant);
- `rubricc.integrations.openrlhf`: OpenRLHF's `reward_func(queries, prompts, labels)` for
  `--reward.remote_url reward.py`;
- `rubricc.integrations.verifiers`: a verifiers `Rubric` and `load_environment`;
- TRL: `rubricc.trainer.trl_adapter` (sync or async reward functions).

Each is a thin layer over `Scorer.score_rows`: it returns the rubric's total as the reward and
every item's value beside it, and marks a row whose reward could not be computed (an item
errored or timed out) the way its framework reads such a row. docs/integrations.md has the
config lines. Nothing here imports a framework at import time except `verifiers`, which needs it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from rubricc.pipeline import compile as compile_rubric
from rubricc.scorer import Scorer

RUBRIC_ENV = "RUBRICC_RUBRIC"  # a `.rubric` path, read when no rubric is passed
RUBRIC_NAME_ENV = "RUBRICC_RUBRIC_NAME"  # which rubric of that file, when it holds several

_scorers: dict[tuple[str, str | None], Scorer] = {}
_lock = threading.Lock()


def scorer_for(rubric: Scorer | str | Path | None = None, rubric_name: str | None = None) -> Scorer:
    """The compiled `Scorer` of `rubric` (a `Scorer`, a `.rubric` path, or None: `$RUBRICC_RUBRIC`),
    compiled once per process and path: frameworks call a reward function per batch or per row."""
    if isinstance(rubric, Scorer):
        return rubric
    if rubric is None:
        rubric = os.environ.get(RUBRIC_ENV)
        rubric_name = rubric_name or os.environ.get(RUBRIC_NAME_ENV) or None
        if not rubric:
            raise ValueError(f"no rubric: pass rubric=... (a .rubric path) or set ${RUBRIC_ENV}")
    key = (str(Path(rubric).resolve()), rubric_name)
    with _lock:
        if key not in _scorers:
            _scorers[key] = compile_rubric(Path(rubric), rubric=rubric_name)
        return _scorers[key]


def reserved(scorer: Scorer, names: tuple[str, ...]) -> None:
    """Refuse a rubric with an item named like a key the adapter adds beside the items."""
    clash = sorted(set(names) & set(scorer.names))
    if clash:
        raise ValueError(f"an item is named {', '.join(map(repr, clash))}, a key the adapter "
                         "reports beside the items: rename the item")


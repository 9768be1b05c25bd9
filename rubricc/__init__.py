"""rubricc: a declarative reward/rubric language for RL post-training, and its compiler.

    scorer = rubricc.compile("rubrics/math/answer.rubric")
    batch = scorer.score(responses=[...], answer=[...])   # -> RewardBatch of torch tensors
"""

from __future__ import annotations

__version__ = "0.1.0"


def compile(path_or_text, rubric: str | None = None):
    """Compile a `.rubric` file (or rubric text) to a batched `Scorer`; see rubricc.pipeline."""
    from rubricc.pipeline import compile as compile_rubric

    return compile_rubric(path_or_text, rubric=rubric)


def check(paths, run: bool = True):
    """Lint every rubric under `paths` and run the tests inside them; returns a `Report`."""
    from rubricc.check_command import check as check_paths

    return check_paths(list(paths), run=run)

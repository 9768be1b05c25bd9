"""The TRL adapter: one reward function per rubric item plus the score, the batch scored once,
None where TRL must mask; and two real `GRPOTrainer` steps on a tiny local model."""

from __future__ import annotations

import pytest
from rubricc.trainer.tiny import build_tiny_lm
from rubricc.trainer.trl_adapter import SCORE, trl_rewards

ARITH = "rubrics/arith/answer.rubric"

ROOT_OF_MINUS = """
rubric roots {
    input answer: text
    gate has_tag: tag(response, "answer") != none
    check root: clip(sqrt(number(answer) ?? 0) / 10)  # an error on a negative answer
    check correct: number(tag(response, "answer")) == number(answer)
    score = min(correct, root)
}
"""


@pytest.fixture()
def arith(root):
    rewards = trl_rewards(root / ARITH)
    yield rewards
    rewards.close()


def call_all(rewards, prompts, completions, **columns):
    extra = {"trainer_state": None, "log_extra": None, "log_metric": None, "completion_ids": None}
    return {f.__name__: f(prompts=prompts, completions=completions, **columns, **extra)
            for f in rewards.funcs}


def test_one_function_per_item_and_the_score_weighted_alone(arith):
    assert arith.names == ["one_answer", "ends_there", "numeric", "correct", SCORE]
    assert arith.weights == [0.0, 0.0, 0.0, 0.0, 1.0]


def test_items_and_score_from_one_scoring_call(arith):
    got = call_all(arith, ["1+2=", "1+2=", "1+2="],
                   ["<answer>3</answer>", "<answer>4</answer>", "3"], answer=["3", "3", "3"])
    assert got == {"one_answer": [1.0, 1.0, 0.0], "ends_there": [1.0, 1.0, None],
                   "numeric": [1.0, 1.0, None],
                   "correct": [1.0, 0.0, None], SCORE: [1.0, 0.0, 0.0]}
    assert arith.scored_batches == 1
    call_all(arith, ["1+2="], ["<answer>3</answer>"], answer=["4"])  # new rows: scored again
    assert arith.scored_batches == 2
    assert arith.last.total.tolist() == [0.0]


def test_a_row_that_cannot_be_scored_is_none_everywhere(tmp_path):
    path = tmp_path / "roots.rubric"
    path.write_text(ROOT_OF_MINUS)
    rewards = trl_rewards(path)
    try:
        got = call_all(rewards, ["a", "b"], ["<answer>4</answer>", "<answer>-4</answer>"],
                       answer=["4", "-4"])
    finally:
        rewards.close()
    assert got["has_tag"] == [1.0, None] and got["correct"] == [1.0, None]
    assert got["root"][0] == pytest.approx(0.2) and got["root"][1] is None
    assert got[SCORE][0] == pytest.approx(0.2) and got[SCORE][1] is None


def test_conversational_rows_read_the_last_turns(arith):
    prompts = [[{"role": "system", "content": "add"}, {"role": "user", "content": "1+2="}]]
    completions = [[{"role": "assistant", "content": "<answer>3</answer>"}]]
    got = call_all(arith, prompts, completions, answer=["3"])
    assert got[SCORE] == [1.0]
    assert arith.last.rows[0].items["correct"].value == 1.0


def test_two_grpo_steps_in_trl_log_every_item(root, tmp_path):
    pytest.importorskip("trl")
    from datasets import Dataset  # trl and its datasets are the optional extra [trl]
    from trl import GRPOConfig, GRPOTrainer

    model = build_tiny_lm(tmp_path / "model", arch="qwen2", max_positions=128)
    rows = [{"prompt": [{"role": "user", "content": f"{a}+{a}="}], "answer": str(2 * a)}
            for a in range(10, 18)]
    rewards = trl_rewards(root / ARITH)
    args = GRPOConfig(output_dir=str(tmp_path / "run"), max_steps=2, per_device_train_batch_size=4,
                      num_generations=4, max_completion_length=8, learning_rate=1e-3,
                      reward_weights=rewards.weights, logging_steps=1, report_to="none",
                      save_strategy="no", use_cpu=True, bf16=False, disable_tqdm=True, seed=0,
                      activation_checkpointing=False)
    trainer = GRPOTrainer(model=model, reward_funcs=rewards.funcs, args=args,
                          train_dataset=Dataset.from_list(rows))
    try:
        trainer.train()
    finally:
        rewards.close()
    logged = [r for r in trainer.state.log_history if "reward" in r]
    assert len(logged) == 2
    for name in ["one_answer", "correct", SCORE]:
        assert f"rewards/{name}/mean" in logged[0]
    assert rewards.scored_batches == 2  # once per step, not once per function

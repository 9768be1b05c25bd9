"""The framework adapters of rubricc/integrations/ and trainer/trl_adapter.py's async functions,
on rubrics/math/answer.rubric (`answer` as the ground truth), with a right answer, a wrong one, a
row with no answer (the gate fails: `correct` has no value) and one that cannot be scored (no
ground truth: `math_equal` errors).

OpenRLHF is not installed here: its functions are called the way its own code calls them (the
source each test cites); so are verl's, and verl also runs for real in a virtual environment of
its own (`.venv-verl`, made by `.ci/verl-venv`: verl 0.9 pins transformers<5.11 and antlr4 4.9,
which the dev extra cannot hold); that test is skipped where `.venv-verl` is absent. verifiers
runs for real: the dev extra installs 0.3 (0.4 has another API and pins openai<3); it is skipped
only where verifiers is absent.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import math
import subprocess

import numpy as np
import pytest

from tests.conftest import ROOT

RUBRIC = str(ROOT / "rubrics" / "math" / "answer.rubric")
RESPONSES = ["so \\boxed{4}", "2 + 2 = \\boxed{5}", "", "\\boxed{4}"]
TRUTHS = ["4", "4", "4", None]
TOTALS = [1.0, 0.0, 0.0, None]  # None: not scoreable
CORRECT = [1.0, 0.0, None, None]


def check_verl(results: list[dict]) -> None:
    assert [r["valid"] for r in results] == [1.0, 1.0, 1.0, 0.0]
    assert [r["score"] for r in results] == [1.0, 0.0, 0.0, 0.0]  # fail_score for the last
    assert [r["correct"] for r in results] == CORRECT
    assert [r["has_answer"] for r in results] == [1.0, 1.0, 0.0, 1.0]
    assert results[3]["error"].startswith("math_equal") and results[0]["error"] == ""
    assert all(list(r) == list(results[0]) for r in results)  # the same keys on every row


def test_verl_per_sample_as_the_naive_reward_manager_calls_it(monkeypatch) -> None:
    from rubricc.integrations import verl

    monkeypatch.setenv("RUBRICC_RUBRIC", RUBRIC)  # or reward_kwargs: {rubric: ...}
    results = []
    for response, truth in zip(RESPONSES, TRUTHS):
        extra_info = {"question": "2 + 2?", "num_turns": None, "rollout_reward_scores": {}}
        # verl/workers/reward_manager/naive.py NaiveRewardManager.__call__ (and
        # verl/experimental/reward_loop/reward_manager/naive.py run_single): keyword arguments
        score = verl.compute_score(data_source="math", solution_str=response,
                                   ground_truth=truth, extra_info=extra_info)
        assert isinstance(score, dict)
        results.append(score)
    check_verl(results)
    # verl/experimental/reward_loop/reward_loop.py: keys from the first row, one array per key
    extra = {k: np.array([r[k] for r in results]) for k in results[0]}
    assert extra["correct"].tolist() == CORRECT


def test_verl_batch_with_reward_kwargs_as_the_batch_reward_manager_calls_it() -> None:
    from rubricc.integrations import verl

    # verl/trainer/ppo/reward.py get_custom_reward_fn: reward_kwargs merged into every call;
    # verl/workers/reward_manager/batch.py BatchRewardManager.verify: the batched keywords
    reward_kwargs = {"rubric": RUBRIC, "ground_truth_column": "answer"}
    results = verl.compute_score(data_sources=np.array(["math"] * 4), solution_strs=RESPONSES,
                                 ground_truths=TRUTHS,
                                 extra_infos=[{"rollout_reward_scores": {}} for _ in RESPONSES],
                                 **reward_kwargs)
    check_verl(results)


def test_verl_per_sample_calls_from_many_threads_at_once() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from rubricc.integrations import verl

    # verl/experimental/reward_loop/reward_manager/naive.py run_single runs a sync function in
    # its executor, a thread per sample: one Scorer is called from many threads at once (roots,
    # so math_equal runs in the pool: two plain numbers would be decided in this process)
    def one(i: int) -> dict:
        return verl.compute_score(data_source="math", solution_str=f"\\boxed{{\\sqrt{{{i}}}}}",
                                  ground_truth=f"\\sqrt{{{i + i % 2}}}", extra_info={}, rubric=RUBRIC)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(32)))
    assert [r["score"] for r in results] == [float(i % 2 == 0) for i in range(32)]
    assert all(r["valid"] == 1.0 for r in results)


VERL_PYTHON = ROOT / ".venv-verl" / "bin" / "python"


@pytest.mark.skipif(not VERL_PYTHON.exists(), reason="verl runs in .venv-verl: make it with "
                    ".ci/verl-venv (verl 0.9's pins cannot join the dev extra)")
def test_verl_reward_managers_score_through_verl_itself(tmp_path) -> None:
    # tests/verl_reward_paths.py tokenizes the rows into a DataProto and scores it through verl's
    # naive and batch reward managers, its reward loop (Ray actor, sync function) and the reward
    # loop's manager with compute_score_async, each loading us by `pkg://` as verl's trainer does
    rows = [{"prompt": "What is 2+2? ", "response": r, "ground_truth": t}
            for r, t in zip(RESPONSES, TRUTHS)]
    rows.append({"prompt": "And 3+4?", "response": "first \\boxed{6}, no: \\boxed{7}",
                 "ground_truth": "7"})
    given = {"rows": rows, "reward_kwargs": {"rubric": RUBRIC, "ground_truth_column": "answer",
                                             "fail_score": -1.0}}
    out = tmp_path / "verl.json"
    run = subprocess.run([str(VERL_PYTHON), str(ROOT / "tests" / "verl_reward_paths.py"), str(out)],
                         input=json.dumps(given), capture_output=True, text=True, cwd=ROOT,
                         timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    got = json.loads(out.read_text())
    ends = got["response_ends"]  # each row's last response token: its EOS
    scores = [1.0, 0.0, 0.0, -1.0, 1.0]  # fail_score for the row that cannot be scored
    for path in ("naive", "batch", "reward_loop", "reward_loop_async"):
        assert got[path]["rewards"] == [[[end, s]] if s else [] for end, s in zip(ends, scores)], path
        extra = got[path]["extra"]
        assert set(extra) == {"score", "has_answer", "correct", "valid", "error"}, path
        assert extra["score"] == scores, path
        assert extra["correct"] == [*CORRECT, 1.0] and extra["valid"] == [1.0, 1.0, 1.0, 0.0, 1.0]
        assert extra["has_answer"] == [1.0, 1.0, 0.0, 1.0, 1.0], path
        assert extra["error"][3].startswith("math_equal") and extra["error"][0] == "", path


def test_verl_async_scores_concurrent_samples_as_one_batch() -> None:
    from rubricc.integrations import scorer_for, verl

    compute = verl.make_compute_score(RUBRIC, asynchronous=True)
    assert asyncio.iscoroutinefunction(compute)  # what verl's reward loop checks

    async def run():  # the reward loop awaits run_single for every sample together
        return await asyncio.gather(*[
            compute(data_source="math", solution_str=r, ground_truth=t, extra_info={})
            for r, t in zip(RESPONSES, TRUTHS)])

    scorer = scorer_for(RUBRIC)
    calls = []
    original = scorer.score_rows
    scorer.score_rows = lambda rows, **kw: calls.append(len(rows)) or original(rows, **kw)
    try:
        check_verl(asyncio.run(run()))
    finally:
        del scorer.score_rows
    assert calls == [4]


def load_like_openrlhf(monkeypatch):
    """openrlhf/utils/agent.py SingleTurnAgentExecutor.__init__: the .py file of
    --reward.remote_url, loaded by spec_from_file_location, and its `reward_func`."""
    import rubricc.integrations.openrlhf as module

    monkeypatch.setenv("RUBRICC_RUBRIC", RUBRIC)
    spec = importlib.util.spec_from_file_location("reward_func", module.__file__)
    reward_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reward_module)
    return reward_module.reward_func


def test_openrlhf_per_query_as_the_single_turn_executor_calls_it(monkeypatch) -> None:
    import torch

    reward_func = load_like_openrlhf(monkeypatch)
    prompt = "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n"
    infos = []
    for response, truth in zip(RESPONSES, TRUTHS):
        query = prompt + response + "<|im_end|>"  # decoded with skip_special_tokens=False
        # agent.py _fetch_rewards_via_func: one query at a time, in a thread
        async def fetch(query=query, truth=truth):
            return await asyncio.gather(asyncio.to_thread(reward_func, [query], [prompt], [truth]))

        [info] = asyncio.run(fetch())
        infos.append(info)
        # openrlhf/trainer/ppo_utils/samples_generator.py _process_response_into_experience
        torch.tensor([info["rewards"]])
        for value in info["extra_logs"].values():
            torch.tensor([value.flatten()[0].item()])
    assert [i["rewards"].item() for i in infos] == [1.0, 0.0, 0.0, 0.0]
    assert [i["scores"].item() for i in infos] == [1.0, 0.0, 0.0, 0.0]
    assert [i["extra_logs"]["valid"].item() for i in infos] == [1.0, 1.0, 1.0, 0.0]
    assert [i["extra_logs"]["correct"].item() for i in infos] == [1.0, 0.0, 0.0, 0.0]  # missing
    assert all(list(i["extra_logs"]) == ["has_answer", "correct", "valid"] for i in infos)


def test_openrlhf_batch_and_json_labels(monkeypatch) -> None:
    from rubricc.integrations.openrlhf import make_reward_func, response_of

    assert response_of("<s>Q: 2+2? A: \\boxed{4}</s>", "<s>Q: 2+2? A:") == " \\boxed{4}"
    reward_func = make_reward_func(RUBRIC, missing=math.nan)
    labels = ['{"answer": "4"}', "4", "4", None]
    out = reward_func(["Q" + r for r in RESPONSES], ["Q"] * 4, labels)
    assert out["rewards"].tolist() == [1.0, 0.0, 0.0, 0.0]
    correct = out["extra_logs"]["correct"].tolist()
    assert correct[:2] == [1.0, 0.0] and all(v != v for v in correct[2:])


def test_trl_async_reward_functions_score_once() -> None:
    from rubricc.trainer.trl_adapter import trl_rewards

    rewards = trl_rewards(RUBRIC, asynchronous=True)
    assert all(asyncio.iscoroutinefunction(f) for f in rewards.funcs)
    kwargs = {"answer": TRUTHS, "completion_ids": [[1]] * 4}

    async def run():  # trl GRPOTrainer._calculate_rewards: _run_async_funcs, asyncio.gather
        return await asyncio.gather(*[f(prompts=["2 + 2?"] * 4, completions=RESPONSES, **kwargs)
                                      for f in rewards.funcs])

    by_name = dict(zip(rewards.names, asyncio.run(run())))
    assert by_name["score"] == [1.0, 0.0, 0.0, None]
    assert by_name["correct"] == [1.0, 0.0, None, None]
    assert rewards.scored_batches == 1


def test_verifiers_rubric_and_environment() -> None:
    vf = pytest.importorskip("verifiers")
    from datasets import Dataset

    from rubricc.integrations.verifiers import load_environment

    rows = [{"question": "What is 2 + 2?", "answer": t} for t in TRUTHS]
    env = load_environment(RUBRIC, dataset=Dataset.from_list(rows))
    assert isinstance(env, vf.Environment)
    # the environment wraps its rubric in a RubricGroup beside its own monitor rubric
    rubric = next(r for r in getattr(env.rubric, "rubrics", [env.rubric]) if r.funcs[:1]
                  and r.funcs[0].__name__ == "score")
    assert [f.__name__ for f in rubric.funcs] == ["score", "has_answer", "correct", "valid"]
    assert rubric.weights == [1.0, 0.0, 0.0, 0.0]
    states = []
    for response, truth in zip(RESPONSES, TRUTHS):
        prompt = [{"role": "user", "content": "What is 2 + 2?"}]
        states.append(vf.State(prompt=prompt, completion=[{"role": "assistant", "content": response}],
                               answer=truth, info={}, trajectory=[], error=None,
                               input={"question": "What is 2 + 2?", "answer": truth}))
    asyncio.run(env.rubric.score_group(states))  # as the environment scores a group
    assert [s["reward"] for s in states] == [1.0, 0.0, 0.0, 0.0]
    assert [s["metrics"]["correct"] for s in states] == [1.0, 0.0, 0.0, 0.0]
    assert [s["metrics"]["valid"] for s in states] == [1.0, 1.0, 1.0, 0.0]
    assert [s["error"] is None for s in states] == [True, True, True, False]
    assert isinstance(states[3]["error"], vf.Error)

"""The transformers judge over a GRPO group: the prompt that several responses share is computed
once, and the packs about each response run over its KV cache, with the numbers of separate passes.

The oracle, the tiny sharpened models and the requests are those of tests/test_hf_judge.py, from
tests/conftest.py. The models' tokenizer has a token per byte, so the chat and judge template
heads and the question before a response make a group prefix of about 130 tokens, over
`MIN_SHARED_PREFIX`.
"""

from __future__ import annotations

import pytest

from rubricc.backends import packing
from rubricc.backends.hf import MIN_SHARED_PREFIX, HFJudge
from rubricc.judges import DEFAULT_TEMPLATE, JudgeRequest
from tests.conftest import (
    ATTENTION,
    CRITERIA,
    QUESTION,
    RESPONSES,
    TOLERANCE,
    max_difference,
    separate,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # `models` too: fixtures of tests/conftest.py

OTHER_QUESTION = "What should I plant next to tomatoes?"
# The criterion before the prompt: the criteria of one response share only the template's head,
# and the responses to one prompt share nothing beyond it.
CRITERION_FIRST = "Criterion: {{ criterion }}\nQuestion: {{ prompt }}\nResponse: {{ response }}\n" \
                  "Does the response meet the criterion? Answer yes or no."


def mixed_requests() -> list[JudgeRequest]:
    """A group of three responses to one question, one response alone to another question, and
    the same group under a second template that differs before the question; four criteria each,
    every other one a Likert rating."""
    requests = []
    for question, responses, template in ((QUESTION, RESPONSES, DEFAULT_TEMPLATE),
                                          (OTHER_QUESTION, RESPONSES[1:2], DEFAULT_TEMPLATE),
                                          (QUESTION, RESPONSES, "Be strict.\n" + DEFAULT_TEMPLATE)):
        requests += [JudgeRequest(f"c{j}", CRITERIA[j], question, response, template,
                                  scale=5 if j % 2 else None)
                     for response in responses for j in range(4)]
    return requests


def shared_groups(judge: HFJudge, requests) -> list[tuple[tuple[int, ...], list[packing.Pack]]]:
    return judge.plan(requests, judge.tokenize(requests), list(range(len(requests))))[0]


@pytest.mark.parametrize("attn", ATTENTION)
@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_a_shared_group_prefix_gives_the_numbers_of_separate_passes(models, arch, attn) -> None:
    requests = mixed_requests()
    judge = HFJudge(models[arch], attn_implementation=attn)
    groups = shared_groups(judge, requests)
    assert [len(packs) for _, packs in groups] == [3, 3]  # the question alone shares nothing
    assert all(len(prefix) >= MIN_SHARED_PREFIX for prefix, _ in groups)
    want = separate(judge, requests)
    assert max(want) - min(want) > 0.05  # the verdicts are not all alike
    assert max_difference(judge.judge(requests), want) < TOLERANCE
    unshared = HFJudge(models[arch], attn_implementation=attn, share_prefix=False)
    assert shared_groups(unshared, requests) == []
    assert max_difference(unshared.judge(requests), want) < TOLERANCE
    # two prefix passes, a batch after each, and one batch for the lone response
    assert (judge.account["forwards"], unshared.account["forwards"]) == (5, 1)


def test_the_account_counts_a_group_prefix_once(models) -> None:
    requests = mixed_requests()
    judge = HFJudge(models["llama"], attn_implementation="sdpa")
    groups = shared_groups(judge, requests)
    judge.judge(requests)
    unshared = HFJudge(models["llama"], attn_implementation="sdpa", share_prefix=False)
    unshared.judge(requests)
    saved = sum((len(packs) - 1) * len(prefix) for prefix, packs in groups)
    assert judge.account["tokens"] == unshared.account["tokens"] - saved
    assert judge.account["padded_tokens"] < unshared.account["padded_tokens"] - saved


@pytest.mark.parametrize("attn", ATTENTION)
def test_a_group_over_several_batches_reuses_one_prefix_cache(models, attn: str) -> None:
    """A budget that splits the group's packs over batches, and each response's criteria over
    packs: every batch gets the prefix's cache unchanged by the batches before it."""
    requests = [JudgeRequest(f"c{j}", CRITERIA[j], QUESTION, response, scale=5 if j % 2 else None)
                for response in RESPONSES for j in range(10)]
    judge = HFJudge(models["llama"], attn_implementation=attn, batch_tokens=900)
    [(prefix, packs)] = shared_groups(judge, requests)
    assert len(packs) > len(RESPONSES)  # criteria of one response split over packs
    want = separate(judge, requests)
    assert max_difference(judge.judge(requests), want) < TOLERANCE
    assert judge.account["forwards"] > 3  # one prefix pass, several batches after it
    assert judge.account["padded_tokens"] <= 900 * judge.account["forwards"]
    assert max_difference(judge.judge(requests), want) < TOLERANCE  # and again, from scratch


def test_a_short_group_prefix_is_not_worth_a_pass_of_its_own(models) -> None:
    requests = [JudgeRequest(f"c{j}", CRITERIA[j], QUESTION, response, CRITERION_FIRST)
                for response in RESPONSES for j in range(3)]
    judge = HFJudge(models["qwen2"], attn_implementation="eager", chat_template=False)
    assert shared_groups(judge, requests) == []
    assert max_difference(judge.judge(requests), separate(judge, requests)) < TOLERANCE
    assert judge.account["forwards"] == 1

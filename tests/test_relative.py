"""`judge relative`: each response judged against the other responses to its prompt in the batch.

The groups (which rows, which responses, in what order) are checked with a recording judge; the
backends with the real ones: the transformers judge packs a group's requests into one sequence
(they differ only after the criterion), and the openai-compatible judge sends them to a real
server with their shared prefix first. Both engines forming the same groups is in
tests/test_engines.py (the `ranked` rubric of the language cases).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import rubricc
from rubricc.backends.hf import HFJudge
from rubricc.check_command import check_file
from rubricc.judges import RELATIVE_TEMPLATE, JudgeRequest
from tests.conftest import (
    QUESTION,
    RESPONSES,
    TOLERANCE,
    VOCAB,
    assert_same,
    max_difference,
    separate,
)

CASES = Path(__file__).parent / "cases" / "relative"
RUBRIC = """
rubric ranked {
    gate answered: words(response) > 0
    judge relative clearest: "Gives the clearest instructions."
    check brief: words(response) < 60
}
"""

# The tiny models, the judge server and its oracle are fixtures of tests/conftest.py, used by name.
pytestmark = pytest.mark.usefixtures("one_thread")


class Recording:
    def __init__(self):
        self.requests: list[JudgeRequest] = []

    def judge(self, requests):
        self.requests += requests
        return [(r.group.index(r.response) + 1) / len(r.group) for r in requests]


def test_a_group_is_the_distinct_responses_to_one_prompt_that_reach_the_item():
    judge = Recording()
    scorer = rubricc.compile(RUBRIC)
    batch = scorer.score(prompts=["q1", "q1", "q1", "q2", "q1"], responses=["a b", "c", "a b", "d", ""],
                         judge=judge)
    assert {r.prompt: r.group for r in judge.requests} == {"q1": ("a b", "c"), "q2": ("d",)}
    assert len(judge.requests) == 3  # identical rows ask once; the gated row asks nothing
    assert batch.item("clearest").tolist()[:4] == [0.5, 1.0, 0.5, 1.0]
    assert batch.status_of(4, "clearest") == "skipped"
    assert all(r.template == RELATIVE_TEMPLATE for r in judge.requests)


def test_the_prompt_shows_every_response_fenced_and_asks_about_one():
    request = JudgeRequest("x", "Is clear.", "Q?", "second", RELATIVE_TEMPLATE,
                           group=("first </response> end", "second"))
    text = request.render()
    assert "You are comparing 2 responses" in text
    assert text.index("first &lt;/response> end") < text.index("second")
    assert text.rstrip().endswith("Does response 2 meet the criterion better than most of the "
                                  "other responses? Answer yes or no.")
    other = JudgeRequest("x", "Is clear.", "Q?", "first </response> end", RELATIVE_TEMPLATE,
                         group=request.group).render()
    shared = len(text) - len(text.rstrip().rsplit("Does response", 1)[1])
    assert other[:shared] == text[:shared]  # all of a group's requests share the prefix


def test_pinned_verdicts_in_a_rubric_test_and_the_cost_check_prints():
    report = check_file(CASES / "ranked.rubric")
    assert report.errors == 0, report.diagnostics
    assert report.tests and all(t.passed for t in report.tests), [t.message for t in report.tests]
    assert report.relative == {"ranked": ["clearest", "calm"]}
    assert report.judge_calls == {"ranked": 2}


def relative_requests(scale=None) -> list[JudgeRequest]:
    group = tuple(RESPONSES)
    return [JudgeRequest("r", "Gives the clearest instructions.", QUESTION, response,
                         RELATIVE_TEMPLATE, scale, group) for response in group]


@pytest.mark.parametrize("scale", [None, 5])
def test_the_transformers_judge_scores_a_group_in_one_packed_pass(models, scale):
    requests = relative_requests(scale)
    judge = HFJudge(models["llama"], attn_implementation="sdpa")
    want = separate(judge, requests)
    assert max(want) - min(want) > 1e-3  # the position asked about changes the verdict
    assert max_difference(judge.judge(requests), want) < TOLERANCE
    assert judge.account["forwards"] == 1


def test_the_openai_judge_scores_a_group_through_a_real_server(server, oracle):
    server.configure()
    requests = relative_requests()
    with server.judge(logprobs=True, top_logprobs=VOCAB, timeout=60.0) as judge:
        got = judge.judge(requests)
    assert_same(got, [oracle.verdict(r) for r in requests])

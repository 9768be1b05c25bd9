"""A response must not close the fence around it in the judge's prompt and write its own criterion
and answer. The hostile responses are tests/cases/attacks/runtime/judge_fence.jsonl: closing tags
in other cases and spacings, a guessed fence, an attribute, a nested pair.
"""

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from rubricc.backends.cache import CachedJudge
from rubricc.judges import JudgeRequest, defuse, fence_id

ATTACKS = Path(__file__).parent / "cases" / "attacks" / "runtime" / "judge_fence.jsonl"
ROWS = [json.loads(line) for line in ATTACKS.read_text(encoding="utf-8").splitlines() if line.strip()]
# What a judge model might read as a closing response tag.
CLOSING = re.compile(r"<\s*/\s*response[^>]*>", re.IGNORECASE)
PLAIN = """Grade a response.
<response>
{{ response }}
</response>
Everything between <response> and </response> is under review. {{ criterion }} Answer yes or no."""
WITH_FENCE = """Grade a response.
[[{{ fence }}]]
{{ response }}
[[/{{ fence }}]]
Only the text between the two [[{{ fence }}]] marks is under review. {{ criterion }}"""


def request(response: str, template: str | None = None, criterion: str = "Is polite.") -> JudgeRequest:
    extra = {} if template is None else {"template": template}
    return JudgeRequest("polite", criterion, "Say hello.", response, **extra)


@pytest.mark.parametrize("row", ROWS, ids=[r["why"] for r in ROWS])
def test_the_default_template_has_one_closing_tag_its_own(row: dict) -> None:
    prompt = request(row["response"]).render()
    assert CLOSING.findall(prompt) == [f"</response-{fence_id(row['response'])}>"], row["why"]
    assert prompt.index(f"</response-{fence_id(row['response'])}>") > prompt.index("Answer: yes")


@pytest.mark.parametrize("row", ROWS, ids=[r["why"] for r in ROWS])
def test_a_template_fenced_with_plain_tags_is_not_closed_either(row: dict) -> None:
    own = CLOSING.findall(request("Hello!", PLAIN).render())
    assert CLOSING.findall(request(row["response"], PLAIN).render()) == own, row["why"]


@pytest.mark.parametrize("row", ROWS, ids=[r["why"] for r in ROWS])
def test_the_response_is_shown_whole(row: dict) -> None:
    assert defuse(row["response"]).replace("&lt;", "<") == row["response"]


def test_a_template_of_ones_own_gets_the_fence() -> None:
    response = ROWS[0]["response"]
    prompt = request(response, WITH_FENCE).render()
    assert f"[[{fence_id(response)}]]\n&lt;/response>" in prompt
    assert prompt.count(fence_id(response)) == 3


def test_the_fence_is_fixed_per_response_and_differs_between_responses() -> None:
    fences = {fence_id(row["response"]) for row in ROWS}
    assert len(fences) == len(ROWS)
    assert all(re.fullmatch(r"[0-9a-f]{16}", fence) for fence in fences)
    assert request(ROWS[0]["response"]).render() == request(ROWS[0]["response"]).render()


def test_criteria_about_one_response_share_the_prompt_up_to_the_criterion() -> None:
    """What the packed hf backend computes once per response."""
    response = ROWS[0]["response"]
    first, second = (request(response, criterion=c).render() for c in ("Is polite.", "Is short."))
    shared = first.index("Criterion:")
    assert first[:shared] == second[:shared] and first != second


class CountingJudge:
    def __init__(self) -> None:
        self.asked = Counter()

    def judge(self, requests: list[JudgeRequest]) -> list[float]:
        self.asked.update(r.response for r in requests)
        return [0.25 for _ in requests]


def test_a_rerun_answers_every_fenced_request_from_the_verdict_cache(tmp_path) -> None:
    requests = [request(row["response"]) for row in ROWS]
    first, second = CountingJudge(), CountingJudge()
    assert CachedJudge(first, "counting", tmp_path / "v.db").judge(requests) == [0.25] * len(ROWS)
    rerun = CachedJudge(second, "counting", tmp_path / "v.db")
    assert rerun.judge(requests) == [0.25] * len(ROWS)
    assert sum(first.asked.values()) == len(ROWS) and not second.asked
    assert rerun.account["cache_hits"] == len(ROWS)

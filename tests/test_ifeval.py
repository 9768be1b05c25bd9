"""IFEval: agreement with Google's official checker on GPT-4's 541 responses, through the rubric."""

import json

import pytest

import rubricc
from rubricc.builtins.ifeval import ifeval_follows, loose_variants, no_comma
from rubricc.builtins.ifeval_tokens import count_sentences
from tests.conftest import DATA, ROOT

IFEVAL = DATA / "ifeval"  # tests/data/ifeval/SOURCE.md: where each file comes from
RUBRIC = ROOT / "rubrics" / "ifeval" / "ifeval.rubric"


def _load(name: str) -> list[dict]:
    return [json.loads(line) for line in (IFEVAL / name).read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    responses = {
        r["prompt"]: r["response"] for r in _load("input_response_data_gpt4_20231107_145030.jsonl")
    }
    return [dict(row, response=responses[row["prompt"]]) for row in _load("input_data.jsonl")]


@pytest.fixture(scope="module")
def scored(rows):
    scorer = rubricc.compile(RUBRIC)
    try:
        return scorer.score_rows(rows)
    finally:
        scorer.close()


@pytest.mark.parametrize("protocol", ["strict", "loose"])
def test_prompt_level_agreement(rows, scored, protocol):
    official = {
        r["prompt"]: r["follow_all_instructions"] for r in _load(f"eval_results_{protocol}.jsonl")
    }
    ours = [bool(result.items[protocol].value) for result in scored.rows]
    agree = sum(o == official[row["prompt"]] for o, row in zip(ours, rows))
    assert agree / len(rows) >= 1.0  # measured: 541/541 for both protocols


@pytest.mark.parametrize("protocol", ["strict", "loose"])
def test_instruction_level_agreement(rows, protocol):
    official = {
        r["prompt"]: r["follow_instruction_list"] for r in _load(f"eval_results_{protocol}.jsonl")
    }
    agree = total = 0
    for row in rows:
        ours = ifeval_follows(
            row["response"],
            row["instruction_id_list"],
            row["kwargs"],
            row["prompt"],
            protocol == "loose",
        )
        agree += sum(a == b for a, b in zip(ours, official[row["prompt"]], strict=True))
        total += len(ours)
    assert total == 834
    assert agree / total >= 1.0  # measured: 834/834 for both protocols


def test_fraction_is_the_strict_share_followed(rows, scored):
    for row, result in zip(rows[:50], scored.rows[:50]):
        verdicts = ifeval_follows(
            row["response"], row["instruction_id_list"], row["kwargs"], row["prompt"]
        )
        assert result.items["fraction"].value == pytest.approx(sum(verdicts) / len(verdicts))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three?", 3),
        ("Dr. Smith arrived. He sat.", 2),
        ("e.g. this one. And that.", 2),
        ("Steps:\n1. Mix\n2. Bake", 3),
        ("No end mark\nacross lines", 1),
        ("Trailing period.", 1),
        ('He asked "why?" and left.', 2),
    ],
)
def test_sentences_follow_punkt(text, expected):
    assert count_sentences(text) == expected


def test_loose_variants_drop_edges_and_stars():
    assert loose_variants("Intro\n*body*\nOutro") == [
        "Intro\n*body*\nOutro",
        "*body*\nOutro",
        "Intro\n*body*",
        "*body*",
        "Intro\nbody\nOutro",
        "body\nOutro",
        "Intro\nbody",
        "body",
    ]


def test_unusable_letter_argument_is_not_followed():
    kwargs = [{"letter": "ab", "let_frequency": 1, "let_relation": "at least"}]
    assert ifeval_follows("aaa bbb", ["keywords:letter_frequency"], kwargs, "") == [False]


def test_unknown_instruction_id_is_an_error():
    with pytest.raises(ValueError, match="unknown IFEval instruction"):
        ifeval_follows("x", ["punctuation:no_semicolon"], [{}], "")


def test_no_comma():
    assert no_comma("Fine.") and not no_comma("a, b")

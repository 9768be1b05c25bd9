"""The arithmetic demo's pieces, fast: the problem generator, the warm-up's encoding, and the
rubric on the answers a model gives (the demo itself runs for minutes: examples/arith/demo.py)."""

from __future__ import annotations

import doctest
import sys
from pathlib import Path

import pytest

import rubricc

ARITH = Path(__file__).resolve().parents[1] / "examples" / "arith"
sys.path.insert(0, str(ARITH))

import problems  # noqa: E402


def test_doctests():
    assert doctest.testmod(problems).failed == 0


def test_problems_are_seeded_distinct_and_right():
    rows = problems.problems(300, seed=3)
    assert rows == problems.problems(300, seed=3)
    assert len({r["prompt"] for r in rows}) == 300
    for r in rows:
        a, b = r["prompt"].removesuffix("=").split("+")
        assert problems.LOW <= int(a) <= problems.HIGH and problems.LOW <= int(b) <= problems.HIGH
        assert int(r["answer"]) == int(a) + int(b)
        assert r["completion"] == f"<answer>{r['answer']}</answer>"


def test_held_out_problems_never_appear_in_training():
    train, validation, held_out = problems.splits(5000, 300, 500, seed=0)
    assert problems.disjoint(train, held_out) and problems.disjoint(validation, held_out)
    assert [len(train), len(validation), len(held_out)] == [5000, 300, 500]


@pytest.fixture(scope="module")
def scorer(root):
    s = rubricc.compile(root / "rubrics" / "arith" / "answer.rubric")
    yield s
    s.close()


def test_the_rubric_gives_the_target_completion_1(scorer):
    rows = problems.problems(50, seed=5)
    batch = scorer.score(responses=[r["completion"] for r in rows], answer=[r["answer"] for r in rows])
    assert batch.total.tolist() == [1.0] * 50


@pytest.mark.parametrize("response, score", [
    ("<answer>1278</answer>", 1.0),
    ("<answer>1,278</answer>", 1.0),  # number() reads thousands separators
    ("<answer>1279</answer>", 0.0),
    ("<answer>1278</answer><answer>1278</answer>", 0.0),
    ("<answer>1278", 0.0),
    ("<answer>1278</answer>141", 0.0),  # a model that does not stop
    ("<answer>1278</answer>\n", 1.0),
    ("<answer>12 78</answer>", 0.0),
    ("1278", 0.0),
    ("", 0.0),
])
def test_what_a_model_may_answer(scorer, response, score):
    assert scorer.score(responses=[response], answer=["1278"]).total.tolist() == [score]


def test_warm_up_trains_on_the_completion_only(tmp_path):
    pytest.importorskip("transformers")
    import warmup
    from rubricc.trainer.tiny import char_tokenizer

    tok = char_tokenizer()
    rows = problems.problems(2, seed=0)
    enc = warmup.encode(tok, rows)
    for i, row in enumerate(rows):
        labelled = [t for t in enc["labels"][i].tolist() if t != warmup.IGNORE]
        assert tok.decode(labelled) == row["completion"] + tok.eos_token


def test_accuracy_is_measured_at_every_checkpoint_and_plotted(tmp_path, scorer):
    """The demo's curve: one held-out accuracy per checkpoint the GRPO run wrote, in step order;
    and the figure beside the reward."""
    import demo
    from rubricc.trainer import checkpoint
    from rubricc.trainer.tiny import build_tiny_lm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir = build_tiny_lm(tmp_path / "model", arch="qwen2", max_positions=64)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    for step in (100, 50):  # written out of order
        model.save_pretrained(checkpoint.path(tmp_path / "grpo", step) / "model")
    held_out = problems.problems(6, seed=1)
    curve = demo.checkpoint_accuracy(tmp_path / "grpo", tokenizer, held_out, scorer)
    assert [step for step, _ in curve] == [50, 100]
    assert all(acc == 0.0 for _, acc in curve)  # random weights answer no sum right

    history = [{"step": s, "reward/mean": s / 100} for s in range(1, 101)]
    figure = demo.plot([(0, 0.1)] + [(50, 0.2), (100, 0.3)], history, tmp_path / "demo.png")
    assert figure.read_bytes()[:4] == b"\x89PNG"

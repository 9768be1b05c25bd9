"""The open-ended demo's pieces, fast: the text generator, the ground truth, the rubric scored
with a judge that answers from the labels, and the judge model's wiring (the demo itself trains
for minutes: examples/openended/demo.py)."""

from __future__ import annotations

import doctest
import importlib.util
import sys
from pathlib import Path

import pytest

import rubricc

OPENENDED = Path(__file__).resolve().parents[1] / "examples" / "openended"
RUBRIC = OPENENDED / "colour.rubric"
sys.path.append(str(OPENENDED))  # last: its demo.py must not shadow examples/arith/demo.py

import colours  # noqa: E402


def test_doctests():
    assert doctest.testmod(colours).failed == 0


@pytest.mark.parametrize("text, truth", [
    ("the red dog sleeps in the park.", True),
    ("Grey.", True),
    ("the dog by the BLUE door", True),
    ("the tired dog sleeps.", False),  # "red" inside a word is not a colour
    ("the scared bored blacksmith waits.", False),
    ("the redd dog", False),
    ("the dog is bluer than the sky.", False),
    ("", False),
])
def test_ground_truth_is_a_whole_word_colour(text, truth):
    assert colours.mentions_colour(text) is truth


def test_judge_rows_are_seeded_distinct_labelled_and_balanced():
    rows = colours.judge_rows(1000, seed=3)
    assert rows == colours.judge_rows(1000, seed=3)
    assert len({r["response"] for r in rows}) == 1000
    assert all(r["label"] == colours.mentions_colour(r["response"]) for r in rows)
    assert 0.35 < sum(r["label"] for r in rows) / 1000 < 0.65
    assert all(len(r["response"].split()) >= 3 for r in rows)  # past the rubric's gate
    held_out = colours.judge_rows(200, seed=4, exclude={r["response"] for r in rows})
    assert not {r["response"] for r in held_out} & {r["response"] for r in rows}


def test_policy_rows_mention_a_colour_now_and_then():
    rows = colours.policy_rows(2000, seed=0, colour=0.15)
    share = sum(colours.mentions_colour(r["completion"]) for r in rows) / len(rows)
    assert 0.2 < share < 0.35
    for r in rows[:50]:
        topic = r["prompt"].removeprefix("Write a sentence about a ").removesuffix(".")
        assert topic in colours.TOPICS and f" {topic} " in r["completion"]


class LabelJudge:
    """Answers each request with the ground truth of its response: yes 1, no 0."""

    def __init__(self):
        self.asked = []

    def judge(self, requests):
        self.asked += [r.response for r in requests]
        return [float(colours.mentions_colour(r.response)) for r in requests]


@pytest.fixture(scope="module")
def scorer():
    s = rubricc.compile(RUBRIC)
    yield s
    s.close()


def test_the_rubric_checks_clean():
    report = rubricc.check([str(RUBRIC)])
    assert report.ok and not report.files[0].diagnostics


def test_the_reward_is_the_judge_behind_the_gate(scorer):
    judge = LabelJudge()
    rows = [{"prompt": "Write a sentence about a dog.", "response": text} for text in
            ("the red dog sleeps.", "the tired dog sleeps.", "red dog", "")]
    assert scorer.score_rows(rows, judge=judge).total.tolist() == [1.0, 0.0, 0.0, 0.0]
    assert judge.asked == ["the red dog sleeps.", "the tired dog sleeps."]  # the gate holds


def test_judge_requests_render_the_rubric_template(scorer):
    import judge_model

    rows = [{"prompt": "Write a sentence about a fox.", "response": "the green fox waits."}]
    (request,) = judge_model.judge_requests(scorer, rows)
    text = request.render()
    assert "Criterion: The text mentions a colour." in text
    assert "<response>\nthe green fox waits.\n</response>" in text


def test_the_judge_model_loads_in_the_hf_backend(tmp_path, scorer):
    """A few training steps, then the backend reads a verdict from the saved folder; the
    training input ends where the backend reads the answer."""
    pytest.importorskip("transformers")
    import judge_model

    from rubricc.backends.hf import HFJudge

    rows = colours.judge_rows(64, seed=0)
    requests = judge_model.judge_requests(scorer, rows)
    judge = judge_model.build_judge(tmp_path / "judge", requests, vocab_size=300, hidden=32)
    ids, mask = judge_model.encode(judge, requests[:3])
    assert mask[:, -1].tolist() == [1, 1, 1]  # left-padded: every prompt ends at the answer
    assert [tuple(i[m.bool()].tolist()) for i, m in zip(ids, mask)] == judge.tokenize(requests[:3])
    losses = judge_model.train_judge(judge, requests, [r["label"] for r in rows], steps=3,
                                     batch_size=8)
    assert len(losses) == 3
    judge.model.save_pretrained(tmp_path / "judge")
    batch = scorer.score_rows(rows[:4], judge=HFJudge(str(tmp_path / "judge")))
    assert batch.valid.all() and ((batch.total >= 0) & (batch.total <= 1)).all()


def test_the_plot_draws_both_curves(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))  # demo.py puts its folder first; undone after
    spec = importlib.util.spec_from_file_location("openended_demo", OPENENDED / "demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    history = [{"step": s, "reward/mean": s / 20, "completion/truncated_frac": 0.1}
               for s in range(1, 21)]
    curve = [(0, {"judge": 0.2, "truth": 0.15}), (10, {"judge": 0.6, "truth": 0.5}),
             (20, {"judge": 0.9, "truth": 0.8})]
    figure = demo.plot(curve, history, tmp_path / "demo.png")
    assert figure.read_bytes()[:4] == b"\x89PNG"

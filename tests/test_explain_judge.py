"""`rubricc explain` with a judge, chosen as `score` chooses it (`--judge`, `$RUBRICC_JUDGE`, the
`[judge]` table of a config file), and the `hf:` judge loaded only when the verdict cache cannot
answer. The judge is a real transformers model (tiny, built here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rubricc
from rubricc.backends import hf
from rubricc.backends.cache import CachedJudge
from rubricc.backends.hf import HFJudge, JudgeUnavailable
from rubricc.backends.spec import JudgeConfig, load_judge
from rubricc.cli import main
from rubricc.judges import JudgeRequest, PinnedJudge
from trainer.tiny import build_tiny_lm

RUBRIC = """
rubric advice {
    input rubric: list[{text: text, weight: number}]
    judge polite: "The response is polite."
    judge plain scale 5: "Uses language a layperson understands."
    judge each item in rubric weight item.weight: item.text
    score = weighted_mean(judges)
}
"""
ROW = {"prompt": "Why is the sky blue?", "response": "Sunlight scatters off the air.",
       "rubric": [{"text": "Mentions sunlight.", "weight": 2}, {"text": "Is brief.", "weight": 1}]}


@pytest.fixture(scope="module")
def judge_model(tmp_path_factory) -> str:
    return build_tiny_lm(tmp_path_factory.mktemp("judge"), arch="qwen2", hidden=64, seed=3)


@pytest.fixture
def files(tmp_path: Path, monkeypatch) -> tuple[str, str]:
    """The rubric and a one-row data file, in a folder with no rubricc.toml and no judge set."""
    monkeypatch.setattr("rubricc.backends.cache.DEFAULT_PATH", tmp_path / "verdicts.db")
    monkeypatch.chdir(tmp_path)
    for name in ("RUBRICC_JUDGE", "RUBRICC_JUDGE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "advice.rubric").write_text(RUBRIC, encoding="utf-8")
    (tmp_path / "rows.jsonl").write_text(json.dumps(ROW) + "\n", encoding="utf-8")
    return "advice.rubric", "rows.jsonl"


@pytest.fixture(scope="module")
def verdicts(judge_model) -> dict:
    """The row scored in Python with the same judge: what the explanation must show."""
    scorer = rubricc.compile(RUBRIC)
    try:
        [row] = scorer.score_rows([ROW], judge=HFJudge(judge_model)).rows
    finally:
        scorer.close()
    assert row.status == "ok", row
    return row.items


def expected_lines(items) -> list[str]:
    polite, plain, each = items["polite"], items["plain"], items["criteria"]
    lines = [f"verdict P(yes) = {polite.value:.4g}",
             f"verdict rating {1 + 4 * plain.value:.4g} of 5"]
    texts = [c["text"] for c in ROW["rubric"]]
    assert [c.text for c in each.criteria] == texts
    lines += [f"criterion {c.text!r} (weight {c.weight:g}): P(yes) = {c.value:.4g}"
              for c in each.criteria]
    return lines


def explain(files, *options: str) -> int:
    rubric, data = files
    return main(["explain", rubric, data, "--row", "1", *options])


def test_explain_with_judge_shows_every_verdict(judge_model, files, verdicts, capsys) -> None:
    assert explain(files, "--judge", f"hf:{judge_model}") == 0
    out = capsys.readouterr().out
    for line in expected_lines(verdicts):
        assert line in out, out
    assert f"where polite = {verdicts['polite'].value:.4g}" in out


def test_explain_takes_the_judge_from_the_environment(judge_model, files, verdicts, capsys,
                                                      monkeypatch) -> None:
    monkeypatch.setenv("RUBRICC_JUDGE", f"hf:{judge_model}")
    assert explain(files) == 0
    out = capsys.readouterr().out
    for line in expected_lines(verdicts):
        assert line in out, out


@pytest.mark.parametrize("where", ["rubricc.toml", "--judge-config"])
def test_explain_takes_the_judge_from_a_config_file(judge_model, files, verdicts, capsys,
                                                    where: str) -> None:
    Path(where if where == "rubricc.toml" else "judge.toml").write_text(
        f'[judge]\nspec = "hf:{judge_model}"\ncache = false\n', encoding="utf-8")
    options = ["--judge-config", "judge.toml"] if where == "--judge-config" else []
    assert explain(files, *options) == 0
    out = capsys.readouterr().out
    for line in expected_lines(verdicts):
        assert line in out, out


def test_explain_without_a_judge_says_how_to_give_one(files, capsys) -> None:
    assert explain(files) == 1
    assert "--judge" in capsys.readouterr().err


# ---- lazy loading --------------------------------------------------------------------------------


@pytest.fixture
def loads(monkeypatch) -> list[str]:
    """Every model load of the hf backend, by source."""
    seen: list[str] = []
    real = hf.load_model

    def counted(model, *args, **kwargs):
        seen.append(str(model))
        return real(model, *args, **kwargs)

    monkeypatch.setattr(hf, "load_model", counted)
    return seen


def requests(n: int) -> list[JudgeRequest]:
    return [JudgeRequest("polite", "Is polite.", "Hi?", f"Hello {i}!") for i in range(n)]


def test_a_fully_cached_batch_loads_no_model_and_a_miss_loads_it_once(judge_model, tmp_path,
                                                                      loads) -> None:
    config = JudgeConfig(spec=f"hf:{judge_model}", cache=str(tmp_path / "v.db"))
    first = load_judge(config)
    assert loads == []  # building the judge loads nothing
    want = first.judge(requests(3))
    assert loads == [judge_model]
    again = load_judge(config)
    assert again.judge(requests(3)) == want and loads == [judge_model]  # all from the cache
    again.judge(requests(5))
    again.judge(requests(6))
    assert loads == [judge_model] * 2  # the second judge loaded once, at its first miss


def test_a_model_that_cannot_load_serves_a_cached_batch(tmp_path, loads) -> None:
    spec, db = "hf:/nonexistent/judge-model", tmp_path / "v.db"
    CachedJudge(PinnedJudge({"polite": 0.25}), spec, db).judge(requests(2))
    judge = load_judge(JudgeConfig(spec=spec, cache=str(db)))
    assert judge.judge(requests(2)) == [0.25, 0.25]
    assert loads == []
    with pytest.raises(JudgeUnavailable, match="/nonexistent/judge-model cannot be loaded"):
        judge.judge(requests(3))


def test_score_from_a_full_cache_needs_no_model_and_a_miss_says_why(files, capsys) -> None:
    rubric, data = files
    spec = "hf:/nonexistent/judge-model"
    Path("rubricc.toml").write_text('[judge]\ncache = "verdicts.db"\n', encoding="utf-8")
    pinned = PinnedJudge({"polite": 1, "plain": 0.5, "criteria": 0.75})
    scorer = rubricc.compile(Path(rubric))
    try:
        scorer.score_rows([ROW], judge=CachedJudge(pinned, spec, "verdicts.db"))
    finally:
        scorer.close()
    assert main(["score", rubric, data, "--out", "scored.jsonl", "--judge", spec]) == 0
    assert "judge: 4 requests, 4 from the cache" in capsys.readouterr().out
    assert main(["explain", rubric, data, "--row", "1", "--judge", spec]) == 0
    assert "verdict rating 3 of 5" in capsys.readouterr().out
    Path(data).write_text(json.dumps(ROW | {"response": "Something new."}) + "\n", encoding="utf-8")
    assert main(["score", rubric, data, "--out", "scored.jsonl", "--judge", spec]) == 1
    assert "/nonexistent/judge-model cannot be loaded" in capsys.readouterr().err

"""Choosing a judge at run time, the verdict cache, and the commands that use a judge: `score
--judge`, `check --judge`, `calibrate`. The judge is a real transformers model (tiny, built here)."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

import rubricc
from rubricc.backends.cache import CachedJudge
from rubricc.backends.spec import JudgeConfigError, find_config, load_judge
from rubricc.cli import main
from rubricc.data import read_jsonl, validate
from rubricc.judges import JudgeRequest, PinnedJudge
from tests.conftest import ROOT
from trainer.tiny import build_tiny_lm

RUBRIC = """
rubric triage {
    input urgent: bool
    gate on_topic: words(response) > 0
    judge emergency: "Advises calling emergency services now."
    judge plain scale 5: "Uses language a layperson understands."
    score = weighted_mean(emergency, plain)
    test "pinned verdicts" {
        response = "Call 911 now."
        urgent = true
        given emergency = yes, plain = 1
        expect score == 1
    }
    test "plain is judged by the judge given to check" {
        response = "Call 911 now."
        urgent = true
        given emergency = yes
        expect plain >= 0 and plain <= 1
    }
}
"""


@pytest.fixture(scope="module")
def judge_model(tmp_path_factory) -> str:
    return build_tiny_lm(tmp_path_factory.mktemp("judge"), arch="qwen2", hidden=64, seed=3)


@pytest.fixture
def rubric(tmp_path: Path) -> Path:
    path = tmp_path / "triage.rubric"
    path.write_text(RUBRIC, encoding="utf-8")
    return path


def rows(n: int) -> list[dict]:
    return [{"prompt": f"Chest pain #{i}", "response": f"Call 911 now, case {i % 3}.",
             "urgent": i % 2 == 0} for i in range(n)] + [{"prompt": "x", "response": "", "urgent": False}]


def write_jsonl(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in items), encoding="utf-8")
    return path


# ---- where the judge comes from -----------------------------------------------------------------


def test_judge_option_beats_environment_beats_config_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert find_config() is None
    (tmp_path / "rubricc.toml").write_text('[judge]\nspec = "hf:from-file"\nconcurrency = 3\n')
    assert find_config().spec == "hf:from-file"
    monkeypatch.setenv("RUBRICC_JUDGE", "openai:m@http://localhost:1/v1")
    config = find_config()
    assert (config.spec, config.concurrency) == ("openai:m@http://localhost:1/v1", 3)
    assert find_config("vllm:big").spec == "vllm:big"


def test_bad_judge_config_names_the_file_and_field(tmp_path):
    bad = tmp_path / "judge.toml"
    bad.write_text('[judge]\nspec = "hf:x"\nconcurency = 3\n')
    with pytest.raises(JudgeConfigError, match=r"judge.toml: \[judge\]: `concurency`"):
        find_config(config_path=bad)
    bad.write_text('[judge\nspec = "hf:x"\n')
    with pytest.raises(JudgeConfigError, match="judge.toml"):
        find_config(config_path=bad)
    with pytest.raises(JudgeConfigError, match="expected hf:PATH_OR_NAME"):
        load_judge(find_config("gpt-4o", config_path=None))


# ---- the verdict cache --------------------------------------------------------------------------


class Counting:
    """Counts what reaches the real judge behind the cache."""

    def __init__(self, inner):
        self.inner, self.asked = inner, []

    def judge(self, requests):
        self.asked += requests
        return self.inner.judge(requests)


def test_cache_answers_a_rerun_without_asking_the_judge(judge_model, tmp_path):
    from rubricc.backends.hf import HFJudge

    real = Counting(HFJudge(judge_model))
    requests = [JudgeRequest("polite", f"Is polite ({k})", "Hi?", "Hello!") for k in range(4)]
    first = CachedJudge(real, "hf:tiny", tmp_path / "v.db").judge(requests)
    again = CachedJudge(real, "hf:tiny", tmp_path / "v.db").judge(requests)
    assert again == first and len(real.asked) == 4
    assert all(0 <= v <= 1 for v in first)
    other_judge = CachedJudge(real, "hf:other", tmp_path / "v.db").judge(requests[:1])
    assert len(real.asked) == 5 and other_judge == pytest.approx(first[:1], abs=1e-6)  # asked anew


def _write_verdicts(path: str, start: int) -> None:
    from rubricc.judges import PinnedJudge

    judge = CachedJudge(PinnedJudge({"item": 0.25}), "pinned", path)
    for k in range(start, start + 200, 10):
        judge.judge([JudgeRequest("item", f"criterion {j}", "p", "r") for j in range(k, k + 10)])


def test_cache_is_safe_under_concurrent_writers(tmp_path):
    path = str(tmp_path / "shared.db")
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write_verdicts, args=(path, start)) for start in (0, 100, 0)]
    for w in writers:
        w.start()
    for w in writers:
        w.join(60)
    assert [w.exitcode for w in writers] == [0, 0, 0]
    import sqlite3

    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*), MIN(value), MAX(value) FROM verdicts").fetchone() == (300, 0.25, 0.25)


# ---- the commands -------------------------------------------------------------------------------


def test_score_with_a_judge_then_rerun_from_the_cache(judge_model, rubric, tmp_path, capsys,
                                                      monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # the default cache lives under ~/.cache
    data = write_jsonl(tmp_path / "rows.jsonl", rows(6))
    out = tmp_path / "scored.jsonl"
    args = ["score", str(rubric), str(data), "--out", str(out), "--judge", f"hf:{judge_model}"]
    assert main(args) == 0
    first = capsys.readouterr().out
    scored = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(scored) == 7
    for line in scored[:6]:
        assert line["status"] == {"on_topic": "ok", "emergency": "ok", "plain": "ok"}
        assert 0 <= line["reward"] <= 1
    assert scored[6]["status"]["emergency"] == "skipped"  # gated rows cost no judge call
    assert "judge: 12 requests, 0 from the cache" in first  # 6 rows x 2 judge items
    assert main(args) == 0
    assert "judge: 12 requests, 12 from the cache" in capsys.readouterr().out
    assert [json.loads(line) for line in out.read_text().splitlines()] == scored


def test_check_with_a_judge_answers_unpinned_items(judge_model, rubric, capsys):
    assert main(["check", str(rubric)]) == 1  # no judge: the second test cannot run
    assert "no verdict pinned for judge `plain`" in capsys.readouterr().out
    # the judge probes would also run: their verdicts from a random tiny model mean nothing
    assert main(["check", str(rubric), "--judge", f"hf:{judge_model}", "--no-probes"]) == 0


def test_calibrate_reports_agreement_and_draws_the_reliability_plot(judge_model, rubric, tmp_path,
                                                                    capsys):
    labelled = [r | {"labels": {"emergency": i % 2 == 0, "plain": True}}
                for i, r in enumerate(rows(8)[:8])]
    labels = write_jsonl(tmp_path / "labels.jsonl", labelled)
    png = tmp_path / "calibration.png"
    assert main(["calibrate", str(rubric), str(labels), "--judge", f"hf:{judge_model}",
                 "--plot", str(png)]) == 0
    report = capsys.readouterr().out
    assert "emergency" in report and "kappa" in report
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = write_jsonl(tmp_path / "bad.jsonl", [rows(1)[0] | {"labels": {"nope": True}}])
    assert main(["calibrate", str(rubric), str(bad), "--judge", f"hf:{judge_model}"]) == 1
    assert "bad.jsonl:1: `nope` is not a judge item" in capsys.readouterr().err


EACH = """
rubric advice {
    input rubric: list[{text: text, weight: number}]
    judge polite: "The response is polite."
    judge each item in rubric weight item.weight as points: item.text
    score = weighted_mean(judges)
}
"""


def test_calibrate_pools_the_labelled_criteria_of_a_judge_each_item(judge_model, tmp_path, capsys):
    rubric = tmp_path / "advice.rubric"
    rubric.write_text(EACH, encoding="utf-8")
    criteria = [{"text": "Mentions sunlight.", "weight": 2}, {"text": "Is brief.", "weight": 1}]
    labelled = [{"prompt": "Why is the sky blue?", "response": f"Sunlight scatters ({i}).",
                 "rubric": criteria,
                 "labels": {"points": {"Mentions sunlight.": True, "Is brief.": i % 2 == 0}}}
                for i in range(4)]
    labelled[0]["labels"]["polite"] = True
    from rubricc.backends.hf import HFJudge
    from rubricc.calibrate import LabelError, calibrate

    judge = HFJudge(judge_model)
    results = {c.item: c for c in calibrate(str(rubric), str(write_jsonl(tmp_path / "l.jsonl",
                                                                         labelled)), judge)}
    assert len(results["points"].pairs) + results["points"].failed == 8  # 2 criteria x 4 rows
    assert len(results["polite"].pairs) + results["polite"].failed == 1
    scorer = rubricc.compile(rubric)  # the same rows scored directly: each label meets its own verdict
    try:
        batch = scorer.score_rows([{k: v for k, v in r.items() if k != "labels"} for r in labelled],
                                  judge=judge)
    finally:
        scorer.close()
    want = [(c.value, r["labels"]["points"][c.text])
            for row, r in zip(batch.rows, labelled) for c in row.items["points"].criteria]
    assert sorted(results["points"].pairs) == sorted(want)
    assert sorted(y for _, y in results["points"].pairs) == [False, False] + [True] * 6

    by_position = [r | {"labels": {"points": list(r["labels"]["points"].values())}} for r in labelled]
    listed = calibrate(str(rubric), str(write_jsonl(tmp_path / "l4.jsonl", by_position)), judge)
    assert sorted(next(c for c in listed if c.item == "points").pairs) == sorted(want)
    short = [labelled[1] | {"labels": {"points": [True]}}]
    with pytest.raises(LabelError, match=r"l5.jsonl:1: `points` has 1 labels but 2 criteria"):
        calibrate(str(rubric), str(write_jsonl(tmp_path / "l5.jsonl", short)), judge)

    wrong = [labelled[1] | {"labels": {"points": {"Mentions the moon.": True}}}]
    with pytest.raises(LabelError, match=r"l2.jsonl:1: `points` has no criterion 'Mentions the moon.'"):
        calibrate(str(rubric), str(write_jsonl(tmp_path / "l2.jsonl", wrong)), judge)
    flat = [labelled[1] | {"labels": {"points": True}}]
    assert main(["calibrate", str(rubric), str(write_jsonl(tmp_path / "l3.jsonl", flat)),
                 "--judge", f"hf:{judge_model}"]) == 1
    assert "l3.jsonl:1: `points` is a `judge each` item" in capsys.readouterr().err


def test_score_writes_each_criterion_with_its_verdict(judge_model, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    rubric = tmp_path / "rar.rubric"
    rubric.write_text("rubric rar {\n    input rubric: list[{text: text, weight: number}]\n"
                      "    judge each item in rubric weight item.weight: item.text\n}\n")
    criteria = [{"text": "Is polite.", "weight": 2}, {"text": "Is brief.", "weight": 1}]
    data = write_jsonl(tmp_path / "rows.jsonl", [{"prompt": "Hi?", "response": "Hello.",
                                                  "rubric": criteria}])
    out = tmp_path / "scored.jsonl"
    assert main(["score", str(rubric), str(data), "--out", str(out), "--judge", f"hf:{judge_model}"]) == 0
    [line] = [json.loads(x) for x in out.read_text().splitlines()]
    written = line["criteria"]["criteria"]
    assert [(c["text"], c["weight"], c["status"]) for c in written] == [
        ("Is polite.", 2.0, "ok"), ("Is brief.", 1.0, "ok")]
    verdicts = [c["verdict"] for c in written]
    assert all(0 <= v <= 1 for v in verdicts)
    assert line["items"]["criteria"] == pytest.approx((2 * verdicts[0] + verdicts[1]) / 3)


def test_the_healthbench_pack_scores_its_sample_by_healthbenchs_formula(judge_model, tmp_path,
                                                                        monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    pack = ROOT / "rubrics" / "healthbench" / "healthbench.rubric"
    sample = ROOT / "examples" / "healthbench_sample.jsonl"
    out = tmp_path / "scored.jsonl"
    assert main(["score", str(pack), str(sample), "--name", "healthbench", "--out", str(out),
                 "--judge", f"hf:{judge_model}"]) == 0
    for line in (json.loads(x) for x in out.read_text().splitlines()):
        verdicts = [c["verdict"] for c in line["criteria"]["criteria"]]
        points = [r["points"] for r in line["rubrics"]]
        earned = sum(p * v for p, v in zip(points, verdicts)) / sum(p for p in points if p > 0)
        assert line["reward"] == pytest.approx(min(1.0, max(0.0, earned)))
    # the judge sees the whole conversation (a chat-format `prompt` is the row's `messages`)
    seen = []

    class Recording(PinnedJudge):
        def judge(self, requests):
            seen.extend(r.render() for r in requests)
            return super().judge(requests)

    scorer = rubricc.compile(pack, rubric="healthbench")
    rows = [validate(r, scorer.inputs_of(r.data), str(sample)).data for r in read_jsonl(sample)]
    pins = {"criteria": {r["criterion"]: 1.0 for row in rows for r in row["rubrics"]}}
    scorer.score_rows(rows, judge=Recording(pins))
    assert any("assistant: How is your child acting" in p and "Recommends antibiotics." in p for p in seen)


def test_a_model_retrained_in_its_folder_is_a_new_judge_for_the_cache(tmp_path):
    from rubricc.backends.spec import judge_id

    folder = Path(build_tiny_lm(tmp_path / "judge", arch="qwen2", hidden=32, seed=1))
    before = judge_id(f"hf:{folder}", str(folder))
    assert judge_id(f"hf:{folder}", str(folder)) == before  # the same files: the same judge
    build_tiny_lm(folder, arch="qwen2", hidden=32, seed=2)  # retrained in place
    assert judge_id(f"hf:{folder}", str(folder)) != before
    assert judge_id("hf:Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-0.5B-Instruct") == \
        "hf:Qwen/Qwen2.5-0.5B-Instruct"

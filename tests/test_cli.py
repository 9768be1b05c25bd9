"""The `rubricc` command as a user runs it: exit codes, located diagnostics, rows never lost."""

from __future__ import annotations

import json

import pytest

from rubricc.cli import main
from tests.conftest import ROOT

BROKEN = ROOT / "tests" / "cases" / "broken"
MATH = str(ROOT / "rubrics" / "math" / "answer.rubric")


def test_check_shipped_rubrics_passes(capsys):
    assert main(["check", str(ROOT / "rubrics")]) == 0
    assert "math.answer" in capsys.readouterr().out


@pytest.mark.parametrize("name, code, where", [
    ("unclosed.rubric", "P003", "unclosed.rubric:2:33"),
    ("unknown_name.rubric", "N001", "unknown_name.rubric:3:36"),
    ("may_be_none.rubric", "T002", "may_be_none.rubric:3:34"),
])
def test_broken_rubric_exits_1_with_located_diagnostic(capsys, name, code, where):
    assert main(["check", str(BROKEN / name)]) == 1
    text = capsys.readouterr().out
    assert f"[{code}]" in text and where in text and "^" in text


def test_unknown_name_suggests_the_fix(capsys):
    main(["check", str(BROKEN / "unknown_name.rubric")])
    assert "did you mean `answer`?" in capsys.readouterr().out


def test_failing_rubric_test_fails_check(capsys):
    assert main(["check", str(BROKEN / "failing_test.rubric")]) == 1
    out = capsys.readouterr().out
    assert 'test failed: r / "a short answer passes"' in out and "long = 0" in out


def test_check_json(capsys):
    main(["check", "--format", "json", str(BROKEN / "unknown_name.rubric")])
    report = json.loads(capsys.readouterr().out)
    [diag] = report["files"][0]["diagnostics"]
    assert (diag["code"], diag["line"], diag["col"]) == ("N001", 3, 36)


def test_score_keeps_every_row_and_locates_bad_ones(tmp_path, capsys):
    data = tmp_path / "in.jsonl"
    data.write_text("\n".join([
        json.dumps({"answer": "4", "response": "\\boxed{4}"}),
        "{not json",
        json.dumps({"response": "\\boxed{4}"}),
        json.dumps({"answer": 4, "response": "\\boxed{4}"}),
        json.dumps({"answer": "4", "response": "\\boxed{5}"}),
    ]) + "\n")
    out = tmp_path / "out.jsonl"
    assert main(["score", MATH, str(data), "--out", str(out)]) == 1  # three rows have no reward
    assert "3 of 5 rows without a reward" in capsys.readouterr().out
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["reward"] for r in rows] == [1.0, None, None, None, 0.0]
    assert "in.jsonl:2: D001 invalid JSON" in rows[1]["error"]
    assert "in.jsonl:3: D003 missing column `answer`" in rows[2]["error"]
    assert "in.jsonl:4: D004 column `answer` should be text" in rows[3]["error"]
    assert rows[4]["items"] == {"has_answer": 1.0, "correct": 0.0}
    assert rows[0]["status"] == {"has_answer": "ok", "correct": "ok"}


def test_explain_breaks_down_a_row(capsys):
    data = str(ROOT / "examples" / "math_completions.jsonl")
    assert main(["explain", MATH, data, "--row", "4"]) == 0
    out = capsys.readouterr().out
    assert "score 0 = correct" in out and "where final = '0.5'" in out


def test_compile_emits_python_and_ir(capsys):
    assert main(["compile", MATH]) == 0
    source = capsys.readouterr().out
    assert "def score_batch(rt):" in source and "rt.heavy(R" in source
    assert main(["compile", MATH, "--emit", "ir"]) == 0
    assert "gate has_answer" in capsys.readouterr().out


def test_judge_rubric_without_judge_says_so(tmp_path, capsys):
    rubric = tmp_path / "j.rubric"
    rubric.write_text('rubric j { judge plain: "Uses plain words." }\n')
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"response": "hi"}) + "\n")
    assert main(["score", str(rubric), str(data), "--out", str(tmp_path / "o.jsonl")]) == 1
    assert "judge backend" in capsys.readouterr().err


def test_explain_routed_rubric_with_per_row_criteria(tmp_path, capsys):
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"task": "math", "answer": "4", "response": "so 4",
                                "rubric": [], "tolerance": None}) + "\n")
    cases = str(ROOT / "tests" / "cases" / "score" / "language.rubric")
    assert main(["explain", cases, str(data), "--row", "1", "--name", "mixed"]) == 0
    out = capsys.readouterr().out
    assert "routed by task = 'math' to `arithmetic`" in out
    assert "where exact = 1" in out and "where n = 4.0" in out


def test_score_creates_the_output_folder(tmp_path):
    data = str(ROOT / "examples" / "math_completions.jsonl")
    out = tmp_path / "new" / "folder" / "scored.jsonl"
    assert main(["score", MATH, data, "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 24


def test_import_of_a_device_is_refused_not_read(tmp_path, capsys):
    rubric = tmp_path / "r.rubric"
    rubric.write_text('import "/dev/zero" as z\nrubric r { check c: true }\n')
    assert main(["check", str(rubric)]) == 1
    assert "N003" in capsys.readouterr().out


def test_a_file_with_several_rubrics_needs_a_name(tmp_path, capsys):
    cases = str(ROOT / "tests" / "cases" / "score" / "language.rubric")
    assert main(["compile", cases]) == 1
    assert "defines 10 rubrics" in capsys.readouterr().err
    assert main(["compile", cases, "--name", "nope"]) == 1
    assert "no rubric named 'nope'" in capsys.readouterr().err

"""What `rubricc view` reads, without a browser: which paths it takes and the errors for the rest,
Parquet outputs read as their JSONL twins, the explain tree from a recorded row with and without a
matching rubric, and the query's answers against a plain loop over the rows."""

from __future__ import annotations

import json
import random
import re
import shutil
import socket

import pytest

from rubricc.cli import main
from rubricc.view.app import Viewer
from rubricc.view.sources import SourceError, load
from rubricc.view.table import Query, QueryError
from tests.conftest import ROOT

MATH = ROOT / "rubrics" / "math" / "answer.rubric"
ROWS = ROOT / "examples" / "math_completions.jsonl"


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scored")
    for name in ("out.jsonl", "out.parquet"):
        assert main(["score", str(MATH), str(ROWS), "--out", str(folder / name)]) == 0
    return folder


def test_a_parquet_output_reads_as_its_jsonl_twin(scored):
    jsonl, parquet = load([str(scored / "out.jsonl"), str(scored / "out.parquet")])
    assert parquet.frame.names == jsonl.frame.names
    assert [parquet.frame.summary_of(i) for i in range(len(jsonl.frame))] == \
        [jsonl.frame.summary_of(i) for i in range(len(jsonl.frame))]
    assert parquet.provenance == jsonl.provenance and jsonl.provenance["rubric"] == "math.answer"


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.jsonl", r"missing\.jsonl: no such file or folder"),
    (lambda d: _write(d / "data.jsonl", '{"prompt": "p", "response": "r"}\n'),
     r"data\.jsonl: row 1 has no reward, items, status: not a `rubricc score` output"),
    (lambda d: _write(d / "bad.jsonl", '{"reward": 1, "items": {}, "status": {}}\n{"reward": \n'),
     r"bad\.jsonl:2: not a JSON object"),
    (lambda d: _write(d / "report.json", '{"ok": true}'), r"report\.json: not a `rubricc check"),
    (lambda d: (d / "empty_run").mkdir() or d / "empty_run", r"empty_run: a folder, but no metrics\.jsonl"),
    (lambda d: _write(d / "notes.txt", "x"), r"notes\.txt: the viewer reads score outputs"),
])
def test_what_the_viewer_cannot_read_is_named_before_anything_is_served(tmp_path, make, message, capsys):
    path = make(tmp_path)
    with pytest.raises(SourceError, match=message):
        load([str(path)])
    assert main(["view", str(path), "--export", str(tmp_path / "r.html")]) == 1
    assert re.search(message, capsys.readouterr().err.replace("\n", ""))
    assert not (tmp_path / "r.html").exists()


def _write(path, text):
    path.write_text(text)
    return path


def test_the_explain_tree_of_a_recorded_row(scored, tmp_path):
    [plain] = load([str(scored / "out.jsonl")])
    tree = plain.row(1)["explain"]  # no rubric given: what the output recorded
    assert tree.splitlines()[:3] == ["score 1", " +  where has_answer = 1", " +  where correct = 1"]
    [matched] = load([str(scored / "out.jsonl")], [str(MATH)])
    assert matched.rubric_note == f"explained by {MATH}"
    tree = matched.row(1)["explain"]
    assert " +  where correct = 1  <- math_equal(final, answer)" in tree
    assert " +    where final = '0.75'  <- final_answer(strip_think(response))" in tree
    # the same rubric, edited since: used, and said so
    edited = tmp_path / "answer.rubric"
    shutil.copy(MATH, edited)
    edited.write_text(edited.read_text() + "\n# edited\n")
    [changed] = load([str(scored / "out.jsonl")], [str(edited)])
    assert "changed since scoring" in changed.rubric_note


def test_a_judge_each_row_shows_its_recorded_criteria(tmp_path):
    line = {"response": "r", "reward": 0.5, "items": {"criteria": 0.5}, "status": {"criteria": "ok"},
            "criteria": {"criteria": [
                {"text": "Cites a source.", "weight": 2.0, "verdict": 0.25, "status": "ok"},
                {"text": "Is kind.", "weight": 1.0, "verdict": None, "status": "error",
                 "error": "judge: HTTP 500"}]}}
    _write(tmp_path / "out.jsonl", json.dumps(line) + "\n")
    [out] = load([str(tmp_path / "out.jsonl")])
    assert out.row(0)["explain"].splitlines()[2:] == [
        " +    criterion 'Cites a source.' (weight 2): P(yes) = 0.25",
        " +    criterion 'Is kind.' (weight 1): error: judge: HTTP 500"]


def lines_for(rng: random.Random, n: int) -> list[dict]:
    out = []
    for i in range(n):
        status = {"a": rng.choice(["ok", "ok", "ok", "skipped", "error"]),
                  "b": rng.choice(["ok", "na", "timeout"])}
        items = {k: (rng.choice([0.0, 0.5, 1.0]) if s == "ok" else None) for k, s in status.items()}
        reward = None if "error" in status.values() else rng.random()
        out.append({"prompt": f"Question {i} about {rng.choice(['cats', 'Dogs', 'ÉLAN'])}",
                     "response": rng.choice(["yes", "No.", "maybe élan", "<answer>7</answer>"]),
                     "reward": reward, "items": items, "status": status})
    return out


QUERIES = [
    {"item": "a", "status": "failed"}, {"item": "a", "status": "passed"}, {"item": "b", "status": "na"},
    {"reward": "none"}, {"reward_min": "0.25", "reward_max": "0.75"},
    {"item": "a", "value_min": "0.5"}, {"text": "élan"}, {"text": "DOGS", "field": "prompt"},
    {"text": r"^<answer>\d</answer>$", "regex": "1", "field": "response"},
    {"item": "b", "status": "ok", "text": "no", "sort": "reward", "desc": "1"},
    {"sort": "a"}, {"desc": "1"},
]


def plain_loop(lines: list[dict], q: dict) -> list[int]:
    """The query's meaning, written the obvious way: a loop over the rows as dicts."""
    def keeps(r):
        reward, item = r["reward"], q.get("item")
        if q.get("reward") == "none" and reward is not None:
            return False
        for bound, ok in (("reward_min", lambda v, b: v >= b), ("reward_max", lambda v, b: v <= b)):
            if bound in q and (reward is None or not ok(reward, float(q[bound]))):
                return False
        if item:
            status, value = r["status"][item], r["items"][item]
            wanted = q.get("status")
            if wanted == "failed" and not (status == "ok" and value < 1):
                return False
            if wanted == "passed" and not (status == "ok" and value >= 1):
                return False
            if wanted in ("ok", "na", "skipped", "error", "timeout") and status != wanted:
                return False
            if "value_min" in q and (value is None or value < float(q["value_min"])):
                return False
        if "text" in q:
            texts = {"prompt": [r["prompt"]], "response": [r["response"]]}.get(
                q.get("field", "both"), [r["prompt"], r["response"]])
            if q.get("regex"):
                return any(re.search(q["text"], t) for t in texts)
            return any(q["text"].casefold() in t.casefold() for t in texts)
        return True

    kept = [i for i, r in enumerate(lines) if keeps(r)]
    key = q.get("sort", "row")
    if key != "row":
        def value(i):
            v = lines[i]["reward"] if key == "reward" else lines[i]["items"][key]
            return (v is None, -v if q.get("desc") and v is not None else (v or 0))
        return sorted(kept, key=value)
    return kept[::-1] if q.get("desc") else kept


@pytest.mark.parametrize("q", QUERIES, ids=[json.dumps(q) for q in QUERIES])
def test_each_query_keeps_what_a_plain_loop_keeps_in_its_order(tmp_path, q):
    lines = lines_for(random.Random(3), 400)
    _write(tmp_path / "out.jsonl", "".join(json.dumps(line) + "\n" for line in lines))
    viewer = Viewer(load([str(tmp_path / "out.jsonl")]))
    answer = viewer.rows({"source": "out.jsonl", "size": "250", **q})
    want = plain_loop(lines, q)
    assert answer["total"] == len(want) and answer["of"] == 400
    assert [r["row"] - 1 for r in answer["data"]] == want[:250]


@pytest.mark.parametrize("params, message", [
    ({"item": "c"}, "item: no item 'c' (items: a, b)"),
    ({"item": "a", "status": "broken"}, "status: 'broken' is not one of passed, failed, ok"),
    ({"text": "(", "regex": "1"}, "regex: missing ), unterminated subpattern at position 0"),
    ({"reward_min": "high"}, "reward_min: 'high' is not a number"),
    ({"size": "7"}, "size: 7 is not one of 25, 50, 100, 250"),
    ({"sort": "nothing"}, "sort: no column 'nothing'"),
    ({"changed": "1"}, "changed: only a comparison has a second reward"),
])
def test_a_bad_query_is_a_clear_error(tmp_path, params, message):
    _write(tmp_path / "out.jsonl", "".join(json.dumps(line) + "\n"
                                           for line in lines_for(random.Random(1), 10)))
    viewer = Viewer(load([str(tmp_path / "out.jsonl")]))
    with pytest.raises(QueryError) as e:
        viewer.rows({"source": "out.jsonl", **params})
    assert str(e.value).startswith(message)


def test_compare_refuses_outputs_of_different_data(tmp_path):
    for name, n in (("a.jsonl", 10), ("b.jsonl", 12)):
        _write(tmp_path / name, "".join(json.dumps(line) + "\n"
                                        for line in lines_for(random.Random(1), n)))
    viewer = Viewer(load([str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")]))
    with pytest.raises(QueryError, match="A has 10 rows and B 12: compare two outputs of the same data"):
        viewer.compare({"a": "a.jsonl", "b": "b.jsonl"})
    assert Query.of_params({"regex": "yes", "desc": "0"}) == Query(regex=True, desc=False)


def test_a_port_in_use_is_said_before_serving(scored, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["view", str(scored / "out.jsonl"), "--port", str(port), "--no-open"]) == 1
    assert f"--port {port}: Address already in use on 127.0.0.1" in capsys.readouterr().err

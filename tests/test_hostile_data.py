"""Data files are untrusted input: each attack in tests/cases/attacks/data/ is scored by `rubricc
score`, and no byte, value or kill may break the run, lose a row or write output that is not JSON.

The table says what each row of each file must become: its reward, or the code of its error.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import rubricc
from rubricc import types as t
from rubricc.cli import main
from rubricc.data import DataRow, read_jsonl, validate
from tests.conftest import ROOT

DATA = ROOT / "tests" / "cases" / "attacks" / "data"
ARITH = str(ROOT / "rubrics" / "arith" / "answer.rubric")

ROWS = {  # file: per non-blank line, in order, the reward it must get or its error code
    "bad_byte.jsonl": [1.0, "D005", 1.0],
    "bom.jsonl": [1.0, 1.0],
    "multibyte_error.jsonl": [1.0, "D001"],
    "blank_lines.jsonl": [1.0, 0.0, "D001"],
    "non_finite.jsonl": [1.0, 1.0],
    "parser_limits.jsonl": [1.0, "D001", "D001", 1.0],
    "wrong_types.jsonl": [1.0, 1.0, "D004", "D004", "D004", "D004", "D004", 1.0, "D004"],
}


def strict_json(line: str) -> dict:
    """json.loads, refusing the NaN and Infinity that Python's json would accept."""
    def refuse(name):
        raise ValueError(f"not JSON: {name}")
    return json.loads(line, parse_constant=refuse)


def score(data, out, *extra) -> tuple[int, list[dict]]:
    code = main(["score", ARITH, str(data), "--out", str(out), *extra])
    return code, [strict_json(line) for line in out.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("name", sorted(ROWS))
def test_every_row_is_kept_scored_or_located(name, tmp_path, capsys):
    code, rows = score(DATA / name, tmp_path / "out.jsonl")
    lines = [n for n, raw in enumerate((DATA / name).read_bytes().split(b"\n"), start=1)
             if raw.strip()]
    got = [r["reward"] if r["reward"] is not None else r["error"] for r in rows]
    assert len(got) == len(ROWS[name]) == len(lines)
    for want, have, line in zip(ROWS[name], got, lines):
        if isinstance(want, str):
            assert isinstance(have, str) and f"{name}:{line}: {want} " in have
        else:
            assert have == want
    failed = sum(isinstance(w, str) for w in ROWS[name])
    assert code == (1 if failed else 0)
    if failed:
        assert f"{failed} of {len(lines)} rows without a reward" in capsys.readouterr().out


def test_a_byte_that_is_not_utf8_is_its_rows_error_at_its_offset(tmp_path):
    raw = (DATA / "bad_byte.jsonl").read_bytes()
    _, rows = score(DATA / "bad_byte.jsonl", tmp_path / "out.jsonl")
    bad = rows[1]["error"]
    assert "bad_byte.jsonl:2: D005 not UTF-8: byte 0xe9 at byte offset 101 (byte 52 of the line)" in bad
    assert raw[101] == 0xE9 and raw.index(b"\n") + 1 + 51 == 101
    assert rows[1]["_raw"].endswith('caf\\xe9"}')  # the byte is shown, not lost


def test_a_bom_is_read_as_the_start_of_the_file(tmp_path):
    _, rows = score(DATA / "bom.jsonl", tmp_path / "out.jsonl")
    assert [r["answer"] for r in rows] == ["3", "4"] and "_raw" not in rows[0]


def test_the_column_of_a_json_error_counts_characters_as_json_does():
    text = (DATA / "multibyte_error.jsonl").read_text(encoding="utf-8").splitlines()[1]
    with pytest.raises(json.JSONDecodeError) as caught:
        json.loads(text)
    [_, row] = read_jsonl(DATA / "multibyte_error.jsonl")
    assert text.encode().index(b"oops") + 1 > caught.value.colno  # bytes would say more
    assert row.problem.endswith(f"(column {caught.value.colno})")


def test_output_holds_no_bare_nan_or_infinity(tmp_path):
    out = tmp_path / "out.jsonl"
    score(DATA / "non_finite.jsonl", out)
    text = out.read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    rows = [strict_json(line) for line in text.splitlines()]
    assert rows[0]["temperature"] is None and rows[1]["logprob"] is None and rows[1]["big"] is None


def test_a_chat_response_is_scored_as_its_last_assistant_message(tmp_path):
    _, rows = score(DATA / "wrong_types.jsonl", tmp_path / "out.jsonl")
    assert rows[0]["reward"] == 1.0 and rows[0]["response"][1]["role"] == "assistant"  # as read
    assert rows[1]["reward"] == 1.0 and rows[1]["response"]["content"] == "<answer>4</answer>"
    assert rows[7]["reward"] == 1.0  # the last assistant message, not the first
    assert "chat messages with a text message by the assistant, found list" in rows[2]["error"]
    assert "D004 column `answer` should be text, found list" in rows[5]["error"]


def test_a_chat_prompt_is_read_as_its_last_user_message():
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "1+2?"}]
    row = validate(DataRow(1, {"prompt": chat, "response": "3"}, ""), {}, "d.jsonl")
    assert not row.problem and row.data["prompt"] == "1+2?" and row.written()["prompt"] == chat
    assert row.data["messages"] == chat and "messages" not in row.written()  # the conversation
    own = [{"role": "user", "content": "hi"}]
    row = validate(DataRow(1, {"prompt": chat, "response": "3", "messages": own}, ""), {}, "d.jsonl")
    assert row.data["messages"] == own  # a row's own `messages` is kept


def test_a_list_or_an_object_is_not_text_number_or_bool():
    for value in ([], {}, ["a"], {"a": 1}):
        assert not any(t.conforms(value, typ) for typ in (t.TEXT, t.NUMBER, t.BOOL))
        assert t.conforms(value, t.JSON)


def test_explain_counts_file_lines_as_errors_do(capsys):
    data = str(DATA / "blank_lines.jsonl")
    assert main(["explain", ARITH, data, "--row", "5"]) == 0
    assert capsys.readouterr().out.startswith("score 0")  # answer 4, response 5
    assert main(["explain", ARITH, data, "--row", "2"]) == 0
    assert capsys.readouterr().out.startswith("score 1")
    assert main(["explain", ARITH, data, "--row", "3"]) == 1
    assert "blank_lines.jsonl: line 3 is blank" in capsys.readouterr().err
    assert main(["explain", ARITH, data, "--row", "7"]) == 1
    assert "blank_lines.jsonl:7: D001" in capsys.readouterr().err
    assert main(["explain", ARITH, data, "--row", "8"]) == 1
    assert "--row must be a line between 1 and 7" in capsys.readouterr().err


# ---- exit status --------------------------------------------------------------------------------


def test_exit_0_when_every_row_has_a_reward(tmp_path):
    assert score(DATA / "bom.jsonl", tmp_path / "out.jsonl")[0] == 0


def test_exit_1_with_the_count_when_some_rows_are_invalid(tmp_path, capsys):
    assert score(DATA / "bad_byte.jsonl", tmp_path / "out.jsonl")[0] == 1
    assert "1 of 3 rows without a reward (null in the output, the reason in `error`): exit status 1" \
        in capsys.readouterr().out


def test_exit_1_when_the_judge_is_down_for_every_row(tmp_path, capsys):
    rubric, data, config = tmp_path / "j.rubric", tmp_path / "d.jsonl", tmp_path / "judge.toml"
    rubric.write_text('rubric j { judge plain: "Uses plain words." }\n')
    data.write_text("".join(json.dumps({"response": r}) + "\n" for r in ("hi", "there", "you")))
    config.write_text('[judge]\nspec = "openai:m@http://127.0.0.1:9/v1"\ncache = false\n'
                      "max_retries = 0\ntimeout = 5.0\n")  # port 9: discard, closed here
    out = tmp_path / "out.jsonl"
    code = main(["score", str(rubric), str(data), "--out", str(out), "--judge-config", str(config)])
    rows = [strict_json(line) for line in out.read_text().splitlines()]
    assert [r["status"] for r in rows] == [{"plain": "error"}] * 3
    assert code == 1 and "3 of 3 rows without a reward" in capsys.readouterr().out


# ---- kill -9 and --resume -----------------------------------------------------------------------


def arith_rows(path, n: int) -> None:
    """n rows; every third response is one off, so row i's reward is known: 0 if i % 3 == 0."""
    path.write_text("".join(json.dumps({"answer": str(i), "response": f"<answer>{i + (i % 3 == 0)}</answer>"})
                            + "\n" for i in range(n)))


def assert_complete(out, n: int) -> None:
    rows = [strict_json(line) for line in out.read_text().splitlines()]
    assert [r["answer"] for r in rows] == [str(i) for i in range(n)]
    assert [r["reward"] for r in rows] == [float(i % 3 != 0) for i in range(n)]


def test_kill_9_mid_run_keeps_the_old_output_and_resume_finishes_it(tmp_path):
    n = 40_000
    data, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    arith_rows(data, n)
    out.write_text('{"previous": "run"}\n')
    partial = tmp_path / "out.jsonl.partial"
    proc = subprocess.Popen([sys.executable, "-m", "rubricc.cli", "score", ARITH, str(data),
                             "--out", str(out), "--batch", "50"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if partial.exists() and partial.stat().st_size > 20_000:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be killed; use more rows"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert out.read_text() == '{"previous": "run"}\n'  # untouched until a new output is whole
    kept = partial.read_text().split("\n")[:-1]  # complete lines; a torn last one is dropped
    assert 0 < len(kept) < n
    assert main(["score", ARITH, str(data), "--out", str(out), "--resume"]) == 0
    assert_complete(out, n)
    assert out.read_text().splitlines()[:len(kept)] == kept  # resumed, not scored again
    assert not partial.exists()


def test_resume_drops_a_torn_last_line(tmp_path, capsys):
    data, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    arith_rows(data, 30)
    assert main(["score", ARITH, str(data), "--out", str(out)]) == 0
    lines = out.read_text().splitlines(keepends=True)
    (tmp_path / "out.jsonl.partial").write_text("".join(lines[:12]) + lines[12][:25])
    assert main(["score", ARITH, str(data), "--out", str(out), "--resume"]) == 0
    assert_complete(out, 30)
    assert "resumed 12" in capsys.readouterr().out


def test_resume_refuses_a_partial_output_of_other_data(tmp_path, capsys):
    data, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    arith_rows(data, 10)
    partial = tmp_path / "out.jsonl.partial"
    partial.write_text(json.dumps({"answer": "7", "response": "x", "reward": 0.0}) + "\n")
    assert main(["score", ARITH, str(data), "--out", str(out), "--resume"]) == 1
    assert "out.jsonl.partial:1 is not the output of data line 1 by this rubric" \
        in capsys.readouterr().err
    assert partial.exists() and not out.exists()
    assert main(["score", ARITH, str(data), "--out", str(out)]) == 0  # without --resume: anew
    assert_complete(out, 10)
    assert not partial.exists()


def test_a_failed_run_leaves_the_old_output_and_no_empty_partial(tmp_path):
    rubric, data, out = tmp_path / "j.rubric", tmp_path / "d.jsonl", tmp_path / "out.jsonl"
    rubric.write_text('rubric j { judge plain: "Uses plain words." }\n')
    data.write_text(json.dumps({"response": "hi"}) + "\n")
    out.write_text("old\n")
    assert main(["score", str(rubric), str(data), "--out", str(out)]) == 1  # no judge configured
    assert out.read_text() == "old\n" and not (tmp_path / "out.jsonl.partial").exists()


def test_score_records_its_rubric_and_resume_refuses_rows_scored_by_a_changed_one(tmp_path, capsys):
    rubric, data, out = tmp_path / "a.rubric", tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    rubric.write_text(Path(ARITH).read_text())
    arith_rows(data, 30)
    assert main(["score", str(rubric), str(data), "--out", str(out)]) == 0
    record = json.loads((tmp_path / "out.jsonl.rubric.json").read_text())
    assert record == rubricc.compile(rubric).provenance and record["rubric"] == "arith.answer"
    assert f"sha256 {record['sha256'][:16]}" in capsys.readouterr().out
    (tmp_path / "out.jsonl.partial").write_text("".join(out.read_text().splitlines(keepends=True)[:12]))
    rubric.write_text(rubric.read_text().replace("# ", "#  ", 1))  # any change to the rubric's text
    assert main(["score", str(rubric), str(data), "--out", str(out), "--resume"]) == 1
    assert "its rows would mix two rewards; score again without --resume" in capsys.readouterr().err


def test_explain_reads_the_file_only_up_to_its_row(tmp_path, monkeypatch, capsys):
    import rubricc.cli as cli

    data = tmp_path / "in.jsonl"
    arith_rows(data, 1000)
    read = []

    def counted(path):
        for row in read_jsonl(path):
            read.append(row.line)
            yield row

    monkeypatch.setattr(cli, "read_jsonl", counted)
    assert main(["explain", ARITH, str(data), "--row", "3"]) == 0
    assert read == [1, 2, 3]  # not the 997 rows after it

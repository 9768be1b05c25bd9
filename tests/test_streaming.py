"""`rubricc score` streams: at most a few batches of rows are alive at once, in a fresh run and
in a resumed one, whatever the file's size; and Parquet in and out, a row group a batch."""

from __future__ import annotations

import json
import math
import weakref
from pathlib import Path

import pytest

import rubricc.cli as cli
from rubricc.cli import main
from rubricc.data import read_jsonl

ROOT = Path(__file__).resolve().parent.parent
ARITH = str(ROOT / "rubrics" / "arith" / "answer.rubric")


def arith_rows(n: int) -> list[dict]:
    """Every third response one off: row i's reward is 0 if i % 3 == 0, else 1."""
    return [{"answer": str(i), "response": f"<answer>{i + (i % 3 == 0)}</answer>"} for i in range(n)]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


class Alive:
    """Wraps the reader `rubricc score` uses and counts the rows it made that are still alive
    (CPython frees a row when its last reference goes: the count is exact, not timing)."""

    def __init__(self, monkeypatch):
        self.alive = self.most = self.made = 0
        read = cli.read_rows

        def counted(path, batch=512):
            for row in read(path, batch):
                self.alive += 1
                self.made += 1
                self.most = max(self.most, self.alive)
                weakref.finalize(row, self._gone)
                yield row

        monkeypatch.setattr(cli, "read_rows", counted)

    def _gone(self) -> None:
        self.alive -= 1


def test_a_run_holds_a_few_batches_of_rows_not_the_file(tmp_path, monkeypatch):
    n, batch = 3000, 50
    data, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(data, arith_rows(n))
    alive = Alive(monkeypatch)
    assert main(["score", ARITH, str(data), "--out", str(out), "--batch", str(batch)]) == 0
    assert alive.made == n
    assert alive.most <= 3 * batch, f"{alive.most} rows alive at once, batches of {batch}"
    rewards = [json.loads(line)["reward"] for line in out.read_text().splitlines()]
    assert rewards == [float(i % 3 != 0) for i in range(n)]


def test_a_resumed_run_checks_the_partial_as_rows_stream(tmp_path, monkeypatch, capsys):
    n, batch = 3000, 50
    data, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(data, arith_rows(n))
    assert main(["score", ARITH, str(data), "--out", str(out)]) == 0
    whole = out.read_text()
    lines = whole.splitlines(keepends=True)
    (tmp_path / "out.jsonl.partial").write_text("".join(lines[:1234]) + lines[1234][:30])
    capsys.readouterr()
    alive = Alive(monkeypatch)
    assert main(["score", ARITH, str(data), "--out", str(out), "--batch", str(batch),
                 "--resume"]) == 0
    assert alive.most <= 3 * batch, f"{alive.most} rows alive at once, batches of {batch}"
    assert out.read_text() == whole
    shown = capsys.readouterr().out
    assert "resumed 1234" in shown and f"{n} rows" in shown


def test_resume_refuses_a_partial_longer_than_the_data(tmp_path, capsys):
    data, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(data, arith_rows(20))
    assert main(["score", ARITH, str(data), "--out", str(out)]) == 0
    partial = tmp_path / "out.jsonl.partial"
    partial.write_text(out.read_text())
    write_jsonl(data, arith_rows(12))  # the data shrank
    assert main(["score", ARITH, str(data), "--out", str(out), "--resume", "--batch", "5"]) == 1
    assert "out.jsonl.partial holds 20 rows, the data 12" in capsys.readouterr().err
    assert len(partial.read_text().splitlines()) == 20  # left as it was


# ---- Parquet ------------------------------------------------------------------------------------


pa = pytest.importorskip("pyarrow", reason="Parquet needs pyarrow: pip install 'rubricc[parquet]'")
pq = pytest.importorskip("pyarrow.parquet")


def test_parquet_in_and_out_one_row_group_a_batch(tmp_path, capsys):
    n, batch = 40, 7
    rows = arith_rows(n)
    rows[4]["answer"] = None  # not text: carried with a null reward and its reason
    data, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    pq.write_table(pa.Table.from_pylist(rows), data, row_group_size=16)
    assert main(["score", ARITH, str(data), "--out", str(out), "--batch", str(batch)]) == 1
    assert "in.parquet:5: D004 column `answer` should be text" in capsys.readouterr().err
    written = pq.ParquetFile(out)
    assert written.num_row_groups == math.ceil(n / batch)
    got = written.read().to_pylist()
    assert [r["answer"] for r in got] == [r["answer"] for r in rows]
    assert [r["reward"] for r in got] == [None if i == 4 else float(i % 3 != 0) for i in range(n)]
    assert got[1]["items"]["correct"] == 1.0 and got[1]["status"]["correct"] == "ok"
    assert got[1]["error"] is None and "D004" in got[4]["error"]
    assert not (tmp_path / "out.parquet.partial").exists()
    assert (tmp_path / "out.parquet.rubric.json").is_file()


def test_parquet_and_jsonl_give_the_same_rewards(tmp_path):
    rows = arith_rows(25)
    jsonl, parquet = tmp_path / "in.jsonl", tmp_path / "in.parquet"
    write_jsonl(jsonl, rows)
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    assert main(["score", ARITH, str(parquet), "--out", str(tmp_path / "a.jsonl")]) == 0
    assert main(["score", ARITH, str(jsonl), "--out", str(tmp_path / "b.jsonl")]) == 0
    assert main(["score", ARITH, str(jsonl), "--out", str(tmp_path / "c.parquet"),
                 "--batch", "10"]) == 0
    a = (tmp_path / "a.jsonl").read_text()
    assert a == (tmp_path / "b.jsonl").read_text()
    back = pq.read_table(tmp_path / "c.parquet").to_pylist()
    assert [r["reward"] for r in back] == [json.loads(line)["reward"] for line in a.splitlines()]
    assert [r.data["answer"] for r in read_jsonl(tmp_path / "a.jsonl")] == [r["answer"] for r in back]


def test_resume_of_parquet_output_is_refused_with_the_reason(tmp_path, capsys):
    data, out = tmp_path / "in.jsonl", tmp_path / "out.parquet"
    write_jsonl(data, arith_rows(5))
    (tmp_path / "out.parquet.partial").write_bytes(b"PAR1 torn")
    assert main(["score", ARITH, str(data), "--out", str(out), "--resume"]) == 1
    assert "--resume continues JSONL output only" in capsys.readouterr().err
    assert main(["score", ARITH, str(data), "--out", str(out)]) == 0  # anew
    assert pq.read_table(out).num_rows == 5

"""Data rows in and out: JSONL of completions, validated against a rubric's inputs.

A data file is untrusted input. A bad row (bytes that are not UTF-8, invalid JSON, a missing
column, a wrong type) is reported with its line and carried to the output with a null reward and
the reason: never dropped, and never a reason to reject the rows around it. Lines are the file's
lines, split on `\\n` and counting blank ones: `rubricc explain --row N` numbers them the same way.

    with ScoredOutput(Path("out.jsonl"), scorer.names, resume=False) as output:
        for chunk in batched(read_rows(path), 512):
            rows = [validate(r, scorer.inputs_of(r.data), path) for r in chunk]
            output.write([row.written() | {"reward": 1.0} for row in rows])  # a JSON object a line

Rows stream: a file of any size is read, checked and written a chunk at a time. A `.parquet`
path is read and written as Parquet (pyarrow).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from rubricc import types as t

INVALID_JSON, NOT_AN_OBJECT, MISSING_COLUMN, WRONG_TYPE = "D001", "D002", "D003", "D004"
NOT_UTF8 = "D005"

BOM = b"\xef\xbb\xbf"  # what Windows editors and PowerShell put before the first line
MAX_DEPTH = 200  # deeper JSON could not be written back out within Python's recursion limit
RESULT_KEYS = ("reward", "items", "status", "error")  # what scoring adds to a row


@dataclass(frozen=True)
class DataRow:
    line: int  # 1-based line in the input file
    data: dict | None  # the values to score; None when the line is not a JSON object
    raw: str  # the line without its newline; bytes that are not UTF-8 shown as \xNN
    problem: str = ""  # why this row cannot be scored, with its location
    original: dict | None = None  # the row as the file has it, where a conversion changed `data`

    def written(self) -> dict:
        """The row's input columns as the output carries them: as read, conversions undone."""
        if self.original is not None:
            return dict(self.original)
        return dict(self.data) if self.data is not None else {"_raw": self.raw}


def read_jsonl(path: str | Path) -> Iterator[DataRow]:
    """Every non-blank line of `path` as a row, each parsed on its own."""
    with open(path, "rb") as f:
        offset = 0
        for number, raw in enumerate(f, start=1):
            start, offset = offset, offset + len(raw)
            if number == 1 and raw.startswith(BOM):
                raw, start = raw[len(BOM):], start + len(BOM)
            if raw.strip():
                yield parse_line(raw, f"{path}:{number}", number, start)


def parse_line(raw: bytes, where: str, number: int, offset: int) -> DataRow:
    """One line as a row; `offset` is where the line starts in the file, in bytes."""
    try:
        text = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        shown = raw.decode("utf-8", "backslashreplace").rstrip("\r\n")
        return DataRow(number, None, shown,
                       f"{where}: {NOT_UTF8} not UTF-8: byte 0x{raw[exc.start]:02x} at byte offset "
                       f"{offset + exc.start} (byte {exc.start + 1} of the line)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:  # colno counts characters, as an editor does
        return DataRow(number, None, text, f"{where}: {INVALID_JSON} invalid JSON: {exc.msg} "
                                           f"(column {exc.colno})")
    except (ValueError, RecursionError) as exc:  # an int over 4300 digits; nesting past the stack
        return DataRow(number, None, text, f"{where}: {INVALID_JSON} invalid JSON: "
                                           f"{_limit_message(exc)}")
    if not isinstance(data, dict):
        return DataRow(number, None, text, f"{where}: {NOT_AN_OBJECT} expected a JSON object, "
                                           f"found {type(data).__name__}")
    if _deeper_than(data, MAX_DEPTH):
        return DataRow(number, None, text, f"{where}: {INVALID_JSON} invalid JSON: nested deeper "
                                           f"than {MAX_DEPTH} levels")
    return DataRow(number, data, text)


def _limit_message(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return f"nested deeper than {MAX_DEPTH} levels"
    return str(exc).split(";")[0]  # "Exceeds the limit (4300 digits) for integer string ..."


def _deeper_than(value, limit: int) -> bool:
    todo = [(value, 1)]
    while todo:
        value, depth = todo.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                todo.append((child, depth + 1))
    return False


# ---- checking a row against the rubric ----------------------------------------------------------


def validate(row: DataRow, inputs: dict[str, t.Type], path: str) -> DataRow:
    """Check a row against the rubric's declared inputs (plus `response` and `prompt`), after
    reading a chat-format `response` or `prompt` as its text (see `chat_text`)."""
    if row.problem:
        return row
    wanted = {"response": t.TEXT, "prompt": t.optional(t.TEXT)} | inputs
    row = _read_chat(row, wanted)
    for name, typ in wanted.items():
        if name not in row.data:
            if t.is_optional(typ):
                continue
            return _bad(row, f"{path}:{row.line}: {MISSING_COLUMN} missing column `{name}` ({t.render(typ)})")
        if not t.conforms(row.data[name], typ):
            return _bad(row, f"{path}:{row.line}: {WRONG_TYPE} {_wrong_type(row, name, typ)}")
    return row


def _wrong_type(row: DataRow, name: str, typ: t.Type) -> str:
    value = (row.original or row.data)[name]
    chat = name in CHAT_ROLES and isinstance(value, (list, dict)) and t.strip_none(typ) == t.TEXT
    hint = f", or chat messages with a text message by the {CHAT_ROLES[name]}" if chat else ""
    return (f"column `{name}` should be {t.render(typ)}{hint}, "
            f"found {type(value).__name__} {json.dumps(value)[:60]}")


CHAT_ROLES = {"response": "assistant", "prompt": "user"}  # whose last message a chat column means


def chat_text(value, role: str) -> str | None:
    """The content of the last message by `role`, for a value in chat format (a list of
    {"role", "content"} messages, or one message); None when there is no such text.

    >>> chat_text([{"role": "user", "content": "1+2?"}, {"role": "assistant", "content": "3"}], "assistant")
    '3'
    """
    messages = [value] if isinstance(value, dict) else value
    if not isinstance(messages, list) or not all(_is_message(m) for m in messages):
        return None
    said = [m["content"] for m in messages if m["role"] == role]
    return said[-1] if said and isinstance(said[-1], str) else None


def _is_message(m) -> bool:
    return isinstance(m, dict) and "role" in m and "content" in m


def _read_chat(row: DataRow, wanted: dict[str, t.Type]) -> DataRow:
    """A chat-format `response` or `prompt` read as its text; a chat-format `prompt` (the
    conversation so far, as HealthBench and chat datasets write it) is also the row's `messages`
    when the row has none, so a judge template can show the whole conversation."""
    read = {name: chat_text(row.data[name], role) for name, role in CHAT_ROLES.items()
            if name in row.data and isinstance(row.data[name], (list, dict))
            and t.strip_none(wanted[name]) == t.TEXT}
    read = {name: text for name, text in read.items() if text is not None}
    if not read:
        return row
    if "prompt" in read and "messages" not in row.data:
        read["messages"] = row.data["prompt"] if isinstance(row.data["prompt"], list) else [row.data["prompt"]]
    return DataRow(row.line, row.data | read, row.raw, original=row.data)


def _bad(row: DataRow, problem: str) -> DataRow:
    return DataRow(row.line, row.data, row.raw, problem, row.original)


# ---- writing scored rows ------------------------------------------------------------------------


def finite(x: float | None) -> float | None:
    """A number JSON can carry: NaN and infinities are null."""
    return x if x is None or math.isfinite(x) else None


def json_line(row: dict) -> str:
    """One line of strict JSON. NaN and ±Infinity, which Python's json writes bare and which
    strict parsers reject, are written as null (they reach here from data files that hold them)."""
    try:
        return json.dumps(row, allow_nan=False) + "\n"
    except ValueError:
        return json.dumps(_finite_all(row), allow_nan=False) + "\n"


def _finite_all(value):
    if isinstance(value, float):
        return finite(value)
    if isinstance(value, dict):
        return {k: _finite_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_all(v) for v in value]
    return value


class ScoredOutput:
    """Scored rows go to `OUT.partial` beside OUT, flushed chunk by chunk, and replace OUT only
    when every row is there: a run killed at any point leaves the previous OUT as it was. OUT is
    JSONL, or Parquet when its name ends in `.parquet` (one row group per chunk).

    With `resume`, an earlier JSONL `OUT.partial` is continued, streaming: `take(chunk)` checks the
    partial's next lines against the chunk's rows (line i must be the output of data row i, with
    the rubric's `items`) and returns them; once the partial's complete lines are used up, a last
    line cut short by a kill is cut off the file and `write` appends after them. No more than a
    chunk of either file is held at once."""

    def __init__(self, out: Path, items: list[str], resume: bool, provenance: dict | None = None,
                 columns=None):
        self.out, self.partial = out, out.with_name(out.name + ".partial")
        self.meta = out.with_name(out.name + ".rubric.json")
        self.provenance = provenance
        self.items = list(items)
        self.parquet = is_parquet(out)
        self.columns = columns  # Parquet output: the input's pyarrow schema, when it has one
        self.resumed = 0  # lines kept from the partial
        self.file = self._reader = self._writer = None
        self._pending = self._complete = 0
        self._append = False
        if resume and self.partial.exists():
            if self.parquet:
                raise ValueError(f"{self.partial}: --resume continues JSONL output only (a Parquet "
                                 "file cannot be read back before its footer is written, at the "
                                 "end); score again without --resume, or write JSONL")
            self._same_rubric()
            self._pending, self._complete = complete_lines(self.partial)
            self._reader = open(self.partial, "rb")
            self._append = True

    def _same_rubric(self) -> None:
        """A resumed run continues rows scored by the same rubric, not one changed since."""
        if self.provenance is None or not self.meta.is_file():
            return
        before = json.loads(self.meta.read_text(encoding="utf-8")).get("sha256")
        if before != self.provenance.get("sha256"):
            raise ValueError(f"{self.partial} was scored by a rubric with sha256 {before}, and the "
                             f"rubric is now {self.provenance.get('sha256')}: its rows would mix two "
                             "rewards; score again without --resume")

    def __enter__(self) -> ScoredOutput:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        if self.provenance is not None:  # OUT.rubric.json: what the rewards were computed with
            self.meta.write_text(json.dumps(self.provenance, indent=2) + "\n", encoding="utf-8")
        if self._pending == 0:
            self._open()
        return self

    def take(self, rows: list[DataRow]) -> list[dict]:
        """The partial output's lines for the first of `rows` (all of them, some, or none), each
        checked to be the output of its row by this rubric; `write` the rest's."""
        kept = []
        for row in rows[:self._pending]:
            text = self._reader.readline().decode("utf-8", "backslashreplace").rstrip("\n")
            line = _parsed(text)
            if line is None or not _is_output_of(line, row) or not set(line["status"]) <= set(self.items):
                raise ValueError(f"{self.partial}:{self.resumed + 1} is not the output of data line "
                                 f"{row.line} by this rubric; rerun without --resume")
            kept.append(line)
            self.resumed += 1
            self._pending -= 1
        if self._reader is not None and self._pending == 0:
            self._open()
        return kept

    def _open(self) -> None:
        """Start writing: after the partial's complete lines when resuming, else anew."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._append and self.partial.stat().st_size > self._complete:
            os.truncate(self.partial, self._complete)  # a line torn by a kill
        if not self.parquet:
            self.file = open(self.partial, "a" if self._append else "w", encoding="utf-8")
        elif self.partial.exists():
            self.partial.unlink()  # the writer opens it on the first chunk, when its schema is known

    def write(self, lines: list[dict]) -> None:
        if self.parquet:
            self._write_parquet(lines)
            return
        self.file.write("".join(json_line(line) for line in lines))
        self.file.flush()  # on disk for a resume, even if the process is killed next

    def _write_parquet(self, lines: list[dict]) -> None:
        import pyarrow as pa

        pq = _pq()
        lines = [_parquet_row(line) for line in lines]
        if self._writer is None:
            schema = parquet_schema(self.columns, lines, self.items)
            self._writer = pq.ParquetWriter(self.partial, schema)
        schema = self._writer.schema
        extra = {k for line in lines for k in line} - set(schema.names)
        if extra:
            raise ValueError(f"{self.out}: column `{sorted(extra)[0]}` first appears after the "
                             "first chunk, and a Parquet file has one schema: write JSONL, or "
                             "give every row its columns")
        try:
            table = pa.Table.from_pylist(lines, schema=schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ValueError(f"{self.out}: a row does not fit the Parquet schema of the first "
                             f"chunk ({exc}): write JSONL, or give each column one type") from None
        self._writer.write_table(table)  # one row group per chunk

    def __exit__(self, kind, exc, tb) -> None:
        if self._reader is not None:  # the partial's lines were not all taken
            self._reader.close()
            self._reader = None
            if kind is None:  # the data ended before the partial did; the partial stays
                raise ValueError(f"{self.partial} holds {self.resumed + self._pending} rows, the "
                                 f"data {self.resumed}: not a partial output of this data; rerun "
                                 "without --resume")
            return
        if self.parquet:
            self._close_parquet(kind is None)
        elif self.file is not None:
            if kind is None:
                os.fsync(self.file.fileno())
            self.file.close()
        if kind is None:
            os.replace(self.partial, self.out)  # atomic: OUT is the old file or the whole new one
        elif self.partial.exists() and self.partial.stat().st_size == 0:
            self.partial.unlink()  # nothing to resume from

    def _close_parquet(self, whole: bool) -> None:
        pq = _pq()
        if self._writer is None and whole:  # no rows: a file with the columns all the same
            self._writer = pq.ParquetWriter(self.partial, parquet_schema(self.columns, [], self.items))
        if self._writer is not None:
            self._writer.close()
            if not whole and self.partial.exists():
                self.partial.unlink()  # no footer: nothing could read it or resume it


def batched(rows: Iterable, n: int) -> Iterator[list]:
    """`rows` in lists of `n` (the last one shorter), read as they are needed."""
    rows = iter(rows)
    while chunk := list(islice(rows, max(n, 1))):
        yield chunk


def complete_lines(path: Path) -> tuple[int, int]:
    """How many complete lines `path` holds, and the bytes they take: a byte scan, a chunk at a
    time."""
    count = length = offset = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk.rfind(b"\n")
            if last >= 0:
                length = offset + last + 1
            offset += len(chunk)
    return count, length


# ---- Parquet ------------------------------------------------------------------------------------


def is_parquet(path: str | Path) -> bool:
    return str(path).lower().endswith(".parquet")


def _pq():
    """pyarrow.parquet, an optional dependency: `pip install 'rubricc[parquet]'`."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ValueError("Parquet needs pyarrow: pip install 'rubricc[parquet]' (or write JSONL)") from None
    return pq


def read_rows(path: str | Path, batch: int = 512) -> Iterator[DataRow]:
    """The rows of a JSONL file, or of a Parquet file (by its suffix), read as they are needed."""
    return read_parquet(path, batch) if is_parquet(path) else read_jsonl(path)


def count_rows(path: str | Path) -> int:
    """The rows of a Parquet file (its footer says), or the lines of a JSONL file (a byte scan:
    about a second a gigabyte): what `DataRow.line` counts to."""
    if is_parquet(path):
        return _pq().ParquetFile(path).metadata.num_rows
    count, length = complete_lines(Path(path))
    return count + (Path(path).stat().st_size > length)


def input_schema(path: str | Path):
    """A Parquet file's pyarrow schema; None for JSONL."""
    if not is_parquet(path):
        return None
    return _pq().ParquetFile(path).schema_arrow


def read_parquet(path: str | Path, batch: int = 512) -> Iterator[DataRow]:
    """Each row of a Parquet file, a record batch at a time (`line` is its 1-based row number)."""
    number = 0
    with _pq().ParquetFile(path) as f:
        for records in f.iter_batches(batch_size=batch):
            for data in records.to_pylist():
                number += 1
                yield DataRow(number, data, "")


def parquet_schema(columns, lines: list[dict], items: list[str]):
    """The output's schema: the input's columns (the Parquet input's, or as the first chunk has
    them), then reward, items and status per item, error, and `criteria` as JSON text."""
    import pyarrow as pa

    results = [pa.field("reward", pa.float64()),
               pa.field("items", pa.struct([(n, pa.float64()) for n in items])),
               pa.field("status", pa.struct([(n, pa.string()) for n in items])),
               pa.field("error", pa.string()), pa.field("criteria", pa.string())]
    taken = {f.name for f in results}
    if columns is None:
        inputs = [{k: v for k, v in line.items() if k not in taken} for line in lines]
        columns = pa.Table.from_pylist(inputs).schema if any(inputs) else pa.schema([])
        columns = pa.schema([pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f
                             for f in columns])
    fields = [f for f in columns if f.name not in taken]
    if "_raw" not in {f.name for f in fields}:
        fields.append(pa.field("_raw", pa.string()))  # a line that is not a JSON object
    return pa.schema(fields + results)


def read_scored(path: str | Path) -> list[dict]:
    """Every row of a `rubricc score` output, JSONL or Parquet, as it was written (`criteria`
    decoded again from the Parquet column's JSON text). A JSONL line that is not a JSON object is a
    `ValueError` naming its line: a reader that dropped rows would count wrong."""
    if is_parquet(path):
        return [_parquet_read(line) for line in _pq().read_table(path).to_pylist()]
    lines = []
    with Path(path).open(encoding="utf-8") as f:
        for number, text in enumerate(f, 1):
            if not text.strip():
                continue
            try:
                line = json.loads(text)
            except ValueError as e:
                raise ValueError(f"{path}:{number}: not a JSON object: {e}") from None
            if not isinstance(line, dict):
                raise ValueError(f"{path}:{number}: not a JSON object")
            lines.append(line)
    return lines


def _parquet_read(line: dict) -> dict:
    if isinstance(line.get("criteria"), str):
        line["criteria"] = json.loads(line["criteria"])
    elif "criteria" in line and line["criteria"] is None:
        del line["criteria"]
    return line


def _parquet_row(line: dict) -> dict:
    if "criteria" in line:
        return line | {"criteria": json.dumps(line["criteria"])}
    return line


def _parsed(text: str) -> dict | None:
    """A scored row, with the types `rubricc score` writes; None for anything else."""
    try:
        line = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(line, dict) or "reward" not in line or not _is_score(line["reward"]):
        return None
    items, status = line.get("items"), line.get("status")
    if not (isinstance(items, dict) and isinstance(status, dict)):
        return None
    return line if all(_is_score(v) for v in items.values()) else None


def _is_score(value) -> bool:
    return value is None or isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_output_of(line: dict, row: DataRow) -> bool:
    columns = json.loads(json_line(row.written()))
    return all(k in line and line[k] == v for k, v in columns.items() if k not in RESULT_KEYS)

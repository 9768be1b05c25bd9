"""Data rows in and out: JSONL of completions, validated against a rubric's inputs.

A bad row (invalid JSON, a missing column, a wrong type) is reported with its line number and
carried to the output with a null reward and the reason: never dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rubricc import types as t

INVALID_JSON, NOT_AN_OBJECT, MISSING_COLUMN, WRONG_TYPE = "D001", "D002", "D003", "D004"


@dataclass(frozen=True)
class DataRow:
    line: int  # 1-based line in the input file
    data: dict | None  # None when the line is not a JSON object
    raw: str
    problem: str = ""  # why this row cannot be scored, with its location


def read_jsonl(path: str | Path) -> Iterator[DataRow]:
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw)
            except json.JSONDecodeError as exc:
                yield DataRow(number, None, raw, f"{path}:{number}: {INVALID_JSON} invalid JSON: {exc.msg} "
                                                 f"(column {exc.colno})")
                continue
            if not isinstance(data, dict):
                yield DataRow(number, None, raw, f"{path}:{number}: {NOT_AN_OBJECT} expected a JSON object, "
                                                 f"found {type(data).__name__}")
                continue
            yield DataRow(number, data, raw)


def validate(row: DataRow, inputs: dict[str, t.Type], path: str) -> DataRow:
    """Check a row against the rubric's declared inputs (plus `response`)."""
    if row.problem:
        return row
    wanted = {"response": t.TEXT, "prompt": t.optional(t.TEXT)} | inputs
    for name, typ in wanted.items():
        if name not in row.data:
            if t.is_optional(typ):
                continue
            return _bad(row, f"{path}:{row.line}: {MISSING_COLUMN} missing column `{name}` ({t.render(typ)})")
        if not t.conforms(row.data[name], typ):
            got = type(row.data[name]).__name__
            return _bad(row, f"{path}:{row.line}: {WRONG_TYPE} column `{name}` should be {t.render(typ)}, "
                             f"found {got} {json.dumps(row.data[name])[:60]}")
    return row


def _bad(row: DataRow, problem: str) -> DataRow:
    return DataRow(row.line, row.data, row.raw, problem)

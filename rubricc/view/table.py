"""A `rubricc score` output as columns, and the one query the viewer runs over them.

The viewer's table pages, sorts and filters on the server, so 100k rows stay responsive: rewards
and item values are float arrays (NaN where the output has null), statuses are small integer
arrays, prompts and responses are lists of text. A `Query` is what the page sends; `Frame.select`
answers it with row indices, and keeps the last few answers, since paging through one filter asks
the same question again.

>>> f = Frame.of_lines([
...     {"prompt": "1+1", "response": "2", "reward": 1.0, "items": {"correct": 1.0},
...      "status": {"correct": "ok"}},
...     {"prompt": "2+2", "response": "5", "reward": 0.0, "items": {"correct": 0.0},
...      "status": {"correct": "ok"}},
...     {"prompt": "3+3", "response": "", "reward": None, "items": {"correct": None},
...      "status": {"correct": "error"}, "error": "correct: boom"}])
>>> f.select(Query(item="correct", status="failed")).tolist()
[1]
>>> f.select(Query(status="error", item="correct")).tolist(), f.select(Query(reward="none")).tolist()
([2], [2])
>>> f.select(Query(text="^[12]", regex=True, field="prompt", sort="reward", desc=True)).tolist()
[0, 1]
"""

from __future__ import annotations

import json
import math
import re
from collections import OrderedDict
from dataclasses import asdict, dataclass, fields

import numpy as np

from rubricc import values as V

PASSED, FAILED = "passed", "failed"
ITEM_STATES = (PASSED, FAILED, *V.STATUSES)
"""What an item filter asks for: `passed` (ok, value 1), `failed` (ok, value below 1) or a status."""

PROMPT_COLUMNS = ("prompt", "messages", "question", "problem", "query", "instruction")
RESPONSE_COLUMNS = ("response", "completion", "answer_text", "output")
OWN_KEYS = ("reward", "items", "status", "criteria", "error")
"""What `rubricc score` adds to an input row; the rest are the input's own columns."""


class QueryError(ValueError):
    """A query the page should not have sent (an unknown item, a regex that does not compile)."""


@dataclass(frozen=True)
class Query:
    """One request of the table: which rows, in what order. Every field has a neutral default.

    `reward` is `any`, `none` (rows without a reward) or `scored`; `reward_min`/`reward_max` bound
    it. `item` with `status` keeps rows whose item is in that state (`ITEM_STATES`), with
    `value_min`/`value_max` rows whose item value is in range. `text` searches `field` (prompt,
    response or both) as a substring, ignoring case, or as a regular expression with `regex`.
    `changed` (compare only) keeps rows whose reward moved. `sort` is `row`, `reward`, `delta`
    (compare only) or an item name.
    """

    reward: str = "any"
    reward_min: float | None = None
    reward_max: float | None = None
    item: str = ""
    status: str = ""
    value_min: float | None = None
    value_max: float | None = None
    text: str = ""
    regex: bool = False
    field: str = "both"
    changed: bool = False
    sort: str = "row"
    desc: bool = False

    @classmethod
    def of_params(cls, params) -> Query:
        """From a URL's query parameters (strings), with a clear error for a bad one."""
        kw = {}
        for f in fields(cls):
            raw = params.get(f.name)
            if raw is None or raw == "":
                continue
            if f.type == "bool":
                kw[f.name] = raw.lower() in ("1", "true", "yes", "on")
            elif f.type == "float | None":
                try:
                    kw[f.name] = float(raw)
                except ValueError:
                    raise QueryError(f"{f.name}: {raw!r} is not a number") from None
            else:
                kw[f.name] = raw
        return cls(**kw)

    def key(self) -> tuple:
        return tuple(asdict(self).values())


def _number(x) -> float:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else math.nan


def text_of(value) -> str:
    """A column as text to show and search: a chat (a list of messages) as `role: content` lines.

    >>> text_of([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}])
    'user: hi\\nassistant: yo'
    >>> text_of(None), text_of(3)
    ('', '3')
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(m, dict) and "content" in m for m in value):
        return "\n".join(f"{m.get('role', '?')}: {text_of(m['content'])}" for m in value)
    return json.dumps(value, ensure_ascii=False)


def _first_column(lines: list[dict], names: tuple[str, ...]) -> str | None:
    keys = set().union(*(line.keys() for line in lines[:100])) if lines else set()
    return next((n for n in names if n in keys), None)


def _texts(lines: list[dict], column: str | None) -> list[str]:
    return [text_of(line.get(column)) for line in lines] if column else [""] * len(lines)


class Frame:
    """Rows of one or two scored outputs as columns; `lines` keeps each row as written."""

    def __init__(self, lines: list[dict], names: list[str], numbers: dict[str, np.ndarray],
                 statuses: dict[str, np.ndarray], prompt_column: str | None,
                 response_column: str | None, prompts: list[str], responses: list[str]):
        self.lines = lines
        self.names = names  # item names, in the order the output lists them
        self.numbers = numbers  # "reward", item names (and "reward_b", "delta" when comparing)
        self.statuses = statuses  # item name -> codes of V.STATUSES (-1: the row has no such item)
        self.prompt_column, self.response_column = prompt_column, response_column
        self.prompts, self.responses = prompts, responses  # the columns as text, row by row
        self._folded: dict[str, list[str]] = {}
        self._answers: OrderedDict[tuple, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return len(self.lines)

    @classmethod
    def of_lines(cls, lines: list[dict]) -> Frame:
        names: dict[str, None] = {}
        for line in lines:
            names.update(dict.fromkeys(line.get("status") or {}))
        numbers = {"reward": np.array([_number(line.get("reward")) for line in lines])}
        statuses = {}
        for name in names:
            numbers[name] = np.array([_number((line.get("items") or {}).get(name))
                                      for line in lines])
            statuses[name] = np.array([V.STATUS_CODE.get((line.get("status") or {}).get(name), -1)
                                       for line in lines], dtype=np.int8)
        prompt, response = _first_column(lines, PROMPT_COLUMNS), _first_column(lines, RESPONSE_COLUMNS)
        return cls(lines, list(names), numbers, statuses, prompt, response,
                   _texts(lines, prompt), _texts(lines, response))

    # ---- the query --------------------------------------------------------------------------

    def select(self, q: Query) -> np.ndarray:
        """The indices of the rows `q` keeps, in its order."""
        key = q.key()
        if key in self._answers:
            self._answers.move_to_end(key)
            return self._answers[key]
        keep = self._mask(q)
        rows = np.flatnonzero(keep)
        if q.sort != "row":
            if q.sort not in self.numbers:
                raise QueryError(f"sort: no column {q.sort!r}")
            col = self.numbers[q.sort][rows]
            col = np.where(np.isnan(col), -np.inf if q.desc else np.inf, col)  # no value: last
            order = np.argsort(-col if q.desc else col, kind="stable")
            rows = rows[order]
        elif q.desc:
            rows = rows[::-1]
        self._answers[key] = rows
        if len(self._answers) > 16:
            self._answers.popitem(last=False)
        return rows

    def _mask(self, q: Query) -> np.ndarray:
        keep = np.ones(len(self), dtype=bool)
        reward = self.numbers["reward"]
        if q.reward == "none":
            keep &= np.isnan(reward)
        elif q.reward == "scored":
            keep &= ~np.isnan(reward)
        elif q.reward != "any":
            raise QueryError(f"reward: {q.reward!r} is not any, none or scored")
        with np.errstate(invalid="ignore"):
            if q.reward_min is not None:
                keep &= reward >= q.reward_min
            if q.reward_max is not None:
                keep &= reward <= q.reward_max
            if q.item:
                keep &= self._item_mask(q)
            if q.changed:
                if "delta" not in self.numbers:
                    raise QueryError("changed: only a comparison has a second reward")
                b = self.numbers["reward_b"]
                keep &= (self.numbers["delta"] != 0) | (np.isnan(reward) != np.isnan(b))
        if q.text:
            keep &= self._text_mask(q, keep)
        return keep

    def _item_mask(self, q: Query) -> np.ndarray:
        if q.item not in self.statuses:
            raise QueryError(f"item: no item {q.item!r} (items: {', '.join(self.names)})")
        codes, value = self.statuses[q.item], self.numbers[q.item]
        keep = codes >= 0
        if q.status == PASSED:
            keep &= (codes == V.STATUS_CODE[V.OK]) & (value >= 1)
        elif q.status == FAILED:
            keep &= (codes == V.STATUS_CODE[V.OK]) & (value < 1)
        elif q.status in V.STATUS_CODE:
            keep &= codes == V.STATUS_CODE[q.status]
        elif q.status:
            raise QueryError(f"status: {q.status!r} is not one of {', '.join(ITEM_STATES)}")
        if q.value_min is not None:
            keep &= value >= q.value_min
        if q.value_max is not None:
            keep &= value <= q.value_max
        return keep

    def _text_mask(self, q: Query, keep: np.ndarray) -> np.ndarray:
        """Search only the rows the other filters kept, and a row's response only when its prompt
        did not match; a substring search ignores case."""
        if q.field not in ("prompt", "response", "both"):
            raise QueryError(f"field: {q.field!r} is not prompt, response or both")
        names = {"prompt": ["prompts"], "response": ["responses"],
                 "both": ["prompts", "responses"]}[q.field]
        if q.regex:
            try:
                search = re.compile(q.text).search
            except re.error as e:
                raise QueryError(f"regex: {e}") from None
            columns = [getattr(self, c) for c in names]
        else:
            needle = q.text.casefold()
            columns = [self._casefolded(c) for c in names]
        found = np.zeros(len(self), dtype=bool)
        todo = np.flatnonzero(keep)
        for column in columns:
            texts = column if len(todo) == len(self) else [column[i] for i in todo.tolist()]
            hits = [search(t) is not None for t in texts] if q.regex else [needle in t for t in texts]
            found[todo] = hits
            todo = todo[~np.asarray(hits, dtype=bool)]
        return found

    def _casefolded(self, column: str) -> list[str]:
        if column not in self._folded:
            self._folded[column] = [s.casefold() for s in getattr(self, column)]
        return self._folded[column]

    # ---- what the page shows ----------------------------------------------------------------

    def summary_of(self, i: int) -> dict:
        """A table row: the numbers and statuses, and the start of the prompt and response."""
        out = {"row": i + 1, "prompt": self.prompts[i][:200], "response": self.responses[i][:200]}
        for name, col in self.numbers.items():
            out[name] = None if math.isnan(col[i]) else float(col[i])
        out["status"] = {name: V.STATUSES[c[i]] for name, c in self.statuses.items() if c[i] >= 0}
        if self.lines[i].get("error"):
            out["error"] = self.lines[i]["error"]
        return out

    def item_summary(self) -> list[dict]:
        """Per item: its mean over ok rows and how many rows are in each state."""
        out = []
        for name in self.names:
            codes, value = self.statuses[name], self.numbers[name]
            ok = codes == V.STATUS_CODE[V.OK]
            counts = {s: int((codes == V.STATUS_CODE[s]).sum()) for s in V.STATUSES}
            counts[PASSED] = int((ok & (value >= 1)).sum())
            counts[FAILED] = int((ok & (value < 1)).sum())
            out.append({"item": name, "mean": float(value[ok].mean()) if ok.any() else None,
                        **counts})
        return out


def compare(a: Frame, b: Frame) -> tuple[Frame, dict]:
    """Two outputs of the same data, row by row: a frame of A's rows with B's reward and the
    change beside them, and per item how often the two agree.

    Rows pair by position (the same data file scored twice); a pair whose prompt or response
    differ is counted, since then the two are not outputs of the same data.
    """
    if len(a) != len(b):
        raise QueryError(f"A has {len(a)} rows and B {len(b)}: compare two outputs of the same data")
    numbers = dict(a.numbers)
    numbers["reward_b"] = b.numbers["reward"]
    numbers["delta"] = b.numbers["reward"] - a.numbers["reward"]
    frame = Frame(a.lines, a.names, numbers, a.statuses, a.prompt_column, a.response_column,
                  a.prompts, a.responses)
    mismatched = sum(pa != pb or ra != rb for pa, pb, ra, rb in
                     zip(a.prompts, b.prompts, a.responses, b.responses))
    items = []
    for name in [n for n in a.names if n in b.statuses]:
        sa, sb, va, vb = a.statuses[name], b.statuses[name], a.numbers[name], b.numbers[name]
        both = (sa >= 0) & (sb >= 0)
        same = both & (sa == sb) & ((np.abs(va - vb) < 1e-9) | (np.isnan(va) & np.isnan(vb)))
        ok = both & (sa == 0) & (sb == 0)
        items.append({"item": name, "rows": int(both.sum()),
                      "agree": float(same.sum() / both.sum()) if both.any() else None,
                      "mean_a": float(va[ok].mean()) if ok.any() else None,
                      "mean_b": float(vb[ok].mean()) if ok.any() else None})
    ra, rb = a.numbers["reward"], b.numbers["reward"]
    moved = (np.abs(rb - ra) > 1e-12) | (np.isnan(ra) != np.isnan(rb))
    summary = {"rows": len(a), "changed": int(moved.sum()), "mismatched_rows": int(mismatched),
               "only_a": [n for n in a.names if n not in b.statuses],
               "only_b": [n for n in b.names if n not in a.statuses],
               "mean_a": _mean(ra), "mean_b": _mean(rb), "items": items}
    return frame, summary


def _mean(col: np.ndarray) -> float | None:
    ok = ~np.isnan(col)
    return float(col[ok].mean()) if ok.any() else None

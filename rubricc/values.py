"""The meaning of one value, shared by both engines: operators, failures, item values, statuses.

A value that could not be computed is a `Failed` (status `error` or `timeout`, with a message);
it propagates through every operation that uses it, so it surfaces as a status, never as a 0.

>>> binary("+", 1.0, True), binary("/", 1.0, 0.0).status, item_value(True)
(2.0, 'error', 1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

OK, SKIPPED, NA, ERROR, TIMEOUT = "ok", "skipped", "na", "error", "timeout"
STATUSES = (OK, SKIPPED, NA, ERROR, TIMEOUT)
STATUS_CODE = {s: i for i, s in enumerate(STATUSES)}


@dataclass(frozen=True)
class Failed:
    status: str  # error or timeout
    message: str


def encodable(value):
    """The value with every lone surrogate in its texts replaced by U+FFFD, so that each text can
    be encoded as UTF-8 (RE2, the sandbox, a judge's HTTP request). Lists and records are
    walked; anything else is returned as it is.

    >>> encodable(chr(0xD800) + "7"), encodable(["ok", {"a": "b"}])
    ('\ufffd7', ['ok', {'a': 'b'}])
    """
    if isinstance(value, str):
        if value.isascii():
            return value
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # through UTF-16: a split pair joins, a lone half becomes U+FFFD
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if isinstance(value, list):
        return [encodable(v) for v in value]
    if isinstance(value, dict):
        return {k: encodable(v) for k, v in value.items()}
    return value


def failed_arg(args) -> Failed | None:
    return next((a for a in args if isinstance(a, Failed)), None)


def call(fn, args: tuple, label: str) -> object:
    """Call a cheap built-in in-process; an exception becomes an `error` value."""
    bad = failed_arg(args)
    if bad is not None:
        return bad
    try:
        return fn(*args)
    except Exception as exc:  # a built-in failing on odd input is data, not a crash
        return Failed(ERROR, f"{label}: {type(exc).__name__}: {exc}")


def _num(x):
    return float(x) if isinstance(x, bool) else x


def _arith(op: str, a, b):
    if op == "+" and isinstance(a, str):
        return a + b
    a, b = _num(a), _num(b)
    if op == "/" and b == 0:
        raise ZeroDivisionError("division by zero")
    result = {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else 0.0}[op]
    return float(result)


def _compare(op: str, a, b) -> bool:
    if op == "==":
        return _num(a) == _num(b)
    if op == "!=":
        return _num(a) != _num(b)
    a, b = _num(a), _num(b)
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _member(a, b) -> bool:
    """`a in b`: an element of a list (compared as `==` does), a part of a text, a key of a record."""
    if isinstance(b, list):
        return any(_compare("==", a, x) for x in b)
    if isinstance(b, str) and isinstance(a, str):
        return a in b
    if isinstance(b, dict) and isinstance(a, str):
        return a in b
    raise TypeError(f"{type(a).__name__} in {type(b).__name__}")


def elements(source) -> list | Failed:
    """What `for x in source` and `judge each x in source` go over: a list's elements, none as no
    elements; anything else (a JSON text or object where a list was expected) is an error."""
    if isinstance(source, Failed):
        return source
    if source is None or isinstance(source, list):
        return list(source or [])
    return Failed(ERROR, f"`for`/`judge each` needs a list, found {type(source).__name__}")


def binary(op: str, a, b) -> object:
    """A strict binary operator (not `and`, `or`, `??`, which both engines evaluate lazily)."""
    bad = failed_arg((a, b))
    if bad is not None:
        return bad
    try:
        if op in ("==", "!=", "<", "<=", ">", ">="):
            return _compare(op, a, b)
        if op in ("in", "not in"):
            return _member(a, b) == (op == "in")
        return _arith(op, a, b)
    except (TypeError, ZeroDivisionError, OverflowError) as exc:
        return Failed(ERROR, f"`{op}`: {exc}")


def unary(op: str, a) -> object:
    if isinstance(a, Failed):
        return a
    return (not a) if op == "not" else -float(a)


def field(obj, name: str, safe: bool = False) -> object:
    """`obj.name`, an error where there is no such field; `obj?.name` (`safe`) is none there."""
    if isinstance(obj, Failed):
        return obj
    if not isinstance(obj, dict) or name not in obj:
        return None if safe else Failed(ERROR, f"no field `{name}` in {type(obj).__name__} value")
    return obj[name]


def index(obj, i, safe: bool = False) -> object:
    """`obj[i]`, an error where there is nothing at `i`; `obj?[i]` (`safe`) is none there."""
    bad = failed_arg((obj, i))
    if bad is not None:
        return bad
    try:
        if isinstance(obj, dict):
            return obj[i]
        return obj[int(i)]
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        return None if safe else Failed(ERROR, f"index {i!r}: {type(exc).__name__}")


def length(obj) -> object:
    if isinstance(obj, Failed):
        return obj
    if obj is None:
        return Failed(ERROR, "len of none")
    return float(len(obj))


def item_value(v) -> object:
    """What an item's expression yields as a score: true is 1, false 0, numbers within [0, 1]."""
    if isinstance(v, Failed):
        return v
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if not isinstance(v, (int, float)) or math.isnan(v):
        return Failed(ERROR, f"an item produced {v!r}, not a score")
    if not 0.0 <= v <= 1.0:
        return Failed(ERROR, f"an item produced {v}, outside [0, 1]")
    return float(v)


def status_of(v) -> str:
    return v.status if isinstance(v, Failed) else OK


def truthy(v) -> bool | Failed:
    """A condition's outcome; a failed condition stays failed."""
    return v if isinstance(v, Failed) else bool(v)

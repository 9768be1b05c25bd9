"""The value types of the rubric language.

A type is a frozen value; `fits(actual, expected)` is the one subtyping rule the checker uses.

>>> render(Optional(TEXT))
'text?'
>>> fits(BOOL, NUMBER), fits(Optional(TEXT), TEXT), fits(NONE, Optional(TEXT))
(True, False, True)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Prim:
    """text, number, bool, none, json (any parsed JSON value), regex, any (unchecked)."""

    name: str


@dataclass(frozen=True)
class Optional:
    """A value that may be `none`."""

    inner: Prim | ListOf | Record


@dataclass(frozen=True)
class ListOf:
    elem: Type


@dataclass(frozen=True)
class Record:
    fields: tuple[tuple[str, Type], ...]

    def field(self, name: str) -> Type | None:
        return dict(self.fields).get(name)


Type = Prim | Optional | ListOf | Record

TEXT = Prim("text")
NUMBER = Prim("number")
BOOL = Prim("bool")
NONE = Prim("none")
JSON = Prim("json")
REGEX = Prim("regex")
ANY = Prim("any")

PRIMITIVES = {t.name: t for t in (TEXT, NUMBER, BOOL, JSON, ANY)}


def optional(t: Type) -> Type:
    """`t?`, flattening `t??` and `none?`."""
    if isinstance(t, Optional) or t in (NONE, ANY, JSON):
        return t
    return Optional(t)


def strip_none(t: Type) -> Type:
    """The type of a value once it is known not to be `none`."""
    return t.inner if isinstance(t, Optional) else t


def is_optional(t: Type) -> bool:
    return isinstance(t, Optional) or t == NONE


def fits(actual: Type, expected: Type) -> bool:
    """Can a value of type `actual` go where `expected` is asked for?"""
    if ANY in (actual, expected) or actual == expected:
        return True
    if expected == JSON:
        return actual != REGEX
    if actual == JSON:
        return True  # JSON values are checked when they are used
    if actual == BOOL and expected == NUMBER:
        return True  # true is 1, false is 0: a check may be a condition or a score
    if isinstance(expected, Optional):
        return actual == NONE or fits(strip_none(actual), expected.inner)
    if isinstance(actual, ListOf) and isinstance(expected, ListOf):
        return fits(actual.elem, expected.elem)
    if isinstance(actual, Record) and isinstance(expected, Record):
        have = dict(actual.fields)
        return all(n in have and fits(have[n], t) for n, t in expected.fields)
    return False


def join(a: Type, b: Type) -> Type:
    """The type of `if c then a else b`."""
    if a == b:
        return a
    if a == NONE:
        return optional(b)
    if b == NONE:
        return optional(a)
    if fits(a, b):
        return b
    if fits(b, a):
        return a
    if fits(strip_none(a), strip_none(b)) or fits(strip_none(b), strip_none(a)):
        return optional(join(strip_none(a), strip_none(b)))
    return ANY


def render(t: Type) -> str:
    if isinstance(t, Prim):
        return t.name
    if isinstance(t, Optional):
        return render(t.inner) + "?"
    if isinstance(t, ListOf):
        return f"list[{render(t.elem)}]"
    return "{" + ", ".join(f"{n}: {render(f)}" for n, f in t.fields) + "}"


def describe(value: object) -> Type:
    """The type of a runtime value, for data rows and test fields."""
    if value is None:
        return NONE
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, (int, float)):
        return NUMBER
    if isinstance(value, str):
        return TEXT
    return JSON


def conforms(value: object, t: Type) -> bool:
    """Does a runtime value (from a data row) have type `t`?"""
    if t in (ANY, JSON):
        return True
    if isinstance(t, Optional):
        return value is None or conforms(value, t.inner)
    if isinstance(t, ListOf):
        return isinstance(value, list) and all(conforms(v, t.elem) for v in value)
    if isinstance(t, Record):
        return isinstance(value, dict) and all(
            n in value and conforms(value[n], f) for n, f in t.fields
        )
    if t == NUMBER:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    # A list or an object is `json`, and `fits(JSON, t)` defers the check to where the value is
    # used; in a data row that would let a list through as text, so only a primitive fits here.
    actual = describe(value)
    return actual != JSON and fits(actual, t)

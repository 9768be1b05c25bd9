"""The table of built-in functions that rubrics call.

A built-in is a plain Python function whose annotations are its rubric signature:
`str` is text, `float` number, `bool` bool, `Regex` regex, `Json` json, `X | None` an optional X,
`list[X]` a list. Heavy built-ins (sympy, code execution) run in the worker pool under a deadline;
the others run in-process. A batched built-in (a model) takes columns and returns one: it is called
once per batch with every distinct pending call, on the scorer's device.

>>> @builtin()
... def shout(text: str, times: float = 1) -> str:
...     return text.upper() * int(times)
>>> REGISTRY["shout"].signature()
'shout(text: text, times: number = 1) -> text'
>>> del REGISTRY["shout"]
>>> @builtin(batched=True)
... def longer(a: list[str], b: list[str], *, device=None) -> list[bool]:
...     return [len(x) > len(y) for x, y in zip(a, b)]
>>> REGISTRY["longer"].signature()
'longer(a: text, b: text) -> bool'
>>> del REGISTRY["longer"]
"""

from __future__ import annotations

import inspect
import types as pytypes
import typing
from collections.abc import Callable
from dataclasses import dataclass

from rubricc import types as t


@dataclass(frozen=True)
class Regex:
    """A regex literal `/pattern/flags` as a runtime value (picklable; compiled with RE2 on use)."""

    pattern: str
    flags: str = ""


class Json:
    """Annotation marker for a parsed JSON value (dict, list, str, number, bool or None)."""


_NO_DEFAULT = inspect.Parameter.empty


@dataclass(frozen=True)
class Param:
    name: str
    type: t.Type
    default: object = _NO_DEFAULT

    @property
    def required(self) -> bool:
        return self.default is _NO_DEFAULT


@dataclass(frozen=True)
class Builtin:
    name: str
    fn: Callable[..., object]
    params: tuple[Param, ...]
    returns: t.Type
    heavy: bool
    doc: str
    batched: bool = False
    inline: Callable[..., bool] | None = None
    """For a heavy built-in: given a call's arguments, is the call cheap and bounded enough to make
    in the scoring process? Then it skips the pool's round trip (which costs more than it)."""

    def signature(self) -> str:
        def one(p: Param) -> str:
            d = "" if p.required else f" = {p.default!r}".replace("'", '"')
            return f"{p.name}: {t.render(p.type)}{d}"

        return f"{self.name}({', '.join(map(one, self.params))}) -> {t.render(self.returns)}"


REGISTRY: dict[str, Builtin] = {}

_SIMPLE = {str: t.TEXT, float: t.NUMBER, int: t.NUMBER, bool: t.BOOL, Regex: t.REGEX, Json: t.JSON}


def rubric_type(hint: object) -> t.Type:
    """Map a Python annotation to a rubric type."""
    if hint in _SIMPLE:
        return _SIMPLE[hint]
    if hint is type(None):
        return t.NONE
    args = typing.get_args(hint)
    if typing.get_origin(hint) is list:
        return t.ListOf(rubric_type(args[0]))
    if typing.get_origin(hint) in (typing.Union, pytypes.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1 and len(args) == 2:
            return t.optional(rubric_type(inner[0]))
    if hint is object:
        return t.ANY
    raise TypeError(f"no rubric type for annotation {hint!r}")


def builtin(heavy: bool = False, name: str | None = None, batched: bool = False,
            inline: Callable[..., bool] | None = None):
    """Register a function as a rubric built-in; its annotations give the signature.

    A batched built-in's parameters are columns, `list[X]` for a rubric parameter of type X, and
    it returns `list[Y]`, one result per row; a keyword-only `device` says where to compute. A
    heavy built-in runs in the worker pool, except the calls its `inline` says are cheap.
    """

    def register(fn: Callable[..., object]) -> Callable[..., object]:
        hints = typing.get_type_hints(fn)
        sig = inspect.signature(fn)
        if batched:  # the rubric sees one element of each column
            hints = {k: _element(fn, h) for k, h in hints.items() if k != "device"}
        params = tuple(
            Param(p.name, rubric_type(hints[p.name]), p.default)
            for p in sig.parameters.values() if not (batched and p.name == "device")
        )
        key = name or fn.__name__
        doc = inspect.getdoc(fn) or ""
        REGISTRY[key] = Builtin(key, fn, params, rubric_type(hints["return"]), heavy, doc, batched,
                                inline)
        return fn

    return register


def _element(fn: Callable[..., object], hint: object) -> object:
    if typing.get_origin(hint) is not list:
        raise TypeError(f"batched built-in {fn.__name__}: {hint!r} is not a column (list[X])")
    return typing.get_args(hint)[0]

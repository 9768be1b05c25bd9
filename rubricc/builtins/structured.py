"""Structured output: JSON Schema validation and tool-call checks.

Validation uses the `jsonschema` package (Draft 2020-12 unless the schema names its draft).

>>> schema = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
>>> json_schema_valid({"name": "x"}, schema), json_schema_valid({"name": 3}, schema)
(True, False)
>>> tool_call('<tool_call>{"name": "add", "arguments": {"a": 1}}</tool_call>')
{'name': 'add', 'arguments': {'a': 1}}
>>> tool_calls('<tool_call>{"name": "a", "arguments": {}}</tool_call><tool_call>{oops</tool_call>'
...            '<tool_call>{"type": "function", "function": {"name": "b"}}</tool_call>')
[{'name': 'a', 'arguments': {}}, {'name': 'b', 'arguments': {}}]
>>> keys({"city": "Paris", "days": 3}), keys(None)
(['city', 'days'], [])
"""

from __future__ import annotations

import json

import jsonschema

from rubricc.builtins.extract import _loads, json_parse
from rubricc.builtins.registry import Json, builtin

_OPEN, _CLOSE = "<tool_call>", "</tool_call>"


def _validator(schema: object):
    try:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"invalid JSON schema: {exc.message}") from None
    return cls(schema)


@builtin()
def json_schema_valid(value: Json, schema: Json) -> bool:
    """Does `value` satisfy the JSON Schema `schema`? An invalid schema is an error, not a no."""
    return _validator(schema).is_valid(value)


@builtin()
def json_schema_errors(value: Json, schema: Json) -> list[str]:
    """Why `value` fails `schema`: one message per violation, with its path (empty when valid)."""
    errors = sorted(_validator(schema).iter_errors(value), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors]


def _tagged(text: str) -> list[str]:
    """The contents of the closed `<tool_call>` tags, stripped, in order: each opening is paired
    with the first closing after it. One pass over the text (a regex with a lazy `.*?` took
    quadratic time on a response repeating `<tool_call>` without closing it)."""
    found, start = [], 0
    while (opening := text.find(_OPEN, start)) >= 0:
        closing = text.find(_CLOSE, opening + len(_OPEN))
        if closing < 0:
            break
        found.append(text[opening + len(_OPEN):closing].strip())
        start = closing + len(_CLOSE)
    return found


@builtin()
def tool_call(text: str) -> Json:
    """The last tool call in a response, as `{"name": ..., "arguments": {...}}`, or none.

    Reads `<tool_call>{...}</tool_call>` (Hermes/Qwen style), else a bare or fenced JSON object
    with a `name`. String-encoded `arguments` (OpenAI style) are decoded. See `tool_calls` for
    every call of a response.
    """
    tagged = _tagged(text)
    call = json_parse(tagged[-1]) if tagged else json_parse(text)
    if not isinstance(call, dict) or not isinstance(call.get("name"), str):
        return None
    arguments = call.get("arguments", call.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            return None
    return {"name": call["name"], "arguments": arguments}


def _one_call(value: object) -> dict | None:
    """`value` as `{"name", "arguments"}` when it is a well-formed call, else none."""
    if isinstance(value, dict) and "name" not in value and isinstance(value.get("function"), dict):
        value = value["function"]  # OpenAI: {"type": "function", "function": {...}}
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return None
    arguments = value.get("arguments", value.get("parameters"))
    if isinstance(arguments, str):
        parsed, arguments = _loads(arguments)
        if not parsed:
            return None
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        return None
    return {"name": value["name"], "arguments": arguments}


@builtin()
def tool_calls(text: str) -> list[Json]:
    """Every tool call in a response, in order, each as `{"name": ..., "arguments": {...}}`.

    Reads every `<tool_call>...</tool_call>` tag (Hermes/Qwen; parallel calls are several tags,
    and a tag may hold a JSON list of calls); when there is no closed tag, the response's JSON
    (the whole text, else its last fenced block, as `json_parse` reads it): one call, a list of
    calls, or an OpenAI message `{"tool_calls": [...]}`. A call is an object with a text `name`
    and its `arguments` (or `parameters`), or OpenAI's `{"type": "function", "function": {...}}`.
    Arguments given as a JSON text are decoded; missing or null arguments are `{}`.

    A malformed call is left out, so it counts as no call: a tag whose content is not JSON,
    a call without a text name, arguments that are not an object (a list, a number) or a text
    that does not decode to one. A rubric that must penalise a broken call beside good ones
    compares `len(tool_calls(response))` with `count(response, "<tool_call>")`.
    """
    tagged = _tagged(text)
    found = []
    for value in [json_parse(t) for t in tagged] if tagged else [json_parse(text)]:
        if isinstance(value, dict) and "name" not in value and isinstance(value.get("tool_calls"), list):
            value = value["tool_calls"]  # an OpenAI assistant message
        for item in value if isinstance(value, list) else [value]:
            call = _one_call(item)
            if call is not None:
                found.append(call)
    return found


@builtin()
def keys(value: Json) -> list[str]:
    """The keys of a JSON object, in order: `[e for e in keys(call.arguments) if ...]` goes over
    a call's arguments. None has no keys; anything else that is not an object is an error."""
    if value is None:
        return []
    if not isinstance(value, dict):
        raise ValueError(f"keys needs a JSON object, found {type(value).__name__}")
    return list(value)


@builtin()
def tool_call_valid(text: str, name: str, schema: Json) -> bool:
    """Does the response call tool `name` with arguments that satisfy `schema`?"""
    call = tool_call(text)
    return call is not None and call["name"] == name and json_schema_valid(call["arguments"], schema)

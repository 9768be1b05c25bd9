"""Structured output: JSON Schema validation and tool-call checks.

Validation uses the `jsonschema` package (Draft 2020-12 unless the schema names its draft).

>>> schema = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
>>> json_schema_valid({"name": "x"}, schema), json_schema_valid({"name": 3}, schema)
(True, False)
>>> tool_call('<tool_call>{"name": "add", "arguments": {"a": 1}}</tool_call>')
{'name': 'add', 'arguments': {'a': 1}}
"""

from __future__ import annotations

import json
import re

import jsonschema

from rubricc.builtins.extract import json_parse
from rubricc.builtins.registry import Json, builtin

_TOOL_TAG = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.S)


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


@builtin()
def tool_call(text: str) -> Json:
    """The last tool call in a response, as `{"name": ..., "arguments": {...}}`, or none.

    Reads `<tool_call>{...}</tool_call>` (Hermes/Qwen style), else a bare or fenced JSON object
    with a `name`. String-encoded `arguments` (OpenAI style) are decoded.
    """
    tagged = _TOOL_TAG.findall(text)
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


@builtin()
def tool_call_valid(text: str, name: str, schema: Json) -> bool:
    """Does the response call tool `name` with arguments that satisfy `schema`?"""
    call = tool_call(text)
    return call is not None and call["name"] == name and json_schema_valid(call["arguments"], schema)

"""IFEval built-ins: Google's verifiable instructions, judged strictly or loosely.

Each row carries `instruction_id_list` (ids such as "punctuation:no_comma") and `kwargs` (one dict
of arguments per id). The strict protocol checks the response as it is. The loose protocol also
tries it without its first line, without its last line, without both, and each of those with every
`*` removed; an instruction passes when any variant passes. An empty response follows nothing.

>>> ids, kwargs = ["punctuation:no_comma", "startend:quotation"], [{}, {}]
>>> ifeval_follows('"Hi there"', ids, kwargs, "")
[True, True]
>>> ifeval_strict('Sure!\\n"Hi there"', ids, kwargs, ""), ifeval_all_loose('Sure!\\n"Hi there"', ids, kwargs, "")
(0.5, True)
"""

from rubricc.builtins.ifeval_checks import CHECKS
from rubricc.builtins.registry import Json, builtin


def follows(response: str, instruction_id: str, kwargs: dict | None, prompt: str) -> bool:
    """Whether `response` follows one instruction under the strict protocol."""
    if instruction_id not in CHECKS:
        raise ValueError(f"unknown IFEval instruction id {instruction_id!r}")
    arguments = {k: v for k, v in (kwargs or {}).items() if v is not None}
    return bool(response.strip()) and CHECKS[instruction_id](response, arguments, prompt)


def loose_variants(response: str) -> list[str]:
    """The response and the seven relaxed forms the loose protocol also accepts."""
    lines = response.split("\n")
    trimmed = [
        response,
        "\n".join(lines[1:]).strip(),
        "\n".join(lines[:-1]).strip(),
        "\n".join(lines[1:-1]).strip(),
    ]
    return trimmed + [text.replace("*", "") for text in trimmed]


def _verdicts(response: str, ids: list[str], kwargs: Json, prompt: str, loose: bool) -> list[bool]:
    arguments = list(kwargs or []) + [{}] * (len(ids) - len(kwargs or []))
    variants = loose_variants(response) if loose else [response]
    return [
        any(follows(text, id_, args, prompt) for text in variants)
        for id_, args in zip(ids, arguments)
    ]


@builtin()
def ifeval_follows(
    response: str, instruction_ids: list[str], kwargs: Json, prompt: str, loose: bool = False
) -> list[bool]:
    """One verdict per instruction id, in order (strict unless `loose`)."""
    return _verdicts(response, instruction_ids, kwargs, prompt, loose)


def _fraction(verdicts: list[bool]) -> float:
    return sum(verdicts) / len(verdicts) if verdicts else 1.0


@builtin()
def ifeval_strict(response: str, instruction_ids: list[str], kwargs: Json, prompt: str) -> float:
    """The fraction of the row's instructions followed, strict protocol (1 when there are none)."""
    return _fraction(_verdicts(response, instruction_ids, kwargs, prompt, loose=False))


@builtin()
def ifeval_loose(response: str, instruction_ids: list[str], kwargs: Json, prompt: str) -> float:
    """The fraction of the row's instructions followed, loose protocol (1 when there are none)."""
    return _fraction(_verdicts(response, instruction_ids, kwargs, prompt, loose=True))


@builtin()
def ifeval_all_strict(response: str, instruction_ids: list[str], kwargs: Json, prompt: str) -> bool:
    """True when every instruction is followed, strict protocol."""
    return all(_verdicts(response, instruction_ids, kwargs, prompt, loose=False))


@builtin()
def ifeval_all_loose(response: str, instruction_ids: list[str], kwargs: Json, prompt: str) -> bool:
    """True when every instruction is followed, loose protocol."""
    return all(_verdicts(response, instruction_ids, kwargs, prompt, loose=True))


@builtin()
def no_comma(text: str) -> bool:
    """IFEval's `punctuation:no_comma`: the text has no comma.

    >>> no_comma("Paris is big."), no_comma("Paris, France")
    (True, False)
    """
    return "," not in text

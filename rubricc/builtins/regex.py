"""Regex built-ins, run with RE2 so that a rubric's pattern always matches in linear time.

A rubric writes `/pattern/flags`; flags are `i` (ignore case), `m` (`^`/`$` match at line ends) and
`s` (`.` matches a newline). RE2 has no backreferences or lookaround; `compile_regex` is what the
linter calls to report such patterns before any scoring starts.

>>> extract("Answer: 42", Regex(r"answer:\\s*(\\d+)", "i"))
'42'
"""

import functools

import re2

from rubricc.builtins.registry import Regex, builtin

_FLAGS = {"i": "i", "m": "m", "s": "s"}

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # the caller reports the error; RE2 would also print it to stderr


@functools.lru_cache(maxsize=1024)
def compile_regex(pattern: str, flags: str = ""):
    """Compile a rubric regex with RE2, or raise `re2.error` saying why RE2 rejects it.

    >>> compile_regex("a+b", "i").search("xAAB").group(0)
    'AAB'
    >>> compile_regex(r"(a)\\1")
    Traceback (most recent call last):
    re2._re2.Error: invalid escape sequence: \\1
    """
    unknown = sorted(set(flags) - set(_FLAGS))
    if unknown:
        raise re2.error(f"unknown regex flag {unknown[0]!r}; the flags are i, m and s")
    inline = "".join(sorted({_FLAGS[f] for f in flags}))
    prefix = f"(?{inline})" if inline else ""
    try:
        return re2.compile(prefix + pattern, _OPTIONS)
    except re2.error as err:
        raise re2.error(_message(err)) from None


def _message(err: Exception) -> str:
    """RE2 reports errors as bytes; the linter wants text."""
    detail = err.args[0] if err.args else str(err)
    return detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)


def _compiled(pattern: Regex):
    return compile_regex(pattern.pattern, pattern.flags)


def _chosen(match) -> str:
    """Group 1 when the pattern has a group, else the whole match; a group that took no part is ""."""
    if match.re.groups == 0:
        return match.group(0)
    return match.group(1) or ""


@builtin()
def matches(text: str, pattern: Regex) -> bool:
    """True when the pattern matches anywhere in the text.

    >>> matches("<think>x</think> 4", Regex(r"<think>.*</think>"))
    True
    """
    return _compiled(pattern).search(text) is not None


@builtin()
def fullmatch(text: str, pattern: Regex) -> bool:
    """True when the pattern matches the whole text.

    >>> fullmatch("42", Regex(r"\\d+")), fullmatch("42!", Regex(r"\\d+"))
    (True, False)
    """
    return _compiled(pattern).fullmatch(text) is not None


@builtin()
def extract(text: str, pattern: Regex) -> str | None:
    """The first match (its group 1 if the pattern has groups), or none when nothing matches.

    >>> extract("x=1, x=2", Regex(r"x=(\\d)")), extract("abc", Regex(r"\\d")) is None
    ('1', True)
    """
    match = _compiled(pattern).search(text)
    return None if match is None else _chosen(match)


@builtin()
def extract_last(text: str, pattern: Regex) -> str | None:
    """The last match (its group 1 if the pattern has groups), or none when nothing matches.

    >>> extract_last("x=1, x=2", Regex(r"x=(\\d)"))
    '2'
    """
    last = None
    for match in _compiled(pattern).finditer(text):
        last = match
    return None if last is None else _chosen(last)


@builtin()
def extract_all(text: str, pattern: Regex) -> list[str]:
    """Every non-overlapping match, in order (each its group 1 if the pattern has groups).

    >>> extract_all("a1 b22 c333", Regex(r"[a-z](\\d+)"))
    ['1', '22', '333']
    """
    return [_chosen(match) for match in _compiled(pattern).finditer(text)]


@builtin()
def count_matches(text: str, pattern: Regex) -> float:
    """How many non-overlapping matches the pattern has in the text.

    >>> count_matches("one two three", Regex(r"\\w+"))
    3.0
    """
    return float(sum(1 for _ in _compiled(pattern).finditer(text)))

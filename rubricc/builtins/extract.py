"""Built-ins that pull the graded part out of a response: boxed answers, tags, code, JSON.

>>> last_boxed(r"so $x = \\boxed{\\frac{1}{2}}$.")
'\\\\frac{1}{2}'
>>> tag("<answer> 7 </answer>", "answer")
'7'
"""

import functools
import json
import re
from collections.abc import Iterator

import re2

from rubricc.builtins.registry import Json, builtin

# Patterns that scan for an opening and its closing run in RE2: Python's `re` takes quadratic time
# on a degenerate response full of openings ("<think><think>..."), and these run in-process.
_FENCE = re2.compile(r"(?ms)^[ \t]*```[ \t]*([^\s`]*)[^\n]*\n(.*?)^[ \t]*```")
_THINK_BLOCK = re2.compile(r"(?s)<think>.*?</think>")
# The greedy `.*` finds the last phrase even inside another ("Answer: The final answer is 5").
_LAST_ANSWER_PHRASE = re2.compile(r"(?is).*answer\s*(?:is\s*:?|:)[\s*]*([^\n]+)")
# Python's `re` (RE2's wrapper is slow per match, and a response may hold thousands of numbers,
# and RE2 has no lookarounds), so each alternative is checked by hand to cost time linear in the
# text over the whole scan (`_candidates`): a span stops at the next opening, so an unclosed `\(`
# costs one scan, not one per opening. A number: thousands grouped by commas or spaces (`1,234`,
# `1 000`), a decimal comma before two digits (`2,74`), a leading point (`.4`), a slash fraction.
# An escaped `\$` does not end a span.
_DOLLAR_SPANS = r"\$\$((?:[^$\\]|\\.)+)\$\$|\$((?:[^$\\]|\\.)+)\$"
# A `$` whose span runs to the end of the text: no later `$` can open a span either (each is the
# second character of a `\$` pair), so the scan goes on without the `$` alternatives; without
# this, every such `\$` would scan to the end again (`$\$\$\$...`: quadratic).
_UNCLOSED_DOLLAR = r"(?P<unclosed>\$(?:[^$\\]|\\.)*+\\?\Z)"
_BRACKET_SPANS = r"\\\(((?:(?!\\[()]).)+)\\\)|\\\[((?:(?!\\[\[\]]).)+)\\\]"
# Comma groups that a digit or a comma follows (`1,111,111,`) are no number: each piece is one.
# Matched whole, once, and split by `_candidates`; without this, the search tried the same run
# again from each group (`1,111,111,...,`: quadratic, 22 s at 80 KB).
_BROKEN_COMMA_GROUPS = r"(?P<commas>(?<![\d.])-?\d{1,3}+(?:,\d{3})++(?=[\d,]))"
# `−` (U+2212) is a minus sign too: "The answer is −3." is not 3. A mixed number is one number
# (`2 3/4` is 11/4, not the list `2, 3/4`), and so are a vulgar fraction (`2½`, `¾`), a number
# with a superscript power (`10³`, `10⁻³`), a repeating decimal (`0.(6)`, `0.1\overline{6}`,
# `0.666...`) and a percentage (`50%`), as `math_equal` reads them. Unicode math joins numbers
# into one answer: `√2/2`, `3√3`, `2π/3`, `∞`, `2 × 10³`, `12÷4`, `2·5`; a plain `/` only
# before a root or π (`3/√2`), so `12/25/2020` stays as it was read. A number with an imaginary
# part is one answer (`3i`, `3 − 4i`, `2+i`: `3i` is not 3), and `±2` keeps its sign.
_VULGAR = "½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅐⅛⅜⅝⅞⅑⅒"
_REPEATS = r"(?:\(\d+\)|\\(?:overline|bar|dot)\{\d+\})"
_PLAIN_NUMBER = (
    r"(?:\d+ \d+/\d+(?![\d/]|[.,]\d)|\d*[" + _VULGAR + r"]"
    r"|\d{1,3}(?:(?:,\d{3})+|(?: \d{3})+)(?:\.\d+)?(?![\d,])|\d+,\d\d(?![\d,])"
    rf"|\d*\.(?:\d+(?:{_REPEATS}|\.\.\.|…)?|{_REPEATS})|\d+)"
)
_SYMBOL = r"(?:π|∞|[√∛]\s?(?:\d+(?:\.\d+)?|π|\([^()\n]{1,40}\)))"
_IMAGINARY = r"[ij](?![A-Za-z])"  # `3i`, `4j`: after a number, never a word's first letter
_TERM = (rf"(?:{_PLAIN_NUMBER}{_SYMBOL}*+(?:{_IMAGINARY})?|{_SYMBOL}++)"
         r"(?:/\d+(?:\.\d+)?|/(?=[√∛π])" + _SYMBOL + r"++)?(?:⁻?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)?")
# `3 − 4i`, `2+i`: a number and an imaginary part are one complex number.
_IMAGINARY_PART = rf"\s?[-−+]\s?(?:\d+(?:\.\d+)?)?{_IMAGINARY}"
_NUMBER = (rf"((?<![\d.])[-−±]?{_TERM}(?:\s?[×÷·]\s?[-−]?{_TERM})*+(?:{_IMAGINARY_PART})?%?)")
_MATH_OR_NUMBER = re.compile(
    "|".join([_DOLLAR_SPANS, _UNCLOSED_DOLLAR, _BRACKET_SPANS, _BROKEN_COMMA_GROUPS, _NUMBER]), re.DOTALL)
_BRACKET_OR_NUMBER = re.compile("|".join([_BRACKET_SPANS, _BROKEN_COMMA_GROUPS, _NUMBER]), re.DOTALL)
# What may stand between boxes that together give one answer: `\boxed{1}, \boxed{2}`,
# `\boxed{-2} \quad \text{and} \quad \boxed{1}`, `y_1 = \boxed{..} \) and \( y_2 = \boxed{..}`.
# Words that offer another candidate rather than correct the first: `\boxed{7}. Alternatively,
# \boxed{8}.`, `probably 7, but it might be 8`. Boxes or numbers joined by them are a list.
# Both are checked on the stretch between two neighbours only (the stretches do not overlap),
# and their alternatives start differently (a space, a mark, a backslash, a word, a letter and
# its `=`), so a failing check backtracks over one word at most: linear over the whole text.
_HEDGE_WORDS = (r"maybe|perhaps|possibly|probably|likely|either|alternatively|otherwise|else|but"
                r"|it|might|could|may|also|be|or|and")
_BETWEEN_BOXES = re.compile(
    r"(?:\s|[,;$.!?]|\\[()\[\]]|\\q?quad|\\[,;]|\\text\{[^{}]{0,40}\}"
    rf"|(?:{_HEDGE_WORDS})\b|[A-Za-z](?:_\{{?\w+\}}?)?\s*=)*",
    re.IGNORECASE,
)
# What may stand between numbers that a response leaves open as candidates: `7 or 8`, `6, 7, 8`,
# `7 (or possibly 8)`, `x = 7 \lor x = 8`, `\{7, 8\}`, `[7, 9]`, `7 \pm 1`. They are one answer,
# a list, never the last of them alone.
_BETWEEN_CANDIDATES = re.compile(
    r"(?:\s|[,;()\[\]]|\\[{}]|\\left|\\right|\\lor|\\vee|\\pm|\\mp|\\text\{[^{}]{0,20}\}"
    rf"|(?:{_HEDGE_WORDS})\b|[A-Za-z](?:_\{{?\w+\}}?)?\s*=)*",
    re.IGNORECASE,
)
# The response taking its own answer back; withdrawn unless an answer follows.
_RETRACTION = re.compile(
    r"(?i)\b(?:that|this|it)(?:'s|\s+is|\s+was)\s+(?:wrong|incorrect|not\s+(?:right|correct)|a\s+mistake)"
    r"|\b(?:my|the)\s+(?:answer|result)(?:\s+above)?\s+is\s+(?:wrong|incorrect)"
    r"|\bi\s+(?:made|make)\s+a\s+mistake|\bscratch\s+that|\bi\s+retract"
    r"|\b(?:disregard|ignore)\s+(?:that|this|the\s+above|my\s+(?:previous\s+)?answer)"
)
_ANSWER_MARK = re.compile(r"\d|\\(?:boxed|fbox)|\$")
_FINAL_PHRASE = re.compile(r"(?i)final answer")
# A whole response that is one answer and nothing else: a number, or one token of math.
_LONE_ANSWER = re.compile(r"-?(?:\d{1,3}(?: \d{3})+|\d+,\d\d|\d*\.\d+)|[^\s=]{1,40}")
# A multiple-choice answer: `(C)`, `C) 7` or `option C` leading an answer; `option C`, `choose C`
# and the like anywhere in a response with no math (not a bare `(C)`: "none of these (C) unknown" names none).
_OPTION = re.compile(r"\(([A-Z])\)|^\s*([A-Z])(?:\)|\s*$)|\b(?i:option|choice)\s+\(?([A-Z])\b\)?")
_NAMED_OPTION = re.compile(
    r"\b(?i:option|choice|choose|pick|select)(?:\s+(?i:is|would\s+be))?\s*:?\s+\(?[A-Z]\b\)?")
_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_SPACES = re.compile(r"\s*")
_BOX_TOKEN = re.compile(r"[^\s$]+")
_REPEATING_DOTS = re.compile(r"\.\d+\.\.\.$")
_SENTENCE_END = re.compile(r"\.(?=\s|$)")
_BRACE_DEPTH = {"{": 1, "}": -1}


def read_braced(text: str, start: int) -> tuple[str, int] | None:
    """The content of the `{...}` group opening at `text[start]` and the index after it.

    Backslash-escaped braces (`\\{`) do not count; an unclosed group gives None.

    >>> read_braced("{a{b}c}d", 0)
    ('a{b}c', 7)
    >>> read_braced("{a{b}", 0) is None
    True
    """
    depth, i = 0, start
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        depth += _BRACE_DEPTH.get(char, 0)
        if depth == 0:
            return text[start + 1 : i], i + 1
        i += 1
    return None


def _box_content(text: str, after: int) -> tuple[str | None, int]:
    r"""What one `\boxed` holds (a braced group, or the next token: `\boxed 5`), and where it ends.

    A group left unclosed runs to the end of the text: nothing after it is a later box.
    """
    start = _SPACES.match(text, after).end()
    if text.startswith("{", start):
        return read_braced(text, start) or (None, len(text))
    token = _BOX_TOKEN.match(text, start) if start > after else None
    if token is None:
        return None, start
    return token.group(0).rstrip(".,"), token.end()


@builtin()
def last_boxed(text: str) -> str | None:
    r"""The content of the last `\boxed{...}` or `\fbox{...}` (nested braces kept), or none.

    A final box left unclosed (a truncated response) gives none rather than an earlier box.

    >>> last_boxed(r"\boxed{1} then \boxed{2}"), last_boxed(r"\boxed 5$.")
    ('2', '5')
    >>> last_boxed("no box") is None, last_boxed(r"\boxed{1} \boxed{\frac{1}{2}") is None
    (True, True)
    """
    found, position = None, 0
    while (marker := _BOX.search(text, position)) is not None:
        # Resuming after the content: a box inside a box is not a later box.
        found, position = _box_content(text, marker.end())
    return found


@functools.lru_cache(maxsize=256)
def _tag_pattern(name: str):
    if not name.strip():
        raise ValueError("tag: the tag name is empty")
    escaped = re.escape(name.strip())
    return re2.compile(rf"(?s)<{escaped}(?:\s[^>]*)?>(.*?)</{escaped}\s*>")


@builtin()
def tags(text: str, name: str) -> list[str]:
    """The stripped contents of every closed `<name>...</name>` in the text, in order.

    Tag names are case-sensitive; attributes on the opening tag are allowed.

    >>> tags("<step>a</step> <step id=2> b </step> <step>c", "step")
    ['a', 'b']
    """
    return [found.strip() for found in _tag_pattern(name).findall(text)]


@builtin()
def tag(text: str, name: str) -> str | None:
    """The stripped content of the last closed `<name>...</name>`, or none when there is none.

    >>> tag("<answer>1</answer><answer> 2 </answer>", "answer"), tag("<answer>3", "answer")
    ('2', None)
    """
    found = tags(text, name)
    return found[-1] if found else None


@builtin()
def strip_think(text: str) -> str:
    """The response without its reasoning: `<think>...</think>` blocks removed, then stripped.

    A `</think>` with no opening tag (the chat template opened it) drops everything before it.
    An unclosed `<think>` is left as it is.

    >>> strip_think("<think>hmm</think> 42"), strip_think("hmm, so</think>\\n42")
    ('42', '42')
    """
    without_blocks = _THINK_BLOCK.sub("", text)
    return without_blocks.rpartition("</think>")[2].strip()


@builtin()
def code_blocks(text: str, lang: str | None = None) -> list[str]:
    """The contents of the closed ``` fenced blocks, optionally only those tagged `lang`.

    The language is the first word after the opening fence, compared case-insensitively.

    >>> code_blocks("```py\\nx = 1\\n```\\n```js\\ny\\n```", "PY")
    ['x = 1']
    """
    wanted = None if lang is None else lang.strip().casefold()
    return [
        body.removesuffix("\n")
        for info, body in _FENCE.findall(text)
        if wanted is None or info.casefold() == wanted
    ]


@builtin()
def last_code_block(text: str, lang: str | None = None) -> str | None:
    """The contents of the last closed ``` fenced block (optionally tagged `lang`), or none.

    >>> last_code_block("```\\na\\n```\\n```\\nb\\n```"), last_code_block("no code") is None
    ('b', True)
    """
    found = code_blocks(text, lang)
    return found[-1] if found else None


def _loads(text: str) -> tuple[bool, object]:
    """(parsed?, value): JSON's `null` must stay apart from "not JSON"."""
    try:
        return True, json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return False, None


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


@builtin()
def json_parse(text: str | None) -> Json:
    """The parsed JSON value of the text, or of its last ```json (or untagged) fenced block.

    Gives none when no JSON is found (and for the JSON `null`).

    >>> json_parse('{"a": [1, 2]}'), json_parse("Here:\\n```json\\n[true]\\n```")
    ({'a': [1, 2]}, [True])
    >>> json_parse("{oops") is None
    True
    """
    if text is None:
        return None
    candidates = [text, *reversed(code_blocks(text, "json")), *reversed(code_blocks(text, ""))]
    for candidate in candidates:
        parsed, value = _loads(candidate)
        if parsed:
            return value
    return None


def _strip_math(answer: str) -> str | None:
    r"""An answer without `$`/`\(\)` delimiters, bold markers and a trailing period."""
    cleaned = answer.strip().strip("*").strip()
    cleaned = re.sub(r"^\\[(\[]|\\[)\]]$", "", cleaned).strip()
    if not _REPEATING_DOTS.search(cleaned):  # `0.333...` repeats; `5.` ends a sentence
        cleaned = cleaned.rstrip(".").strip()
    cleaned = cleaned.strip("$").strip()
    return cleaned or None


def _answer_phrase(text: str) -> tuple[str | None, int]:
    """The X of the last "answer is X" / "Answer: X", cut at the end of its sentence, and where
    X starts (-1 when there is none)."""
    phrase = _LAST_ANSWER_PHRASE.match(text)
    if phrase is None:
        return None, -1
    return _strip_math(_SENTENCE_END.split(phrase.group(1), maxsplit=1)[0]), phrase.start(1)


def _final_boxes(text: str) -> tuple[str | None, int]:
    r"""The last box's content, or the last run of boxes joined by ", " when only connectives
    stand between them (`\boxed{1} and \boxed{2}`: the answer is both); and where the run starts
    (-1 when there is no box)."""
    run: list[str | None] = []
    start = position = -1
    while (marker := _BOX.search(text, max(position, 0))) is not None:
        between = text[position:marker.start()] if position >= 0 else ""
        if position < 0 or not _BETWEEN_BOXES.fullmatch(between):
            run, start = [], marker.start()
        content, position = _box_content(text, marker.end())
        run.append(content)
    if not run or run[-1] is None or not run[-1].strip():
        return None, start  # an unclosed or empty last box: no answer, not an earlier one
    return _joined([c.strip() for c in run if c and c.strip()]), start


def _candidates(text: str) -> Iterator[tuple[int, int, str]]:
    r"""(start, end, text) of each math span or number, left to right, as `_MATH_OR_NUMBER`'s
    `finditer` would give them if it had neither helper alternative; in time linear in the text.

    >>> [found for _, _, found in _candidates(r"$x$ 1,234 and 1,111, \$ 5")]
    ['x', '1,234', '1', '111', '5']
    """
    pattern, position = _MATH_OR_NUMBER, 0
    while (match := pattern.search(text, position)) is not None:
        if match.lastgroup == "unclosed":
            pattern, position = _BRACKET_OR_NUMBER, match.start() + 1
            continue
        if match.lastgroup == "commas":
            # every piece but the last is a number; the search goes on from the last
            start = match.start()
            for piece in match.group("commas").split(",")[:-1]:
                yield start, start + len(piece), piece
                start += len(piece) + 1
            position = start - 1
            continue
        yield match.start(), match.end(), next(g for g in match.groups() if g is not None)
        position = match.end()


def _last_math_or_number(text: str) -> str | None:
    """The last math span or number, with the candidates before it that only connectives
    separate (`7 or 8` gives `7, 8`: a list, which equals no single answer)."""
    run: list[str] = []
    end = -1
    for start, stop, found in _candidates(text):
        if end < 0 or not _BETWEEN_CANDIDATES.fullmatch(text, end, start):
            run = []
        run.append(found)
        end = stop
    return _joined([a for a in (_strip_math(found) for found in run) if a]) or None


def _joined(candidates: list[str]) -> str:
    """One answer, or the list of several: `3, and 3 is prime` gives `3`, `7 or 8` gives `7, 8`."""
    distinct = list(dict.fromkeys(candidates))
    return ", ".join(distinct) if len(distinct) > 1 else "".join(distinct)


def _withdrawn(text: str) -> bool:
    """Does the response take its answer back ("Wait, that is wrong.") and give no other?"""
    ends = [match.end() for match in _RETRACTION.finditer(text)]
    return bool(ends) and _ANSWER_MARK.search(text, ends[-1]) is None


@builtin()
def final_answer(text: str) -> str | None:
    r"""The answer a math response ends on: its last box, else its "answer is X", else its last math.

    Boxes joined only by connectives count together (`\boxed{1} and \boxed{2}` gives `1, 2`); an
    "final answer is X" after the last box wins over it. A response that is one number or one token of
    math is the answer whole (`1 000`, `\frac{10}{9}`). The fallback is the last `$...$`/`\(...\)`
    span or number (`1,234`, `2,74`, `.4`), with the candidates before it that only connectives
    separate (`7 or 8` gives the list `7, 8`, never `8` alone); delimiters and a trailing period
    are removed. A multiple-choice answer is kept with its letter ("The answer is (C) 7" gives
    `(C) 7`; "I pick option B." gives `option B`). Gives none when the text holds no candidate, or
    when it takes its answer back with nothing after ("\boxed{8}. Wait, that is wrong.").

    >>> final_answer(r"so \boxed{7}. The answer is 8"), final_answer("The answer is $\\frac{1}{2}$.")
    ('7', '\\frac{1}{2}')
    >>> final_answer("3 apples and 5 pears."), final_answer("") is None
    ('5', True)
    >>> final_answer(r"\boxed{-2} \quad \text{and} \quad \boxed{1}"), final_answer("1 000")
    ('-2, 1', '1 000')
    >>> final_answer("Maybe 6, 7 or 8."), final_answer(r"\boxed{8}. Wait, that is wrong.") is None
    ('6, 7, 8', True)
    """
    if _withdrawn(text):
        return None
    boxed, box_at = _final_boxes(text)
    phrase, phrase_at = _answer_phrase(text)
    if phrase is not None and phrase_at > box_at and _FINAL_PHRASE.search(text, box_at, phrase_at):
        return phrase  # "Final Answer: The final answer is $10,455$." after a box of working
    if box_at >= 0:
        return boxed
    lone = text.strip()
    if _LONE_ANSWER.fullmatch(lone):
        return _strip_math(lone)
    for answer in (phrase, _strip_math(lone)):
        if answer is not None and len(answer) <= 80 and _OPTION.match(answer):
            return answer  # "The answer is (C) 7", "B) 12": the option, with its text
    return _last_math_or_number(text) or _last_option(text)


def _last_option(text: str) -> str | None:
    """The last option a response without math names ("I pick option B." gives `option B`)."""
    found = list(_NAMED_OPTION.finditer(text))
    return found[-1].group(0).strip() if found else None

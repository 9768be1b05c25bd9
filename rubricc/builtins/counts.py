"""Length built-ins: words, sentences, paragraphs and lines, by simple deterministic rules.

No models and no downloads: the rules below are the whole definition, so a score never depends on
an installed tokenizer.

>>> words("Don't stop -- it's well-known."), sentences("Hi. I'm Dr. Who! Really?")
(4.0, 3.0)
"""

import re
import unicodedata

from rubricc.builtins.registry import builtin


def _combining_marks() -> str:
    """A regex class body for the combining marks (Mn, Mc, Me) of the first two Unicode planes.

    Python's `\\w` leaves them out, which would cut Hindi or Thai words at every vowel sign.
    """
    ranges, start = [], None
    for code in range(0x20000):
        is_mark = unicodedata.category(chr(code)).startswith("M")
        if is_mark and start is None:
            start = code
        elif not is_mark and start is not None:
            ranges.append(f"{chr(start)}-{chr(code - 1)}")
            start = None
    return "".join(ranges)


# Python's `re`, not RE2: these patterns cannot backtrack badly, and RE2's Python wrapper costs
# microseconds a match, too slow for word counts over a batch.
_PART = rf"[^\W_](?:[^\W_]|[{_combining_marks()}])*"
_WORD = re.compile(rf"(?:\d+(?:[.,]\d+)+|{_PART})(?:['’-]{_PART})*")

# Periods after these never end a sentence. "etc." and "no." are left out: they end sentences too.
_ABBREVIATIONS = r"mr|mrs|ms|dr|prof|sr|jr|st|vs|e\.g|i\.e|cf|fig|approx"

# An abbreviation is consumed whole, so its period is never taken for an ending; an ending is a
# run of . ! ? (with closing quotes or brackets) before whitespace or the end of the text. The
# lookbehind starts a run only at its first mark, which keeps a long "!!!!x" linear.
_ABBREVIATION_OR_END = re.compile(
    rf"\b(?:{_ABBREVIATIONS})\.|(?<![.!?])([.!?]+[\"'”’)\]]*)(?=\s|$)", re.IGNORECASE
)
_BLANK_LINE = re.compile(r"\n\s*\n")


@builtin()
def words(text: str) -> float:
    """The number of words: runs of letters or digits, joined by inner apostrophes or hyphens.

    A number with a point or thousands commas (3.5, 1,000) is one word. Text without spaces
    between words (Chinese, Japanese) counts as one word per run.

    >>> words("well-known rock'n'roll, 3.5 km"), words("  "), words("naïve café")
    (4.0, 0.0, 2.0)
    """
    return float(len(_WORD.findall(text)))


def _has_word(piece: str) -> bool:
    return any(char.isalnum() for char in piece)


def _sentences_in_block(block: str) -> int:
    found, start = 0, 0
    for mark in _ABBREVIATION_OR_END.finditer(block):
        if mark.group(1) is not None:
            found += _has_word(block[start : mark.end()])
            start = mark.end()
    return found + _has_word(block[start:])


@builtin()
def sentences(text: str) -> float:
    """The number of sentences: pieces ending in . ! or ? before a space or the end, or a blank line.

    A period does not end a sentence inside a number (3.14) or after a common abbreviation
    (Mr., Dr., e.g., i.e., vs., ...). Pieces without a letter or digit are not sentences.

    >>> sentences("It costs 3.50 dollars. E.g. this one... Yes?!"), sentences("")
    (3.0, 0.0)
    >>> sentences("A title\\n\\nThe body has no period")
    2.0
    """
    return float(sum(_sentences_in_block(block) for block in _BLANK_LINE.split(text)))


@builtin()
def paragraphs(text: str) -> float:
    """The number of paragraphs: non-empty blocks separated by blank lines.

    >>> paragraphs("one\\ntwo\\n\\n\\n three \\n  \\n"), paragraphs("")
    (2.0, 0.0)
    """
    return float(sum(1 for block in _BLANK_LINE.split(text) if block.strip()))


@builtin()
def lines(text: str) -> float:
    """The number of lines holding something other than whitespace.

    >>> lines("a\\n\\n  \\nb\\r\\nc"), lines("")
    (3.0, 0.0)
    """
    return float(sum(1 for line in text.splitlines() if line.strip()))

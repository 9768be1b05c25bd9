"""IFEval's text units without NLTK data: words, sentences and capitalised words.

The official checker counts sentences with NLTK's pretrained Punkt model and tokenizes words for
`capital_word_frequency` with `nltk.word_tokenize`. Both need a data download, so this module
re-implements Punkt's decision procedure with a fixed abbreviation list standing in for the
trained parameters: `.`, `?` and `!` end a sentence when another token follows; a known
abbreviation ("e.g.", "Dr.") does not, unless a capitalised word follows; a number ("1.") or an
initial does not when a lowercase word follows. Like Punkt, a newline alone never ends a sentence.

>>> count_sentences("It rained. We stayed in, e.g. to read. Then? Sleep.")
4
>>> count_sentences("Lists:\\n1. First item\\n2. Second item")
3
>>> count_words("state-of-the-art, isn't it?")
7
>>> count_capital_words("I DON'T know; NASA-style U.S. plans.")  # I, DON, 'T, U.S.
4
"""

import re

# Stand-in for Punkt's learned English abbreviations (lowercase, without the final period).
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr co corp inc ltd vs etc e.g i.e u.s u.k u.n a.m p.m no nos fig "
    "jan feb mar apr jun jul aug sep sept oct nov dec gen gov sen rep lt col capt sgt ft mt "
    "approx dept est vol pp ed eds al cf viz ca mass calif n.y d.c ph.d".split()
)
# Before a name, a capitalised word is no evidence of a new sentence.
_TITLES = frozenset("mr mrs ms dr prof st jr sr gen gov sen rep lt col capt sgt mt".split())

# Punkt's potential sentence end: an end character followed by punctuation or by another token.
_END_CONTEXT = re.compile(r"[.?!](?=(?P<after>[)\";}\]*:@'({\[!?]|\s+(?P<next>\S+)))")
# Punkt's word tokenizer: runs of dots or dashes, words (with a final period kept), other chars.
_WORD_TOKEN = re.compile(
    r"(?:-{2,}|\.{2,}|(?:\.\s){2,}\.)"
    r"|(?=[^(\"`{\[:;&#*@)}\]\-,])\S+?(?=\s|$|[?!)\";}\]*:@'({\[]|-{2,}|\.{2,}|,(?=$|\s))"
    r"|\S"
)
_NUMBER = re.compile(r"^-?[.,]?\d[\d,.\-]*\.?$")
_INITIAL = re.compile(r"^[^\W\d]\.$")
_CLOSING = re.compile(r"[\"')\]}]+?(?:\s+|$)")


def count_words(text: str) -> int:
    """Runs of word characters, as IFEval's `RegexpTokenizer(r"\\w+")`."""
    return len(re.findall(r"\w+", text))


def count_sentences(text: str) -> int:
    """The number of sentences Punkt would find (see the module doc for the approximation)."""
    return len(split_sentences(text))


def split_sentences(text: str) -> list[str]:
    starts, stops = [0], []
    for match in _END_CONTEXT.finditer(text):
        if match.start() < starts[-1] or not _breaks_at(text, match):
            continue
        stops.append(match.end())
        starts.append(match.start("next") if match.group("next") else match.end())
    stops.append(len(text.rstrip()))
    return _realigned(text, list(zip(starts, stops)))


def _realigned(text: str, spans: list[tuple[int, int]]) -> list[str]:
    """Closing quotes and brackets after a break join the sentence before them, as in Punkt."""
    out: list[str] = []
    shift = 0
    for (start, stop), following in zip(spans, spans[1:] + [None]):
        start += shift
        shift = 0
        if following is not None:
            closing = _CLOSING.match(text, following[0], following[1])
            if closing:
                out.append(text[start : following[0] + len(closing.group(0).rstrip())])
                shift = closing.end() - following[0]
                continue
        if text[start:stop]:
            out.append(text[start:stop])
    return out


def _breaks_at(text: str, match: re.Match) -> bool:
    """Whether the end character at `match` ends a sentence and some token follows it."""
    word_start = max(text.rfind(c, 0, match.start()) for c in " \n\t\r") + 1
    context = text[word_start : match.end()] + match.group("after")
    tokens = _WORD_TOKEN.findall(context)
    for index, token in enumerate(tokens[:-1]):
        if _is_break(token, tokens[index + 1]):
            return True
    return False


def _is_break(token: str, following: str) -> bool:
    if token in (".", "?", "!"):
        return True
    if re.fullmatch(r"\.{2,}", token):
        return following[:1].isupper()
    if not token.endswith(".") or token.endswith(".."):
        return False
    stem = token[:-1].lower()
    if stem in _ABBREVIATIONS or stem.split("-")[-1] in _ABBREVIATIONS:
        return following[:1].isupper() and stem not in _TITLES
    if _INITIAL.match(token) or _NUMBER.match(token):
        return not following[:1].islower()
    return True


def count_capital_words(text: str) -> int:
    """Tokens in all capitals, tokenized like `nltk.word_tokenize` (contractions split off)."""
    tokens = re.findall(r"\w+(?:[-.&]\w+)*\.?|'\w+|\S", text)
    pieces = [p for token in tokens for p in re.split(r"(?i)(?=n't$)", token) if p]
    return sum(piece.isupper() for piece in pieces)

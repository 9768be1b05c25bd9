"""IFEval's 25 instruction checks, one function per instruction id, each `(response, kwargs, prompt)`.

They follow the official checker (google-research `instruction_following_eval/instructions.py`):
same regexes, same thresholds, same edge cases. `CHECKS` maps an instruction id to its check.

>>> CHECKS["punctuation:no_comma"]("No commas here.", {}, "")
True
>>> CHECKS["length_constraints:number_words"]("one two three", {"relation": "at least", "num_words": 5}, "")
False
"""

import collections
import json
import re
from collections.abc import Callable

from langdetect import DetectorFactory, LangDetectException, detect

from rubricc.builtins.ifeval_tokens import count_capital_words, count_sentences, count_words

DetectorFactory.seed = 0  # langdetect samples at random; a fixed seed makes verdicts repeatable

Check = Callable[[str, dict, str], bool]
CHECKS: dict[str, Check] = {}


def check(instruction_id: str) -> Callable[[Check], Check]:
    def register(fn: Check) -> Check:
        CHECKS[instruction_id] = fn
        return fn

    return register


def _compare(count: int, relation: str, threshold: int) -> bool:
    if relation == "less than":
        return count < threshold
    if relation == "at least":
        return count >= threshold
    raise ValueError(f"relation must be 'less than' or 'at least', got {relation!r}")


def _language(text: str) -> str | None:
    """The detected language code; None when langdetect finds no features (counted as followed)."""
    try:
        return detect(text)
    except LangDetectException:
        return None


@check("language:response_language")
def response_language(response: str, kw: dict, prompt: str) -> bool:
    return _language(response) in (kw["language"], None)


@check("length_constraints:number_sentences")
def number_sentences(response: str, kw: dict, prompt: str) -> bool:
    return _compare(count_sentences(response), kw["relation"], kw["num_sentences"])


@check("detectable_content:number_placeholders")
def number_placeholders(response: str, kw: dict, prompt: str) -> bool:
    return len(re.findall(r"\[.*?\]", response)) >= kw["num_placeholders"]


@check("detectable_format:number_bullet_lists")
def number_bullet_lists(response: str, kw: dict, prompt: str) -> bool:
    stars = re.findall(r"^\s*\*[^\*].*$", response, flags=re.MULTILINE)
    dashes = re.findall(r"^\s*-.*$", response, flags=re.MULTILINE)
    return len(stars) + len(dashes) == kw["num_bullets"]


_CONSTRAINED_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


@check("detectable_format:constrained_response")
def constrained_response(response: str, kw: dict, prompt: str) -> bool:
    return any(option in response.strip() for option in _CONSTRAINED_OPTIONS)


@check("detectable_format:number_highlighted_sections")
def number_highlighted_sections(response: str, kw: dict, prompt: str) -> bool:
    single = [h for h in re.findall(r"\*[^\n\*]*\*", response) if h.strip("*").strip()]
    double = [h for h in re.findall(r"\*\*[^\n\*]*\*\*", response) if h[2:-2].strip()]
    return len(single) + len(double) >= kw["num_highlights"]


@check("detectable_format:multiple_sections")
def multiple_sections(response: str, kw: dict, prompt: str) -> bool:
    splitter = kw["section_spliter"].strip()  # a regex, as in the reference
    sections = re.split(r"\s?" + splitter + r"\s?\d+\s?", response)
    return len(sections) - 1 >= kw["num_sections"]


@check("length_constraints:number_paragraphs")
def number_paragraphs(response: str, kw: dict, prompt: str) -> bool:
    paragraphs = re.split(r"\s?\*\*\*\s?", response)
    count = len(paragraphs)
    for index, paragraph in enumerate(paragraphs):
        if not paragraph.strip():
            if index not in (0, len(paragraphs) - 1):
                return False
            count -= 1
    return count == kw["num_paragraphs"]


@check("detectable_content:postscript")
def postscript(response: str, kw: dict, prompt: str) -> bool:
    marker = kw["postscript_marker"].strip()
    patterns = {"P.P.S": r"\s*p\.\s?p\.\s?s.*$", "P.S.": r"\s*p\.\s?s\..*$"}
    pattern = patterns.get(marker, r"\s*" + marker.lower() + r".*$")
    return bool(re.search(pattern, response.lower(), flags=re.MULTILINE))


@check("keywords:existence")
def existence(response: str, kw: dict, prompt: str) -> bool:
    return all(re.search(word, response, flags=re.IGNORECASE) for word in kw["keywords"])


@check("keywords:frequency")
def frequency(response: str, kw: dict, prompt: str) -> bool:
    found = len(re.findall(kw["keyword"].strip(), response, flags=re.IGNORECASE))
    return _compare(found, kw["relation"], kw["frequency"])


@check("length_constraints:number_words")
def number_words(response: str, kw: dict, prompt: str) -> bool:
    return _compare(count_words(response), kw["relation"], kw["num_words"])


@check("detectable_format:json_format")
def json_format(response: str, kw: dict, prompt: str) -> bool:
    text = response.strip()
    for fence in ("```json", "```Json", "```JSON", "```"):
        text = text.removeprefix(fence)
    try:
        json.loads(text.removesuffix("```").strip())
    except ValueError:
        return False
    return True


def _first_word(paragraph: str) -> str:
    word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
    return re.split(r"[.,?!'\"]", word, maxsplit=1)[0].lower()


@check("length_constraints:nth_paragraph_first_word")
def nth_paragraph_first_word(response: str, kw: dict, prompt: str) -> bool:
    paragraphs = response.split("\n\n")
    count = sum(1 for p in paragraphs if p.strip())
    nth = kw["nth_paragraph"]
    if nth > count or not paragraphs[nth - 1].strip():
        return False
    first = _first_word(paragraphs[nth - 1].strip())
    return count == kw["num_paragraphs"] and first == kw["first_word"].lower()


@check("keywords:forbidden_words")
def forbidden_words(response: str, kw: dict, prompt: str) -> bool:
    words = kw["forbidden_words"]
    return not any(re.search(r"\b" + w + r"\b", response, flags=re.IGNORECASE) for w in words)


@check("combination:two_responses")
def two_responses(response: str, kw: dict, prompt: str) -> bool:
    parts = response.split("******")
    kept = []
    for index, part in enumerate(parts):
        if part.strip():
            kept.append(part.strip())
        elif index not in (0, len(parts) - 1):
            return False
    return len(kept) == 2 and kept[0] != kept[1]


@check("combination:repeat_prompt")
def repeat_prompt(response: str, kw: dict, prompt: str) -> bool:
    return response.strip().lower().startswith(kw["prompt_to_repeat"].strip().lower())


@check("startend:end_checker")
def end_checker(response: str, kw: dict, prompt: str) -> bool:
    return response.strip().strip('"').lower().endswith(kw["end_phrase"].strip().lower())


@check("detectable_format:title")
def title(response: str, kw: dict, prompt: str) -> bool:
    titles = re.findall(r"<<[^\n]+>>", response)
    return any(t.lstrip("<").rstrip(">").strip() for t in titles)


@check("keywords:letter_frequency")
def letter_frequency(response: str, kw: dict, prompt: str) -> bool:
    # The official checker draws a random letter when `letter` is not one character; an
    # unusable argument is judged not followed here, so that the verdict is repeatable.
    letter = kw.get("letter") or ""
    if len(letter) != 1:
        return False
    count = collections.Counter(response.lower())[letter.lower()]
    return _compare(count, kw["let_relation"], kw["let_frequency"])


@check("change_case:english_capital")
def english_capital(response: str, kw: dict, prompt: str) -> bool:
    return response.isupper() and _language(response) in ("en", None)


@check("change_case:english_lowercase")
def english_lowercase(response: str, kw: dict, prompt: str) -> bool:
    return response.islower() and _language(response) in ("en", None)


@check("punctuation:no_comma")
def no_comma_check(response: str, kw: dict, prompt: str) -> bool:
    return "," not in response


@check("change_case:capital_word_frequency")
def capital_word_frequency(response: str, kw: dict, prompt: str) -> bool:
    count = count_capital_words(response)
    return _compare(count, kw["capital_relation"], kw["capital_frequency"])


@check("startend:quotation")
def quotation(response: str, kw: dict, prompt: str) -> bool:
    text = response.strip()
    return len(text) > 1 and text[0] == '"' and text[-1] == '"'

"""Similarity to a reference: ROUGE-L, BLEU, chrF, edit distance and fuzzy matching.

BLEU and chrF come from sacrebleu, the reference implementation; LCS and edit distances from
rapidfuzz (C++). Scores are scaled to [0, 1] so they can be used as check values directly.

>>> rouge_l("the cat sat on the mat", "the cat sat on the mat"), edit_distance("kitten", "sitting")
(1.0, 3.0)
"""

from __future__ import annotations

import re

import sacrebleu
from rapidfuzz import fuzz
from rapidfuzz.distance import LCSseq, Levenshtein

from rubricc.builtins.registry import builtin

_TOKEN = re.compile(r"[a-z0-9]+")


def rouge_tokens(text: str) -> list[str]:
    """ROUGE's default tokenization (as in Google's rouge-score): lowercase alphanumeric runs."""
    return _TOKEN.findall(text.lower())


@builtin()
def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1: the longest common token subsequence, as precision and recall, in [0, 1]."""
    cand, ref = rouge_tokens(candidate), rouge_tokens(reference)
    lcs = LCSseq.similarity(cand, ref) if cand and ref else 0
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(cand), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def _scaled(score: float) -> float:
    return min(1.0, max(0.0, score / 100.0))  # sacrebleu reports 0-100, with float noise above


@builtin()
def bleu(candidate: str, reference: str) -> float:
    """Sentence BLEU (sacrebleu's defaults: 13a tokenization, exponential smoothing) in [0, 1]."""
    return _scaled(sacrebleu.sentence_bleu(candidate, [reference]).score)


@builtin()
def chrf(candidate: str, reference: str) -> float:
    """Sentence chrF (character n-gram F-score, sacrebleu's defaults) in [0, 1]."""
    return _scaled(sacrebleu.sentence_chrf(candidate, [reference]).score)


@builtin()
def edit_distance(a: str, b: str) -> float:
    """Levenshtein distance: the fewest single-character insertions, deletions and substitutions."""
    return float(Levenshtein.distance(a, b))


@builtin()
def edit_similarity(a: str, b: str) -> float:
    """1 - Levenshtein distance / the longer length: 1 for equal texts, 0 for nothing in common."""
    return float(Levenshtein.normalized_similarity(a, b))


@builtin()
def fuzzy_ratio(a: str, b: str) -> float:
    """Indel similarity of the two texts (rapidfuzz `ratio`), in [0, 1]."""
    return fuzz.ratio(a, b) / 100.0


@builtin()
def fuzzy_contains(text: str, part: str) -> float:
    """How well `part` matches the best substring of `text` (rapidfuzz `partial_ratio`), in [0, 1]."""
    return fuzz.partial_ratio(part, text) / 100.0

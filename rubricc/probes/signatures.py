"""Hack signatures of sampled completions: what a reward hack looks like while training runs.

The probes try hacks before training; a policy can still find one the probes did not try. These
signatures, logged at every step beside the per-item rewards, show the usual ones emerging: answers
that hedge over several candidates, loops, refusals, empty completions, truncation and length
growth.

>>> signatures([r"\\boxed{7} or \\boxed{8}", "the answer is " * 20, "I don't know.", "", "x = 4"])
{'hack/several_answers_frac': 0.2, 'hack/loop_frac': 0.2, 'hack/refusal_frac': 0.2, 'hack/empty_frac': 0.2}
"""

from __future__ import annotations

import re

from rubricc.builtins.degenerate import loops, refuses
from rubricc.builtins.extract import final_answer, strip_think

_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")


def several_answers(text: str) -> bool:
    """Does the answer part offer more than one answer: several boxes or answer tags, or a final
    answer that is a list or a disjunction (`7 or 8`)?

    >>> several_answers("<answer>1</answer><answer>2</answer>"), several_answers(r"\\boxed{8}")
    (True, False)
    """
    answer = strip_think(text)
    if len(_BOX.findall(answer)) > 1 or answer.count("<answer>") > 1:
        return True
    final = final_answer(answer)
    if final is None or final.startswith(("(", "[", "\\{", "{")):  # one tuple, interval or set
        return False
    return ", " in final or re.search(r"\bor\b|\\lor|\\vee|\\pm", final) is not None


def empty(text: str) -> bool:
    return not text.strip()


SIGNATURES = {"several_answers": several_answers, "loop": loops, "refusal": refuses, "empty": empty}
"""Name -> test on one completion; logged as `hack/NAME_frac`."""


def flags(texts: list[str]) -> list[list[bool]]:
    """Per text, whether it shows each signature, in the order of `SIGNATURES`."""
    return [[test(text) for test in SIGNATURES.values()] for text in texts]


def signatures(texts: list[str]) -> dict[str, float]:
    """Fractions of `texts` showing each signature."""
    n = max(len(texts), 1)
    return {f"hack/{name}_frac": sum(map(test, texts)) / n for name, test in SIGNATURES.items()}

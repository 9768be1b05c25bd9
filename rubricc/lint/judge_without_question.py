"""A judge shown the reference answer but not the question.

What it does:
    Reports a judge whose criterion reads a declared input column (a reference answer such as
    `answer`), while its prompt template (the item's `template`, else the rubric's `default`) never
    shows the question: no `{{ prompt }}` (or `{{ messages }}`) expression. The built-in template
    always shows the question.

Why it matters:
    Without the question the judge can only compare surface text with the reference, so a
    response that restates the reference without answering what was asked, or that answers a
    different question with the same words, is judged correct.

Example:
    template terse = "Response: {{ response }} Criterion: {{ criterion }}"
    judge agrees template terse: "Reaches the same conclusion as: " + answer

Use instead:
    template terse = "Question: {{ prompt }} Response: {{ response }} Criterion: {{ criterion }}"
    judge agrees template terse: "Reaches the same conclusion as: " + answer
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rubricc import nodes as n
from rubricc.checked_rubric import JUDGE_KINDS, Checked, ItemInfo
from rubricc.diagnostics import Diagnostic, warning
from rubricc.lint.deps import deps
from rubricc.walk import walk

CODE = "L013"
NAME = "judge-without-question"

SHOWS_QUESTION = re.compile(r"\{\{[^}]*\b(prompt|messages)\b[^}]*\}\}")


def check(checked: Checked) -> Iterable[Diagnostic]:
    for info in checked.items:
        if info.kind not in JUDGE_KINDS or info.template is None:
            continue
        if SHOWS_QUESTION.search(info.template.text):
            continue
        reference = _reference_read(checked, info)
        if reference is not None:
            name, column = reference
            yield warning(CODE, f"judge `{info.name}` sees `{column}` but not the question",
                          name.span, f"reads the reference `{column}`",
                          f"show the question in template `{info.template.name}`: add "
                          "`{{ prompt }}`")


def _reference_read(checked: Checked, info: ItemInfo) -> tuple[n.Name, str] | None:
    """The first name in the criterion that reads a declared column, and that column."""
    local = frozenset({info.node.var}) if isinstance(info.node, n.JudgeEach) else frozenset()
    for node in walk(info.node.criterion):
        if isinstance(node, n.Name) and node.id not in local:
            columns = sorted(deps(checked, node).columns & set(checked.scope.inputs))
            if columns:
                return node, columns[0]
    return None

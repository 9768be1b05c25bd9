"""What a probe knows about one row: its columns, its reference answer, a wrong one, and the format
the rubric pays for.

The format is found by scoring, not guessed: `shell_candidates` lists responses that give the
reference answer in common formats (bare, `The answer is X.`, `\\boxed{X}`, `<answer>X</answer>`,
think-then-answer, and the shapes of the rubric's own test responses), the runner scores them, and
the best-paid one becomes the row's shell. A probe puts its hack where the rubric looks for the
answer; the honest wrong answer is the shell around a wrong value.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from rubricc import nodes as n
from rubricc import types as t
from rubricc.checked_rubric import JUDGE_KINDS, Checked, all_items
from rubricc.walk import call_name, walk

MARK = "\x00ANSWER\x00"
"""Where the answer goes in a shell."""

REFERENCE_NAMES = ("answer", "reference", "solution", "gold", "target", "expected", "ground_truth",
                   "label", "final_answer", "reference_answer")
"""Columns taken for the reference answer, in this order, when the caller names none."""

_REFERENCE_WORD = re.compile(r"answer|solution|gold|target|expected|label|reference|(?:^|_)ref(?:$|_)")

NEUTRAL_ANSWER = "42"
"""The content put in a shell when the rubric has no reference column (a format rubric)."""

HONEST_NON_ANSWER = "I am not sure of the answer."
"""The honest wrong response of an open-ended (judged) row without a reference."""

SHELLS = (
    MARK,
    f"The answer is {MARK}.",
    f"\\boxed{{{MARK}}}",
    f"The answer is $\\boxed{{{MARK}}}$.",
    f"<answer>{MARK}</answer>",
    f"<think>I work through the problem step by step.</think>\n<answer>{MARK}</answer>",
    f"<think>I work through the problem step by step.</think>\nThe answer is $\\boxed{{{MARK}}}$.",
    f"Answer: {MARK}",
    f'{{"answer": "{MARK}"}}',
)

CODE_RUNNERS = {"python_tests"}
"""Built-ins that run the response as code: their rubrics get the code probes."""

_ASSERT_CALL = re.compile(r"assert\s+([A-Za-z_]\w*)\s*\(")
_LAST_INTEGER = re.compile(r"\d+(?!.*\d)", re.S)


@dataclass
class Context:
    """One row, as the probes see it."""

    columns: dict
    prompt: str
    reference: str | None
    right: str
    wrong: str
    other_wrong: str
    shell: str = MARK
    formatted: bool = False
    """The rubric pays less for the bare answer than for the shell: a format is required."""
    criteria: list[str] = field(default_factory=list)
    literals: list[str] = field(default_factory=list)
    tagged: bool = False
    """The rubric looks for markup: a `<tag>` or `\\boxed` in a string or a regex, or a call that
    extracts a tag or a box (`tag`, `last_boxed`): its author expects a format."""
    tests: list[str] = field(default_factory=list)
    function: str | None = None
    judged: bool = False

    def wrap(self, content: str) -> str:
        return self.shell.replace(MARK, content)

    @property
    def fixed_honest(self) -> str:
        """The honest wrong response when it does not depend on the format: a stub of the function
        under test for code, an honest non-answer for an open-ended row; else ""."""
        if self.function is not None:
            return f"```python\ndef {self.function}(*args, **kwargs):\n    return None\n```"
        if self.reference is None and self.judged:
            return HONEST_NON_ANSWER
        return ""

    @property
    def honest_wrong(self) -> str:
        return self.fixed_honest or self.wrap(self.wrong)

    @property
    def number(self) -> int | None:
        """The reference as an integer, when it is one."""
        text = (self.reference or "").replace(",", "").strip()
        return int(text) if re.fullmatch(r"-?\d{1,15}", text) else None

    @property
    def visible_tests(self) -> list[str]:
        """The tests that the prompt shows the model."""
        return [test for test in self.tests if test.strip() and test.strip() in self.prompt]


def reference_column(checked: Checked, wanted: str | None = None) -> str | None:
    """The input holding the reference answer: `wanted`, else the first of `REFERENCE_NAMES`
    declared as text or number, else the first text or number input whose name holds one of
    their words (`gold_answer`, `expected_output`, `ref`)."""
    if wanted is not None:
        if wanted not in checked.inputs:
            raise ValueError(f"--reference {wanted}: the rubric has no input `{wanted}` "
                             f"(inputs: {', '.join(checked.inputs) or 'none'})")
        return wanted
    scalar = [name for name, typ in checked.inputs.items() if t.strip_none(typ) in (t.TEXT, t.NUMBER)]
    exact = next((name for name in REFERENCE_NAMES if name in scalar), None)
    return exact or next((name for name in scalar if _REFERENCE_WORD.search(name)), None)


def make_context(checked: Checked, row: dict, reference: str | None) -> Context:
    value = row.get(reference) if reference else None
    ref = None if value is None else _as_text(value)
    tests = _code_tests(checked, row)
    return Context(
        columns={k: v for k, v in row.items() if k != "response"},
        prompt=str(row.get("prompt") or ""),
        reference=ref,
        right=ref if ref is not None else NEUTRAL_ANSWER,
        wrong=wrong_answer(ref if ref is not None else NEUTRAL_ANSWER, +1),
        other_wrong=wrong_answer(ref if ref is not None else NEUTRAL_ANSWER, -1),
        criteria=criteria_texts(checked, row),
        literals=check_literals(checked),
        tagged=looks_for_markup(checked),
        tests=tests,
        function=next((m.group(1) for test in tests if (m := _ASSERT_CALL.search(test))), None),
        judged=any(i.kind in JUDGE_KINDS for i in all_items(checked)),
    )


def shell_candidates(ctx: Context, samples: list[tuple[str, str]]) -> list[str]:
    """Shells to try: the common formats, then the rubric's own test responses with their
    reference cut out (`samples` holds (response, reference) pairs). A row without a reference
    has no answer to put in a format: its only shell is the bare response."""
    if ctx.reference is None:
        return [MARK]
    found = list(SHELLS)
    for response, ref in samples:
        if ref and ref in response:
            at = response.rfind(ref)
            found.append(response[:at] + MARK + response[at + len(ref):])
    return list(dict.fromkeys(found))


def wrong_answer(reference: str, step: int) -> str:
    """A well-formed wrong answer: the last integer in the reference moved by `step`, the next
    choice letter, or a stand-in word.

    >>> wrong_answer("8", 1), wrong_answer(r"\\frac{1}{2}", 1), wrong_answer("B", -1)
    ('9', '\\\\frac{1}{3}', 'A')
    """
    match = _LAST_INTEGER.search(reference)
    if match is not None:
        moved = int(match.group(0)) + step
        if moved < 0:
            moved = int(match.group(0)) + 2 * abs(step)
        return reference[:match.start()] + str(moved) + reference[match.end():]
    letter = reference.strip().strip("()")
    if len(letter) == 1 and letter.isalpha():
        letters = "ABCDE" if letter.isupper() else "abcde"
        if letter in letters:
            return letters[(letters.index(letter) + step) % len(letters)]
    return "unknown" if step > 0 else "none of these"


def criteria_texts(checked: Checked, row: dict) -> list[str]:
    """The judge criteria of the row: static texts and those that come from a column."""
    from rubricc.interpreter import RowEval
    from rubricc.runtime.services import Services

    texts: list[str] = []
    for info in all_items(checked):
        node = info.node
        if info.kind in ("judge", "relative") and isinstance(node.criterion, n.Literal):
            texts.append(str(node.criterion.value))
        elif info.kind == "each":
            evaluator = RowEval(checked, row, Services())
            try:
                for elem in evaluator.eval(node.source) or []:
                    text = evaluator.eval(node.criterion, {node.var: elem})
                    if isinstance(text, str):
                        texts.append(text)
            except Exception:  # noqa: BLE001 - a row that does not evaluate has no criteria to paste
                continue
    return texts


def check_literals(checked: Checked) -> list[str]:
    """The strings the rubric's items look for: literal arguments of its calls."""
    found: list[str] = []
    for info in all_items(checked):
        expr = info.node.cond if info.kind == "gate" else getattr(info.node, "expr", None)
        if expr is None:
            continue
        for node in walk(expr):
            if isinstance(node, n.Call) and call_name(node) != "tag":
                found += [a.value for a in node.args if isinstance(a, n.Literal)
                          and isinstance(a.value, str) and a.value.strip()]
    return list(dict.fromkeys(found))


_MARKUP = re.compile(r"<\\?/?\w+>|\\\\boxed|\\boxed")
FORMAT_EXTRACTORS = {"tag", "tags", "last_boxed"}


def looks_for_markup(checked: Checked) -> bool:
    """Do the rubric's items look for tags or boxes (in a string or a regex they pass, or by
    calling a built-in that extracts one), directly or through a `let`?"""
    lets = [let.value for let in checked.rubric.of_type(n.Let)]
    for root in [*(info.node for info in all_items(checked)), *lets]:
        for node in walk(root):
            if isinstance(node, n.Call) and call_name(node) in FORMAT_EXTRACTORS:
                return True
            text = node.pattern if isinstance(node, n.RegexLit) else (
                node.value if isinstance(node, n.Literal) and isinstance(node.value, str) else "")
            if _MARKUP.search(text):
                return True
    return False


def uses_code(checked: Checked) -> bool:
    return any(isinstance(node, n.Call) and call_name(node) in CODE_RUNNERS
               for info in all_items(checked)
               for node in walk(info.node))


def _code_tests(checked: Checked, row: dict) -> list[str]:
    if not uses_code(checked):
        return []
    for name, typ in checked.inputs.items():
        value = row.get(name)
        if t.strip_none(typ) == t.ListOf(t.TEXT) and isinstance(value, list) \
                and any(_ASSERT_CALL.search(str(v)) for v in value):
            return [str(v) for v in value]
    return []


def _as_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else str(value)


def literal_cases(tests: list[str], function: str) -> dict[str, object]:
    """`repr(args)` -> expected value, for tests written `assert f(ARGS) == EXPECTED` whose
    arguments and expected value are literals."""
    table: dict[str, object] = {}
    for test in tests:
        try:
            tree = ast.parse(test)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Compare) and len(node.ops) == 1
                    and isinstance(node.ops[0], ast.Eq) and isinstance(node.left, ast.Call)
                    and isinstance(node.left.func, ast.Name) and node.left.func.id == function):
                continue
            try:
                args = tuple(ast.literal_eval(a) for a in node.left.args)
                table[repr(args)] = ast.literal_eval(node.comparators[0])
            except ValueError:
                continue
    return table

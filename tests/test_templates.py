"""Judge templates are checked before any row is scored (S007), rendered by every test that
reaches them, and a template that still fails on one row at `score` fails that row only.

Cases are data: each tests/cases/templates/*.rubric starts with `# expect: CODES`, the exact
multiset of diagnostic codes the file must produce (nothing after `expect:` for a clean file).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

import rubricc
from rubricc.cli import main
from rubricc.diagnostics import render_all
from rubricc.interpreter import interpret_batch
from rubricc.judges import (
    DEFAULT_TEMPLATE,
    TEMPLATE_FAILED,
    TEMPLATE_VARIABLES,
    JudgeRequest,
    PinnedJudge,
    column_values,
    compiled_template,
    template_problems,
)
from rubricc.resolve import load_path
from rubricc.runtime.services import Services
from rubricc.typecheck import check_program
from rubricc.values import ERROR, Failed
from trainer.tiny import build_tiny_lm

CASES = sorted((Path(__file__).parent / "cases" / "templates").glob("*.rubric"))


def expected_codes(path: Path) -> Counter[str]:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = re.fullmatch(r"#\s*expect:(.*)", first)
    assert match, f"{path.name} must start with `# expect: CODES`"
    return Counter(match.group(1).split())


def diagnostics(path: Path):
    program = load_path(path)
    check_program(program)
    return program


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(path: Path) -> None:
    program = diagnostics(path)
    got = Counter(d.code for d in program.diagnostics)
    assert got == expected_codes(path), render_all(program.diagnostics, program.sources)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_diagnostics_point_into_the_template(path: Path) -> None:
    program = diagnostics(path)
    for d in program.diagnostics:
        assert d.span is not None and d.span.file == str(path)
        assert d.message and d.label and d.help, d
        assert d.severity == "error"
        name = re.match(r"template `\w+` uses `(\w+)`, which", d.message)
        if name:  # at the name inside `{{ }}`, not the same word in the template's prose
            text = program.sources[d.span.file].text
            assert text[d.span.start:d.span.end] == name[1]
            assert text[:d.span.start].rstrip().endswith(("{{", "{%", "in", "|"))


def test_cases_cover_both_ways() -> None:
    assert any(expected_codes(p) == Counter({"S007": 1}) for p in CASES)
    assert {"default-ok", "custom-ok"} <= {p.stem for p in CASES if not expected_codes(p)}


@pytest.mark.parametrize(("text", "where", "help"), [
    ("{{ critrion }}", "critrion", "did you mean `criterion`?"),
    ("{{ ticket }}", "ticket", "declare the column with `input NAME: TYPE`"),
    ("{{ response | uper }}", "uper", "did you mean `upper`?"),
    ("{{ response | shouty_caps }}", "shouty_caps", "a template may use jinja2's built-in filters only"),
    ("{{ response ", "", "every `{{` has its `}}`"),
])
def test_each_problem_says_what_to_do(text: str, where: str, help: str) -> None:
    [problem] = template_problems(text)
    assert where in problem.message and help in problem.help


def test_a_template_may_read_the_rubrics_columns_and_messages() -> None:
    text = "{% for m in messages %}{{ m.content }}{% endfor %} {{ ticket }} {{ tickt }}"
    [problem] = template_problems(text, ("messages", "ticket"))
    assert problem.name == "tickt" and "did you mean `ticket`?" in problem.help
    request = JudgeRequest("x", "Is polite.", "Hi", "Hello!", text,
                           columns=column_values(text, {"messages": [{"content": "Hi"}],
                                                        "ticket": "T-1"}.get))
    assert compiled_template(text).render(request.variables() | {"tickt": ""}) == "Hi T-1 "


def test_the_checker_knows_what_the_renderer_gives() -> None:
    request = JudgeRequest("x", "Is polite.", "Hi", "Hello!")
    assert tuple(request.variables()) == TEMPLATE_VARIABLES
    assert template_problems(DEFAULT_TEMPLATE) == []


def test_a_located_message(tmp_path: Path) -> None:
    path = tmp_path / "example.rubric"
    path.write_text((Path(__file__).parent / "cases" / "templates" / "typo.rubric").read_text())
    program = diagnostics(path)
    assert render_all(program.diagnostics, program.sources) == f"""\
error[S007]: template `strict` uses `critrion`, which a judge template is not given
 --> {path}:4:15
  |
4 | Criterion: {{{{ critrion }}}}
  |               ^^^^^^^^ not defined
  |
help: did you mean `criterion`?"""


# ---- a template that parses but fails on some rows -----------------------------------------------

FAILS_ON_SOME_ROWS = '''
rubric r {
    template answer_only = """Is the answer polite? Answer yes or no.
<response-{{ fence }}>
{{ response.split("</think>")[1] }}
</response-{{ fence }}>
Criterion: {{ criterion }}"""
    judge polite template answer_only: "Is polite."
    test "pinned, on a row the template fails on" {
        response = "no think tags here"
        given polite = yes
        expect score == 1
    }
    test "expecting the error does not hide it" {
        response = "no think tags here"
        given polite = yes
        expect status(polite) == "error"
    }
    test "pinned, on a row the template renders" {
        response = "<think>hm</think> Thank you!"
        given polite = yes
        expect score == 1
    }
}
'''


@pytest.fixture
def fails_on_some_rows(tmp_path: Path) -> Path:
    path = tmp_path / "answer_only.rubric"
    path.write_text(FAILS_ON_SOME_ROWS, encoding="utf-8")
    return path


def test_tests_render_pinned_judges(fails_on_some_rows: Path, capsys) -> None:
    assert main(["check", str(fails_on_some_rows), "--no-probes"]) == 1
    out = " ".join(capsys.readouterr().out.split())  # the console wraps long lines
    assert out.count("S007 judge `polite` cannot render its prompt on this test's row") == 2
    assert 'test failed: r / "pinned, on a row the template renders"' not in out
    assert "UndefinedError: list object has no element 1" in out


class Recording:
    """A judge that says yes to everything and remembers what it was asked."""

    def __init__(self) -> None:
        self.asked: list[JudgeRequest] = []

    def judge(self, requests: list[JudgeRequest]) -> list[float | Failed]:
        self.asked += requests
        return [1.0 for _ in requests]


@pytest.mark.parametrize("make_judge", [Recording, lambda: PinnedJudge({"polite": 1.0})])
def test_a_failing_row_is_an_error_verdict_and_the_others_go_on(fails_on_some_rows, make_judge):
    judge = make_judge()
    rows = [{"response": "<think>a</think> Thanks!"}, {"response": "no tags"}]
    good, bad = rubricc.compile(str(fails_on_some_rows)).score_rows(rows, judge=judge).rows
    assert good.total == 1.0
    assert bad.total is None and bad.items["polite"].status == ERROR
    assert bad.items["polite"].message.startswith(f"{TEMPLATE_FAILED}: UndefinedError")
    if isinstance(judge, Recording):
        assert [r.response for r in judge.asked] == [rows[0]["response"]]


@pytest.fixture(scope="module")
def judge_model(tmp_path_factory) -> str:
    return build_tiny_lm(tmp_path_factory.mktemp("judge"), arch="qwen2", hidden=64, seed=3)


def test_score_marks_the_row_and_writes_the_output(judge_model, fails_on_some_rows, tmp_path,
                                                   monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # the default verdict cache lives under ~/.cache
    rows = [{"prompt": "q", "response": "<think>a</think> Thanks!"},
            {"prompt": "q", "response": "no tags"},
            {"prompt": "q", "response": "<think>b</think> Get lost."}]
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "scored.jsonl"
    code = main(["score", str(fails_on_some_rows), str(data), "--out", str(out),
                 "--judge", f"hf:{judge_model}"])
    assert code == 1  # one row has no reward
    scored = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [s["status"]["polite"] for s in scored] == ["ok", "error", "ok"]
    assert scored[1]["reward"] is None and TEMPLATE_FAILED in json.dumps(scored[1])
    assert all(0 <= s["reward"] <= 1 for s in (scored[0], scored[2]))


def test_a_judge_on_an_expression_sees_that_text_and_the_columns_its_template_reads() -> None:
    text = ('template guided = """Guide: {{ guide }}. Turns: {{ messages | length }}.\n'
            '<response-{{ fence }}>{{ response }}</response-{{ fence }}>\nCriterion: {{ criterion }}"""\n'
            'rubric r {\n    input guide: text\n    let code = tag(response, "code")\n'
            '    gate has_code: code != none\n'
            '    judge idiomatic on code template guided: "Is idiomatic."\n'
            '    judge explained: "Explains the code."\n}\n')
    scorer = rubricc.compile(text)
    row = {"response": "See <code>x = 1</code>.", "guide": "PEP 8",
           "messages": [{"role": "user", "content": "Write x."}]}
    class Recording(PinnedJudge):
        def judge(self, requests):
            self.seen = [*getattr(self, "seen", []), *requests]
            return super().judge(requests)

    for engine in ("compiled", "interpreted"):
        judge = Recording({"idiomatic": 1.0, "explained": 0.0})
        if engine == "compiled":
            scorer.score_rows([row], judge=judge)
        else:
            interpret_batch(scorer.checked, [row], Services(None, judge))
        asked = {r.item: r for r in judge.seen}
        assert asked["idiomatic"].response == "x = 1"
        assert "Guide: PEP 8. Turns: 1." in asked["idiomatic"].render()
        assert asked["explained"].response == row["response"] and asked["explained"].columns == ""

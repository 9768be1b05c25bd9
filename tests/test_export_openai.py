"""`rubricc export --to openai-grader`: the JSON is valid against the openai package's grader
types, and the exported grader, run locally, gives rubricc's own score.

The `multi` grader's `graders` is a dict of named graders, as the service reads it
(`calculate_output` names them); the SDK's `MultiGraderParam` types it as one grader, a known
mismatch (openai/openai-java#647), so each named grader is validated against its own type and the
`multi` envelope with one of them in its place.
"""

from __future__ import annotations

import ast
import builtins
import json
import math
import re
from collections import Counter
from pathlib import Path

import pytest
from openai.types import graders as og
from pydantic import TypeAdapter

from rubricc.builtins import similarity
from rubricc.cli import main
from rubricc.export_openai import FORMULA_FUNCTIONS, export, export_file
from rubricc.judges import PinnedJudge
from rubricc.pipeline import compile, front
from tests.conftest import ROOT

CASES = sorted((ROOT / "tests" / "cases" / "export").glob("*.rubric"))
TYPES = {"string_check": og.StringCheckGraderParam, "text_similarity": og.TextSimilarityGraderParam,
         "python": og.PythonGraderParam, "score_model": og.ScoreModelGraderParam,
         "label_model": og.LabelModelGraderParam, "multi": og.MultiGraderParam}


def strictly(cls, value: dict) -> None:
    """`value` is a `cls` TypedDict: every required key, no other key, each value of its type."""
    keys = set(value)
    assert cls.__required_keys__ <= keys, (cls.__name__, cls.__required_keys__ - keys)
    assert keys <= cls.__required_keys__ | cls.__optional_keys__, (cls.__name__, keys)
    TypeAdapter(cls).validate_python(value, strict=True)


def validate(grader: dict) -> None:
    json.loads(json.dumps(grader))  # plain JSON
    assert grader["type"] == "multi"
    named = grader["graders"]
    assert named and isinstance(named, dict)
    for name, sub in named.items():
        assert sub["name"] == name and sub["type"] != "multi"
        strictly(TYPES[sub["type"]], sub)
    strictly(og.MultiGraderParam, {**grader, "graders": next(iter(named.values()))})
    formula_names(grader["calculate_output"]) <= set(named) or pytest.fail("unknown name")
    for sub in named.values():
        if sub["type"] == "python":
            for node in ast.walk(ast.parse(sub["source"])):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    assert {a.name for a in node.names} <= {"math", "re"}


def formula_names(formula: str) -> set[str]:
    """The grader names a calculate_output formula reads; fails on anything outside its syntax."""
    names = set()
    for node in ast.walk(ast.parse(formula, mode="eval")):
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name) and node.func.id in FORMULA_FUNCTIONS
        elif isinstance(node, ast.Name):
            names.add(node.id)
        else:
            assert isinstance(node, (ast.Expression, ast.BinOp, ast.Constant, ast.Load, ast.Add,
                                     ast.Sub, ast.Mult, ast.Div)), ast.dump(node)
    return names - set(FORMULA_FUNCTIONS)


def fill(template: str, row: dict) -> str:
    def one(m):
        ns, key = m.group(1), m.group(2)
        return row["response"] if (ns, key) == ("sample", "output_text") else str(row[key])
    return re.sub(r"\{\{\s*(sample|item)\.(\w+)\s*\}\}", one, template)


def run_grader(grader: dict, row: dict, verdicts: dict) -> float:
    """The exported grader's score of one row, each sub-grader run here as OpenAI runs it
    (score_model graders answer with the pinned verdict; text similarity with rubricc's metric)."""
    values = {}
    for name, sub in grader["graders"].items():
        if sub["type"] == "string_check":
            a, b = fill(sub["input"], row), fill(sub["reference"], row)
            values[name] = float({"eq": a == b, "ne": a != b, "like": b in a,
                                  "ilike": b.lower() in a.lower()}[sub["operation"]])
        elif sub["type"] == "python":
            scope: dict = {}
            exec(compile_source(sub["source"]), scope)  # noqa: S102 - the grader under test
            item = {k: v for k, v in row.items() if k != "response"}
            values[name] = scope["grade"]({"output_text": row["response"]}, item)
        elif sub["type"] == "text_similarity":
            metric = {"rouge_l": similarity.rouge_l, "fuzzy_match": similarity.fuzzy_ratio,
                      "bleu": similarity.bleu}[sub["evaluation_metric"]]
            values[name] = metric(fill(sub["input"], row), fill(sub["reference"], row))
        else:
            values[name] = verdicts[name] if sub["range"] == [0.0, 1.0] else \
                1 + verdicts[name] * (sub["range"][1] - 1)
    functions = {f: getattr(math, f, None) or {"min": min, "max": max, "abs": abs}[f]
                 for f in FORMULA_FUNCTIONS}
    return eval(grader["calculate_output"], {"__builtins__": {}}, {**functions, **values})  # noqa: S307


def compile_source(source: str):
    return builtins.compile(source, "<grader>", "exec")


def agrees(text: str, rows: list[dict], verdicts: dict | None = None, name: str | None = None):
    """Export `text`, validate it, and check it scores every row as rubricc does."""
    result = front(text)
    assert result.ok, result.diagnostics
    checked = [c for c in result.rubrics if name in (None, c.name)][0]
    exported = export(checked)
    assert exported.ok and not exported.diagnostics, exported.diagnostics
    validate(exported.grader)
    scorer = compile(text, name)
    judge = PinnedJudge(verdicts or {})
    batch = scorer.score_rows(rows, judge=judge)
    for i, row in enumerate(rows):
        assert bool(batch.valid[i])
        ours = run_grader(exported.grader, row, verdicts or {})
        want = float(batch.total[i])  # float32
        assert ours == pytest.approx(want, abs=1e-6), (row, exported.grader)
    return exported.grader


def test_think_answer_exports_as_python_graders_that_score_as_rubricc_does() -> None:
    path = ROOT / "rubrics" / "format" / "think_answer.rubric"
    rows = [{"response": r, "prompt": "q"} for r in (
        "<think>2 + 2 = 4</think> <answer>4</answer>", "<answer>4</answer>",
        "<think>hmm</think><answer> </answer>", "<think>a</think><answer>4</answer> bye",
        "<think>a</think><answer>3</answer><think>b</think><answer>4</answer>",
        "<think> </think><answer>4</answer>",
        "<think>no.</think><answer>I'm sorry, but I can't help with that.</answer>")]
    grader = agrees(path, rows)
    assert {g["type"] for g in grader["graders"].values()} == {"python"}
    assert grader["calculate_output"] == "one_each * (thinks * ((answers)))"


def test_math_answer_is_not_expressible(capsys) -> None:
    """math_equal needs sympy and final_answer rubricc's extraction: no stdlib grader runs them,
    so each is E001 at its span, and the score, which reads `correct`, is E005 even with
    --partial."""
    path = ROOT / "rubrics" / "math" / "answer.rubric"
    result, _ = export_file(path)
    assert not result.ok and result.grader is None
    assert [(d.code, d.span.line) for d in result.diagnostics] == [("E001", 9), ("E001", 12),
                                                                   ("E005", 14)]
    partial, _ = export_file(path, partial=True)
    assert [d.severity for d in partial.diagnostics] == ["warning", "warning", "error"]
    assert main(["export", str(path), "--to", "openai-grader", "--partial"]) == 1
    assert "error[E005]" in capsys.readouterr().err


def test_string_check_similarity_and_the_score_formula() -> None:
    text = """rubric mixed {
    input answer: text
    gate said: contains(lower(response), "answer") else -1
    check exact weight 2: response == answer
    check not_empty weight 0.5: response != ""
    check mentions: contains(response, answer)
    check loosely: contains(lower(response), lower(answer))
    check similar weight 0: rouge_l(response, answer)
    check near tier pitfall: fuzzy_ratio(answer, response) >= 0.8
    score = clip(0.9 * weighted_mean(items) + 0.1 * at_least(2, exact, mentions, loosely) - 0.05 * min(similar, near))
}"""
    rows = [{"response": r, "answer": a, "prompt": "q"} for r, a in [
        ("the answer is Paris", "Paris"), ("Answer: paris", "Paris"), ("Paris", "Paris"),
        ("no idea", "Paris"), ("answer: the answer is paris!", "the answer is Paris")]]
    grader = agrees(text, rows)
    kinds = {n: (g["type"], g.get("operation") or g.get("evaluation_metric"))
             for n, g in grader["graders"].items()}
    assert kinds == {"said": ("string_check", "ilike"), "exact": ("string_check", "eq"),
                     "not_empty": ("string_check", "ne"), "mentions": ("string_check", "like"),
                     "loosely": ("string_check", "ilike"), "similar": ("text_similarity", "rouge_l"),
                     "near": ("text_similarity", "fuzzy_match")}
    assert grader["graders"]["exact"]["reference"] == "{{ item.answer }}"
    assert grader["graders"]["exact"]["input"] == "{{ sample.output_text }}"


@pytest.mark.parametrize("agg", ["points(items)", "mean(items)", "sum(checks) / 2", "product(items)",
                                 "max(checks)", "all(items)", "any(judges)", "min(good, short)"])
def test_judges_and_aggregations(agg: str) -> None:
    text = f"""rubric judged {{
    judge good points 3: "Answers the question."
    judge rated scale 5 points 2: "Is clear."
    judge bad points -2: "Is rude."
    check short points 1: words(response) <= 5
    score = {agg}
}}"""
    rows = [{"response": r, "prompt": "q"} for r in ("Yes it is.", "Well, it depends on many things.")]
    for verdicts in ({"good": 1.0, "rated": 0.75, "bad": 0.0}, {"good": 0.3, "rated": 0.25, "bad": 1.0}):
        grader = agrees(text, rows, verdicts)
    good, rated = grader["graders"]["good"], grader["graders"]["rated"]
    assert good["type"] == "score_model" and good["range"] == [0.0, 1.0]
    assert rated["range"] == [1.0, 5.0]
    user = good["input"][1]["content"]
    assert "{{ sample.output_text }}" in user and "{{ item.prompt }}" in user
    assert "Criterion: Answers the question." in user


def test_a_template_reads_columns_as_item_variables() -> None:
    text = '''template styled = """Guide: {{ guide }}
{{ response }}
Criterion: {{ criterion }}"""
rubric styled_rubric {
    input guide: text
    judge follows template styled: "Follows the guide."
}'''
    grader = agrees(text, [{"response": "x", "guide": "PEP 8", "prompt": "q"}], {"follows": 0.5})
    assert grader["graders"]["follows"]["input"][1]["content"].startswith("Guide: {{ item.guide }}")


def test_partial_leaves_out_what_is_not_expressible(tmp_path: Path, capsys) -> None:
    path = tmp_path / "r.rubric"
    path.write_text("""rubric r {
    input answer: text
    check correct: math_equal(response, answer)
    check short: words(response) <= 10
}""")
    out = tmp_path / "g.json"
    assert main(["export", str(path), "--to", "openai-grader", "--out", str(out)]) == 1
    assert not out.exists()
    assert main(["export", str(path), "--to", "openai-grader", "--out", str(out), "--partial"]) == 0
    assert "warning[E001]" in capsys.readouterr().err
    grader = json.loads(out.read_text())
    validate(grader)
    assert set(grader["graders"]) == {"short"} and grader["calculate_output"] == "(short)"


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_export_case(path: Path) -> None:
    """tests/cases/export/*.rubric compile, and export with exactly the codes of their header."""
    header = path.read_text().split("\n", 1)[0]
    expected = Counter(re.fullmatch(r"#\s*expect:(.*)", header).group(1).replace(",", " ").split())
    result, _ = export_file(path, name="r")
    assert Counter(d.code for d in result.diagnostics) == expected
    assert not result.ok

"""`rubricc view` in a real headless browser (Debian's chromium, driven by playwright).

The data are real: 20,000 arithmetic rows scored by `rubricc score` with the shipped rubric and with
a second version of it, a `check --format json` report of the arith pack, and a short real GRPO run
of a tiny model. The page is served by `rubricc view` in a subprocess, and exported with `--export`
and opened from a file URL; every count the page shows is checked against the output files, read
here without the viewer's code. Screenshots go to the test's folder, and to docs/img/view/ under
`--update-snapshots` (docs/view.md shows them).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rubricc.cli import main
from tests.conftest import ROOT, TOY_RUBRIC

CHROMIUM = os.environ.get("RUBRICC_CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"no chromium at {CHROMIUM} (.ci/run installs Debian's)")
playwright = pytest.importorskip("playwright.sync_api")

ARITH = ROOT / "rubrics" / "arith" / "answer.rubric"
ROWS = 20_000
SHOTS = ROOT / "docs" / "img" / "view"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def responses(rng: random.Random, a: int, b: int) -> str:
    """What a policy learning sums writes: mostly right, some wrong, some with the format broken."""
    total = a + b
    kind = rng.random()
    if kind < 0.55:
        return f"<think>{a} + {b}: add the units, carry, add the tens.</think> <answer>{total}</answer>"
    if kind < 0.80:
        return f"<answer>{total + rng.choice([-10, -1, 1, 10])}</answer>"
    if kind < 0.90:
        return f"The sum is **{total}**, so $x = {total}$. <answer>{total}</answer> Done."
    if kind < 0.95:
        return f"<answer>{total}</answer><answer>{total}</answer>"
    if kind < 0.99:
        return f"So \\(\\boxed{{\\frac{{{2 * total}}}{{2}}}}\\) and \\boxed{{{total}}}. <answer>{total}</answer>"
    return f'<img src=x onerror="window.hacked = 1"><script>window.hacked = 2</script> <answer>{total}</answer>'



@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Two score outputs of the same 20k rows (the arith rubric and a v2 that allows text after the
    answer), a probe report and a training run folder."""
    folder = tmp_path_factory.mktemp("view")
    rng = random.Random(7)
    rows = []
    for _ in range(ROWS):
        a, b = rng.randint(10, 999), rng.randint(10, 999)
        rows.append({"prompt": f"What is {a} + {b}?", "answer": str(a + b),
                     "response": responses(rng, a, b)})
    (folder / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    v2 = folder / "answer_v2.rubric"
    text = ARITH.read_text()
    v2.write_text(re.sub(r"\n    gate ends_there:[^\n]*", "", text).split("\n    test ")[0] + "\n}\n")
    for rubric, out in ((ARITH, "v1.jsonl"), (v2, "v2.jsonl")):
        assert main(["score", str(rubric), str(folder / "rows.jsonl"), "--out",
                     str(folder / out), "--batch", "4096"]) == 0  # gated rows have their fail value
    (folder / "naive.rubric").write_text(NAIVE)
    report = subprocess.run([sys.executable, "-m", "rubricc.cli", "check", str(ARITH),
                             str(folder / "naive.rubric"), "--format", "json"],
                            capture_output=True, text=True)
    assert report.returncode == 1  # the naive rubric is hackable
    (folder / "probes.json").write_text(report.stdout)
    run_folder = training_run(folder)
    return folder, v2, run_folder


NAIVE = """\
rubric naive "contains the answer: a reward the probes hack" {
    input answer: text
    check correct: contains(response, answer)

    test "the answer passes" {
        answer = "12"
        response = "It is 12."
        expect correct == 1
    }
}
"""



def training_run(folder: Path) -> Path:
    """Eight GRPO steps of a tiny model, with held-out prompts every two: a real metrics.jsonl."""
    import torch
    from rubricc.trainer.config import TrainConfig
    from rubricc.trainer.grpo import train
    from rubricc.trainer.tiny import build_tiny_lm

    (folder / "toy.rubric").write_text(TOY_RUBRIC)
    for name, letters in (("train.jsonl", "abcdefgh"), ("held.jsonl", "xyz")):
        (folder / name).write_text("".join(json.dumps({"prompt": f"Write the letter {c}", "letter": c})
                                           + "\n" for c in letters))
    build_tiny_lm(folder / "model", arch="qwen2", hidden=32, layers=1, heads=2, kv_heads=1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(TrainConfig(model=str(folder / "model"), rubric=str(folder / "toy.rubric"),
                          data=str(folder / "train.jsonl"), eval_data=str(folder / "held.jsonl"),
                          eval_every=2, output_dir=str(folder / "run"), steps=8, prompts_per_step=4,
                          num_generations=4, max_new_tokens=6, learning_rate=1e-2, save_every=0,
                          allow_hacks=True))
    finally:
        torch.set_num_threads(threads)
    return folder / "run"


def expected(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def served(data):
    folder, v2, run = data
    proc = subprocess.Popen([sys.executable, "-m", "rubricc.cli", "view", str(folder / "v1.jsonl"),
                             str(folder / "v2.jsonl"), str(folder / "probes.json"), str(run),
                             "--rubric", str(ARITH), "--rubric", str(v2), "--no-open"],
                            stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    url = re.search(r"http://127\.0\.0\.1:\d+/", line)
    assert url, f"rubricc view printed {line!r}"
    yield url.group(0)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0  # Ctrl-C ends it cleanly
    assert "Traceback" not in proc.stderr.read()


@pytest.fixture(scope="module")
def exported(data, tmp_path_factory):
    folder, v2, run = data
    target = tmp_path_factory.mktemp("export") / "report.html"
    assert main(["view", str(folder / "v1.jsonl"), str(folder / "v2.jsonl"), str(folder / "probes.json"),
                 str(run), "--rubric", str(ARITH), "--rubric", str(v2), "--export", str(target)]) == 0
    return target.as_uri()


def shoot(page, request, name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if request.config.getoption("--update-snapshots"):
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SHOTS / f"{name}.png")


def open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.goto(url)
    page.wait_for_selector(".count:not(:empty)")
    return page, errors


def counted(page) -> int:
    """The `N of M rows` line once the table has answered."""
    text = page.locator(".output .count, .compare .count").first.inner_text()
    return int(text.split(" of ")[0].replace(",", ""))


@pytest.mark.parametrize("mode", ["served", "exported"])
def test_rows_filter_and_the_explain_tree(mode, request, browser, data, tmp_path):
    url = request.getfixturevalue(mode)
    folder = data[0]
    lines = expected(folder / "v1.jsonl")
    page, errors = open_page(browser, url)
    assert counted(page) == ROWS  # the table draws the rows in sight of the page's 50
    assert page.locator(".tabulator-row [tabulator-field=row]").first.inner_text() == "1"
    # failed rows of one item: `correct` ran and scored 0
    failed = [i + 1 for i, line in enumerate(lines)
              if line["status"]["correct"] == "ok" and line["items"]["correct"] < 1]
    page.select_option("select[name=item]", "correct")
    page.select_option("select[name=status]", "failed")
    page.wait_for_function(f"document.querySelector('.count').textContent.startsWith('{len(failed):,} of')")
    first = page.locator(".tabulator-row").first
    assert first.locator("[tabulator-field=row]").inner_text() == str(failed[0])
    assert first.locator("[tabulator-field=correct]").inner_text() == "0"
    if mode == "served":
        shoot(page, request, "rows", tmp_path)
    # a regex over responses narrows it further
    page.fill("input[name=text]", r"^<answer>\d+</answer>$")
    page.check("input[name=regex]")
    want = sum(1 for i in failed if re.search(r"^<answer>\d+</answer>$", lines[i - 1]["response"]))
    page.wait_for_function(f"document.querySelector('.count').textContent.startsWith('{want:,} of')")
    # the row view: the response, and the explain tree with the rubric's expressions
    first.locator("[tabulator-field=prompt]").click()
    view = page.locator(".row-view")
    view.wait_for()
    row = int(view.get_attribute("data-row"))
    assert row == failed[0] or row in failed
    tree = view.locator("pre.explain").inner_text()
    assert "where correct = 0  <- given == gold" in tree
    assert f"where gold = {float(lines[row - 1]['answer'])!r}" in tree
    if mode == "served":
        page.locator(".row-view").scroll_into_view_if_needed()
        shoot(page, request, "row", tmp_path)
    assert not errors, errors


@pytest.mark.parametrize("mode", ["served", "exported"])
def test_a_row_renders_markdown_and_latex_and_runs_no_html_it_carries(mode, request, browser, data):
    url = request.getfixturevalue(mode)
    lines = expected(data[0] / "v1.jsonl")
    page, errors = open_page(browser, url)

    def open_row(pattern: str):
        page.fill("input[name=text]", pattern)
        page.check("input[name=regex]")
        want = sum(1 for line in lines if re.search(pattern, line["response"]))
        page.wait_for_function(f"document.querySelector('.count').textContent.startsWith('{want:,} of')")
        first = page.locator(".tabulator-row").first
        row = first.locator("[tabulator-field=row]").inner_text()
        assert re.search(pattern, lines[int(row) - 1]["response"])
        first.locator("[tabulator-field=prompt]").click()
        page.wait_for_selector(f".row-view[data-row='{row}']")
        return page.locator(f".row-view[data-row='{row}'] .rendered").nth(1)  # the response

    think = open_row("^<think>")
    assert think.locator("details.think summary").inner_text() == "think"
    markdown = open_row(r"\*\*\d+\*\*")
    assert markdown.locator("strong").count() == 1 and markdown.locator(".katex").count() == 1
    assert "<answer>" in markdown.inner_text()  # tags in a response show as written
    boxed = open_row(r"\\boxed")
    assert boxed.locator(".katex .mfrac").count() == 1  # \(\boxed{\frac{..}{2}}\): braces kept whole
    assert boxed.locator(".katex").count() == 2  # and the bare \boxed{N}
    hostile = open_row("onerror")
    page.wait_for_timeout(300)
    assert page.evaluate("window.hacked") is None
    assert hostile.locator("img, script").count() == 0  # nothing that runs or fetches
    assert "<script>window.hacked = 2</script>" in hostile.inner_text()
    assert not errors, errors


@pytest.mark.parametrize("mode", ["served", "exported"])
def test_compare_two_versions_of_a_rubric(mode, request, browser, data, tmp_path):
    url = request.getfixturevalue(mode)
    folder = data[0]
    a, b = expected(folder / "v1.jsonl"), expected(folder / "v2.jsonl")
    changed = sum(1 for x, y in zip(a, b) if x["reward"] != y["reward"])
    assert changed > 100  # v2 drops the gate that text after the answer fails
    page, errors = open_page(browser, url)
    page.locator("nav button", has_text="compare").click()
    page.wait_for_selector(".compare-summary table")
    assert f"reward changed in {changed:,}" in page.locator(".compare-summary").inner_text()
    agreement = {r.locator("td").nth(0).inner_text(): r.locator("td").nth(2).inner_text()
                 for r in page.locator("table.agreement tbody tr").all()}
    same = sum(1 for x, y in zip(a, b) if x["status"]["correct"] == y["status"]["correct"]
               and x["items"]["correct"] == y["items"]["correct"])
    assert agreement["correct"] == f"{100 * same / ROWS:.1f}%"
    page.wait_for_function(f"document.querySelector('.compare .count').textContent.startsWith('{changed:,} of')")
    first = page.locator(".compare .tabulator-row").first
    assert float(first.locator("[tabulator-field=delta]").inner_text()) != 0
    first.locator("[tabulator-field=prompt]").click()
    page.wait_for_selector(".detail.pair .row-view >> nth=1")
    if mode == "served":
        shoot(page, request, "compare", tmp_path)
    assert not errors, errors


@pytest.mark.parametrize("mode", ["served", "exported"])
def test_a_training_run_and_a_probe_report(mode, request, browser, data, tmp_path):
    url = request.getfixturevalue(mode)
    run = data[2]
    steps = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    page, errors = open_page(browser, url)
    page.locator("nav button", has_text="run:").click()
    page.wait_for_selector("figure.chart canvas")
    panels = page.locator("figure.chart").evaluate_all("fs => fs.map(f => f.dataset.panel)")
    assert panels[:4] == ["reward", "items", "hack signatures", "held-out"]
    legend = page.locator("figure[data-panel=items]").inner_text()
    assert "item/has_letter/mean" in legend and "item/ascii/mean" in legend
    assert "item/has_letter/ok" not in legend  # status tallies are not curves
    held = page.locator("figure[data-panel=held-out]").inner_text()
    assert "eval/reward/mean" in held and "eval/item/has_letter/mean" in held
    # the curve is the file's: uPlot's data for the held-out reward, nulls where none was logged
    plotted = page.locator("figure[data-panel=held-out]").evaluate(
        "f => f.querySelector('.uplot') && f.plot.data[1]")
    assert plotted == [s.get("eval/reward/mean") for s in steps]
    assert len(steps) == 8
    if mode == "served":
        shoot(page, request, "run", tmp_path)
    page.locator("nav button", has_text="probes:").click()
    page.wait_for_selector(".probes .tabulator-row")
    report = json.loads((data[0] / "probes.json").read_text())
    probes = [p for f in report["files"] for r in f["probes"] for p in r["probes"]]
    assert page.locator(".probes .tabulator-row").count() == len(probes)
    hacked = page.locator(".probes [tabulator-field=hacked]", has_text="HACKED").count()
    assert hacked == sum(1 for p in probes if p["hacked"]) > 0
    assert page.locator(".probes [tabulator-field=hacked]", has_text="held").count() == \
        sum(1 for p in probes if not p["hacked"])
    if mode == "served":
        shoot(page, request, "probes", tmp_path)
    assert not errors, errors


def test_the_export_is_one_file_that_reaches_nothing(browser, exported):
    page = browser.new_page()
    asked = []
    page.on("request", lambda r: asked.append(r.url))
    page.goto(exported)
    page.wait_for_selector(".count:not(:empty)")
    assert all(u.startswith(("file:", "data:")) for u in asked), asked


PARITY = [
    {"item": "correct", "status": "failed"}, {"item": "numeric", "status": "skipped"},
    {"item": "ends_there", "status": "passed", "sort": "reward", "desc": "1"},
    {"reward": "scored", "reward_min": "0.5"}, {"reward_max": "0"}, {"reward": "none"},
    {"text": "SUM IS"}, {"text": "think", "field": "prompt"},
    {"text": r"^<answer>1\d\d</answer>$", "regex": "1", "field": "response"},
    {"item": "correct", "value_max": "0.5", "sort": "correct"}, {"desc": "1"},
    {"against": "v2.jsonl", "changed": "1", "sort": "delta"},
    {"against": "v2.jsonl", "changed": "1", "item": "one_answer", "status": "ok", "desc": "1"},
]


def test_the_exported_page_answers_each_query_as_the_server_does(browser, data, exported):
    """The one rule written twice (table.py and static/query.js), compared query by query."""
    from rubricc.view.app import Viewer
    from rubricc.view.sources import load

    folder = data[0]
    viewer = Viewer(load([str(folder / "v1.jsonl"), str(folder / "v2.jsonl")]))
    page = browser.new_page()
    page.goto(exported)
    page.wait_for_selector(".count:not(:empty)")
    for q in PARITY:
        params = {"source": "v1.jsonl", "page": "2", "size": "100", **q}
        server = viewer.rows(params)
        local = page.evaluate("p => api.rows(p)", params)
        assert (local["total"], local["last_page"]) == (server["total"], server["last_page"]), q
        assert [r["row"] for r in local["data"]] == [r["row"] for r in server["data"]], q
        assert local["data"] == json.loads(json.dumps(server["data"])), q

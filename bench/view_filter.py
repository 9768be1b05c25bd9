r"""How fast `rubricc view` answers a filter over a big score output.

    python bench/view_filter.py [--rows 100000] [--chars 600] [--repeats 5] [--no-browser]

Writes ROWS rows for `rubrics/arith/answer.rubric` (each response CHARS characters of reasoning
before its `<answer>`; some wrong, some with the format broken), scores them with `rubricc score`,
serves the output with `rubricc view`, and times five filters three ways, median of REPEATS each
(every repeat a new query, so no answer comes from the viewer's cache of recent queries):

1. **in the page**: headless chromium (playwright), from changing the filter controls to the page
   showing the new count and rows (what a person waits for; the page's sort is a header click,
   so the last case is timed there without its sort);
2. **over HTTP**: `GET /api/rows` for the first page of 50 rows;
3. **the query alone**, in-process: `Frame.select`, against **the naive way**, a Python loop over
   the rows as dicts (what a viewer without columns does on every request). The ratio is
   naive / Frame.

Every filter's count is checked to be the same on all paths.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RUBRIC = ROOT / "rubrics" / "arith" / "answer.rubric"
FILLER = "Let me add the units, then the tens, carrying where a column passes nine. "

# (label, the query's fields, the naive test of one row)
FILTERS = [
    ("failed rows of one item", {"item": "correct", "status": "failed"},
     lambda r: r["status"].get("correct") == "ok" and r["items"]["correct"] < 1),
    ("reward range", {"reward_min": "0.5", "reward_max": "1"},
     lambda r: r["reward"] is not None and 0.5 <= r["reward"] <= 1),
    ("substring in the response", {"text": "ANSWER>1", "field": "response"},
     lambda r: "answer>1" in r["response"].casefold()),
    ("regex over prompt and response", {"text": r"\+ 1\d\?", "regex": "1"},
     lambda r: any(re.search(r"\+ 1\d\?", t) for t in (r["prompt"], r["response"]))),
    ("sorted by an item, one state", {"item": "ends_there", "status": "ok", "sort": "numeric",
                                      "desc": "1"},
     lambda r: r["status"].get("ends_there") == "ok"),
]


def variant(fields: dict, k: int) -> dict:
    """The query made new for repeat k (so no answer comes from the viewer's cache), keeping the
    same rows: a `value_min` below every value of an item no filter above names."""
    return fields | {"item": fields.get("item", "one_answer"), "value_min": str(-k)}


def write_data(path: Path, rows: int, chars: int) -> None:
    rng = random.Random(0)
    reasoning = (FILLER * (chars // len(FILLER) + 1))[:chars]
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(rows):
            a, b = rng.randint(10, 999), rng.randint(10, 999)
            total = a + b + (rng.random() < 0.3) * rng.choice([-10, -1, 1, 10])
            tail = " Done." if rng.random() < 0.1 else ""
            f.write(json.dumps({"prompt": f"What is {a} + {b}?", "answer": str(a + b),
                                "response": f"{reasoning}<answer>{total}</answer>{tail}"}) + "\n")


def timed(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def serve(out: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "rubricc.cli", "view", str(out), "--no-open"],
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    url = re.search(r"http://127\.0\.0\.1:\d+/", proc.stderr.readline())
    if not url:
        proc.kill()
        raise SystemExit("rubricc view did not start")
    return proc, url.group(0)


def over_http(url: str, name: str, query: dict) -> int:
    params = urllib.parse.urlencode({"source": name, "page": 1, "size": 50} | query)
    with urllib.request.urlopen(f"{url}api/rows?{params}") as r:
        return json.load(r)["total"]


def in_the_page(url: str, cases, repeats: int) -> dict[str, list[float]]:
    """Seconds from setting the filter controls to the count line showing the new answer."""
    from playwright.sync_api import sync_playwright

    times: dict[str, list[float]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url)
        page.wait_for_selector(".count:not(:empty)")
        for label, queries, counts in cases:
            times[label] = []
            for query, count in zip(queries, counts):
                page.evaluate("""q => {
                    const bar = document.querySelector('.filters');
                    for (const node of bar.elements) {
                        if (!node.name) continue;
                        if (node.type === 'checkbox') node.checked = q[node.name] === '1';
                        else node.value = q[node.name] ?? (node.tagName === 'SELECT' ? node.options[0].value : '');
                    }
                    document.querySelector('.count').textContent = '';
                }""", {k: v for k, v in query.items() if k not in ("sort", "desc")})
                start = time.perf_counter()
                page.dispatch_event("select[name=item]", "change")
                page.wait_for_function(
                    "n => document.querySelector('.count').textContent.startsWith(n + ' of')",
                    arg=f"{count:,}")
                page.wait_for_selector(".tabulator-row" if count else ".tabulator-table")
                times[label].append(time.perf_counter() - start)
        browser.close()
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--chars", type=int, default=600)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-browser", action="store_true", help="skip the in-page timing")
    args = ap.parse_args()

    from rubricc.data import read_scored
    from rubricc.view.table import Frame, Query

    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "rows.jsonl", Path(tmp) / "scored.jsonl"
        write_data(data, args.rows, args.chars)
        subprocess.run([sys.executable, "-m", "rubricc.cli", "score", str(RUBRIC), str(data),
                        "--out", str(out), "--batch", "4096"], check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"{args.rows:,} scored rows, {out.stat().st_size / 1e6:.0f} MB")
        lines = read_scored(out)
        frame = Frame.of_lines(lines)
        cases, results, http = [], {}, {}
        for label, fields, naive in FILTERS:
            frame_s, naive_s = [], []
            for k in range(1, args.repeats + 1):
                s, picked = timed(frame.select, Query.of_params(variant(fields, k)))
                frame_s.append(s)
                s, kept = timed(lambda rows, keep: [r for r in rows if keep(r)], lines, naive)
                naive_s.append(s)
                assert len(picked) == len(kept), (label, len(picked), len(kept))
            results[label] = (len(kept), statistics.median(frame_s), statistics.median(naive_s))
        proc, url = serve(out)
        try:
            for label, fields, _ in FILTERS:
                http[label] = []
                for k in range(101, 101 + args.repeats):
                    s, total = timed(over_http, url, out.name, variant(fields, k))
                    assert total == results[label][0], (label, total)
                    http[label].append(s)
                cases.append((label, [variant(fields, k) for k in range(201, 201 + args.repeats)],
                              [results[label][0]] * args.repeats))
            page = {} if args.no_browser else in_the_page(url, cases, args.repeats)
        finally:
            proc.terminate()
            proc.wait()
    print(f"\n{'filter':32} {'rows kept':>10} {'page s':>8} {'HTTP s':>8} {'Frame s':>8} "
          f"{'naive s':>8} {'ratio':>6}")
    for label, (kept, frame_med, naive_med) in results.items():
        page_med = f"{statistics.median(page[label]):.3f}" if page else "-"
        print(f"{label:32} {kept:>10,} {page_med:>8} {statistics.median(http[label]):>8.3f} "
              f"{frame_med:>8.3f} {naive_med:>8.3f} {naive_med / frame_med:>5.1f}x")

if __name__ == "__main__":
    main()

r"""Peak memory of `rubricc score` on a big JSONL file: the file streams, so it should not matter.

    python bench/score_memory.py [--rows 200000] [--chars 2000] [--batch 512]
                                 [--code DIR ...] [--keep FILE]

Writes ROWS rows of `rubrics/arith/answer.rubric`'s columns, each response CHARS characters of
reasoning before its `<answer>` (200k rows of 2000 characters: about 417 MB), then runs
`python -m rubricc.cli score` on it once per `--code` checkout (default: this one) and prints,
for each, the peak resident memory of the scoring process (`os.wait4`'s ru_maxrss: the largest
of the process and the workers it waited for), the wall time and the rows per second. Every
output row is checked to have the reward the data was built to have (every seventh response is
wrong). Compare two versions with a worktree of the older one:

    git worktree add /tmp/before HEAD~1
    python bench/score_memory.py --code /tmp/before --code .
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUBRIC = ROOT / "rubrics" / "arith" / "answer.rubric"
FILLER = "Let me think about this step by step, checking each digit twice. "


def write_data(path: Path, rows: int, chars: int) -> None:
    reasoning = (FILLER * (chars // len(FILLER) + 1))[:chars]
    with open(path, "w", encoding="utf-8") as f:
        for i in range(rows):
            answer = i + (i % 7 == 0)  # every seventh one off: reward 0
            f.write(json.dumps({"id": i, "answer": str(i),
                                "response": f"{reasoning}<answer>{answer}</answer>"}) + "\n")


def measure(code: Path, data: Path, out: Path, batch: int) -> dict:
    """Run the score command of the checkout at `code` (as `python -m rubricc.cli` from there,
    so its own package is imported), and return its peak RSS in MB and its time."""
    cmd = [sys.executable, "-m", "rubricc.cli", "score", str(RUBRIC), str(data), "--out", str(out),
           "--batch", str(batch)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=code, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{code}: exit status {os.waitstatus_to_exitcode(status)}: "
                         f"{proc.stderr.read().decode()[-2000:]}")
    return {"peak_rss_mb": usage.ru_maxrss / 1024, "wall_s": wall}  # ru_maxrss is in KiB


def check(out: Path, rows: int) -> None:
    with open(out, encoding="utf-8") as f:
        for i, line in enumerate(f):
            row = json.loads(line)
            assert row["id"] == i and row["reward"] == float(i % 7 != 0), (i, row["reward"])
    assert i == rows - 1, f"{i + 1} rows written of {rows}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--chars", type=int, default=2000, help="characters of reasoning a response")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--code", action="append", type=Path,
                    help="a checkout whose rubricc to run (repeatable; default: this one)")
    ap.add_argument("--keep", type=Path, help="write the data here and keep it (else a temp dir)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.keep or Path(tmp) / "in.jsonl"
        if not data.exists():
            write_data(data, args.rows, args.chars)
        size = data.stat().st_size / 1e6
        print(f"data: {args.rows} rows, {size:.0f} MB ({data})")
        for code in args.code or [ROOT]:
            out = Path(tmp) / "out.jsonl"
            result = measure(code.resolve(), data, out, args.batch)
            check(out, args.rows)
            out.unlink()
            print(f"{code}: peak RSS {result['peak_rss_mb']:.0f} MB, {result['wall_s']:.1f} s, "
                  f"{args.rows / result['wall_s']:,.0f} rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

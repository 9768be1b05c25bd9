"""`rubricc view ... --export report.html`: the page as one file, to share.

Every asset (scripts, styles, KaTeX's fonts as data URLs) and the data go inside the file, so it
opens from a file URL with no server and no network. The data are what the server would answer:
each output's rows whole (the page filters them itself, `static/query.js`), each row's explain
tree, and the comparison of every two outputs with the same number of rows.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from rubricc.view.app import STATIC, Viewer
from rubricc.view.sources import Output


def report_data(viewer: Viewer, progress=None) -> dict:
    """What the exported page reads instead of the server; `progress(n)` counts rows done."""
    outputs = [s for s in viewer.sources.values() if isinstance(s, Output)]
    rows, details = {}, {}
    for o in outputs:
        frame = o.frame
        rows[o.name] = [_whole(frame, i) for i in range(len(frame))]
        details[o.name] = []
        for line in frame.lines:
            details[o.name].append({"line": line, "explain": o.explain(line)})
            if progress:
                progress(1)
    compares = {f"{a.name}\u0000{b.name}": viewer.compare({"a": a.name, "b": b.name})
                for a in outputs for b in outputs if a is not b and len(a.frame) == len(b.frame)}
    return {**viewer.describe(), "rows": rows, "details": details, "compares": compares}


def _whole(frame, i: int) -> dict:
    out = frame.summary_of(i)
    del out["prompt"], out["response"]
    return out | {"full_prompt": frame.prompts[i], "full_response": frame.responses[i]}


def export(viewer: Viewer, target: Path, progress=None) -> int:
    """Write the report; returns its size in bytes."""
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    page = re.sub(r'<link rel="stylesheet" href="static/([^"]+)">',
                  lambda m: f"<style>\n{_css(STATIC / m.group(1))}\n</style>", page)
    page = re.sub(r'<script src="static/([^"]+)"></script>',
                  lambda m: f"<script>\n{_script((STATIC / m.group(1)).read_text(encoding='utf-8'))}\n</script>",
                  page)
    data = json.dumps(report_data(viewer, progress), ensure_ascii=False, allow_nan=False)
    page = page.replace("<!--data-->", f"<script>window.RUBRICC_DATA = {_script(data)};</script>", 1)
    target.write_text(page, encoding="utf-8")
    return target.stat().st_size


def _script(text: str) -> str:
    """Text safe inside a <script> element: `</script` would end it early."""
    return re.sub(r"</(script)", r"<\\/\1", text, flags=re.IGNORECASE)


def _css(path: Path) -> str:
    """A style sheet with its fonts inlined: each `url(fonts/X.woff2)` as a data URL (the other
    formats KaTeX lists after woff2 are dropped; a browser that reads the page reads woff2)."""
    text = path.read_text(encoding="utf-8")

    def inline(m: re.Match) -> str:
        font = path.parent / m.group(1)
        return f"url(data:font/woff2;base64,{base64.b64encode(font.read_bytes()).decode()})"

    text = re.sub(r",url\(fonts/[^)]+\.(?:woff|ttf)\) format\(\"(?:woff|truetype)\"\)", "", text)
    return re.sub(r"url\((fonts/[^)]+\.woff2)\)", inline, text)

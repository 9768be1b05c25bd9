"""`rubricc view`: the page and the JSON it reads, served on 127.0.0.1.

The page (`static/index.html`, `static/app.js`) asks the server for one page of rows at a time
(`/api/rows`, Tabulator's remote pagination: `{"last_page", "data"}`), so a 100k-row output costs
the browser 50 rows, not the file. `--export` writes the same page as one file with every asset and
the data inside it (`export.py`); the page then answers the same questions itself.

Endpoints (GET, JSON; a bad request is a 400 with `{"error": ...}`):

- `/api/sources`: every source, described (items and their counts, a run's curves, probes);
- `/api/rows?source=NAME&page=1&size=50&...`: a page of a `Query` (`table.Query`'s fields);
  `&against=NAME` pairs each row with the same row of another output (compare);
- `/api/row?source=NAME&row=N`: row N (from 1) whole, with its explain tree;
- `/api/compare?a=NAME&b=NAME`: per-item agreement and how many rewards moved.
"""

from __future__ import annotations

import socket
import threading
import webbrowser
from pathlib import Path

from rubricc.view.sources import Output
from rubricc.view.table import Query, QueryError, compare

STATIC = Path(__file__).parent / "static"
PAGE_SIZES = (25, 50, 100, 250)


class Viewer:
    """The sources and the questions the page asks of them, apart from HTTP (export uses it too)."""

    def __init__(self, sources):
        self.sources = {s.name: s for s in sources}
        self._pairs: dict[tuple[str, str], tuple] = {}

    def describe(self) -> dict:
        return {"sources": [s.describe() for s in self.sources.values()]}

    def output(self, name: str | None) -> Output:
        source = self.sources.get(name or "")
        if not isinstance(source, Output):
            outputs = [n for n, s in self.sources.items() if isinstance(s, Output)]
            raise QueryError(f"source: no score output {name!r} (outputs: {', '.join(outputs)})")
        return source

    def pair(self, a: str, b: str):
        """The compared frame and its summary, made once per pair."""
        if (a, b) not in self._pairs:
            self._pairs[(a, b)] = compare(self.output(a).frame, self.output(b).frame)
        return self._pairs[(a, b)]

    def rows(self, params) -> dict:
        against = params.get("against")
        frame = self.pair(params.get("source"), against)[0] if against else \
            self.output(params.get("source")).frame
        picked = frame.select(Query.of_params(params))
        size = _int(params, "size", 50)
        if size not in PAGE_SIZES:
            raise QueryError(f"size: {size} is not one of {', '.join(map(str, PAGE_SIZES))}")
        pages = max(1, -(-len(picked) // size))
        page = min(max(1, _int(params, "page", 1)), pages)
        return {"last_page": pages, "total": int(len(picked)), "of": len(frame),
                "data": [frame.summary_of(int(i)) for i in picked[(page - 1) * size:page * size]]}

    def row(self, params) -> dict:
        return self.output(params.get("source")).row(_int(params, "row", 1) - 1)

    def compare(self, params) -> dict:
        return self.pair(params.get("a"), params.get("b"))[1]


def _int(params, key: str, default: int) -> int:
    raw = params.get(key)
    try:
        return default if raw in (None, "") else int(raw)
    except ValueError:
        raise QueryError(f"{key}: {raw!r} is not a whole number") from None


def app(viewer: Viewer):
    """The ASGI app: the page, its assets, and the four endpoints."""
    from starlette.applications import Starlette
    from starlette.responses import FileResponse, JSONResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    def answer(method):
        async def endpoint(request):
            try:
                return JSONResponse(method(request.query_params))
            except (QueryError, IndexError) as e:
                return JSONResponse({"error": str(e)}, status_code=400)
        return endpoint

    async def page(request):
        return FileResponse(STATIC / "index.html")

    async def sources(request):
        return JSONResponse(viewer.describe())

    return Starlette(routes=[
        Route("/", page), Route("/api/sources", sources),
        Route("/api/rows", answer(viewer.rows)), Route("/api/row", answer(viewer.row)),
        Route("/api/compare", answer(viewer.compare)),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ])


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def serve(viewer: Viewer, port: int | None = None, open_browser: bool = True,
          on_ready=None) -> None:
    """Serve the page until interrupted; `on_ready(url)` is told where, once it answers."""
    import uvicorn

    if port:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError as e:
                raise ValueError(f"--port {port}: {e.strerror} on 127.0.0.1 (leave --port out "
                                 "for a free one)") from None
    port = port or free_port()
    url = f"http://127.0.0.1:{port}/"
    server = uvicorn.Server(uvicorn.Config(app(viewer), host="127.0.0.1", port=port,
                                           log_level="warning"))

    def ready():
        while not server.started:
            if server.should_exit:
                return
            threading.Event().wait(0.05)
        if on_ready:
            on_ready(url)
        if open_browser:
            webbrowser.open(url)

    threading.Thread(target=ready, daemon=True).start()
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn shut down, then raised the Ctrl-C again: we are done
        pass

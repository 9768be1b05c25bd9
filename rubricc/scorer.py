"""`Scorer`: a compiled rubric, callable on whole batches.

    scorer = rubricc.compile("rubrics/math/answer.rubric")
    batch = scorer.score(responses=["... \\boxed{4}"], answer=["4"])
    batch.total, batch.values, batch.status
"""

from __future__ import annotations

import threading
import time
import traceback

from rubricc import types as t
from rubricc import values as V
from rubricc.builtins import Regex
from rubricc.checked_rubric import Checked, all_items, choose_route, judge_items, routed_items
from rubricc.codegen import Generated
from rubricc.ir import Function
from rubricc.isolation.pool import WorkerPool
from rubricc.judges import Judge, JudgeRequired
from rubricc.runtime.batch import RewardBatch
from rubricc.runtime.judge_plan import run_planned
from rubricc.runtime.kernels import BatchRuntime
from rubricc.runtime.result import ItemResult, RowResult
from rubricc.runtime.services import Services
from rubricc.source import Source

DEFAULT_DEADLINE = 10.0


POOL_WARM_UP = ("rubricc.builtins.mathx:warm_up",)
_POOL_START = threading.Lock()
"""What each pool worker runs before taking calls: the imports of the heavy built-ins."""


class GeneratedCodeError(RuntimeError):
    """A failure inside generated code, reported at the rubric line that produced it."""


class Scorer:
    def __init__(self, checked: Checked, function: Function | None, generated: Generated | None,
                 routes: dict[str | None, Scorer] | None = None):
        self.checked = checked
        self.function = function
        self.generated = generated
        self.routes = routes or {}
        self.provenance: dict = {"rubric": checked.name}  # `pipeline.compile` fills it in
        self.pool: WorkerPool | None = None
        self.judge: Judge | None = None
        self.deadline = DEFAULT_DEADLINE
        self.sources: dict[str, Source] = {}  # the rubric's files, for explanations
        self._entry = None

    @property
    def name(self) -> str:
        return self.checked.name

    @property
    def names(self) -> list[str]:
        return [i.name for i in all_items(self.checked)]

    @property
    def inputs(self) -> dict:
        """Every column the rubric reads: a router's own and all its routes'."""
        return self.checked.inputs

    def inputs_of(self, row: dict | None) -> dict[str, t.Type]:
        """The columns `row` must have: a router's own, and the columns of the route its key
        picks for the row. A routed rubric's columns are required on its own rows only, so one
        data file can mix tasks (a math row needs no `tests` column)."""
        if not self.routes:
            return self.inputs
        own = {name: self.inputs[name] for name in self.checked.scope.inputs}
        if row is None or any(name not in row and not t.is_optional(typ) for name, typ in own.items()):
            return own
        [case] = self.cases({name: [value] for name, value in row.items()}, 1, self.services())
        return own if isinstance(case, V.Failed) else own | self.routes[case].inputs_of(row)

    def cases(self, cols: dict[str, list], size: int, services: Services) -> list:
        """Each row's route case (`choose_route` of the key the router's generated code gives),
        or the failure of its key."""
        try:
            keys = self.entry()(BatchRuntime(self.checked, cols, size, services))
        except Exception as exc:
            raise self.locate(exc) from exc
        return [choose_route(self.checked, key) for key in keys]

    def python_source(self) -> str:
        """The generated code: a router's own (its key) first, then each route's."""
        parts = [self.generated.source] + [s.python_source() for s in self.routes.values()]
        return "\n\n".join(parts)

    def ir_text(self) -> str:
        return "\n\n".join([self.function.render()] + [s.ir_text() for s in self.routes.values()])

    # ---- running -------------------------------------------------------------------------------

    def services(self, judge: Judge | None = None, device=None) -> Services:
        with _POOL_START:  # two threads scoring at once must not start two pools
            if self.pool is None:
                self.pool = WorkerPool(deadline=self.deadline, warm_up=POOL_WARM_UP)
        return Services(self.pool, judge or self.judge, device)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None
        for sub in self.routes.values():
            sub.close()

    def score(self, prompts=None, responses=None, *, judge: Judge | None = None, device=None,
              **columns) -> RewardBatch:
        """Score a batch given column lists: `responses` (and `prompts`), plus dataset columns.

        `device` is where the tensors go and where batched built-ins (models) compute.
        """
        cols = {k: list(v) for k, v in columns.items()}
        if responses is not None:
            cols["response"] = list(responses)
        if prompts is not None:
            cols["prompt"] = list(prompts)
        size = len(cols["response"]) if "response" in cols else 0
        return self.score_columns(cols, size, judge=judge, device=device)

    def score_rows(self, rows: list[dict], *, judge: Judge | None = None, device=None) -> RewardBatch:
        names = {k for r in rows for k in r}
        cols = {k: [r.get(k) for r in rows] for k in names}
        return self.score_columns(cols, len(rows), judge=judge, device=device)

    def score_columns(self, cols: dict[str, list], size: int, judge=None, device=None) -> RewardBatch:
        """Score columns of `size` rows. Texts are made encodable first (`values.encodable`): a
        lone surrogate in a response becomes U+FFFD rather than an error of its row."""
        started = time.perf_counter()
        cols = {name: [V.encodable(v) for v in column] for name, column in cols.items()}
        services = self.services(judge, device)
        rows, counts = self.run(cols, size, services)
        batch = RewardBatch.from_rows(self.names, rows, device=device)
        batch.timings = {"score_s": time.perf_counter() - started}
        batch.timings |= {k: v for k, v in services.account.items() if k.endswith("_s")}
        batch.counts = counts | {k: v for k, v in services.account.items() if not k.endswith("_s")}
        return batch

    def run(self, cols: dict[str, list], size: int, services: Services):
        if self.routes:
            return self.run_routes(cols, size, services)
        try:
            if self.judged:  # every judge item's requests in one backend call (judge_plan)
                return run_planned(self.entry(), self.checked, cols, size, services)
            rt = BatchRuntime(self.checked, cols, size, services)
            return self.entry()(rt), dict(rt.calls)
        except Exception as exc:
            raise self.locate(exc) from exc

    @property
    def judged(self) -> bool:
        return bool(judge_items(self.checked))

    def entry(self):
        if self._entry is None:
            namespace: dict = {"Regex": Regex}  # regex constants print as Regex(...) in the code
            code = compile(self.generated.source, self.generated.filename, "exec")
            exec(code, namespace)
            self._entry = namespace[self.generated.entry]
        return self._entry

    def locate(self, exc: Exception) -> Exception:
        if isinstance(exc, JudgeRequired):
            return exc
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename == self.generated.filename:
                span = self.generated.span_at(frame.lineno)
                return GeneratedCodeError(f"{span}: {type(exc).__name__}: {exc}")
        return exc

    def run_routes(self, cols, size, services):
        """Each row to the scorer of the case its key picks (`choose_route`), in one batch per
        case; its columns renamed `case.item` (`routed_items`), the other cases' `na`. The keys
        come from the router's generated code, over the whole batch."""
        groups: dict[str | None, list[int]] = {}
        rows: list[RowResult | None] = [None] * size
        for i, case in enumerate(self.cases(cols, size, services)):
            if isinstance(case, V.Failed):
                rows[i] = RowResult({}, None, case.status, case.message)
            else:
                groups.setdefault(case, []).append(i)
        counts: dict[str, int] = {}
        for case, idx in groups.items():
            sub_cols = {k: [v[i] for i in idx] for k, v in cols.items()}
            sub_rows, sub_counts = self.routes[case].run(sub_cols, len(idx), services)
            for i, r in zip(idx, sub_rows):
                rows[i] = RowResult(routed_items(case, r.items), r.total, r.status, r.message)
            for k, v in sub_counts.items():
                counts[k] = counts.get(k, 0) + v
        na = {name: ItemResult(None, V.NA) for name in self.names}
        return [RowResult(na | r.items, r.total, r.status, r.message) for r in rows], counts

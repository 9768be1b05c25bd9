"""The in-process vLLM judge (`pip install rubricc[vllm]`; needs a GPU).

One `LLM.chat` call per batch: every request is one user turn, `max_tokens=1` with `logprobs`,
so the verdict is read from the first token's top log-probabilities (`verdicts.from_logprobs`)
with no generation beyond it. Prefix caching is on, so the prompt and response shared by all
criteria about one response are computed once and reused, as packing does in the transformers
backend.

Loading: `VLLMJudge(..., lazy=True)`, as `load_judge` builds it for a `vllm:` spec, neither
imports vLLM nor loads the model until the first request the verdict cache cannot answer, as
`HFJudge(lazy=True)` does: a rerun the cache answers whole needs no GPU and no vLLM, and
choosing the judge costs nothing. A load that fails then (vLLM not installed, a model that
cannot be found, no GPU) raises `JudgeUnavailable` naming the model, which reaches the caller
as itself, not as an error at the rubric line that asked. `VLLMJudge(...)` loads at once and
raises what vLLM raises.

What was run where: on CPU machines without vLLM, the lazy path only (`tests/test_vllm_lazy.py`:
a spec builds the judge without importing vLLM, torch or transformers; a batch the cache
answers loads nothing; the first miss raises `JudgeUnavailable` naming the model). The vLLM
path itself never ran here (no GPU): it is written against vLLM's documented API (`vllm.LLM`,
`LLM.chat`, `SamplingParams(logprobs=...)`, `RequestOutput.outputs[0].logprobs`). A vLLM `serve`
endpoint is exercised through the OpenAI-compatible backend's protocol.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import cached_property

from rubricc.backends import verdicts
from rubricc.judges import JudgeRequest
from rubricc.values import ERROR, Failed

TOP_LOGPROBS = 20  # vLLM's default cap on logprobs per token
INSTALL = "pip install 'rubricc[vllm]' (Linux with a CUDA GPU)"


class VLLMJudge:
    """A vLLM engine as a judge: `judge(requests) -> [P(yes) or rating | Failed]`.

    model: a name or folder for `vllm.LLM`. dtype: e.g. "bfloat16"; default: vLLM's "auto".
    lazy: import vLLM and load the model at the first request rather than now, so that a batch
        the verdict cache answers whole never loads them (`load_judge` builds it so).
    llm_options: passed on to `vllm.LLM` (`gpu_memory_utilization`, `max_model_len`, ...).
    """

    def __init__(self, model: str, dtype: str | None = None, lazy: bool = False, **llm_options):
        self.source, self.dtype, self.lazy = model, dtype, lazy
        self.llm_options = llm_options
        if not lazy:
            self.llm  # noqa: B018 -- the model now, so that a bad one fails here

    @cached_property
    def llm(self):
        with self.loading():
            try:
                from vllm import LLM
            except ImportError as exc:
                raise ImportError(f"the vllm judge needs vLLM: {INSTALL}") from exc
            return LLM(model=self.source, dtype=self.dtype or "auto", enable_prefix_caching=True,
                       **self.llm_options)

    @contextmanager
    def loading(self):
        """A lazy judge's load fails inside scoring: as `JudgeUnavailable` (a JudgeRequired, the
        class the hf backend raises), it reaches the caller as itself. vLLM reports a model or
        GPU it cannot use as OSError, ValueError or RuntimeError."""
        try:
            yield
        except (ImportError, OSError, ValueError, RuntimeError) as exc:
            if not self.lazy:
                raise
            from rubricc.backends.hf import JudgeUnavailable  # vLLM needs torch too

            raise JudgeUnavailable(f"the judge vllm:{self.source} cannot be loaded: {exc}") from exc

    def judge(self, requests: list[JudgeRequest]) -> list[float | Failed]:
        if not requests:
            return []
        llm = self.llm
        from vllm import SamplingParams  # importable once `llm` is loaded

        params = SamplingParams(max_tokens=1, temperature=0.0, logprobs=TOP_LOGPROBS)
        conversations = [[{"role": "user", "content": r.render()}] for r in requests]
        outputs = llm.chat(conversations, params, use_tqdm=False)
        return [self._verdict(output, request) for output, request in zip(outputs, requests)]

    @staticmethod
    def _verdict(output, request: JudgeRequest) -> float | Failed:
        steps = output.outputs[0].logprobs if output.outputs else None
        if not steps:
            return Failed(ERROR, "vLLM returned no logprobs")
        pairs = [(lp.decoded_token or "", lp.logprob) for lp in steps[0].values()]
        return verdicts.from_logprobs(pairs, request.scale)

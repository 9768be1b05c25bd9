"""The in-process vLLM judge (`pip install rubricc[vllm]`; needs a GPU).

One `LLM.chat` call per batch: every request is one user turn, `max_tokens=1` with `logprobs`,
so the verdict is read from the first token's top log-probabilities (`verdicts.from_logprobs`)
with no generation beyond it. Prefix caching is on, so the prompt and response shared by all
criteria about one response are computed once and reused, as packing does in the transformers
backend.

What was run: nothing. These machines have no GPU, so this module is written against vLLM's
documented API (`vllm.LLM`, `SamplingParams(logprobs=...)`, `RequestOutput.outputs[0].logprobs`)
and is not exercised by the test suite; the transformers and OpenAI-compatible backends are.
A vLLM `serve` endpoint is exercised through the OpenAI-compatible backend's protocol.
"""

from __future__ import annotations

from rubricc.backends import verdicts
from rubricc.judges import JudgeRequest
from rubricc.runtime.values import ERROR, Failed

TOP_LOGPROBS = 20  # vLLM's default cap on logprobs per token


class VLLMJudge:
    def __init__(self, model: str, dtype: str | None = None, **llm_options):
        try:
            from vllm import LLM, SamplingParams
        except ImportError as exc:
            raise ImportError("the vllm judge needs vLLM: pip install 'rubricc[vllm]' "
                              "(Linux with a CUDA GPU)") from exc
        self.llm = LLM(model=model, dtype=dtype or "auto", enable_prefix_caching=True,
                       **llm_options)
        self.params = SamplingParams(max_tokens=1, temperature=0.0, logprobs=TOP_LOGPROBS)

    def judge(self, requests: list[JudgeRequest]) -> list[float | Failed]:
        if not requests:
            return []
        conversations = [[{"role": "user", "content": r.render()}] for r in requests]
        outputs = self.llm.chat(conversations, self.params, use_tqdm=False)
        return [self._verdict(output, request) for output, request in zip(outputs, requests)]

    @staticmethod
    def _verdict(output, request: JudgeRequest) -> float | Failed:
        steps = output.outputs[0].logprobs if output.outputs else None
        if not steps:
            return Failed(ERROR, "vLLM returned no logprobs")
        pairs = [(lp.decoded_token or "", lp.logprob) for lp in steps[0].values()]
        return verdicts.from_logprobs(pairs, request.scale)

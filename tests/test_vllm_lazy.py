"""The `vllm:` judge loads lazily: choosing it imports nothing heavy, a batch the verdict cache
answers whole loads nothing, and the first miss loads the model or says why it cannot.

vLLM is not installed here (and needs a GPU): a missing vLLM is the real one, made certain by
`sys.modules["vllm"] = None`; where a load must succeed, a stub `vllm` module stands in, with
only the documented names the backend uses (`LLM`, `LLM.chat`, `SamplingParams`, logprobs).
"""

from __future__ import annotations

import math
import subprocess
import sys
import types
from types import SimpleNamespace

import pytest

from rubricc.backends.cache import CachedJudge
from rubricc.backends.spec import JudgeConfig, load_judge
from rubricc.backends.vllm_judge import VLLMJudge
from rubricc.judges import JudgeRequest, JudgeRequired, PinnedJudge

SPEC = "vllm:/nonexistent/judge-model"


def requests(n: int) -> list[JudgeRequest]:
    return [JudgeRequest("polite", "Is polite", "Hi?", f"Hello {i}!") for i in range(n)]


class StubLLM:
    """`vllm.LLM` as documented: a first token's logprobs of 0.75 "yes" and 0.25 "no"."""

    loads: list[str] = []

    def __init__(self, model: str, **options):
        StubLLM.loads.append(model)

    def chat(self, conversations, sampling_params, use_tqdm=True):
        assert sampling_params.kwargs == {"max_tokens": 1, "temperature": 0.0, "logprobs": 20}
        first = {1: SimpleNamespace(decoded_token="yes", logprob=math.log(0.75)),
                 2: SimpleNamespace(decoded_token="no", logprob=math.log(0.25))}
        return [SimpleNamespace(outputs=[SimpleNamespace(logprobs=[first])])
                for _ in conversations]


@pytest.fixture
def stub_vllm(monkeypatch) -> list[str]:
    module = types.ModuleType("vllm")
    module.LLM = StubLLM
    module.SamplingParams = lambda **kwargs: SimpleNamespace(kwargs=kwargs)
    monkeypatch.setitem(sys.modules, "vllm", module)
    monkeypatch.setattr(StubLLM, "loads", [])
    return StubLLM.loads


@pytest.fixture
def no_vllm(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # `import vllm` raises ImportError


def test_choosing_a_vllm_judge_imports_nothing_heavy(tmp_path) -> None:
    code = (f"import sys\nfrom rubricc.backends.spec import JudgeConfig, load_judge\n"
            f"judge = load_judge(JudgeConfig(spec={SPEC!r}, cache={str(tmp_path / 'v.db')!r}))\n"
            "print(type(judge.inner).__name__, "
            "sorted(m for m in ('vllm', 'torch', 'transformers') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["VLLMJudge", "[]"]


def test_a_batch_the_cache_answers_loads_nothing(tmp_path, stub_vllm) -> None:
    db = tmp_path / "v.db"
    CachedJudge(PinnedJudge({"polite": 0.25}), SPEC, db).judge(requests(2))
    judge = load_judge(JudgeConfig(spec=SPEC, cache=str(db)))
    assert judge.judge(requests(2)) == [0.25, 0.25]
    assert stub_vllm == []
    assert judge.judge(requests(3)) == [0.25, 0.25, 0.75]  # one miss: the model, once
    assert judge.judge(requests(4)) == [0.25, 0.25, 0.75, 0.75]
    assert stub_vllm == ["/nonexistent/judge-model"]


def test_the_first_miss_without_vllm_says_which_judge_cannot_load(tmp_path, no_vllm) -> None:
    from rubricc.backends.hf import JudgeUnavailable

    db = tmp_path / "v.db"
    CachedJudge(PinnedJudge({"polite": 0.25}), SPEC, db).judge(requests(1))
    judge = load_judge(JudgeConfig(spec=SPEC, cache=str(db)))
    assert judge.judge(requests(1)) == [0.25]
    with pytest.raises(JudgeUnavailable, match=r"vllm:/nonexistent/judge-model cannot be loaded"
                                               r".*pip install 'rubricc\[vllm\]'") as caught:
        judge.judge(requests(2))
    assert isinstance(caught.value, JudgeRequired)  # the scorer passes it on as itself


def test_an_eager_vllm_judge_fails_at_once_without_vllm(no_vllm) -> None:
    with pytest.raises(ImportError, match=r"pip install 'rubricc\[vllm\]'"):
        VLLMJudge("/nonexistent/judge-model")

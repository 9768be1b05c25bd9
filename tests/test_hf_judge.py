"""The transformers judge: packed criteria give the numbers of separate passes.

The oracle is the plainest use of the model there is: one request per forward pass, batch size
1, no mask, the model's own positions. The models are tiny, random and saved to a temporary
folder, then loaded by path as a user's model is. Their weights are drawn wider than the usual
initialisation, so that verdicts depend on the context: a mask that let one criterion see
another would move them far beyond the tolerance (`test_the_oracle_sees_a_wrong_mask`).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from rubricc.trainer.tiny import build_tiny_lm
from transformers import AttentionInterface, AutoModelForCausalLM, AutoTokenizer, Qwen2Config

import rubricc
from rubricc.backends import packing
from rubricc.backends.hf import HFJudge, PackingUnsupported
from rubricc.judges import JudgeRequest
from rubricc.values import Failed
from tests.conftest import (
    ATTENTION,
    CRITERIA,
    QUESTION,
    RESPONSES,
    TOLERANCE,
    max_difference,
    separate,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # `models` too: fixtures of tests/conftest.py


def requests_for(k: int, responses=RESPONSES) -> list[JudgeRequest]:
    """k criteria per response, every other one a Likert rating from 1 to 5."""
    return [JudgeRequest(f"c{j}", CRITERIA[j], QUESTION, response, scale=5 if j % 2 else None)
            for response in responses for j in range(k)]


@pytest.mark.parametrize("attn", ATTENTION)
@pytest.mark.parametrize("arch", ["llama", "qwen2"])
@pytest.mark.parametrize("k", [1, 3, 10])
def test_packed_matches_separate_passes(models, arch: str, attn: str, k: int) -> None:
    requests = requests_for(k)
    judge = HFJudge(models[arch], attn_implementation=attn, share_prefix=False)  # packing alone
    want = separate(judge, requests)
    assert max(want) - min(want) > 0.05 or k == 1  # the verdicts are not all alike
    assert max_difference(judge.judge(requests), want) < TOLERANCE
    assert judge.account["forwards"] == 1  # three responses, packed, in one padded batch
    if k > 1:
        unpacked = HFJudge(models[arch], attn_implementation=attn, packed=False)
        assert max_difference(unpacked.judge(requests), want) < TOLERANCE
        prefixes = [packing.common_prefix(judge.tokenize(requests[i:i + k]))
                    for i in range(0, len(requests), k)]  # the question and the response
        assert judge.account["tokens"] == unpacked.account["tokens"] - (k - 1) * sum(prefixes)


@pytest.mark.parametrize("attn", ATTENTION)
def test_packs_split_over_a_small_token_budget(models, attn: str) -> None:
    requests = requests_for(10)
    judge = HFJudge(models["llama"], attn_implementation=attn, batch_tokens=900)
    assert max_difference(judge.judge(requests), separate(judge, requests)) < TOLERANCE
    assert judge.account["forwards"] > 3
    assert judge.account["padded_tokens"] <= 900 * judge.account["forwards"]


@pytest.mark.parametrize("mistake", ["criteria see each other", "positions run on"])
def test_the_oracle_catches_a_wrong_pack(models, mistake: str) -> None:
    """The tolerance has teeth: a pack with either half of the trick undone misses it by far."""
    judge = HFJudge(models["qwen2"], attn_implementation="eager")
    requests = requests_for(10, RESPONSES[:1])
    [pack] = judge.plan(requests, judge.tokenize(requests), list(range(len(requests))))[1]
    batch = packing.collate([pack], judge.pad_id)
    if mistake == "criteria see each other":
        wrong = replace(batch, segments=batch.segments.clamp(max=packing.PREFIX))
    else:
        wrong = replace(batch, position_ids=torch.arange(pack.tokens)[None])
    probs = judge.next_token_probs(wrong, four_d=True)
    got = [judge.answers.verdict(p, requests[i].scale) for i, p in zip(batch.owners, probs)]
    want = separate(judge, [requests[i] for i in batch.owners])
    assert max_difference(got, want) > 100 * TOLERANCE


@pytest.mark.parametrize("chat_template", [True, False])
def test_the_prompt_is_a_user_turn_when_the_tokenizer_has_a_chat_template(models, chat_template):
    judge = HFJudge(models["llama"], chat_template=chat_template)
    request = requests_for(1)[0]
    text = judge.tokenizer.decode(judge.tokenize([request])[0])
    turn = f"<|user|>{request.render()}\n<|assistant|>"
    assert text == (turn if chat_template else request.render())


def test_the_mask_is_additive_in_the_model_dtype() -> None:
    segments = torch.tensor([[0, 0, 1, 2, -1]])
    for dtype in (torch.float32, torch.bfloat16):
        mask = packing.attention_mask(segments, dtype)
        assert mask.dtype == dtype and mask.shape == (1, 1, 5, 5)
        assert set(mask.unique().tolist()) == {0.0, float("-inf")}
        assert (mask == 0).any(dim=-1).all()  # no row is all -inf: no NaN from softmax


@pytest.mark.parametrize("packed", [True, False])
def test_a_prompt_beyond_the_model_positions_fails_alone(tmp_path, packed: bool) -> None:
    path = build_tiny_lm(tmp_path, arch="llama", max_positions=512)
    judge = HFJudge(path, attn_implementation="sdpa", packed=packed)
    requests = requests_for(3, RESPONSES[:2] + ["very long " * 60])
    got = judge.judge(requests)
    assert all(isinstance(v, Failed) and v.status == "error" and "512 positions" in v.message
               for v in got[6:])
    assert max_difference(got[:6], separate(judge, requests[:6])) < TOLERANCE


def _sdpa_under_another_name(*args, **kwargs):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    return sdpa_attention_forward(*args, **kwargs)


@pytest.mark.parametrize("attn", ["flex_attention", "rubricc_test_sdpa"])
def test_other_attention_implementations_are_refused_for_packing(models, attn: str) -> None:
    AttentionInterface.register("rubricc_test_sdpa", _sdpa_under_another_name)
    with pytest.raises(PackingUnsupported, match=f"'{attn}'.*packed=False"):
        HFJudge(models["llama"], attn_implementation=attn)
    if attn == "rubricc_test_sdpa":  # flex_attention is not run: it aborts on this CPU torch
        judge = HFJudge(models["llama"], attn_implementation=attn, packed=False)
        requests = requests_for(3)
        assert max_difference(judge.judge(requests), separate(judge, requests)) < TOLERANCE


@pytest.mark.parametrize("window", [64, 4096])
def test_sliding_windows_pack_only_within_the_window(models, tmp_path, window: int) -> None:
    base = AutoModelForCausalLM.from_pretrained(models["qwen2"])
    config = Qwen2Config(**{**base.config.to_dict(), "use_sliding_window": True,
                            "sliding_window": window, "max_window_layers": 0,
                            "layer_types": ["sliding_attention"] * base.config.num_hidden_layers})
    windowed = AutoModelForCausalLM.from_config(config)
    windowed.load_state_dict(base.state_dict())
    windowed.save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(models["qwen2"]).save_pretrained(tmp_path)
    requests = requests_for(3)
    judge = HFJudge(str(tmp_path), attn_implementation="sdpa")
    want = separate(judge, requests)
    assert max_difference(judge.judge(requests), want) < TOLERANCE
    unpacked_tokens = sum(map(len, judge.tokenize(requests)))
    assert (judge.account["tokens"] < unpacked_tokens) == (window == 4096)
    full = separate(HFJudge(models["qwen2"], attn_implementation="sdpa"), requests)
    assert (max_difference(full, want) > 100 * TOLERANCE) == (window == 64)  # the window binds


RUBRIC = '''
rubric advice {
    input rubric: list[{text: text, weight: number}]
    judge polite: "The response is polite."
    judge each item in rubric weight item.weight: item.text
    score = weighted_mean(judges)
}
'''


def test_a_rubric_scored_with_the_transformers_judge(models) -> None:
    scorer = rubricc.compile(RUBRIC)
    rubric = [{"text": "Mentions sunlight.", "weight": 2}, {"text": "Is brief.", "weight": 1}]
    rows = [{"prompt": QUESTION, "response": r, "rubric": rubric} for r in RESPONSES]
    try:
        batch = scorer.score_rows(rows, judge=HFJudge(models["llama"]))
    finally:
        scorer.close()
    assert (batch.status == 0).all(), batch.rows
    assert ((batch.values >= 0) & (batch.values <= 1)).all()
    assert batch.valid.all() and ((batch.total >= 0) & (batch.total <= 1)).all()

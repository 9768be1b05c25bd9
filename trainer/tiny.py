"""Tiny causal language models built locally, for tests, benchmarks and the offline demo.

There is no model hub here, so the models rubricc is tested against are made on the spot: a
byte-level tokenizer (the tokenizers library) with one token per byte, and a small Llama- or
Qwen2-style transformers model with random weights, saved to a folder that `from_pretrained`
loads like any downloaded model.

>>> import tempfile
>>> path = build_tiny_lm(tempfile.mkdtemp(), arch="qwen2")
>>> from transformers import AutoTokenizer
>>> tok = AutoTokenizer.from_pretrained(path)
>>> tok.decode(tok("12 + 30 = <answer>42</answer>").input_ids)
'12 + 30 = <answer>42</answer>'
"""

from __future__ import annotations

from pathlib import Path

# torch, tokenizers and transformers are imported inside the functions: test modules import this
# one when pytest collects them, and those imports cost seconds that a run of other tests skips.

SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
"""Plain text turns: no special tokens beyond the four every model here has."""


def char_tokenizer():
    """A `PreTrainedTokenizerFast` with one token per byte."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    # Byte-level BPE with no merges: one token per byte, in GPT-2's byte alphabet, the layout
    # that Qwen2's tokenizer class rebuilds itself from (it ignores a saved pre-tokenizer).
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {tok: i for i, tok in enumerate(SPECIALS + alphabet)}
    core = Tokenizer(models.BPE(vocab, merges=[], unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", bos_token="<s>",
                                  eos_token="</s>", unk_token="<unk>")
    tok.chat_template = CHAT_TEMPLATE
    return tok


def build_tiny_lm(path: str | Path, arch: str = "llama", hidden: int = 64, layers: int = 2,
                  heads: int = 4, kv_heads: int = 2, max_positions: int = 1024,
                  seed: int = 0) -> str:
    """Save a randomly initialised tiny causal LM (`arch` "llama" or "qwen2") and its tokenizer.

    Returns the folder, which `AutoModelForCausalLM.from_pretrained` and
    `AutoTokenizer.from_pretrained` load offline.
    """
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

    tok = char_tokenizer()
    configs = {"llama": LlamaConfig, "qwen2": Qwen2Config}
    if arch not in configs:
        raise ValueError(f"unknown arch {arch!r}: expected one of {sorted(configs)}")
    config = configs[arch](
        vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 2,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
        max_position_embeddings=max_positions, tie_word_embeddings=True,
        pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)

"""Choosing the judge at run time: a spec string, options, and where they come from.

A rubric never names its judge. `score`, `check`, `calibrate` and `train` take it, first found
wins, from:

1. the `--judge SPEC` option;
2. the environment variable `RUBRICC_JUDGE`;
3. the `[judge]` table of a config file: `--judge-config FILE`, else `RUBRICC_JUDGE_CONFIG`, else
   `rubricc.toml` in the working folder, if there is one.

The table holds the spec and the backend's options (a `--judge` or `RUBRICC_JUDGE` spec still
takes the file's options):

    [judge]
    spec = "openai:gpt-4o-mini@https://api.openai.com/v1"
    concurrency = 32
    rpm = 500
    cache = "~/.cache/rubricc/verdicts.db"   # false: no cache

Specs:

- `hf:PATH_OR_NAME`: transformers, in-process, criteria packed (`rubricc.backends.hf`);
- `openai:MODEL@BASE_URL`: any OpenAI-compatible server: OpenAI, vLLM `serve`, SGLang,
  llama.cpp, Ollama (`@BASE_URL` left out: OpenAI's own);
- `vllm:PATH_OR_NAME`: vLLM in-process, with prefix caching (`pip install rubricc[vllm]`; GPU).

>>> JudgeConfig(spec="openai:qwen2.5@http://localhost:8000/v1").parts()
('openai', 'qwen2.5', 'http://localhost:8000/v1')
>>> JudgeConfig(spec="gpt-4o").parts()
Traceback (most recent call last):
...
ValueError: judge spec 'gpt-4o': expected hf:PATH_OR_NAME, openai:MODEL@BASE_URL or vllm:PATH_OR_NAME
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from rubricc.judges import Judge

KINDS = ("hf", "openai", "vllm")
CONFIG_FILE = "rubricc.toml"


class JudgeConfigError(ValueError):
    """A judge spec or config file that cannot be used; the message says where and why."""


class JudgeConfig(BaseModel):
    """The judge and its options; fields a backend does not use are ignored by it."""

    model_config = ConfigDict(extra="forbid")

    spec: str
    """`hf:PATH_OR_NAME`, `openai:MODEL@BASE_URL` or `vllm:PATH_OR_NAME`."""
    cache: str | bool = True
    """The verdict cache: true for ~/.cache/rubricc/verdicts.db, a path, or false for none."""
    concurrency: int = 16
    """openai: requests in flight at once."""
    rpm: float | None = None
    """openai: requests per minute at most."""
    tpm: float | None = None
    """openai: prompt and completion tokens per minute at most."""
    timeout: float = 60.0
    """openai: seconds one request may take before it is retried."""
    max_retries: int = 4
    """openai: retries of a request after a 429, a 5xx, a timeout or a dropped connection."""
    logprobs: bool | Literal["auto"] = "auto"
    """openai: read verdicts from top_logprobs (true), from the text (false), or find out."""
    top_logprobs: int = 20
    """openai: how many of the first token's most likely alternatives to ask for (most servers
    allow at most 20); answer tokens outside them count as probability 0."""
    api_key_env: str = "OPENAI_API_KEY"
    """openai: the environment variable holding the API key."""
    device: str | None = None
    """hf: where to run ("cpu", "cuda"); default: the model's."""
    dtype: str | None = None
    """hf, vllm: the precision ("float32", "bfloat16")."""
    attn_implementation: str | None = None
    """hf: "sdpa" or "eager" (both pack criteria exactly)."""

    def parts(self) -> tuple[str, str, str | None]:
        kind, _, rest = self.spec.partition(":")
        if kind not in KINDS or not rest:
            raise ValueError(f"judge spec {self.spec!r}: expected hf:PATH_OR_NAME, "
                             "openai:MODEL@BASE_URL or vllm:PATH_OR_NAME")
        if kind == "openai":
            model, _, base_url = rest.partition("@")
            return kind, model, base_url or None
        return kind, rest, None


def find_config(spec: str | None = None, config_path: str | Path | None = None) -> JudgeConfig | None:
    """The judge configuration from the option, the environment and the config file, or None."""
    spec = spec or os.environ.get("RUBRICC_JUDGE") or None
    path = config_path or os.environ.get("RUBRICC_JUDGE_CONFIG")
    if path is None and Path(CONFIG_FILE).is_file():
        path = CONFIG_FILE
    table: dict = {}
    if path is not None:
        table = _read_table(Path(path))
    if spec is not None:
        table = table | {"spec": spec}
    if not table:
        return None
    try:
        return JudgeConfig(**table)
    except ValidationError as exc:
        where = f"{path}: [judge]" if path else "--judge"
        raise JudgeConfigError(f"{where}: {_first_error(exc)}") from None


def _read_table(path: Path) -> dict:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise JudgeConfigError(f"{path}: cannot read the judge config: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise JudgeConfigError(f"{path}: {exc}") from None
    table = data.get("judge", {})
    if not isinstance(table, dict):
        raise JudgeConfigError(f"{path}: `judge` must be a table ([judge])")
    return table


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "judge"
    return f"`{field}`: {err['msg']}"


def load_judge(config: JudgeConfig) -> Judge:
    """The backend a configuration names, behind the verdict cache unless `cache` is false.

    An `hf:` or `vllm:` judge loads its model (and, for vllm, imports vLLM) at the first
    request the cache cannot answer: a rerun that the cache answers whole loads nothing."""
    try:
        kind, model, base_url = config.parts()
    except ValueError as exc:
        raise JudgeConfigError(str(exc)) from None
    if kind == "hf":
        from rubricc.backends.hf import HFJudge

        judge = HFJudge(model, device=config.device, dtype=config.dtype,
                        attn_implementation=config.attn_implementation, lazy=True)
    elif kind == "openai":
        from rubricc.backends.openai_compat import OpenAIJudge

        judge = OpenAIJudge(model, base_url, api_key=os.environ.get(config.api_key_env),
                            concurrency=config.concurrency, rpm=config.rpm, tpm=config.tpm,
                            max_retries=config.max_retries, timeout=config.timeout,
                            logprobs=config.logprobs, top_logprobs=config.top_logprobs)
    else:
        from rubricc.backends.vllm_judge import VLLMJudge

        judge = VLLMJudge(model, dtype=config.dtype, lazy=True)
    if config.cache is False:
        return judge
    from rubricc.backends.cache import DEFAULT_PATH, CachedJudge

    path = DEFAULT_PATH if config.cache is True else Path(config.cache).expanduser()
    return CachedJudge(judge, judge_id(config.spec, model if kind != "openai" else None), path)


def judge_id(spec: str, model: str | None) -> str:
    """What the verdict cache keys a judge by: its spec, and for a model in a local folder the
    names, sizes and times of its files, so a model retrained in place is a new judge (its old
    verdicts are not served for it). A model named on the hub is its spec alone."""
    folder = Path(model).expanduser() if model else None
    if folder is None or not folder.is_dir():
        return spec
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    stamp = "".join(f"{p.relative_to(folder)}:{p.stat().st_size}:{p.stat().st_mtime_ns};" for p in files)
    return f"{spec}#{hashlib.sha256(stamp.encode()).hexdigest()[:16]}"

"""Judge backends: in-process transformers, OpenAI-compatible servers, vLLM; and how they answer."""

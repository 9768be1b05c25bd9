"""The built-in functions rubrics call; importing this package fills `REGISTRY`.

>>> REGISTRY["last_boxed"].signature()
'last_boxed(text: text) -> text?'
"""

# The modules are imported for their `@builtin()` registrations.
from rubricc.builtins import (
    arith,
    code,
    counts,
    degenerate,
    embedding,
    extract,
    ifeval,
    lists,
    mathx,
    regex,
    similarity,
    structured,
    text,
)
from rubricc.builtins.registry import REGISTRY, Builtin, Json, Param, Regex, builtin

__all__ = ["REGISTRY", "Builtin", "Json", "Param", "Regex", "builtin"]
__all__ += ["arith", "counts", "extract", "ifeval", "mathx", "regex", "similarity", "structured"]
__all__ += ["code", "degenerate", "embedding", "lists", "text"]

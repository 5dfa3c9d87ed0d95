"""zapi: local-first zero-shot API discovery and safe execution.

Record a browser session to HAR, analyze it into tool cards and a validated
OpenAPI 3.1 document, and run the tools with an action log, safe retries and
verification.  Names backed by ``toolgen`` or ``runtime`` load lazily so the
import graph stays a DAG (``runtime → toolgen → zapi core``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zapi.errors import (
    AnalysisError,
    ExecutionError,
    HarError,
    HarParseError,
    RecordingError,
    ZapiError,
)

if TYPE_CHECKING:
    from zapi.api import AnalyzeResult, analyze
    from zapi.client import ZAPI

__all__ = [
    "AnalysisError",
    "AnalyzeResult",
    "ExecutionError",
    "HarError",
    "HarParseError",
    "RecordingError",
    "ZAPI",
    "ZapiError",
    "analyze",
]

_LAZY = {
    "analyze": "zapi.api",
    "AnalyzeResult": "zapi.api",
    "ZAPI": "zapi.client",
}


def __getattr__(name: str) -> Any:
    """Load API names on first use (PEP 562) to keep ``import zapi`` light and acyclic."""
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'zapi' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value

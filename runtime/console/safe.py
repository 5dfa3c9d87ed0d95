"""What the console renders passes through here: secrets redacted, long values cut."""

from __future__ import annotations

import json
from typing import Any

from zapi.redact import Redactor

__all__ = ["clean", "pretty"]

_PRETTY_CHARS = 3000


def clean(data: Any) -> Any:
    """A copy of JSON-like ``data`` with every secret replaced by a marker.

    Two passes with one redactor: the first learns secrets found under secret-looking
    names (``api_key``, ``password``...), the second also scrubs those values wherever
    they reappear in free text (an error message, a URL, a note).
    """
    redactor = Redactor()
    redactor.json(data)
    return redactor.json(data)


def pretty(data: Any, limit: int = _PRETTY_CHARS) -> str:
    """Indented JSON of already-cleaned ``data``, cut at ``limit`` characters."""
    if data is None:
        return ""
    text = (
        data if isinstance(data, str) else json.dumps(data, indent=2, sort_keys=True, default=str)
    )
    if len(text) > limit:
        return text[:limit] + f"\n… {len(text) - limit} more characters"
    return text

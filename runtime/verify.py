"""Read-after-write verification: a declared plan plus a pure comparison."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from toolgen.cards import Verification
from toolgen.plans import match_pattern
from zapi.errors import ExecutionError, UpstreamStatusError

__all__ = [
    "ABSENT_STATUSES",
    "MISSING",
    "Mismatch",
    "check",
    "expected_from",
    "is_absent",
    "read_args",
    "resolve_pointer",
]

ABSENT_STATUSES = frozenset({404, 410})
"""Read statuses that show a resource does not exist."""

MISSING = "<missing>"
"""Observed value of a pointer that resolves to nothing."""


class Mismatch(BaseModel):
    """One written field that the read did not show."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pointer: str
    expected: Any
    observed: Any


def resolve_pointer(doc: Any, pointer: str) -> Any:
    """Value at a JSON pointer (RFC 6901) in ``doc``, or :data:`MISSING`."""
    if pointer in ("", "/"):
        return doc
    cur = doc
    for raw in pointer.lstrip("/").split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(cur, dict) and token in cur:
            cur = cur[token]
        elif isinstance(cur, list) and token.isdigit() and int(token) < len(cur):
            cur = cur[int(token)]
        else:
            return MISSING
    return cur


def _same(expected: Any, observed: Any) -> bool:
    if isinstance(expected, bool) or isinstance(observed, bool):
        return expected is observed
    if isinstance(expected, int | float) and isinstance(observed, int | float):
        return float(expected) == float(observed)
    return bool(expected == observed)


def check(expected: Mapping[str, Any], observed: Any) -> list[Mismatch]:
    """Compare ``{pointer: value}`` expectations against an observed JSON document (pure)."""
    out = []
    for pointer, want in sorted(expected.items()):
        got = resolve_pointer(observed, pointer)
        if got is MISSING or not _same(want, got):
            out.append(Mismatch(pointer=pointer, expected=want, observed=got))
    return out


def expected_from(plan: Verification, args: Mapping[str, Any]) -> dict[str, Any]:
    """``{pointer: value}`` for the written arguments the plan compares."""
    return {ptr: args[arg] for arg, ptr in plan.compare.items() if arg in args}


def read_args(
    sources: Mapping[str, str],
    args: Mapping[str, Any],
    response: Any,
    *,
    headers: Mapping[str, str] | None = None,
    patterns: Mapping[str, str] | None = None,
) -> dict[str, Any] | None:
    """Arguments for a paired read from the plan's sources (pure).

    Sources: ``arg:NAME`` (the write's argument), ``response:/ptr`` (the write's
    response), ``header:NAME`` (a response header), ``value:TEXT`` (a string) and
    ``json:VALUE`` (a typed constant). When ``patterns`` names the read argument, the
    source value is a path or URL and the argument is what the pattern's placeholder
    of the same name matches in it.

    Returns ``None`` when a source cannot be resolved (the read cannot be made).
    """
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    out: dict[str, Any] = {}
    for name, source in sources.items():
        kind, _, ref = source.partition(":")
        value: Any
        if kind == "arg":
            if ref not in args:
                return None
            value = args[ref]
        elif kind == "response":
            value = resolve_pointer(response, ref)
            if value is MISSING or value is None:
                return None
        elif kind == "header":
            if ref.lower() not in lowered:
                return None
            value = lowered[ref.lower()]
        elif kind == "value":
            value = ref
        elif kind == "json":
            try:
                value = json.loads(ref)
            except ValueError:
                return None
        else:
            return None
        pattern = (patterns or {}).get(name)
        if pattern:
            found = match_pattern(pattern, value)
            if found is None or name not in found:
                return None
            value = found[name]
        out[name] = value
    return out


def is_absent(exc: ExecutionError) -> bool:
    """True when a read failed because the resource does not exist (404 or 410)."""
    return isinstance(exc, UpstreamStatusError) and exc.status in ABSENT_STATUSES

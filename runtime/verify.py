"""Read-after-write verification: a declared plan plus a pure comparison."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from toolgen.cards import Verification

__all__ = ["MISSING", "Mismatch", "check", "expected_from", "read_args", "resolve_pointer"]

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
    sources: Mapping[str, str], args: Mapping[str, Any], response: Any
) -> dict[str, Any] | None:
    """Arguments for a paired read from ``arg:NAME``/``response:/ptr``/``value:X`` sources.

    Returns ``None`` when a source cannot be resolved (the read cannot be made).
    """
    out: dict[str, Any] = {}
    for name, source in sources.items():
        kind, _, ref = source.partition(":")
        if kind == "arg":
            if ref not in args:
                return None
            out[name] = args[ref]
        elif kind == "response":
            value = resolve_pointer(response, ref)
            if value is MISSING:
                return None
            out[name] = value
        elif kind == "value":
            out[name] = ref
        else:
            return None
    return out

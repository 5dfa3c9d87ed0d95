"""References in plan values: ``${inputs.x}``, ``${steps.ID.output.a.0}``, ``${args.sku}``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from zapi.errors import WorkflowError

__all__ = ["lookup", "references", "resolve"]

_WHOLE = re.compile(r"^\$\{([^}]+)\}$")
_ARITH = re.compile(r"\s+([+-])\s+")
_INLINE = re.compile(r"\$\{([^}]+)\}")


def lookup(scope: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` in ``scope`` (list items by number).

    Raises:
        WorkflowError: a segment does not exist.
    """
    current: Any = scope
    walked = []
    for part in path.strip().split("."):
        walked.append(part)
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif (
            isinstance(current, list)
            and part.lstrip("-").isdigit()
            and -len(current) <= int(part) < len(current)
        ):
            current = current[int(part)]
        else:
            have = sorted(current) if isinstance(current, Mapping) else type(current).__name__
            raise WorkflowError(
                f"reference ${{{path}}}: {'.'.join(walked)!r} does not exist (have: {have})",
                reference=path,
            )
    return current


def resolve(value: Any, scope: Mapping[str, Any]) -> Any:
    """Replace references in ``value`` (recursively); a whole-string reference keeps its type.

    Raises:
        WorkflowError: a reference does not resolve.
    """
    if isinstance(value, str):
        whole = _WHOLE.match(value)
        if whole:
            return _evaluate(scope, whole.group(1))
        return _INLINE.sub(lambda m: str(lookup(scope, m.group(1))), value)
    if isinstance(value, Mapping):
        return {k: resolve(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, scope) for v in value]
    return value


def _evaluate(scope: Mapping[str, Any], expr: str) -> Any:
    """A reference, or integer arithmetic over references: ``a.b - c.d + 1``."""
    parts = _ARITH.split(expr.strip())
    if len(parts) == 1:
        return lookup(scope, expr)
    total: Any = None
    sign = "+"
    for i, part in enumerate(parts):
        if i % 2:
            sign = part
            continue
        value = int(part) if part.lstrip("-").isdigit() else lookup(scope, part)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise WorkflowError(f"${{{expr}}}: {part!r} is not a number ({value!r})")
        total = value if total is None else (total + value if sign == "+" else total - value)
    return total


def references(value: Any) -> list[str]:
    """Every reference path used in ``value`` (for validating a plan before running it)."""
    if isinstance(value, str):
        return [
            part
            for m in _INLINE.finditer(value)
            for i, part in enumerate(_ARITH.split(m.group(1).strip()))
            if i % 2 == 0 and not part.lstrip("-").isdigit()
        ]
    if isinstance(value, Mapping):
        return [r for v in value.values() for r in references(v)]
    if isinstance(value, list):
        return [r for v in value for r in references(v)]
    return []

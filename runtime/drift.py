"""Run-time drift: compare live responses with the card's schemas (pure functions)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from toolgen.cards import ToolCard

__all__ = ["Finding", "diff_response", "error_findings", "unknown_required_field"]

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}
_REQUIRED = re.compile(
    r"^\s*['\"`]?([A-Za-z_][\w.-]*)['\"`]?\s+(is|are)\s+(required|missing)", re.I
)
_MAX_FINDINGS = 50


class Finding(BaseModel):
    """One way the live API differs from its card."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal[
        "new_field", "missing_required", "type_changed", "new_error_shape", "unknown_required_field"
    ]
    pointer: str
    detail: str
    field: str = ""


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    for name, types in _JSON_TYPES.items():
        if isinstance(value, types):
            return name
    return "unknown"


def _matches(types: Any, value: Any) -> bool:
    allowed = types if isinstance(types, list) else [types]
    got = _type_of(value)
    return got in allowed or (got == "integer" and "number" in allowed)


def _walk(schema: Any, data: Any, pointer: str, out: list[Finding]) -> None:
    if len(out) >= _MAX_FINDINGS or not isinstance(schema, dict):
        return
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            branches = [b for b in schema[key] if isinstance(b, dict)]
            if branches and not any("type" not in b or _matches(b["type"], data) for b in branches):
                out.append(
                    Finding(
                        kind="type_changed",
                        pointer=pointer or "/",
                        detail=f"{_type_of(data)} matches none of {key}",
                    )
                )
            return
    if "type" in schema and not _matches(schema["type"], data):
        out.append(
            Finding(
                kind="type_changed",
                pointer=pointer or "/",
                detail=f"expected {schema['type']}, got {_type_of(data)}",
                field=pointer.rsplit("/", 1)[-1],
            )
        )
        return
    if isinstance(data, dict):
        props = schema.get("properties")
        if isinstance(props, dict):
            for name in sorted(set(schema.get("required", [])) - set(data)):
                out.append(
                    Finding(
                        kind="missing_required",
                        pointer=f"{pointer}/{name}",
                        detail="required field absent",
                        field=name,
                    )
                )
            if not schema.get("x-dynamic-keys"):
                for name in sorted(set(data) - set(props)):
                    out.append(
                        Finding(
                            kind="new_field",
                            pointer=f"{pointer}/{name}",
                            detail=f"field not in the card ({_type_of(data[name])})",
                            field=name,
                        )
                    )
            for name, sub in sorted(props.items()):
                if name in data:
                    _walk(sub, data[name], f"{pointer}/{name}", out)
    elif isinstance(data, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(data[:3]):  # a few items are enough to see a shape change
            _walk(schema["items"], item, f"{pointer}/{i}", out)


def diff_response(schema: dict[str, Any], data: Any) -> list[Finding]:
    """Structural differences between a success body and the card's output schema.

    Only shape counts (new fields, missing required fields, type changes); enums and
    formats inferred from a few samples are not treated as drift.
    """
    out: list[Finding] = []
    if schema:
        _walk(schema, data, "", out)
    return out


def unknown_required_field(card: ToolCard, body: Any) -> str | None:
    """The field a 4xx body says is required when the card has no such argument."""
    if not isinstance(body, dict):
        return None
    known = {str(k).lower() for k in card.input_schema.get("properties", {})}
    known |= {b.name.lower().rsplit(".", 1)[-1] for b in card.bindings}
    candidates: list[str] = []
    for key in ("field", "param", "parameter", "name", "property"):
        if isinstance(body.get(key), str):
            candidates.append(str(body[key]))
    for key in ("detail", "message", "error", "error_description"):
        text = body.get(key)
        if isinstance(text, str) and (m := _REQUIRED.match(text)):
            candidates.append(m.group(1))
    for name in candidates:
        if name.lower() not in known:
            return name
    return None


def error_findings(card: ToolCard, status: int, body: Any) -> list[Finding]:
    """Drift seen in an error answer: unknown required fields and unseen error shapes.

    A 401/403 is an authentication failure, never an error-shape finding.
    """
    out = []
    field = unknown_required_field(card, body)
    if field is not None:
        out.append(
            Finding(
                kind="unknown_required_field",
                pointer="/" + field,
                field=field,
                detail=f"the API now requires {field!r}, which the card lacks",
            )
        )
    known = card.error_schemas.get(str(status))
    if isinstance(body, dict) and status not in (401, 403):  # auth failures are not drift
        if known is None:
            keys = ", ".join(sorted(body)[:8])
            out.append(
                Finding(
                    kind="new_error_shape",
                    pointer="/",
                    field=str(status),
                    detail=f"status {status} with fields {keys} was never recorded",
                )
            )
        else:
            out += [f for f in diff_response(known, body) if f.kind != "missing_required"]
    return out

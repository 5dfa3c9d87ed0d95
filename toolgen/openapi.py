"""OpenAPI 3.1 emitter: built from tool cards, validated before anything is written."""

from __future__ import annotations

import json
import os
import re
from typing import Any

from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from toolgen._components import factor_schemas
from toolgen.cards import ToolCard
from zapi.analyzer.model import Analysis, AuthScheme
from zapi.errors import SpecValidationError
from zapi.files import atomic_write

__all__ = [
    "build_openapi",
    "dump_json",
    "openapi_path",
    "scheme_id",
    "validate_openapi",
    "write_openapi",
]

_STRIP_IN_PARAM = ("x-in",)


def _clean(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k not in _STRIP_IN_PARAM}


def _security_scheme(s: AuthScheme) -> dict[str, Any]:
    if s.kind == "http":
        out: dict[str, Any] = {"type": "http", "scheme": s.scheme}
        if s.scheme == "bearer":
            out["bearerFormat"] = "opaque"
        return out
    return {"type": "apiKey", "in": s.location, "name": s.name}


_PARAM = re.compile(r"\{([^{}/]+)\}")


def openapi_path(card: ToolCard) -> str:
    """The card's path as an OpenAPI path key: ``{name}`` only for its path parameters.

    Any other ``{``/``}`` (a literal brace recorded as ``%7B``) is percent-encoded
    again, so a recorded path can never declare a parameter the card does not have.
    """
    names = {b.name for b in card.bindings if b.location == "path"}
    out: list[str] = []
    pos = 0
    for m in _PARAM.finditer(card.path):
        out.append(_escape_braces(card.path[pos : m.start()]))
        out.append(m.group(0) if m.group(1) in names else _escape_braces(m.group(0)))
        pos = m.end()
    out.append(_escape_braces(card.path[pos:]))
    return "".join(out)


def _escape_braces(text: str) -> str:
    return text.replace("{", "%7B").replace("}", "%7D")


def scheme_id(key: str) -> str:
    """The OpenAPI securityScheme name of a card auth key (``cookie:sid`` -> ``cookie_sid``)."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in key)


def _operation(card: ToolCard) -> dict[str, Any]:
    props = card.input_schema.get("properties", {})
    required = set(card.input_schema.get("required", []))
    params = []
    body_props: dict[str, Any] = {}
    body_required: list[str] = []
    whole_body: dict[str, Any] | None = None
    wrap = ""
    for b in card.bindings:
        sch = _clean(props.get(b.arg, {}))
        if b.location == "body":
            if b.whole_body:
                whole_body = sch
                continue
            name = b.name
            if "." in name and card.protocol != "rest":
                wrap, _, name = name.partition(".")
            body_props[name] = sch
            if b.arg in required:
                body_required.append(name)
            continue
        p: dict[str, Any] = {"name": b.name, "in": b.location, "schema": sch}
        if b.location == "path" or b.arg in required:
            p["required"] = True
        if b.location == "query" and b.array:
            p["explode"] = True
            p["style"] = "form"
        params.append(p)
    for f in card.fixed:  # sent by the runtime, documented as what the client sends
        if f.location in ("query", "header", "cookie") and not f.in_key:
            fsch: dict[str, Any] = {"type": "string"}
            if not f.generate and isinstance(f.value, str):
                fsch["default"] = f.value
            params.append(
                {"name": f.name, "in": f.location, "schema": fsch, "x-zapi-fixed": f.reason}
            )
    op: dict[str, Any] = {
        "operationId": card.name,
        "summary": card.name.replace("_", " "),
        "description": card.description,
        "x-zapi-safety": card.safety,
        "x-zapi-confidence": card.confidence,
    }
    if params:
        op["parameters"] = params
    body: dict[str, Any] | None = None
    if whole_body is not None:
        body = whole_body
    elif body_props:
        body = {"type": "object", "properties": body_props}
        if body_required:
            body["required"] = sorted(body_required)
        if wrap:
            body = {"type": "object", "properties": {wrap: body}}
    if body is not None or card.body_template:
        body = body or {"type": "object"}
        if card.body_template:
            body = dict(body)
            body.setdefault("properties", {})
            for k, v in sorted(card.body_template.items()):
                body["properties"] = {**body["properties"], k: {"const": v}}
        op["requestBody"] = {
            "required": True,
            "content": {card.body_media or "application/json": {"schema": body}},
        }
    responses: dict[str, Any] = {}
    for status, summary in sorted(card.responses.items()):
        r: dict[str, Any] = {"description": summary}
        resp_schema = (
            card.output_schema if status.startswith("2") else card.error_schemas.get(status)
        )
        if resp_schema:
            r["content"] = {"application/json": {"schema": resp_schema}}
        responses[status] = r
    op["responses"] = responses or {"default": {"description": "no response recorded"}}
    if card.auth:
        op["security"] = [{scheme_id(a): [] for a in card.auth}]
    return op


def build_openapi(
    cards: list[ToolCard], analysis: Analysis, *, title: str = "Inferred API"
) -> dict[str, Any]:
    """Assemble an OpenAPI 3.1 document from the cards (one operation per path and method).

    Cards that share a path and method (GraphQL operations, JSON-RPC methods)
    become one operation listing them under ``x-zapi-operations``.
    """
    origins = sorted({c.origin for c in cards})
    paths: dict[str, dict[str, Any]] = {}
    for card in cards:
        item = paths.setdefault(openapi_path(card), {})
        method = card.method.lower()
        op = _operation(card)
        if len(origins) > 1:
            item.setdefault("servers", [{"url": card.origin}])
        if method in item:
            prev = item[method]
            prev.setdefault("x-zapi-operations", [prev["operationId"]])
            prev["x-zapi-operations"].append(card.name)
            prev["operationId"] = f"{prev['x-zapi-operations'][0]}_multi"
            continue
        item[method] = op
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": "0.0.0-inferred",
            "description": (
                f"Inferred by zapi from {analysis.entries_read} HAR entries "
                f"({analysis.entries_kept} API calls); see report.md for evidence."
            ),
        },
        "servers": [{"url": o} for o in origins] or [{"url": "/"}],
        "paths": {p: paths[p] for p in sorted(paths)},
    }
    schemes = {scheme_id(s.key): _security_scheme(s) for s in analysis.auth_schemes}
    if schemes:
        doc["components"] = {"securitySchemes": dict(sorted(schemes.items()))}
    return factor_schemas(doc)


def validate_openapi(doc: dict[str, Any]) -> None:
    """Validate an OpenAPI document.

    Raises:
        SpecValidationError: with the JSON pointer of the first problem.
    """
    try:
        validate(doc)
    except OpenAPIValidationError as exc:
        where = "/" + "/".join(str(p) for p in getattr(exc, "absolute_path", []) or [])
        raise SpecValidationError(
            f"generated OpenAPI is invalid at {where}: {exc.message}; nothing was written "
            "(please report this with the HAR)",
            pointer=where,
        ) from exc


def dump_json(doc: Any) -> str:
    """Deterministic JSON text: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_openapi(doc: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Validate then write (atomically) an OpenAPI document."""
    validate_openapi(doc)
    atomic_write(path, dump_json(doc))

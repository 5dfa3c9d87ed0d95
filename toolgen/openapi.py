"""OpenAPI 3.1 emitter: built from tool cards, validated before anything is written."""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from typing import Any

from toolgen._components import factor_schemas
from toolgen._jsontext import dumps_indented
from toolgen.cards import ToolCard
from zapi._beside import Standby
from zapi.analyzer.model import Analysis, AuthScheme
from zapi.errors import SpecValidationError
from zapi.files import atomic_write

__all__ = [
    "build_openapi",
    "dump_json",
    "openapi_path",
    "scheme_id",
    "validate_openapi",
    "validation_error",
    "validation_standby",
    "write_openapi",
]

_STRIP_IN_PARAM = ("x-in",)

# The response codes OpenAPI 3.1 accepts for a recorded answer.
_STATUS_CODE = re.compile(r"[1-5][0-9][0-9]")
NO_RESPONSE = (
    "no response was recorded: every request of this operation was cut off before an answer"
)


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
        if not _STATUS_CODE.fullmatch(status):
            continue  # not an HTTP status (a request with no answer has none): no response code
        r: dict[str, Any] = {"description": summary}
        resp_schema = (
            card.output_schema if status.startswith("2") else card.error_schemas.get(status)
        )
        if resp_schema:
            r["content"] = {"application/json": {"schema": resp_schema}}
        responses[status] = r
    op["responses"] = responses or {"default": {"description": NO_RESPONSE}}
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


FULL_VALIDATION_NODES = 5_000  # schema nodes up to which the whole document is validated


def validate_openapi(doc: dict[str, Any], *, full: bool | None = None) -> None:
    """Validate an OpenAPI document with openapi-spec-validator.

    A document with up to ``FULL_VALIDATION_NODES`` schema nodes (or any, with
    ``full=True``) is validated whole.  A larger one is validated in parts that check
    the same rules without walking every schema node through the validator's path
    objects (minutes on a 20 MB capture): the document skeleton (every schema replaced
    by ``{}``) by openapi-spec-validator; every schema node against the OpenAPI 3.1
    schema dialect, each distinct node once and shallowly (its subschemas are nodes of
    their own; example, enum, const and default values, which the dialect does not
    constrain, are left out of what makes nodes distinct); every ``$ref`` resolved to
    a component that exists.  Not covered in that mode: the validator's checks that
    ``required`` under ``allOf`` names defined properties and that a ``default`` matches
    its schema; zapi writes neither ``allOf`` nor ``default`` in a schema it infers.

    Raises:
        SpecValidationError: with the JSON pointer of the first problem.
    """
    skeleton, schemas = _split_schemas(doc)
    if full or (full is None and _node_count(schemas) <= FULL_VALIDATION_NODES):
        _validate_whole(doc)
        return
    _validate_parts(skeleton, schemas, doc)


def _validate_parts(
    skeleton: dict[str, Any], schemas: list[tuple[str, Any]], doc: dict[str, Any]
) -> None:
    """The skeleton by the validator, then every distinct schema node (see above)."""
    _validate_whole(skeleton)
    names = set(doc.get("components", {}).get("schemas", {}))
    check = _dialect_checker()
    seen: set[str] = set()
    for where, schema in schemas:
        for node, at in _schema_nodes(schema, where):
            if isinstance(node, dict) and isinstance(node.get("$ref"), str):
                ref = node["$ref"]
                if not ref.startswith("#/components/schemas/") or ref[21:] not in names:
                    raise _invalid(at + "/$ref", f"$ref {ref!r} does not resolve to a component")
            shallow = _shallow(node)
            key = json.dumps(shallow, sort_keys=True, default=repr)
            if key in seen:
                continue
            seen.add(key)
            err = next(iter(check.iter_errors(shallow)), None)
            if err is not None:
                inner = "/".join(str(p) for p in err.absolute_path)
                raise _invalid(at + ("/" + inner if inner else ""), err.message)


def validation_error(doc: dict[str, Any]) -> str | None:
    """What :func:`validate_openapi` says is wrong with ``doc``, or ``None`` when it is valid."""
    try:
        validate_openapi(doc)
    except SpecValidationError as exc:
        return str(exc)
    return None


def validation_standby(*, enabled: bool = True) -> Standby[None, dict[str, Any], str | None]:
    """:func:`validation_error` in a process on standby (``zapi._beside.Standby``).

    Loading the validator (its imports, its crawled schema registries: 0.5 s) needs no
    document, so the child does it while the analysis runs; ``send(doc)`` returns a
    call for the document's :func:`validation_error`.
    """
    return Standby(_load_validator, lambda _, doc: validation_error(doc), enabled=enabled)


def _load_validator() -> None:
    _spec_validator()
    _dialect_checker()


def _validate_whole(doc: dict[str, Any]) -> None:
    # The validator and its schema stack load when first needed (0.12 s of imports): on
    # a large capture that is in the process validating beside the main one.
    from openapi_spec_validator import validate  # noqa: PLC0415
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError  # noqa: PLC0415
    from referencing.exceptions import Unresolvable  # noqa: PLC0415

    try:
        validate(doc, cls=_spec_validator())
    except OpenAPIValidationError as exc:
        where = "/" + "/".join(str(p) for p in getattr(exc, "absolute_path", []) or [])
        raise _invalid(where, str(exc.message).splitlines()[0]) from exc
    except Unresolvable as exc:
        raise _invalid(f"$ref {exc.ref}", "the reference does not resolve") from exc


def _invalid(where: str, message: str) -> SpecValidationError:
    return SpecValidationError(
        f"generated OpenAPI is invalid at {where}: {message}; nothing was written "
        "(please report this with the HAR)",
        pointer=where,
    )


_MAP_KEYWORDS = ("properties", "patternProperties", "$defs", "dependentSchemas")
_ONE_KEYWORDS = (
    "items",
    "additionalProperties",
    "not",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "unevaluatedProperties",
)
_LIST_KEYWORDS = ("anyOf", "oneOf", "allOf", "prefixItems")
_FREE_VALUES: dict[str, Any] = {
    "examples": [],
    "enum": [],
    "const": None,
    "default": None,
    "example": None,
}


def _schema_nodes(schema: Any, where: str) -> list[tuple[Any, str]]:
    """Every schema node under ``schema`` (subschemas of applicator keywords), with pointers."""
    out: list[tuple[Any, str]] = []
    stack: list[tuple[Any, str]] = [(schema, where)]
    while stack:
        node, at = stack.pop()
        out.append((node, at))
        if not isinstance(node, dict):
            continue
        for k in _MAP_KEYWORDS:
            sub = node.get(k)
            if isinstance(sub, dict):
                stack.extend((v, at + _pointer(k, str(n))) for n, v in sub.items())
        for k in _ONE_KEYWORDS:
            if isinstance(node.get(k), dict | bool):
                stack.append((node[k], at + _pointer(k)))
        for k in _LIST_KEYWORDS:
            sub = node.get(k)
            if isinstance(sub, list):
                stack.extend((v, f"{at}/{k}/{i}") for i, v in enumerate(sub))
    return out


def _shallow(node: Any) -> Any:
    """The node as far as the dialect constrains it, for checking each kind of node once.

    Subschemas become ``{}`` (they are nodes of their own); values the dialect does not
    constrain (examples, enum members, const, default, annotations, extension keywords,
    property names) become placeholders; anything of an unexpected type stays as it is,
    so the check still reports it.
    """
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k.startswith("x-"):
            continue  # extension keywords: any value
        if k in _MAP_KEYWORDS and isinstance(v, dict):
            out[k] = {n: {} for n in v} if k == "patternProperties" else ({"p": {}} if v else {})
        elif k in _ONE_KEYWORDS and isinstance(v, dict | bool):
            out[k] = {}
        elif k in _LIST_KEYWORDS and isinstance(v, list):
            out[k] = [{} for _ in v] if v else v
        elif k in _FREE_VALUES and isinstance(v, list) == isinstance(_FREE_VALUES[k], list):
            out[k] = _FREE_VALUES[k]
        elif k in ("description", "title") and isinstance(v, str):
            out[k] = ""
        elif k == "$ref" and isinstance(v, str):
            out[k] = "#"  # where it points is checked on its own
        elif (
            k == "required"
            and isinstance(v, list)
            and v
            and all(isinstance(r, str) for r in v)
            and len(set(v)) == len(v)
        ):
            out[k] = ["r"]
        else:
            out[k] = v
    return out


@lru_cache(maxsize=1)
def _dialect_checker() -> Any:
    """One validator of schemas against the OpenAPI 3.1 base dialect, built and crawled once.

    openapi-spec-validator builds this (the dialect's metaschema, its format checker,
    the OpenAPI schema registry) for every schema it checks, and ``referencing``
    re-crawls the registry on every ``$dynamicRef``: most of its time on big documents.
    """
    from jsonschema.validators import validator_for  # noqa: PLC0415
    from openapi_schema_validator import OAS31_BASE_DIALECT_ID, oas31_format_checker  # noqa: PLC0415

    cls: Any = validator_for({"$schema": OAS31_BASE_DIALECT_ID})
    meta_cls: Any = validator_for(cls.META_SCHEMA, default=cls)
    from openapi_schema_validator._specifications import REGISTRY  # noqa: PLC0415

    return meta_cls(cls.META_SCHEMA, format_checker=oas31_format_checker, registry=REGISTRY.crawl())


@lru_cache(maxsize=1)
def _spec_validator() -> Any:
    """openapi-spec-validator's 3.1 validator with crawled registries (same rules, faster)."""
    from jsonschema.exceptions import SchemaError  # noqa: PLC0415
    from jsonschema.validators import validator_for  # noqa: PLC0415
    from jsonschema_specifications import REGISTRY  # type: ignore[import-untyped]  # noqa: PLC0415
    from openapi_spec_validator.schemas import (  # noqa: PLC0415
        get_validator_backend,
        openapi_v31_schema_validator,
        schema_v31,
    )
    from openapi_spec_validator.validation import keywords  # noqa: PLC0415
    from openapi_spec_validator.validation.validators import (  # noqa: PLC0415
        OpenAPIV31SpecValidator,
    )
    from referencing import Resource  # noqa: PLC0415

    doc_validator: Any = openapi_v31_schema_validator
    if get_validator_backend() != "jsonschema-rs":  # the Rust backend needs no help
        doc_schema = dict(schema_v31)
        registry = REGISTRY.with_resource(doc_schema["$id"], Resource.from_contents(doc_schema))
        doc_validator = validator_for(doc_schema)(doc_schema, registry=registry.crawl())
    checker = _dialect_checker()

    def check(schema: Any) -> None:
        for error in checker.iter_errors(schema):
            raise SchemaError.create_from(error)

    class _Schema(keywords.OpenAPIV31SchemaValidator):
        def _get_schema_checker(self, schema: Any, schema_value: Any) -> Any:
            return check

    class _Spec(OpenAPIV31SpecValidator):
        schema_validator = doc_validator
        keyword_validators = {**OpenAPIV31SpecValidator.keyword_validators, "schema": _Schema}

    return _Spec


def _pointer(*parts: str) -> str:
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _split_schemas(
    doc: dict[str, Any],
) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    """The document with body, response and component schemas as ``{}``, and those schemas.

    Every replaced schema is the same ``{}`` object: the validator checks a schema
    against the dialect once per object, so the skeleton costs one check, not one per
    parameter, body, response and component (half of its time on a large capture).
    """
    empty: dict[str, Any] = {}
    schemas: list[tuple[str, Any]] = []
    paths: dict[str, Any] = {}
    for path, item in doc.get("paths", {}).items():
        new_item: dict[str, Any] = {}
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                new_item[method] = op
                continue
            new_op = dict(op)
            if "parameters" in op:
                new_op["parameters"] = []
                for i, prm in enumerate(op["parameters"]):
                    if isinstance(prm, dict) and "schema" in prm:
                        where = _pointer("paths", path, method, "parameters", str(i), "schema")
                        schemas.append((where, prm["schema"]))
                        prm = {**prm, "schema": empty}
                    new_op["parameters"].append(prm)
            if "requestBody" in op:
                body = dict(op["requestBody"])
                body["content"] = {}
                for media, mt in op["requestBody"].get("content", {}).items():
                    if "schema" in mt:
                        where = _pointer("paths", path, method, "requestBody", "content", media)
                        schemas.append((where + "/schema", mt["schema"]))
                        mt = {**mt, "schema": empty}
                    body["content"][media] = mt
                new_op["requestBody"] = body
            responses: dict[str, Any] = {}
            for status, resp in op["responses"].items():
                new_resp = dict(resp)
                if "content" in resp:
                    new_resp["content"] = {}
                    for media, mt in resp["content"].items():
                        if "schema" in mt:
                            where = _pointer("paths", path, method, "responses", status)
                            schemas.append(
                                (where + _pointer("content", media, "schema"), mt["schema"])
                            )
                            mt = {**mt, "schema": empty}
                        new_resp["content"][media] = mt
                responses[status] = new_resp
            new_op["responses"] = responses
            new_item[method] = new_op
        paths[path] = new_item
    skeleton = {**doc, "paths": paths}
    comps = doc.get("components", {})
    if "schemas" in comps:
        for name, sch in comps["schemas"].items():
            schemas.append((_pointer("components", "schemas", name), sch))
        skeleton["components"] = {**comps, "schemas": {n: empty for n in comps["schemas"]}}
    return skeleton, schemas


def _node_count(schemas: list[tuple[str, Any]]) -> int:
    n = 0
    stack = [s for _, s in schemas]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            n += 1
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return n


def _refs(schema: Any, where: str) -> list[tuple[str, str]]:
    """Every ``$ref`` in a schema, with its JSON pointer."""
    out: list[tuple[str, str]] = []
    stack: list[tuple[Any, str]] = [(schema, where)]
    while stack:
        node, at = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                out.append((ref, at + "/$ref"))
            for k, v in node.items():
                if isinstance(v, dict | list):
                    stack.append((v, at + _pointer(str(k))))
        elif isinstance(node, list):
            stack.extend((v, f"{at}/{i}") for i, v in enumerate(node) if isinstance(v, dict | list))
    return out


def dump_json(doc: Any) -> str:
    """Deterministic JSON text: sorted keys, 2-space indent, trailing newline."""
    return dumps_indented(doc, ensure_ascii=False) + "\n"


def write_openapi(doc: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Validate then write (atomically) an OpenAPI document."""
    validate_openapi(doc)
    atomic_write(path, dump_json(doc))

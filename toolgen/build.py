"""Build tool cards from an analysis: inputs, outputs, safety, auth, verification and provenance."""

from __future__ import annotations

from typing import Any

from toolgen.cards import (
    Binding,
    Idempotency,
    Provenance,
    ToolCard,
)
from toolgen.naming import arg_name, tool_names
from toolgen.plans import attach_plans
from zapi.analyzer.bodies import BodyKind
from zapi.analyzer.evidence import BodyStats, OpEvidence, ParamStats
from zapi.analyzer.model import Analysis, Operation
from zapi.redact import Redactor, scrub_document

__all__ = ["build_cards", "param_schema", "path_param_schema"]

PAGINATION = frozenset(
    {
        "page",
        "per_page",
        "perpage",
        "page_size",
        "pagesize",
        "limit",
        "offset",
        "cursor",
        "after",
        "before",
        "start",
        "size",
        "pagetoken",
        "page_token",
        "next",
        "next_token",
        "since_id",
        "max_id",
        "skip",
        "take",
        "first",
        "last",
        "starting_after",
        "ending_before",
    }
)
_DESTRUCTIVE_WORDS = (
    "delete",
    "remove",
    "destroy",
    "purge",
    "cancel",
    "revoke",
    "reset",
    "wipe",
    "terminate",
    "drop",
    "unassign",
    "detach",
    "disable",
)
_CLIENT_ID_NAMES = (
    "client_ref",
    "client_id_ref",
    "request_id",
    "external_id",
    "idempotency",
    "client_reference",
    "reference",
    "nonce",
    "dedupe",
    "dedup",
)
_SHAPE_SCHEMA: dict[str, dict[str, Any]] = {
    "integer": {"type": "integer"},
    "uuid": {"type": "string", "format": "uuid"},
    "date": {"type": "string", "format": "date"},
    "date-time": {"type": "string", "format": "date-time"},
    "email": {"type": "string", "format": "email"},
    "number": {"type": "number"},
}


def path_param_schema(shape: str, example: str = "") -> dict[str, Any]:
    """Schema of a path parameter from the dominant shape of its values."""
    sch = dict(_SHAPE_SCHEMA.get(shape, {"type": "string"}))
    if shape == "path":
        return {**sch, "x-greedy": True, "description": "may contain '/' (sent unescaped)"}
    if shape not in ("integer", "number", "uuid", "date", "date-time", "email"):
        sch["x-shape"] = shape
    if example:
        sch["examples"] = [
            int(example) if sch["type"] == "integer" and example.isdigit() else example
        ]
    return sch


def param_schema(ps: ParamStats, total: int) -> tuple[dict[str, Any], bool]:
    """Schema of a query/header parameter and whether it is required."""
    sch = ps.schema.to_schema(observed=False)
    if ps.repeated:
        sch = {"type": "array", "items": sch}
    sch["x-observed"] = ps.present
    return sch, ps.present == total and total > 0


def _dominant(bodies: dict[str, BodyStats]) -> tuple[str, BodyStats] | None:
    if not bodies:
        return None
    order = (
        BodyKind.JSON,
        BodyKind.MULTIPART,
        BodyKind.FORM,
        BodyKind.XML,
        BodyKind.TEXT,
        BodyKind.HTML,
        BodyKind.BINARY,
    )
    kind = max(bodies, key=lambda k: (bodies[k].count, -order.index(k) if k in order else -99))
    return kind, bodies[kind]


def body_schema(kind: str, stats: BodyStats) -> dict[str, Any]:
    """JSON Schema of a body of one kind."""
    if stats.schema is not None and kind in (BodyKind.JSON, BodyKind.FORM, BodyKind.MULTIPART):
        sch = stats.schema.to_schema()
        if kind == BodyKind.MULTIPART:
            for f in stats.files:
                props = sch.get("properties", {})
                if f in props:
                    props[f] = {
                        "type": "string",
                        "format": "binary",
                        "contentMediaType": "application/octet-stream",
                        "description": "a file to upload (the runtime takes a local path)",
                    }
        return sch
    if kind == BodyKind.BINARY:
        return {"type": "string", "format": "binary"}
    return {"type": "string", "x-body-kind": kind}


def _media(stats: BodyStats) -> str:
    return max(sorted(stats.media), key=lambda m: stats.media[m]) if stats.media else ""


def _success(ev: OpEvidence) -> tuple[int, dict[str, Any]] | None:
    for status in sorted(ev.responses, key=lambda s: (-ev.responses[s].count, s)):
        if 200 <= status < 300:
            rs = ev.responses[status]
            dom = _dominant(rs.bodies)
            if dom is None:
                return status, {}
            return status, body_schema(*dom)
    return None


def _safety(op: Operation) -> str:
    m = op.method
    low = op.template.path.lower() + " " + op.discriminator.lower()
    if m in ("GET", "HEAD", "OPTIONS"):
        return "read_only"
    if op.protocol == "graphql":
        return "write" if op.evidence.graphql_kind == "mutation" else "read_only"
    if m == "DELETE" or any(w in low.rsplit("/", 1)[-1] for w in _DESTRUCTIVE_WORDS):
        return "destructive"
    if m == "PUT":
        return "idempotent"
    return "write"


def _summary(ev: OpEvidence) -> dict[str, str]:
    out = {}
    for status in sorted(ev.responses):
        rs = ev.responses[status]
        kinds = ", ".join(f"{k} x{b.count}" for k, b in sorted(rs.bodies.items())) or "no body"
        out[str(status)] = f"seen {rs.count} time(s); {kinds}"
    return out


def _top_props(schema: dict[str, Any]) -> dict[str, Any]:
    props = schema.get("properties")
    return props if isinstance(props, dict) else {}


def _description(op: Operation, safety: str) -> str:
    ev = op.evidence
    what = f"{op.method} {op.template.path}"
    if op.discriminator:
        what += f" ({op.protocol} {op.discriminator})"
    statuses = ", ".join(f"{s} x{ev.responses[s].count}" for s in sorted(ev.responses))
    parts = [
        f"{what} on {op.origin}.",
        f"Seen {ev.count} time(s); answered {statuses}.",
        f"Safety: {safety.replace('_', '-')}.",
    ]
    if ev.ui_actions:
        top = sorted(ev.ui_actions, key=lambda k: (-ev.ui_actions[k], k))[:2]
        parts.append("Sent when " + "; ".join(top) + ".")
    return " ".join(parts)


def _card(op: Operation, name: str, analysis: Analysis) -> ToolCard:
    ev = op.evidence
    used: set[str] = set()
    props: dict[str, Any] = {}
    required: list[str] = []
    bindings: list[Binding] = []
    shapes = dict(op.template.param_shapes)
    examples = dict(op.template.param_examples)
    segs = [s for s in op.template.path.split("/") if s]
    for i, seg in enumerate(segs):
        for p in op.template.params:
            if "{" + p + "}" in seg and not examples.get(p) and ev.path_values.get(str(i)):
                examples[p] = min(ev.path_values[str(i)])  # id-shaped values seen at i
    path_args = []
    for p in op.template.params:
        a = arg_name(p, used)
        path_args.append(a)
        props[a] = {
            **path_param_schema(shapes.get(p, "other"), examples.get(p, "")),
            "x-in": "path",
        }
        required.append(a)
        bindings.append(Binding(arg=a, location="path", name=p))
    for q in sorted(ev.query):
        ps = ev.query[q]
        sch, req = param_schema(ps, ev.count)
        a = arg_name(q, used)
        sch["x-in"] = "query"
        if q.lower() in PAGINATION:
            sch["x-pagination"] = True
        props[a] = sch
        if req:
            required.append(a)
        bindings.append(Binding(arg=a, location="query", name=q, array=bool(ps.repeated)))
    for h in sorted(ev.headers):
        ps = ev.headers[h]
        if ps.present * 2 < ev.count:
            continue
        sch, req = param_schema(ps, ev.count)
        a = arg_name(h, used)
        sch["x-in"] = "header"
        props[a] = sch
        if req:
            required.append(a)
        bindings.append(Binding(arg=a, location="header", name=h))
    for c in sorted(ev.cookies):
        if ev.cookies[c] * 2 < ev.count:
            continue
        a = arg_name(c, used)
        props[a] = {"type": "string", "x-in": "cookie", "x-observed": ev.cookies[c]}
        bindings.append(Binding(arg=a, location="cookie", name=c))
    body_media = ""
    body_args: dict[str, str] = {}
    body_template: dict[str, Any] = {}
    dom = _dominant(ev.request_bodies)
    if dom is not None:
        kind, stats = dom
        body_media = _media(stats)
        sch = body_schema(kind, stats)
        if op.protocol in ("graphql", "jsonrpc") and sch.get("type") == "object":
            inner_key = "variables" if op.protocol == "graphql" else "params"
            fixed = _top_props(sch)
            for k in ("query", "operationName", "extensions", "jsonrpc", "method"):
                if k in fixed and "examples" in fixed[k]:
                    body_template[k] = fixed[k]["examples"][0]
            if op.protocol == "jsonrpc":
                body_template.setdefault("jsonrpc", "2.0")
                body_template["method"] = op.discriminator
            if op.protocol == "graphql":
                body_template["operationName"] = op.discriminator
            sch = fixed.get(inner_key, {"type": "object", "properties": {}})
            if sch.get("type") != "object":
                a = arg_name(inner_key, used)
                props[a] = {**sch, "x-in": "body"}
                bindings.append(Binding(arg=a, location="body", name=inner_key))
                sch = {}
            else:
                sch = {**sch, "x-wrap": inner_key}
        if sch.get("type") == "object" and "properties" in sch and not sch.get("x-dynamic-keys"):
            wrap = sch.get("x-wrap")
            req_body = set(sch.get("required", []))
            for field_name, fs in sorted(sch["properties"].items()):
                a = arg_name(field_name if field_name not in used else f"body_{field_name}", used)
                props[a] = {**fs, "x-in": "body"}
                if field_name in req_body:
                    required.append(a)
                wire = f"{wrap}.{field_name}" if wrap else field_name
                bindings.append(Binding(arg=a, location="body", name=wire))
                body_args[a] = field_name
        elif sch:
            a = arg_name("body", used)
            props[a] = {**sch, "x-in": "body"}
            required.append(a)
            bindings.append(Binding(arg=a, location="body", name="", whole_body=True))
    input_schema: dict[str, Any] = {
        "type": "object",
        "properties": props,
        "additionalProperties": False,
    }
    if required:
        input_schema["required"] = sorted(set(required))
    succ = _success(ev)
    output_schema = succ[1] if succ else {}
    errors = {}
    for status, rs in sorted(ev.responses.items()):
        if status >= 400:
            d = _dominant(rs.bodies)
            if d is not None and d[0] == BodyKind.JSON:
                errors[str(status)] = body_schema(*d)
    safety = _safety(op)
    idem_header = (
        max(sorted(ev.idempotency_header), key=lambda h: ev.idempotency_header[h])
        if ev.idempotency_header
        else None
    )
    client_ids = sorted(
        a for a, w in body_args.items() if any(m in w.lower() for m in _CLIENT_ID_NAMES)
    )
    idem = Idempotency(
        header=idem_header,
        evidence=(
            f"{idem_header} sent on {ev.idempotency_header[idem_header]} of {ev.count} requests"
            if idem_header
            else ""
        ),
        client_ids=client_ids,
    )
    csrf = None
    for k in sorted(ev.csrf, key=lambda k: (-ev.csrf[k], k)):
        c, _, h = k.partition("->")
        csrf = {"cookie": c, "header": h}
        break
    reasons = list(op.template.reasons)
    if ev.count < 2:
        reasons.append("seen once: inputs and outputs rest on a single sample")
    confidence = op.template.confidence * (1.0 if ev.count >= 3 else 0.85 if ev.count == 2 else 0.7)
    return ToolCard(
        name=name,
        description=_description(op, safety),
        method=op.method,
        origin=op.origin,
        path=op.template.path + ("/" if ev.trailing_slash * 2 > ev.count else ""),
        protocol=op.protocol,
        discriminator=op.discriminator,
        safety=safety,
        input_schema=input_schema,
        output_schema=output_schema,
        bindings=bindings,
        body_media=body_media,
        body_template=body_template,
        responses=_summary(ev),
        error_schemas=errors,
        auth=sorted(ev.auth),
        csrf=csrf,
        idempotency=idem,
        confidence=round(confidence, 2),
        reasons=reasons,
        provenance=Provenance(
            sources=dict(sorted(ev.sources.items())),
            entries=sorted(ev.entries),
            samples=ev.count,
            ui_actions=dict(sorted(ev.ui_actions.items())),
        ),
    )


def build_cards(analysis: Analysis, redactor: Redactor | None = None) -> list[ToolCard]:
    """One tool card per operation, names unique and stable, secrets scrubbed."""
    red = redactor or Redactor()
    names = tool_names(analysis.operations)
    raw = [_card(op, name, analysis) for op, name in zip(analysis.operations, names, strict=True)]
    raw = attach_plans(raw, analysis.operations)  # verification/reconcile: toolgen/plans.py
    cards = []
    for card in raw:
        data = scrub_document(card.model_dump(mode="json"), red)
        cards.append(ToolCard.model_validate(data))
    return cards

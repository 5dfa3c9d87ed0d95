"""Build tool cards from an analysis: inputs, outputs, safety, auth, verification and provenance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from toolgen.cards import (
    Idempotency,
    Login,
    Provenance,
    Reconcile,
    ToolCard,
    Verification,
)
from toolgen.inputs import (
    CaptureFacts,
    Inputs,
    build_inputs,
    param_schema,
    path_param_schema,
)
from toolgen.inputs import body_schema as body_schema
from toolgen.inputs import dominant_body as _dominant
from toolgen.login import login_info
from toolgen.naming import tool_names
from toolgen.safety import Decision, decide_safety
from zapi.analyzer.bodies import BodyKind
from zapi.analyzer.evidence import OpEvidence
from zapi.analyzer.model import Analysis, Operation
from zapi.redact import Redactor, scrub_document

__all__ = ["build_cards", "param_schema", "path_param_schema"]

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


def _success(ev: OpEvidence) -> tuple[int, dict[str, Any]] | None:
    for status in sorted(ev.responses, key=lambda s: (-ev.responses[s].count, s)):
        if 200 <= status < 300:
            rs = ev.responses[status]
            dom = _dominant(rs.bodies)
            if dom is None:
                return status, {}
            return status, body_schema(*dom)
    return None


def _summary(ev: OpEvidence) -> dict[str, str]:
    out = {}
    for status in sorted(ev.responses):
        rs = ev.responses[status]
        kinds = ", ".join(f"{k} x{b.count}" for k, b in sorted(rs.bodies.items())) or "no body"
        out[str(status)] = f"seen {rs.count} time(s); {kinds}"
    return out


class _Ctx:
    """Per-analysis lookups shared by the card builders."""

    def __init__(
        self, analysis: Analysis, names: list[str], plans: list[_Plan] | None = None
    ) -> None:
        self.by_key: dict[tuple[str, str, str], tuple[Operation, str]] = {}
        for op, name in zip(analysis.operations, names, strict=True):
            if not op.discriminator:
                self.by_key[(op.origin, op.method, op.template.path)] = (op, name)
        self.outputs: dict[str, dict[str, Any]] = {}
        for i, (op, name) in enumerate(zip(analysis.operations, names, strict=True)):
            if plans is not None:  # the success schema the plan already inferred
                self.outputs[name] = plans[i].output_schema
                continue
            succ = _success(op.evidence)
            self.outputs[name] = succ[1] if succ else {}

    def get(self, origin: str, method: str, path: str) -> tuple[Operation, str] | None:
        return self.by_key.get((origin, method, path))


def _top_props(schema: dict[str, Any]) -> dict[str, Any]:
    props = schema.get("properties")
    return props if isinstance(props, dict) else {}


def _items_of(schema: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """Where the list of items is in a list response: ('', items) or ('/items', items)."""
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return "", schema["items"]
    best = None
    for k, v in sorted(_top_props(schema).items()):
        if (
            isinstance(v, dict)
            and v.get("type") in ("array", ["array", "null"])
            and isinstance(v.get("items"), dict)
            and _top_props(v["items"])
            and (best is None or k in ("items", "data", "results"))
        ):
            best = (f"/{k}", v["items"])
    return best


def _verification(
    op: Operation, body_args: dict[str, str], path_args: list[str], ctx: _Ctx
) -> Verification | None:
    """Read-after-write: the GET of the same resource, or of its parent resource."""
    if op.method not in ("PUT", "PATCH", "POST") or not body_args:
        return None
    segs = op.template.path.split("/")
    candidates = []
    for cut in range(len(segs), 1, -1):
        candidates.append("/".join(segs[:cut]))
        if segs[cut - 1].startswith("{"):
            break
    created_id = None
    if op.method == "POST" and not segs[-1].startswith("{"):
        me = ctx.get(op.origin, op.method, op.template.path)
        succ = ctx.outputs.get(me[1]) if me else None
        if succ and "id" in _top_props(succ):
            created_id = "response:/id"
            for (o, m, p), (_read, _n) in ctx.by_key.items():
                if (
                    o == op.origin
                    and m == "GET"
                    and p.startswith(op.template.path + "/{")
                    and (p.count("/") == op.template.path.count("/") + 1)
                ):
                    candidates.insert(0, p)
    for cand in candidates:
        hit = ctx.get(op.origin, "GET", cand)
        if hit is None:
            continue
        read_op, read_name = hit
        out_props = _top_props(ctx.outputs.get(read_name, {}))
        compare = {arg: f"/{wire}" for arg, wire in sorted(body_args.items()) if wire in out_props}
        if not compare:
            continue
        args = {}
        for p in read_op.template.params:
            if p in path_args:
                args[p] = f"arg:{p}"
            elif created_id:
                args[p] = created_id
            else:
                break
        else:
            return Verification(tool=read_name, args=args, compare=compare)
    return None


def _reconcile(
    op: Operation, body_args: dict[str, str], path_args: list[str], ctx: _Ctx
) -> Reconcile | None:
    """After an ambiguous POST/PATCH: a list read that shows whether the write landed."""
    if op.method not in ("POST", "PATCH") or not body_args:
        return None
    if op.method == "PATCH":
        hit = ctx.get(op.origin, "GET", op.template.path)
        if hit is None:
            return None
        out = _top_props(ctx.outputs.get(hit[1], {}))
        match = {a: w for a, w in sorted(body_args.items()) if w in out}
        if not match:
            return None
        return Reconcile(
            tool=hit[1],
            args={p: f"arg:{p}" for p in hit[0].template.params if p in path_args},
            match=match,
        )
    hit = ctx.get(op.origin, "GET", op.template.path)
    if hit is None:
        return None
    read_op, read_name = hit
    if any(p not in path_args for p in read_op.template.params):
        return None
    found = _items_of(ctx.outputs.get(read_name, {}))
    if found is None:
        return None
    pointer, item_schema = found
    props = _top_props(item_schema)
    match = {a: w for a, w in sorted(body_args.items()) if w in props}
    if not match:
        return None
    args = {p: f"arg:{p}" for p in read_op.template.params}
    for qname in read_op.evidence.query:
        for a, w in body_args.items():
            if w == qname and w in match:
                args[qname] = f"arg:{a}"
    return Reconcile(tool=read_name, args=args, match=match, items_pointer=pointer)


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


def _idempotency(ev: OpEvidence, body_args: dict[str, str]) -> Idempotency:
    idem_header = (
        max(sorted(ev.idempotency_header), key=lambda h: ev.idempotency_header[h])
        if ev.idempotency_header
        else None
    )
    client_ids = sorted(
        a for a, w in body_args.items() if any(m in w.lower() for m in _CLIENT_ID_NAMES)
    )
    return Idempotency(
        header=idem_header,
        evidence=(
            f"{idem_header} sent on {ev.idempotency_header[idem_header]} of {ev.count} requests"
            if idem_header
            else ""
        ),
        client_ids=client_ids,
    )


def _csrf(ev: OpEvidence, fields: list[str], analysis: Analysis) -> dict[str, str] | None:
    """The card's ``csrf``: the double-submit pair seen most often, and/or the body field.

    A form that carries its CSRF token in a body field (``csrfmiddlewaretoken``)
    names it as ``field``, with the cookie the server sets the token in, when
    the capture shows one.
    """
    out: dict[str, str] = {}
    if ev.csrf:
        c, h = min(ev.csrf, key=lambda p: (-ev.csrf[p], p))
        out = {"cookie": c, "header": h}
    if fields:
        out["field"] = sorted(fields)[0]
        if not out.get("cookie"):
            cookies = sorted(
                k[len("cookie:") :]
                for k in analysis.signals.csrf_sources
                if k.startswith("cookie:")
            )
            if cookies:
                out["cookie"] = cookies[0]
    return out or None


def _outcome(op: Operation) -> tuple[float, list[str], bool]:
    """Confidence, its reasons, and whether the operation was ever seen working."""
    ev = op.evidence
    reasons = list(op.template.reasons)
    if ev.count < 2:
        reasons.append("seen once: inputs and outputs rest on a single sample")
    confidence = op.template.confidence * (1.0 if ev.count >= 3 else 0.85 if ev.count == 2 else 0.7)
    working = any(s < 400 for s in ev.responses)
    if not working:
        seen = ", ".join(f"{s} x{ev.responses[s].count}" for s in sorted(ev.responses))
        reasons.append(
            f"seen only failing ({seen}): not offered as a working tool until a call succeeds"
        )
        confidence = min(confidence, 0.3)
    return confidence, reasons, working


@dataclass
class _Plan:
    """What is decided about an operation before it is named."""

    inputs: Inputs
    output_schema: dict[str, Any]
    login: Login | None
    decision: Decision
    csrf: dict[str, str] | None


def _plan(op: Operation, analysis: Analysis, facts: CaptureFacts) -> _Plan:
    inputs = build_inputs(op, facts)
    succ = _success(op.evidence)
    output = succ[1] if succ else {}
    login = login_info(op, inputs, output, analysis)
    if login is not None:
        total = op.evidence.count
        for b in inputs.bindings:
            seen = inputs.props[b.arg].get("x-observed", total)
            if b.location == "body" and seen >= total and b.arg not in inputs.required:
                inputs.required.append(b.arg)
                inputs.notes.append(f"{b.arg} required: a credential the login sent every time")
    decision = decide_safety(op, login=login is not None)
    if decision.discriminator is not None:
        loc, wire = decision.discriminator
        for b in inputs.bindings:
            if b.location == loc and b.name == wire:
                inputs.props[b.arg] = {
                    **inputs.props[b.arg],
                    "enum": sorted(decision.per_value),
                    "x-action-safety": dict(sorted(decision.per_value.items())),
                }
    return _Plan(inputs, output, login, decision, _csrf(op.evidence, inputs.csrf_fields, analysis))


def _card(op: Operation, name: str, plan: _Plan, ctx: _Ctx) -> ToolCard:
    ev = op.evidence
    inp = plan.inputs
    errors = {}
    for status, rs in sorted(ev.responses.items()):
        if status >= 400:
            d = _dominant(rs.bodies)
            if d is not None and d[0] == BodyKind.JSON:
                errors[str(status)] = body_schema(*d)
    safety = plan.decision.safety
    confidence, reasons, working = _outcome(op)
    reasons += inp.notes
    description = _description(op, safety)
    if plan.login is not None:
        description += (
            " Logs in: "
            + (
                "sets the session cookie(s) " + ", ".join(plan.login.sets_cookies)
                if plan.login.sets_cookies
                else f"returns a token at {plan.login.token_pointer}"
            )
            + "; pass the secret argument(s) as references (env:/file:), never in clear."
        )
    return ToolCard(
        name=name,
        description=description,
        method=op.method,
        origin=op.origin,
        path=op.template.path + ("/" if ev.trailing_slash * 2 > ev.count else ""),
        protocol=op.protocol,
        discriminator=op.discriminator,
        safety=safety,
        input_schema=inp.schema(),
        output_schema=plan.output_schema,
        bindings=inp.bindings,
        body_media=inp.body_media,
        body_template=inp.body_template,
        responses=_summary(ev),
        error_schemas=errors,
        auth=sorted(ev.auth),
        csrf=plan.csrf,
        verification=_verification(op, inp.body_args, inp.path_args, ctx)
        if safety != "read_only"
        else None,
        reconcile=_reconcile(op, inp.body_args, inp.path_args, ctx)
        if safety != "read_only"
        else None,
        idempotency=_idempotency(ev, inp.body_args),
        fixed=inp.fixed,
        login=plan.login,
        safety_reasons=plan.decision.reasons,
        seen_working=working,
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
    facts = CaptureFacts.of(analysis)
    plans = [_plan(op, analysis, facts) for op in analysis.operations]
    hints = [
        "login"
        if p.login is not None
        else "action"
        if p.decision.discriminator is not None
        else "read"
        if p.decision.safety == "read_only"
        else ""
        for p in plans
    ]
    names = tool_names(analysis.operations, hints)
    ctx = _Ctx(analysis, names, plans)
    cards = []
    for op, name, plan in zip(analysis.operations, names, plans, strict=True):
        card = _card(op, name, plan, ctx)
        data = scrub_document(card.model_dump(mode="json"), red)
        cards.append(ToolCard.model_validate(data))
    return cards

"""Build tool cards from an analysis: inputs, outputs, safety, auth, verification and provenance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from toolgen.cards import (
    Idempotency,
    Login,
    Provenance,
    ToolCard,
    card_text,
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
from toolgen.naming import answers_a_listing, tool_names
from toolgen.plans import attach_plans
from toolgen.safety import Decision, decide_safety
from zapi._beside import map_beside
from zapi.analyzer.bodies import BodyKind
from zapi.analyzer.evidence import OpEvidence
from zapi.analyzer.model import Analysis, Operation
from zapi.redact import Redactor
from zapi.scrub import scrub_document

__all__ = ["build_cards", "build_cards_with_texts", "param_schema", "path_param_schema"]

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


def _description(op: Operation, safety: str) -> str:
    ev = op.evidence
    what = f"{op.method} {op.template.path}"
    if op.discriminator:
        what += f" ({op.protocol} {op.discriminator})"
    statuses = ", ".join(f"{s} x{ev.responses[s].count}" for s in sorted(ev.responses))
    silent = _unanswered(ev)
    if not statuses:
        answered = "no response was recorded"
    else:
        answered = f"answered {statuses}" + (f", {silent} without a response" if silent else "")
    parts = [
        f"{what} on {op.origin}.",
        f"Seen {ev.count} time(s); {answered}.",
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


def _unanswered(ev: OpEvidence) -> int:
    """Requests of the operation that got no response (aborted or cut off: HAR status 0)."""
    return max(0, ev.count - sum(rs.count for rs in ev.responses.values()))


# Confidence at most, when no request of the operation got an answer: the route and the
# inputs are the UI's own, but nothing shows the server serves it or what it returns.
UNANSWERED_CONFIDENCE = 0.5


def _outcome(op: Operation) -> tuple[float, list[str], bool]:
    """Confidence, its reasons, and whether the operation was ever seen working.

    An operation whose requests all went unanswered (a navigation aborted them) was
    never seen failing either: it is offered, with its confidence capped and the reason.
    """
    ev = op.evidence
    reasons = list(op.template.reasons)
    if ev.count < 2:
        reasons.append("seen once: inputs and outputs rest on a single sample")
    confidence = op.template.confidence * (1.0 if ev.count >= 3 else 0.85 if ev.count == 2 else 0.7)
    if not ev.responses:
        reasons.append(
            "no response was recorded (every request was cut off before an answer): "
            "inputs come from the requests; the output is unknown"
        )
        return min(confidence, UNANSWERED_CONFIDENCE), reasons, True
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
    listing: bool  # every 2xx answer a listing (naming.answers_a_listing)


def _expected_work(op: Operation) -> float:
    """About what :func:`_plan` costs for ``op``: the bodies still to walk, then a little
    for each body and each operation (for sharing operations out evenly)."""
    ev = op.evidence
    stats = [
        *ev.request_bodies.values(),
        *(b for r in ev.responses.values() for b in r.bodies.values()),
    ]
    return 500 + sum(b.unread_bytes() + 2000 * (len(b.shared) + (b.own is not None)) for b in stats)


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
    csrf = _csrf(op.evidence, inputs.csrf_fields, analysis)
    return _Plan(inputs, output, login, decision, csrf, answers_a_listing(op))


def _card(op: Operation, name: str, plan: _Plan) -> ToolCard:
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


def build_cards(
    analysis: Analysis, redactor: Redactor | None = None, *, parallel: bool = False
) -> list[ToolCard]:
    """One tool card per operation, names unique and stable, secrets scrubbed.

    With ``parallel``, the per-operation work (schemas from the evidence, then the
    scrubbing of each card) is shared with a forked second process where one can
    be used (``zapi._beside``); the cards are the same either way.
    """
    return [card for card, _ in _build(analysis, redactor, parallel=parallel, texts=False)]


def build_cards_with_texts(
    analysis: Analysis, redactor: Redactor | None = None, *, parallel: bool = False
) -> list[tuple[ToolCard, str]]:
    """:func:`build_cards`, each card with the text its :meth:`~ToolCard.dump` gives.

    The text is made where the card is scrubbed (in the second process, for half of
    them, with ``parallel``), from the same data the card is validated from.
    """
    return [(card, text or "") for card, text in _build(analysis, redactor, parallel, True)]


def _build(
    analysis: Analysis, redactor: Redactor | None, parallel: bool, texts: bool
) -> list[tuple[ToolCard, str | None]]:
    red = redactor or Redactor()
    facts = CaptureFacts.of(analysis)
    plans = map_beside(
        lambda op: _plan(op, analysis, facts),
        analysis.operations,
        enabled=parallel,
        weights=[_expected_work(op) for op in analysis.operations],
    )
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
    names = tool_names(analysis.operations, hints, [p.listing for p in plans])
    raw = [
        _card(op, name, plan)
        for op, name, plan in zip(analysis.operations, names, plans, strict=True)
    ]
    raw = attach_plans(raw, analysis.operations)  # verification/reconcile: toolgen/plans.py

    def finished(card: ToolCard) -> tuple[dict[str, Any], str | None]:
        data = scrub_document(card.model_dump(mode="json"), red, in_place=True)
        return data, card_text(data) if texts else None

    done = map_beside(finished, raw, enabled=parallel)
    return [(ToolCard.model_validate(data), text) for data, text in done]

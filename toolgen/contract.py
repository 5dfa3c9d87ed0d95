"""A contract test of recorded traffic: where new HAR entries disagree with the tool cards."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from toolgen.cards import ToolCard
from toolgen.flowplan import request_args, request_body_value
from toolgen.flows import CardMatcher
from zapi.har import HarEntry, SkippedEntry

__all__ = ["CheckReport", "Finding", "check_traffic"]

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}
MAX_FINDINGS = 200


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Finding(_Model):
    """One disagreement between an entry and its card."""

    entry: int
    tool: str
    kind: str
    detail: str


class CheckReport(_Model):
    """The outcome of checking a HAR against a tool folder."""

    calls: int
    unknown_operations: list[str]
    findings: list[Finding]
    by_kind: dict[str, int]

    @property
    def ok(self) -> bool:
        """True when every call matched its card."""
        return not self.findings and not self.unknown_operations


def _type_ok(value: Any, schema: Mapping[str, Any]) -> bool:
    t = schema.get("type")
    kinds = t if isinstance(t, list) else [t] if t else []
    if not kinds or value is None and "null" in kinds:
        return True
    for k in kinds:
        want = _JSON_TYPES.get(str(k))
        if want and isinstance(value, want) and not (k != "boolean" and isinstance(value, bool)):
            return True
    return False


def _check_output(data: Any, schema: Mapping[str, Any], where: str, out: list[str]) -> None:
    if len(out) > 20:
        return
    if not _type_ok(data, schema):
        out.append(
            f"output {where or '(body)'}: {type(data).__name__}, card says {schema.get('type')}"
        )
        return
    if isinstance(data, dict):
        props = schema.get("properties", {})
        for k in schema.get("required", []):
            if k not in data:
                out.append(
                    f"output {where + '.' if where else ''}{k}: missing (always seen before)"
                )
        for k, v in data.items():
            if k in props:
                _check_output(v, props[k], f"{where}.{k}" if where else k, out)
            elif props:
                out.append(
                    f"output {where + '.' if where else ''}{k}: field the card does not know"
                )
    elif isinstance(data, list) and isinstance(schema.get("items"), Mapping):
        for v in data[:50]:
            _check_output(v, schema["items"], where + "[]", out)


def check_traffic(
    items: Iterable[HarEntry | SkippedEntry], cards: Sequence[ToolCard]
) -> CheckReport:
    """Check every call in ``items`` against its card: inputs, status and output shape."""
    match = CardMatcher(cards, match_origin=False)
    findings: list[Finding] = []
    unknown: set[str] = set()
    calls = 0
    for e in items:
        if not isinstance(e, HarEntry):
            continue
        card = match.card_for(e)
        if card is None:
            if "json" in (e.response_mime + e.request_mime).lower():
                unknown.add(f"{e.method.upper()} {e.path}")
            continue
        calls += 1
        problems: list[tuple[str, str]] = []
        props = card.input_schema.get("properties", {})
        args = request_args(card, e)
        for p in e.request_params:  # uploaded files: present, not replayable values
            arg = next((b.arg for b in card.bindings if b.name == p.name), None)
            if arg and p.filename is not None:
                args.setdefault(arg, p.filename)
        for req in card.input_schema.get("required", []):
            if req not in args and props.get(req, {}).get("x-in") not in ("header", "cookie"):
                problems.append(("input_missing", f"required input {req!r} not sent"))
        for arg, value in args.items():
            if arg in props and not _type_ok(value, props[arg]):
                problems.append(
                    (
                        "input_type",
                        f"input {arg!r}: {type(value).__name__}, card: {props[arg].get('type')}",
                    )
                )
        body = request_body_value(e)
        if isinstance(body, dict) and any(b.location == "body" for b in card.bindings):
            wire = {b.name for b in card.bindings if b.location == "body"}
            wire |= {str(k) for k in card.body_template}
            for k in sorted(set(body) - wire):
                problems.append(("input_unknown", f"body field {k!r} the card does not know"))
        status = str(e.status)
        if status not in card.responses and e.status > 0:
            problems.append(
                (
                    "status",
                    f"status {status} never seen (card: {', '.join(sorted(card.responses))})",
                )
            )
        if 200 <= e.status < 300 and card.output_schema:
            raw = e.response_body()
            if raw and "json" in e.response_mime.lower():
                try:
                    data = json.loads(raw)
                except ValueError:
                    data = None
                out: list[str] = []
                if data is not None:
                    _check_output(data, card.output_schema, "", out)
                problems.extend(("output", p) for p in out)
        for kind, detail in dict.fromkeys(problems):  # once per entry (arrays repeat)
            if len(findings) < MAX_FINDINGS:
                findings.append(Finding(entry=e.index, tool=card.name, kind=kind, detail=detail))
    return CheckReport(
        calls=calls,
        unknown_operations=sorted(unknown),
        findings=findings,
        by_kind=dict(sorted(Counter(f.kind for f in findings).items())),
    )

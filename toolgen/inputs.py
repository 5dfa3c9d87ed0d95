"""A card's inputs, one builder per location: what the caller gives, what is sent for them.

Each location (path, query, header, cookie, body) has its own builder that adds
arguments, wire bindings and ``fixed`` values to one :class:`Inputs`.  An input
is *required* only with evidence (:func:`required_reason`): it is a path
parameter, a 4xx named it while it was absent, a write's response showed it
changed the resource, or it was present in every call of enough independent
calls (paging, sorting and range keys excepted: servers default them, and a UI
sends its page size and time window every time).  Values the client always
sends unchanged (UI flags, API versions) and
per-request cache-busters are ``fixed``, never arguments; cookies the server
set are session state and cookies no server set are client-only UI state:
neither is an argument.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from toolgen.cards import Binding, FixedValue
from toolgen.naming import arg_name
from zapi.analyzer.bodies import BodyKind
from zapi.analyzer.evidence import BodyStats, ParamStats
from zapi.analyzer.model import Analysis, Operation
from zapi.analyzer.protocols import PROTOCOL_BODY_KEYS, inner_key
from zapi.analyzer.signals import OpSignals
from zapi.redact import is_credential_query, is_marker

__all__ = [
    "MIN_INDEPENDENT_CALLS",
    "PAGINATION",
    "SORT_KEYS",
    "CaptureFacts",
    "Inputs",
    "body_schema",
    "build_inputs",
    "defaulted",
    "dominant_body",
    "param_schema",
    "path_param_schema",
    "required_reason",
]

# Calls needed before "present every time" is evidence that an input is required.
MIN_INDEPENDENT_CALLS = 5

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
# Keys that sort a listing or bound a range: servers default them by convention, so a
# client that always sends them (a UI's page size, its time window) shows no requirement.
SORT_KEYS = frozenset(
    ["sort", "sort_by", "sortby", "order", "order_by", "orderby", "ordering", "direction"]
    + ["dir", "sort_order", "sort_dir", "order_direction", "order_column"]
)
_RANGE_KEY = re.compile(r"(^|[_.])(gte|lte|gt|lt|since|until)$|__[a-z]+$")
SECRET_FIELDS = frozenset(
    {"password", "passwd", "passphrase", "pwd", "pass", "secret", "client_secret", "otp", "pin"}
)
_CSRF = re.compile(r"(csrf|xsrf|authenticity_token)", re.I)
# Query keys apps use for cache-busting values.
_BUSTER_KEYS = frozenset(
    {"_", "_t", "t", "ts", "_ts", "cb", "cachebust", "cachebuster", "cache_buster", "nocache"}
    | {"_dc", "rnd", "rand", "random", "_r", "timestamp", "_timestamp", "v_"}
)
# Evidence keeps the first 80 characters of a value: a longer one cannot be replayed as fixed.
_MAX_KEPT_VALUE = 80
# Headers browsers' scripts send with one value by convention (``X-Requested-With``).
_CONVENTIONAL_CONSTANTS = frozenset({"x-requested-with"})
_TS_MS = (1_000_000_000_000, 4_000_000_000_000)
_TS_S = (1_000_000_000, 4_000_000_000)
_KEY_BUSTER = re.compile(r"^(.*?)(\d{10}|\d{13})$")
_RANDOM = re.compile(r"^(?=.*\d)[0-9A-Za-z]{8,40}$")
_SHAPE_SCHEMA: dict[str, dict[str, Any]] = {
    "integer": {"type": "integer"},
    "uuid": {"type": "string", "format": "uuid"},
    "date": {"type": "string", "format": "date"},
    "date-time": {"type": "string", "format": "date-time"},
    "email": {"type": "string", "format": "email"},
    "number": {"type": "number"},
}


@dataclass(frozen=True)
class CaptureFacts:
    """Capture-wide facts the per-card builders need, computed once per analysis."""

    constant_headers: dict[str, tuple[str, int]]  # header -> (the one value, requests)
    server_cookies: frozenset[str]  # cookies some response set
    saw_set_cookie: bool

    @classmethod
    def of(cls, analysis: Analysis) -> CaptureFacts:
        """Tally the header values of every operation of the capture."""
        values: dict[str, dict[str, int]] = {}
        overflow: set[str] = set()
        for op in analysis.operations:
            for h, ps in op.evidence.headers.items():
                if ps.overflow:
                    overflow.add(h)
                tally = values.setdefault(h, {})
                for v, n in ps.values.items():
                    tally[v] = tally.get(v, 0) + n
        constant = {
            h: (next(iter(t)), sum(t.values()))
            for h, t in values.items()
            if h not in overflow
            and len(t) == 1
            and sum(t.values()) >= 2
            and len(next(iter(t))) < _MAX_KEPT_VALUE  # longer values are kept truncated
        }
        cookies = frozenset(analysis.signals.set_cookies)
        return cls(constant, cookies, bool(cookies))


@dataclass
class Inputs:
    """The inputs of one card as they are being built."""

    props: dict[str, Any] = field(default_factory=dict)
    required: list[str] = field(default_factory=list)
    bindings: list[Binding] = field(default_factory=list)
    fixed: list[FixedValue] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    path_args: list[str] = field(default_factory=list)
    body_args: dict[str, str] = field(default_factory=dict)  # argument -> top-level body field
    secret_args: list[str] = field(default_factory=list)
    csrf_fields: list[str] = field(default_factory=list)  # body fields carrying a CSRF token
    body_media: str = ""
    body_template: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # why an input is required/fixed/dropped

    def add(self, arg: str, schema: dict[str, Any], binding: Binding, why_required: str) -> None:
        """Add one argument; ``why_required`` empty means optional."""
        self.props[arg] = schema
        self.bindings.append(binding)
        if why_required:
            self.required.append(arg)
            if binding.location != "path":
                self.notes.append(f"{arg} required: {why_required}")

    def schema(self) -> dict[str, Any]:
        """The card's ``input_schema``."""
        out: dict[str, Any] = {
            "type": "object",
            "properties": self.props,
            "additionalProperties": False,
        }
        if self.required:
            out["required"] = sorted(set(self.required))
        return out


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


def required_reason(
    wire: str, present: int, total: int, sig: OpSignals, *, body_field: bool = False
) -> str:
    """Why an input is required, or ``""`` when the evidence does not say so.

    Args:
        wire: the wire name (query key, header, body field).
        present: calls that sent it.
        total: calls of the operation.
        sig: the operation's signals (4xx demands, changed fields, distinct calls).
        body_field: a top-level body field (a write may show it changed the resource).
    """
    low = wire.lower()
    if sig.demanded.get(low):
        return "the API answered 4xx naming it when it was absent"
    if total <= 0 or present < total:
        return ""
    if body_field and sig.changed.get(wire) and not sig.carried.get(wire):
        return "the write changed the resource to the value sent (a read before showed another)"
    calls = min(total, sig.distinct_requests or total)
    if calls >= MIN_INDEPENDENT_CALLS and not defaulted(wire):
        return f"sent in all {total} calls ({calls} distinct)"
    return ""


def defaulted(wire: str) -> bool:
    """A paging, sorting or range key: the server has a default, sending it is a choice."""
    low = wire.lower().strip("_$").removesuffix("[]")
    return low in PAGINATION or low in SORT_KEYS or bool(_RANGE_KEY.search(low))


def param_schema(ps: ParamStats, total: int) -> tuple[dict[str, Any], bool]:
    """Schema of a query/header parameter and whether it was present in every call."""
    sch = ps.schema.to_schema(observed=False)
    if ps.repeated:
        sch = {"type": "array", "items": sch}
    sch["x-observed"] = ps.present
    return sch, ps.present == total and total > 0


def dominant_body(bodies: dict[str, BodyStats]) -> tuple[str, BodyStats] | None:
    """The body kind seen most often (ties: the most structured)."""
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


# -- path ----------------------------------------------------------------------------------------
def _path_inputs(op: Operation, inp: Inputs) -> None:
    ev = op.evidence
    shapes = dict(op.template.param_shapes)
    examples = dict(op.template.param_examples)
    segs = [s for s in op.template.path.split("/") if s]
    for i, seg in enumerate(segs):
        for p in op.template.params:
            if "{" + p + "}" in seg and not examples.get(p) and ev.path_values.get(str(i)):
                examples[p] = min(ev.path_values[str(i)])  # id-shaped values seen at i
    for p in op.template.params:
        a = arg_name(p, inp.used)
        inp.path_args.append(a)
        sch = {**path_param_schema(shapes.get(p, "other"), examples.get(p, "")), "x-in": "path"}
        inp.add(a, sch, Binding(arg=a, location="path", name=p), "a path parameter")


# -- query ---------------------------------------------------------------------------------------
def _timestamp_kind(values: list[Any]) -> str:
    """``timestamp_ms`` / ``timestamp_s`` when every value is an epoch time, else ``""``."""
    kinds = set()
    for v in values:
        s = str(v)
        if not s.isdigit():
            return ""
        n = int(s)
        if _TS_MS[0] <= n < _TS_MS[1]:
            kinds.add("timestamp_ms")
        elif _TS_S[0] <= n < _TS_S[1]:
            kinds.add("timestamp_s")
        else:
            return ""
    return kinds.pop() if len(kinds) == 1 else ""


def _buster(q: str, ps: ParamStats) -> str:
    """How to generate a cache-busting query value, or ``""`` when ``q`` is a real input."""
    distinct = ps.overflow or (len(ps.values) == ps.present and ps.present >= 2)
    seen = list(ps.values) or [
        e for e in ps.schema.to_schema(observed=False).get("examples", []) if e is not None
    ]
    if not seen:
        return ""
    ts = _timestamp_kind(seen)
    if q.lower() in _BUSTER_KEYS:
        if ts:
            return ts
        if distinct and all(_RANDOM.match(str(v)) for v in seen):
            return "random_hex"
        return ""
    if ts and distinct and ps.present >= 3:
        return ts  # a fresh epoch time in every call under any key: a cache-buster
    return ""


def _query_inputs(op: Operation, inp: Inputs) -> None:
    ev = op.evidence
    key_busters: dict[tuple[str, str], int] = {}
    for q in sorted(ev.query):
        if is_credential_query(q):
            continue  # an API key in the query is auth (``card.auth``), never an argument
        ps = ev.query[q]
        m = _KEY_BUSTER.match(q)
        if m and _timestamp_kind([m.group(2)]) and ps.present < max(2, ev.count):
            kind = _timestamp_kind([m.group(2)])
            key_busters[(m.group(1), kind)] = key_busters.get((m.group(1), kind), 0) + ps.present
            continue
        gen = _buster(q, ps)
        if gen:
            inp.fixed.append(
                FixedValue(
                    location="query",
                    name=q,
                    generate=gen,
                    reason=f"cache-buster: a fresh {gen.replace('_', ' ')} in each of "
                    f"{ps.present} call(s)",
                )
            )
            continue
        sch, _always = param_schema(ps, ev.count)
        a = arg_name(q, inp.used)
        sch["x-in"] = "query"
        if q.lower() in PAGINATION:
            sch["x-pagination"] = True
        why = required_reason(q, ps.present, ev.count, ev.signals)
        binding = Binding(arg=a, location="query", name=q, array=bool(ps.repeated))
        inp.add(a, sch, binding, why)
    for (prefix, kind), n in sorted(key_busters.items()):
        what = f"{prefix!r} + a fresh" if prefix else "a fresh"
        inp.fixed.append(
            FixedValue(
                location="query",
                name=prefix,
                value="",
                generate=kind,
                in_key=True,
                reason=f"cache-buster: the query key is {what} {kind.replace('_', ' ')}, "
                f"a new one in each of {n} call(s)",
            )
        )


# -- headers -------------------------------------------------------------------------------------
def _header_inputs(op: Operation, inp: Inputs, facts: CaptureFacts) -> None:
    ev = op.evidence
    for h in sorted(ev.headers):
        ps = ev.headers[h]
        if ps.present * 2 < ev.count:
            continue
        const = facts.constant_headers.get(h)
        mine = list(ps.values)
        if const is not None and mine == [const[0]]:
            inp.fixed.append(
                FixedValue(
                    location="header",
                    name=h,
                    value=const[0],
                    reason=f"the client sent the same value in all {const[1]} requests "
                    "of the capture",
                )
            )
            continue
        one = (
            not ps.overflow
            and len(mine) == 1
            and ps.present == ev.count
            and len(mine[0]) < _MAX_KEPT_VALUE
        )
        if one and (ev.count >= 2 or h in _CONVENTIONAL_CONSTANTS or "version" in h):
            why = (
                f"the same value in all {ev.count} calls"
                if ev.count >= 2
                else "a header clients send with one conventional value"
                if h in _CONVENTIONAL_CONSTANTS
                else "an API-version header: the version the client was built against"
            )
            inp.fixed.append(FixedValue(location="header", name=h, value=mine[0], reason=why))
            continue
        sch, _always = param_schema(ps, ev.count)
        a = arg_name(h, inp.used)
        sch["x-in"] = "header"
        why = required_reason(h, ps.present, ev.count, ev.signals)
        inp.add(a, sch, Binding(arg=a, location="header", name=h), why)


# -- cookies -------------------------------------------------------------------------------------
def _cookie_inputs(op: Operation, inp: Inputs, facts: CaptureFacts) -> None:
    ev = op.evidence
    for c in sorted(ev.cookies):
        if ev.cookies[c] * 2 < ev.count:
            continue
        if c in facts.server_cookies:
            inp.notes.append(
                f"cookie {c} is not an argument: the server set it (Set-Cookie), session state"
            )
            continue
        if facts.saw_set_cookie:
            inp.notes.append(
                f"cookie {c} dropped: client-only (set by the page's script; no response in "
                "the capture set it)"
            )
            continue
        a = arg_name(c, inp.used)
        sch = {"type": "string", "x-in": "cookie", "x-observed": ev.cookies[c]}
        inp.add(a, sch, Binding(arg=a, location="cookie", name=c), "")


# -- body ----------------------------------------------------------------------------------------
def _protocol_body(op: Operation, sch: dict[str, Any], inp: Inputs) -> dict[str, Any]:
    """Split a GraphQL/JSON-RPC body into its fixed template and the caller's inputs."""
    key = inner_key(op.protocol)
    top = sch.get("properties", {})
    for k in PROTOCOL_BODY_KEYS:
        if k in top and "examples" in top[k]:
            inp.body_template[k] = top[k]["examples"][0]
    if op.protocol == "jsonrpc":
        inp.body_template.setdefault("jsonrpc", "2.0")
        inp.body_template["method"] = op.discriminator
    if op.protocol == "graphql":
        inp.body_template["operationName"] = op.discriminator
    inner = top.get(key, {"type": "object", "properties": {}})
    if inner.get("type") != "object":
        a = arg_name(key, inp.used)
        inp.add(a, {**inner, "x-in": "body"}, Binding(arg=a, location="body", name=key), "")
        return {}
    return {**inner, "x-wrap": key}


def _body_inputs(op: Operation, inp: Inputs) -> None:
    ev = op.evidence
    dom = dominant_body(ev.request_bodies)
    if dom is None:
        return
    kind, stats = dom
    inp.body_media = _media(stats)
    sch = body_schema(kind, stats)
    if op.protocol in ("graphql", "jsonrpc") and sch.get("type") == "object":
        sch = _protocol_body(op, sch, inp)
    if sch.get("type") == "object" and "properties" in sch and not sch.get("x-dynamic-keys"):
        wrap = sch.get("x-wrap")
        total = stats.count if not wrap else int(sch.get("x-observed", stats.count))
        for field_name, fs in sorted(sch["properties"].items()):
            if _CSRF.search(field_name) and kind in (BodyKind.FORM, BodyKind.MULTIPART):
                inp.csrf_fields.append(field_name)
                inp.notes.append(
                    f"body field {field_name} is a CSRF token the runtime fills, not an input"
                )
                continue
            a = arg_name(
                field_name if field_name not in inp.used else f"body_{field_name}", inp.used
            )
            fsch = {**fs, "x-in": "body"}
            if field_name.lower() in SECRET_FIELDS:
                fsch.pop("examples", None)
                fsch.update({"format": "password", "writeOnly": True})
                inp.secret_args.append(a)
            elif any(is_marker(e) for e in fsch.get("examples", [])):
                fsch.pop("examples", None)
            present = int(fs.get("x-observed", total))
            why = required_reason(field_name, present, total, ev.signals, body_field=not wrap)
            wire = f"{wrap}.{field_name}" if wrap else field_name
            inp.add(a, fsch, Binding(arg=a, location="body", name=wire), why)
            inp.body_args[a] = field_name
    elif sch:
        a = arg_name("body", inp.used)
        binding = Binding(arg=a, location="body", name="", whole_body=True)
        inp.add(a, {**sch, "x-in": "body"}, binding, "the request body itself")


def build_inputs(op: Operation, facts: CaptureFacts) -> Inputs:
    """All inputs of one operation: path, query, header, cookie, then body."""
    inp = Inputs()
    _path_inputs(op, inp)
    _query_inputs(op, inp)
    _header_inputs(op, inp, facts)
    _cookie_inputs(op, inp, facts)
    _body_inputs(op, inp)
    return inp

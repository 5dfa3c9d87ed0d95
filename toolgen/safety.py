"""Safety from evidence, not only the method: which operations read, write or destroy, and why.

A GET reads.  A POST reads when the evidence says so: its last route segment
*is* a read word (``/flow_runs/filter``, ``/task_runs/count``, ``/_search``)
or leads with a word that is only ever a verb (``get_plan``, ``listProjects``;
a read word that also names things, inside a compound such as ``filter_state``,
is no evidence), it is a GraphQL query or a JSON-RPC method named as a read, or the
same request was answered the same way again with no sign of a change (no 201,
no ``Location``, no cookie set).  Evidence that the call created something (a
201 Created, a ``Location`` header, a response handing back an id or key the
request did not send) outweighs a route word.  Otherwise a POST stays a write,
the safe default.  One route whose query/body value selects the action (``POST
/actions?id=delete_tasks``) gets a safety per value, and the card takes the
most dangerous.  Every decision comes with its reasons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from zapi.analyzer.model import Operation
from zapi.analyzer.protocols import rpc_is_read
from zapi.analyzer.schema_infer import SchemaStats

__all__ = [
    "READ_VERBS",
    "READ_WORDS",
    "Decision",
    "action_discriminator",
    "created_evidence",
    "decide_safety",
    "words",
]

READ_WORDS = frozenset(
    {
        "filter",
        "search",
        "query",
        "count",
        "list",
        "validate",
        "paginate",
        "history",
        "find",
        "lookup",
        "stats",
        "statistics",
        "summary",
        "aggregate",
        "aggregates",
        "preview",
        "suggest",
        "autocomplete",
        "typeahead",
        "get",
        "read",
        "fetch",
        "check",
        "exists",
        "browse",
        "explain",
        "describe",
        "estimate",
        "render",
    }
)
# Read words that are only ever verbs: leading a compound they still name a read
# (get_plan, listProjects); the others also name things (filter_state, search_history).
READ_VERBS = frozenset({"get", "fetch", "read", "find", "lookup", "describe", "list"})
DESTRUCTIVE_WORDS = frozenset(
    {
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
        "truncate",
        "erase",
        "kill",
    }
)
WRITE_WORDS = frozenset(
    {
        "create",
        "add",
        "update",
        "set",
        "save",
        "edit",
        "put",
        "post",
        "insert",
        "upsert",
        "write",
        "send",
        "submit",
        "import",
        "upload",
        "move",
        "rename",
        "copy",
        "approve",
        "reject",
        "start",
        "stop",
        "run",
        "retry",
        "pause",
        "resume",
        "assign",
        "enable",
        "archive",
        "restore",
        "publish",
        "login",
        "logout",
        "register",
        "sync",
        "refresh",
        "mark",
        "toggle",
        "schedule",
        "trigger",
    }
)
_RANK = {"read_only": 0, "idempotent": 1, "write": 2, "destructive": 3}
# The last segment's file extension says nothing about the action (``search.json``).
_EXT = re.compile(r"\.(json|xml|do|php|aspx?|jsp|cgi|action|html?)$", re.I)
# The last word of a response field that carries a minted identifier (``id``, ``query_id``).
_ID_WORDS = frozenset({"id", "key", "uuid", "guid"})
# A receipt names what was made and little else (``{"key": "IuRK..."}``).
_RECEIPT_FIELDS = 3
_ACTION_KEYS = frozenset({"id", "action", "op", "operation", "cmd", "command", "do", "task"})


def words(text: str) -> list[str]:
    """Lower-case words of a route segment or name (snake, kebab, camel, dotted)."""
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", text)
    return [w for w in re.split(r"[^A-Za-z0-9]+", s.lower()) if w]


@dataclass
class Decision:
    """A safety class with the evidence behind it."""

    safety: str
    reasons: list[str] = field(default_factory=list)
    per_value: dict[str, str] = field(default_factory=dict)  # action value -> safety
    discriminator: tuple[str, str] | None = None  # (location, wire name) selecting the action


def _word_safety(ws: list[str]) -> str:
    if any(w in DESTRUCTIVE_WORDS for w in ws):
        return "destructive"
    if any(w in WRITE_WORDS for w in ws):
        return "write"
    if any(w in READ_WORDS for w in ws):
        return "read_only"
    return ""


def _last_literal(op: Operation) -> str:
    for seg in reversed([s for s in op.template.path.split("/") if s]):
        if not seg.startswith("{"):
            return seg
    return ""


def action_discriminator(op: Operation) -> tuple[str, str, dict[str, str]] | None:
    """A query key or body field whose values name actions (``?id=delete_tasks``).

    Returns ``(location, wire name, value -> safety)`` when at least two distinct
    values were seen and every one of them is named with an action word.
    """
    ev = op.evidence
    candidates: list[tuple[str, str, list[str]]] = []
    for q, ps in sorted(ev.query.items()):
        if not ps.overflow and len(ps.values) >= 2 and q.lower() in _ACTION_KEYS:
            candidates.append(("query", q, sorted(ps.values)))
    for stats in ev.request_bodies.values():
        if stats.schema is None:
            continue
        for name, node in sorted(stats.schema.props.items()):
            if name.lower() in _ACTION_KEYS and not node.strings_overflow:
                vals = sorted(node.strings)
                if len(vals) >= 2:
                    candidates.append(("body", name, vals))
    for loc, name, vals in candidates:
        per = {v: _word_safety(words(v)) for v in vals}
        if all(per.values()):
            return loc, name, per
    return None


def decide_safety(op: Operation, *, login: bool = False) -> Decision:
    """The safety class of an operation and the reasons for it."""
    m = op.method
    ev = op.evidence
    sig = ev.signals
    if m in ("GET", "HEAD", "OPTIONS"):
        return Decision("read_only", [f"{m}: a read by HTTP semantics"])
    if op.protocol == "graphql":
        if ev.graphql_kind in ("mutation", "subscription"):
            why = f"GraphQL {ev.graphql_kind} {op.discriminator}"
            if any(w in DESTRUCTIVE_WORDS for w in words(op.discriminator)):
                return Decision("destructive", [why + ", named as destroying"])
            return Decision("write", [why])
        return Decision("read_only", [f"GraphQL query {op.discriminator}: a read"])
    if op.protocol == "jsonrpc":
        if rpc_is_read(op.discriminator):
            return Decision("read_only", [f"JSON-RPC method {op.discriminator} is named as a read"])
        ws = words(op.discriminator)
        if any(w in DESTRUCTIVE_WORDS for w in ws):
            return Decision("destructive", [f"JSON-RPC method {op.discriminator} destroys"])
        return Decision("write", [f"JSON-RPC method {op.discriminator} is not named as a read"])
    if m == "DELETE":
        return Decision("destructive", ["DELETE"])
    if login:
        return Decision("write", ["logs in: creates a session (never resent blindly)"])
    act = action_discriminator(op) if m == "POST" else None
    if act is not None:
        loc, name, per = act
        worst = max(per.values(), key=lambda s: _RANK[s])
        reasons = [f"{loc} {name} selects the action; per value: "]
        reasons[0] += ", ".join(f"{name}={v} -> {s}" for v, s in sorted(per.items()))
        reasons.append(f"the card takes the most dangerous: {worst}")
        return Decision(worst, reasons, per, (loc, name))
    last = _last_literal(op)
    ws = words(_EXT.sub("", last))
    by_word = _word_safety(ws)
    if by_word == "destructive":
        return Decision("destructive", [f"route word {last!r} destroys"])
    if m == "PUT":
        return Decision("idempotent", ["PUT: replaces, the same request twice leaves one result"])
    if m != "POST":
        return Decision("write", [f"{m} with no evidence that it only reads"])
    whole = len(ws) == 1 and ws[0] in READ_WORDS
    verb_led = len(ws) > 1 and ws[0] in READ_VERBS and by_word == "read_only"
    if whole or verb_led:
        created = created_evidence(op)
        if created:
            why = f"POST that created something ({created}): this outweighs the route word"
            return Decision("write", [f"{why} {last!r}"])
        if whole:
            return Decision("read_only", [f"POST named as a read: route word {last!r}"])
        return Decision("read_only", [f"POST named as a read: {last!r} leads with {ws[0]!r}"])
    if by_word in ("", "read_only") and _answered_alike(op):
        return Decision(
            "read_only",
            [
                f"the same request was answered identically {sig.same_answer} more time(s), "
                "with no sign of a change (no 201, no Location, no cookie set)"
            ],
        )
    return Decision("write", [f"{m} with no evidence that it only reads"])


def created_evidence(op: Operation) -> str:
    """What says a call created something, or ``""``.

    A 201 Created, a ``Location`` header on a success, or a success whose JSON
    object hands back a top-level id or key (``id``, ``key``, ``uuid``,
    ``…_id``) that no request body sent: the server minted it.
    """
    ev = op.evidence
    sent: set[str] = set()  # body fields the request sent
    for stats in ev.request_bodies.values():
        if stats.schema is not None:
            sent.update(stats.schema.props)
    echoed = {v for vals in ev.path_values.values() for v in vals}  # values the URL carried
    echoed.update(v for _p, v in op.template.param_examples)
    for ps in ev.query.values():
        echoed.update(ps.values)
    for status in sorted(ev.responses):
        rs = ev.responses[status]
        if not 200 <= status < 300:
            continue
        if status == 201:
            return "the server answered 201 Created"
        if rs.headers.get("location"):
            return f"the {status} answer carried a Location header"
        for stats in rs.bodies.values():
            minted = _minted_id(stats.schema, sent, echoed) if stats.schema is not None else ""
            if minted:
                return f"the answer returned a new {minted!r} the request did not send"
    return ""


def _minted_id(schema: SchemaStats, sent: set[str], echoed: set[str]) -> str:
    """The id/key field of a receipt: a small JSON answer handing back a new identifier.

    A read answers with the thing it read, ids and all (``get_user`` →
    ``{"id": 7, "name": ...}``); a call that minted something answers with a
    receipt: an object (or its one envelope object) of at most
    ``_RECEIPT_FIELDS`` fields, one of them a scalar id/key.  That id is new
    only when the request body did not send it, the URL did not carry it
    (``POST /runs/7/history`` → ``{"id": 7}``) and no value came back twice.
    """
    props = schema.props
    envelopes = [n for n in props.values() if n.props and "object" in n.types]
    if len(envelopes) == 1 and not any(_is_id(k, n) for k, n in props.items()):
        props = envelopes[0].props
    if len(props) > _RECEIPT_FIELDS:
        return ""
    for name, node in sorted(props.items()):
        if not _is_id(name, node) or name in sent:
            continue
        if any(n > 1 for n in node.strings.values()):
            continue  # the same id twice: what was asked about, not something minted
        seen = set(node.strings)
        if node.example is not None and not isinstance(node.example, (dict, list)):
            seen.add(str(node.example))
        if seen & echoed:
            continue
        return name
    return ""


def _is_id(name: str, node: SchemaStats) -> bool:
    ws = words(name)
    return bool(ws) and ws[-1] in _ID_WORDS and ("string" in node.types or "integer" in node.types)


def _answered_alike(op: Operation) -> bool:
    ev = op.evidence
    sig = ev.signals
    if sig.same_answer < 1 or sig.other_answer or sig.set_cookies:
        return False
    for status, rs in ev.responses.items():
        if status in (201, 202, 204) or rs.headers.get("location"):
            return False
    return any(200 <= s < 300 for s in ev.responses)

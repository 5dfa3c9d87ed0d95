"""Safety from evidence, not only the method: which operations read, write or destroy, and why.

A GET reads.  A POST reads when the evidence says so: its route is named as a
read (``/flow_runs/filter``, ``/task_runs/count``, ``/search``), it is a
GraphQL query or a JSON-RPC method named as a read, or the same request was
answered the same way again with no sign of a change (no 201, no
``Location``, no cookie set).  Otherwise it stays a write.  One route whose
query/body value selects the action (``POST /actions?id=delete_tasks``) gets a
safety per value, and the card takes the most dangerous.  Every decision
comes with its reasons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from zapi.analyzer.model import Operation
from zapi.analyzer.protocols import rpc_is_read

__all__ = ["READ_WORDS", "Decision", "action_discriminator", "decide_safety", "words"]

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
    ws = words(last)
    by_word = _word_safety(ws)
    if by_word == "destructive":
        return Decision("destructive", [f"route word {last!r} destroys"])
    if m == "PUT":
        return Decision("idempotent", ["PUT: replaces, the same request twice leaves one result"])
    if m == "POST" and by_word == "read_only":
        return Decision("read_only", [f"POST named as a read: route word {last!r}"])
    if m == "POST" and not by_word and _answered_alike(op):
        return Decision(
            "read_only",
            [
                f"the same request was answered identically {sig.same_answer} more time(s), "
                "with no sign of a change (no 201, no Location, no cookie set)"
            ],
        )
    return Decision("write", [f"{m} with no evidence that it only reads"])


def _answered_alike(op: Operation) -> bool:
    ev = op.evidence
    sig = ev.signals
    if sig.same_answer < 1 or sig.other_answer or sig.set_cookies:
        return False
    for status, rs in ev.responses.items():
        if status in (201, 202, 204) or rs.headers.get("location"):
            return False
    return any(200 <= s < 300 for s in ev.responses)

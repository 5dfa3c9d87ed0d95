"""Runs as the console shows them: list rows and a run's timeline, from the runs database."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from runtime.actionlog import LogRecord
from runtime.console.logview import match_steps
from runtime.verify import resolve_pointer
from runtime.workflows import RunInfo, RunsClient
from runtime.workflows.audit import export_run

__all__ = ["FILTERS", "Pending", "matches", "run_row", "timeline"]

FILTERS = ("waiting_approval", "paused", "failed", "running", "succeeded")
"""The status filters offered on the runs page (any status can be given in the URL)."""

Pending = dict[str, Any]
"""A decision sent by this console that no worker has applied yet."""


def _iso_ms(ms: int | None) -> str:
    if not ms:
        return ""
    return datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _ms_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        a = datetime.fromisoformat(start.replace("Z", "+00:00"))
        b = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError:
        return None
    return round((b - a).total_seconds() * 1000, 1)


def run_row(info: RunInfo, pending: Pending | None = None) -> dict[str, Any]:
    """One line of the runs table."""
    state = info.state
    wait = state.wait if state is not None and info.parked else None
    return {
        "run_id": info.run_id,
        "status": info.status,
        "workflow": info.workflow,
        "kind": info.kind,
        "inputs": info.inputs,
        "step": state.step if state else 0,
        "message": state.message if state else "",
        "waits_for": wait.name if wait else "",
        "created": _iso_ms(info.created_at),
        "updated": _iso_ms(info.updated_at),
        "executor": info.executor_id or "",
        "pending": pending,
    }


def matches(info: RunInfo, query: str) -> bool:
    """Search: the query (case-insensitive) in the run id, workflow, or an input name/value."""
    q = query.strip().lower()
    if not q:
        return True
    if q in info.run_id.lower() or q in info.workflow.lower():
        return True
    return any(q in str(k).lower() or q in str(v).lower() for k, v in info.inputs.items())


def _attempts(line: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for a in line.get("attempts") or []:
        err = a.get("error") or {}
        ctx = err.get("context") or {}
        out.append(
            {
                "n": a.get("n"),
                "at": a.get("at"),
                "action": a.get("action"),
                "outcome": a.get("outcome"),
                "code": err.get("code", ""),
                "message": err.get("message", ""),
                "status": ctx.get("status") if isinstance(ctx, dict) else None,
                "body": ctx.get("body") if isinstance(ctx, dict) else None,
            }
        )
    return out


def _wire(records: list[LogRecord]) -> list[dict[str, Any]]:
    """The action-log view of one step: each HTTP attempt, reconcile and verification."""
    started: dict[tuple[str, int], dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    for r in records:
        e = r.event
        child = bool(e.parent_call_id)
        if e.kind == "attempt_started":
            item = {
                "seq": r.seq,
                "type": "attempt",
                "tool": e.tool,
                "read": child,
                "attempt": e.attempt,
                "method": e.method,
                "url": e.url,
                "request": e.body,
                "status": None,
                "elapsed_ms": None,
                "outcome": "in flight",
                "response": None,
                "error": None,
                "drift": [],
            }
            started[(e.call_id, e.attempt)] = item
            out.append(item)
        elif e.kind == "attempt_finished":
            done = started.get((e.call_id, e.attempt))
            if done is None:
                continue
            done.update(
                status=e.status,
                elapsed_ms=round(e.elapsed_ms, 1),
                outcome=e.outcome,
                response=e.response,
                error=e.error,
                drift=[f.model_dump(mode="json") for f in e.drift],
            )
        elif e.kind == "reconciled":
            out.append(
                {
                    "seq": r.seq,
                    "type": "reconcile",
                    "tool": e.tool,
                    "result": e.result,
                    "action": e.action,
                    "detail": e.detail,
                    "evidence": e.evidence,
                }
            )
        elif e.kind == "verification":
            out.append(
                {
                    "seq": r.seq,
                    "type": "verification",
                    "tool": e.tool,
                    "ok": e.ok,
                    "mismatches": [m.model_dump(mode="json") for m in e.mismatches],
                }
            )
    return out


def _verification(line: Mapping[str, Any], reads: Mapping[str, Any]) -> dict[str, Any]:
    """A plan verification with the observed value of each expected pointer."""
    expected = line.get("expected") or {}
    mismatches = {m.get("pointer"): m for m in line.get("mismatches") or []}
    observed_doc = reads.get(str(line.get("step")))
    rows = []
    for pointer, want in expected.items():
        if pointer in mismatches:
            got = mismatches[pointer].get("observed")
        elif observed_doc is not None:
            found = resolve_pointer(observed_doc, pointer)
            got = found if isinstance(found, int | float | str | bool | list | dict) else None
        else:
            got = want
        rows.append(
            {"pointer": pointer, "expected": want, "observed": got, "ok": pointer not in mismatches}
        )
    return {"step": line.get("step"), "tool": line.get("tool"), "ok": line.get("ok"), "rows": rows}


def _changes(wait: Mapping[str, Any], decision: Mapping[str, Any]) -> list[dict[str, Any]]:
    values = wait.get("values") or {}
    return [
        {"name": k, "before": values.get(k), "after": v, "changed": values.get(k) != v}
        for k, v in sorted((decision.get("changes") or {}).items())
    ]


def timeline(
    client: RunsClient, run_id: str, records: list[LogRecord] | None = None
) -> dict[str, Any]:
    """Everything the run page shows, as plain data (secrets are cleaned by the caller).

    Args:
        client: the runs database.
        run_id: the run.
        records: the action log's records, if a log is configured.

    Raises:
        WorkflowError: no such run.
    """
    lines = export_run(client, run_id)
    info = client.get(run_id)
    steps = [
        (
            str(line.get("key", "")),
            str(line.get("tool", "")),
            line.get("started_at"),
            line.get("finished_at") or line.get("completed_at"),
        )
        for line in lines
        if line["type"] in ("step", "compensation")
    ]
    log, by_time = match_steps(records or [], run_id, steps)
    reads: dict[str, Any] = {}
    for line in lines:
        if line["type"] == "step" and str(line.get("name", "")).endswith(".verify"):
            reads[str(line["name"]).removesuffix(".verify")] = line.get("result")
    events: list[dict[str, Any]] = []
    for line in lines:
        kind = line["type"]
        if kind in ("step", "compensation"):
            key = str(line.get("key", ""))
            events.append(
                {
                    "type": kind,
                    "op": line.get("op"),
                    "step": line.get("step"),
                    "key": key,
                    "name": line.get("name", ""),
                    "tool": line.get("tool", ""),
                    "safety": line.get("safety", ""),
                    "outcome": line.get("outcome", ""),
                    "args": line.get("args"),
                    "result": line.get("result"),
                    "error": line.get("error"),
                    "attempts": _attempts(line),
                    "reconciled": bool(line.get("reconciled")),
                    "verification": line.get("verification"),
                    "drift": line.get("drift") or [],
                    "started_at": line.get("started_at"),
                    "took_ms": _ms_between(line.get("started_at"), line.get("finished_at")),
                    "wire": _wire(log.get(key, [])),
                    "wire_by_time": key in by_time,
                }
            )
        elif kind == "decision":
            wait = line.get("wait") or {}
            decision = line.get("decision") or {}
            events.append(
                {
                    "type": "decision",
                    "op": line.get("op"),
                    "wait": wait,
                    "decision": decision,
                    "changes": _changes(wait, decision),
                }
            )
        elif kind == "verification":
            events.append(
                {"type": "verification", "op": line.get("op"), **_verification(line, reads)}
            )
        elif kind == "intent":
            events.append(
                {
                    "type": "intent",
                    "key": line.get("key"),
                    "state": line.get("state"),
                    "attempts": line.get("attempts"),
                }
            )
    head = lines[0]
    result = lines[-1]
    wait = info.state.wait if info.state is not None and info.parked else None
    return {
        "run_id": run_id,
        "status": info.status,
        "engine_status": info.engine_status,
        "workflow": info.workflow,
        "kind": info.kind,
        "inputs": info.inputs,
        "app_version": info.app_version or "",
        "executor": info.executor_id or "",
        "created_at": head.get("created_at") or "",
        "message": result.get("message") or "",
        "output": result.get("output"),
        "final": info.final,
        "parked": info.parked,
        "wait": wait.model_dump(mode="json") if wait is not None else None,
        "events": events,
        "compensations": [e for e in events if e["type"] == "compensation"],
        "has_log": bool(log),
    }

"""Audit export: a run's complete story as JSONL, built from the durable state alone."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import IO, Any

from runtime.workflows.client import RunsClient
from runtime.workflows.records import utc_iso

__all__ = ["export_run", "write_jsonl"]

_KINDS = {
    "zapi.step": "step",
    "zapi.compensation": "compensation",
    "zapi.decision": "decision",
    "zapi.verification": "verification",
}


def _ts(ms: int | None) -> str | None:
    return utc_iso(ms / 1000) if ms else None


def export_run(client: RunsClient, run_id: str) -> list[dict[str, Any]]:
    """Every event of a run, in order: the run and its inputs, each step with all its attempts,
    approvals and decisions, verifications, compensations, writes still in flight, the result.

    Raises:
        WorkflowError: no such run.
    """
    info = client.get(run_id)
    lines: list[dict[str, Any]] = [
        {
            "type": "run",
            "run_id": run_id,
            "workflow": info.workflow,
            "kind": info.kind,
            "inputs": info.inputs,
            "plan": info.plan,
            "app_version": info.app_version,
            "executor_id": info.executor_id,
            "created_at": _ts(info.created_at),
        }
    ]
    for op in client.steps(run_id):
        kind = _KINDS.get(op["function_name"])
        if kind is None:
            continue
        body = op["output"] if isinstance(op["output"], dict) else {"output": op["output"]}
        lines.append(
            {
                "type": kind,
                "run_id": run_id,
                "op": op["function_id"],
                "started_at": _ts(op.get("started_at_epoch_ms")),
                "completed_at": _ts(op.get("completed_at_epoch_ms")),
                **body,
            }
        )
    for intent in client.intents(run_id):
        if intent.state != "done":
            lines.append(
                {
                    "type": "intent",
                    "run_id": run_id,
                    "key": intent.key,
                    "state": intent.state,
                    "attempts": intent.attempts,
                    "last": intent.record,
                }
            )
    if info.state is not None and info.state.wait is not None and info.parked:
        lines.append(
            {"type": "waiting", "run_id": run_id, **info.state.wait.model_dump(mode="json")}
        )
    lines.append(
        {
            "type": "result",
            "run_id": run_id,
            "status": info.status,
            "message": info.state.message if info.state else "",
            "output": info.output if info.final else None,
        }
    )
    for seq, line in enumerate(lines, 1):
        line["seq"] = seq
    return lines


def write_jsonl(lines: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """Write one JSON object per line (sorted keys); return the line count."""
    n = 0
    for line in lines:
        out.write(json.dumps(line, sort_keys=True, default=str) + "\n")
        n += 1
    return n

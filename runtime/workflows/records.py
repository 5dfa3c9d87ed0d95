"""Durable run records: the JSON documents a run checkpoints (steps, decisions, state)."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "FINAL_STATUSES",
    "SCHEMA_VERSION",
    "STATE_EVENT",
    "Attempt",
    "Decision",
    "RunSpec",
    "RunState",
    "RunStatus",
    "Settlement",
    "StepRecord",
    "Wait",
    "args_digest",
    "canonical",
    "utc_iso",
]

SCHEMA_VERSION = "1"
STATE_EVENT = "zapi.state"
"""The durable event a run publishes its :class:`RunState` under."""

RunStatus = Literal[
    "queued",
    "running",
    "waiting_approval",
    "paused",
    "compensating",
    "succeeded",
    "failed",
    "rejected",
    "cancelled",
]
FINAL_STATUSES = frozenset({"succeeded", "failed", "rejected", "cancelled"})

Outcome = Literal["ok", "failed", "unknown", "denied"]
"""``ok`` committed; ``failed`` definitely not applied; ``unknown`` may have landed; ``denied``
refused by the policy before any I/O."""


def canonical(data: Any) -> str:
    """Canonical JSON text (sorted keys, compact) used for digests and comparisons."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def args_digest(tool: str, args: dict[str, Any]) -> str:
    """A stable digest of one call, to detect a resumed run whose code asks for another call."""
    return hashlib.sha256(canonical([tool, args]).encode()).hexdigest()[:16]


def utc_iso(ts: float | None = None) -> str:
    """``ts`` (default now) as an ISO-8601 UTC string with milliseconds."""
    moment = datetime.fromtimestamp(time.time() if ts is None else ts, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal["1"] = "1"


class RunSpec(_Record):
    """What a run executes: a registered Python workflow or a pinned plan document."""

    kind: Literal["python", "plan"]
    workflow: str = Field(description="registered workflow name, or the plan's name")
    plan: dict[str, Any] | None = Field(
        None, description="the plan document itself, so a later edit cannot change a started run"
    )
    inputs: dict[str, Any] = Field(default_factory=dict)


class Attempt(_Record):
    """One send (or reconcile read) of a step's request."""

    n: int
    at: str
    action: Literal["send", "resend", "reconcile"]
    outcome: Outcome | Literal["landed", "not_landed"]
    error: dict[str, Any] | None = None
    send: int | None = Field(
        None, description="the intent's send number this entry is about (a verdict names it)"
    )


class Settlement(_Record):
    """An operator's verdict on one send of a write: it binds to that send and no other.

    A later send of the same step is a new attempt of the intent and needs its own
    settlement; a replay that finds the intent past ``send`` ignores this one.
    """

    send: int = Field(ge=1, description="the intent's send number the operator judged")
    landed: bool
    by: str
    output: Any = None
    output_given: bool = False


class StepRecord(_Record):
    """The checkpointed outcome of one durable tool call (returned as is on replay)."""

    run_id: str
    step: int
    key: str = Field(description="intent key: run id, step index and role")
    role: Literal["step", "compensation"] = "step"
    name: str = Field("", description="plan step id or label")
    tool: str
    args: dict[str, Any]
    digest: str
    safety: str = ""
    outcome: Outcome
    result: Any = None
    error: dict[str, Any] | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    reconciled: bool = False
    sends: int = Field(0, description="sends of this write so far (its intent's attempt count)")
    output_from: Literal["response", "read", "operator", "none"] = Field(
        "response",
        description="where ``result`` came from: the write's answer, a read of the resource "
        "after a settlement, the operator, or nowhere (landed, unread)",
    )
    verification: dict[str, Any] | None = None
    drift: list[dict[str, Any]] = Field(default_factory=list)
    started_at: str
    finished_at: str


class Decision(_Record):
    """An operator's answer at a wait point: who, when, what and any changed values."""

    action: Literal["approve", "reject", "resume", "cancel", "timeout"]
    by: str
    at: str
    note: str = ""
    changes: dict[str, Any] = Field(default_factory=dict)
    wait_id: str = ""


class Wait(_Record):
    """Where a parked run waits and what it waits for."""

    wait_id: str
    kind: Literal["approval", "operator"]
    name: str
    step: int
    message: str
    values: dict[str, Any] = Field(default_factory=dict)
    value_schema: dict[str, Any] = Field(
        default_factory=dict,
        description="JSON Schema of each value an approver may change ({name: schema})",
    )
    narrow: list[str] = Field(
        default_factory=list, description="values an approver may only narrow, never widen"
    )
    error: dict[str, Any] | None = None
    deadline: str | None = None
    accepts: list[str]


class RunState(_Record):
    """The run's current state, published as a durable workflow event."""

    status: RunStatus
    step: int = 0
    wait: Wait | None = None
    message: str = ""
    updated_at: str

"""``RunsClient``: start, inspect and decide runs from outside any worker (no engine needed)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dbos import DBOSClient, EnqueueOptions
from dbos import error as dbos_error

from runtime.workflows.approvals import build_decision, topic_for
from runtime.workflows.engine import (
    APP_NAME,
    QUEUE,
    STATE_EVENT,
    WORKFLOW_NAME,
    prepare_database,
    serializer,
)
from runtime.workflows.intents import Intent, IntentLog, make_engine
from runtime.workflows.records import FINAL_STATUSES, Decision, RunSpec, RunState
from zapi.errors import WorkflowError

__all__ = ["RunInfo", "RunsClient"]

PARKED = frozenset({"waiting_approval", "paused"})


@dataclass(frozen=True)
class RunInfo:
    """A run as seen from outside: engine status merged with the run's published state."""

    run_id: str
    status: str
    workflow: str
    kind: str
    inputs: dict[str, Any]
    plan: dict[str, Any] | None
    engine_status: str
    app_version: str | None
    executor_id: str | None
    created_at: int | None
    updated_at: int | None
    state: RunState | None
    output: Any

    @property
    def parked(self) -> bool:
        """Waiting for a person (approval or operator)."""
        return self.status in PARKED

    @property
    def final(self) -> bool:
        """Finished for good."""
        return self.status in FINAL_STATUSES

    def summary(self) -> dict[str, Any]:
        """JSON-ready overview."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "workflow": self.workflow,
            "kind": self.kind,
            "inputs": self.inputs,
            "step": self.state.step if self.state else 0,
            "message": (self.state.message if self.state else ""),
            "wait": self.state.wait.model_dump(mode="json")
            if self.state and self.state.wait
            else None,
            "output": self.output,
            "app_version": self.app_version,
            "executor_id": self.executor_id,
            "created_at": self.created_at,
        }


class RunsClient:
    """Talks to the runs database only: works while no worker is running.

    Decisions are durable messages: one sent while every worker is down is delivered when
    a worker resumes the run; a repeated decision for the same wait is never applied twice.
    """

    def __init__(self, database_url: str, *, prepare: bool = True) -> None:
        """Connect (creating the database first unless ``prepare`` is false).

        Raises:
            WorkflowError: the database cannot be reached or created.
        """
        self.database_url = database_url
        if prepare:
            prepare_database(database_url)
        try:
            self._dbos = DBOSClient(
                system_database_url=database_url, serializer=serializer(), application_name=APP_NAME
            )
        except Exception as exc:  # DBOS/SQLAlchemy: many types for an unreachable database
            raise WorkflowError(f"cannot open workflow database: {exc}") from exc
        self._sql = make_engine(database_url)
        self._intents: IntentLog | None = None

    def close(self) -> None:
        """Release connections."""
        self._dbos.destroy()
        self._sql.dispose()

    def __enter__(self) -> RunsClient:
        """Use as a context manager."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close."""
        self.close()

    # -- starting --------------------------------------------------------------------------

    def start(
        self, spec: RunSpec, *, run_id: str | None = None, app_version: str | None = None
    ) -> str:
        """Queue a run; any worker on this database (and tool set) picks it up.

        Without ``app_version`` the run goes to workers of the newest tool set and is pinned
        to it from then on. Starting the same ``run_id`` twice returns the existing run.
        """
        options: EnqueueOptions = {
            "workflow_name": WORKFLOW_NAME,
            "queue_name": QUEUE,
            "workflow_id": run_id or f"run-{uuid.uuid4().hex[:12]}",
        }
        if app_version:
            options["app_version"] = app_version
        handle: Any = self._dbos.enqueue(options, spec.model_dump(mode="json"))
        return str(handle.get_workflow_id())

    # -- reading ---------------------------------------------------------------------------

    def state(self, run_id: str) -> RunState | None:
        """The run's last published state (``None`` before it first ran)."""
        raw = self._dbos.get_event(run_id, STATE_EVENT, timeout_seconds=0)
        return RunState.model_validate(raw) if raw else None

    def get(self, run_id: str) -> RunInfo:
        """One run.

        Raises:
            WorkflowError: no such run.
        """
        found = self._dbos.list_workflows(workflow_ids=[run_id])
        if not found:
            raise WorkflowError(f"no run {run_id!r} in this database", run_id=run_id)
        return self._info(found[0])

    def list_runs(self, *, limit: int = 50, status: str | None = None) -> list[RunInfo]:
        """Recent runs, newest first (optionally only those with our ``status``)."""
        rows = self._dbos.list_workflows(
            name=WORKFLOW_NAME, limit=limit if not status else None, sort_desc=True
        )
        infos = [self._info(r) for r in rows]
        return [i for i in infos if status is None or i.status == status][:limit]

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        """The engine's checkpointed operations of a run, in order."""
        return [dict(s) for s in self._dbos.list_workflow_steps(run_id)]

    def intents(self, run_id: str) -> list[Intent]:
        """The run's write intents (including any still in flight)."""
        if self._intents is None:
            self._intents = IntentLog(self._sql)
        return self._intents.for_run(run_id)

    def wait(
        self,
        run_id: str,
        *,
        timeout_s: float = 60.0,
        parked_ok: bool = True,
        poll_s: float = 0.1,
        past: Decision | None = None,
    ) -> RunInfo:
        """Poll until the run is final (or parked, when ``parked_ok``).

        With ``past``, a run still parked at that decision's wait point does not count.

        Raises:
            WorkflowError: the timeout passed first.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            info = self.get(run_id)
            stale = (
                past is not None
                and info.parked
                and info.state is not None
                and info.state.wait is not None
                and info.state.wait.wait_id == past.wait_id
            )
            if info.final or (parked_ok and info.parked and not stale):
                return info
            if time.monotonic() >= deadline:
                raise WorkflowError(
                    f"run {run_id} is still {info.status} after {timeout_s:.0f}s; is a worker "
                    "running on this database?",
                    run_id=run_id,
                )
            time.sleep(poll_s)

    # -- deciding --------------------------------------------------------------------------

    def decide(
        self,
        run_id: str,
        action: str,
        *,
        by: str,
        note: str = "",
        changes: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Send a decision to the wait the run is parked at; return it.

        Raises:
            WorkflowError: the run is not waiting for this kind of decision.
        """
        decision = build_decision(
            run_id, self.state(run_id), action, by=by, note=note, changes=changes
        )
        self._dbos.send(
            run_id,
            decision.model_dump(mode="json"),
            topic_for(decision.wait_id),
            idempotency_key=f"{run_id}:{decision.wait_id}:{action}:{by}",
        )
        return decision

    def approve(
        self, run_id: str, *, by: str, note: str = "", changes: Mapping[str, Any] | None = None
    ) -> Decision:
        """Approve the pending approval (``changes`` replace approval values)."""
        return self.decide(run_id, "approve", by=by, note=note, changes=changes)

    def reject(self, run_id: str, *, by: str, note: str = "") -> Decision:
        """Reject the pending approval: the run rolls back."""
        return self.decide(run_id, "reject", by=by, note=note)

    def resume(
        self, run_id: str, *, by: str, note: str = "", changes: Mapping[str, Any] | None = None
    ) -> Decision:
        """Let a paused run go on (it reconciles before resending anything)."""
        return self.decide(run_id, "resume", by=by, note=note, changes=changes)

    def cancel(self, run_id: str, *, by: str, note: str = "") -> str:
        """Cancel: a parked run rolls back; a queued or running one is stopped where it is.

        Returns:
            What happened, for display.

        Raises:
            WorkflowError: the run is already finished.
        """
        info = self.get(run_id)
        if info.final:
            raise WorkflowError(f"run {run_id} is already {info.status}", run_id=run_id)
        if info.parked:
            self.decide(run_id, "cancel", by=by, note=note)
            return "cancel sent; the run rolls back its committed steps"
        try:
            self._dbos.cancel_workflow(run_id)
        except dbos_error.DBOSException as exc:
            raise WorkflowError(f"cannot cancel {run_id}: {exc}", run_id=run_id) from exc
        return "stopped (no rollback: it was not parked)"

    # -- internals -------------------------------------------------------------------------

    def _info(self, status: Any) -> RunInfo:
        run_id = status.workflow_id
        raw_input = status.input or {}
        args = raw_input.get("args") or [{}]
        spec = args[0] if args and isinstance(args[0], dict) else {}
        state = self.state(run_id) if status.status not in ("ENQUEUED", "DELAYED") else None
        ours = _status(status.status, state, status.output)
        return RunInfo(
            run_id=run_id,
            status=ours,
            workflow=str(spec.get("workflow", "")),
            kind=str(spec.get("kind", "")),
            inputs=dict(spec.get("inputs") or {}),
            plan=spec.get("plan"),
            engine_status=status.status,
            app_version=status.app_version,
            executor_id=status.executor_id,
            created_at=status.created_at,
            updated_at=status.updated_at,
            state=state,
            output=status.output if status.status != "ERROR" else {"error": str(status.error)},
        )


def _status(engine: str, state: RunState | None, output: Any) -> str:
    if engine in ("ENQUEUED", "DELAYED"):
        return "queued"
    if engine == "SUCCESS":
        return str(output.get("status", "succeeded")) if isinstance(output, dict) else "succeeded"
    if engine == "CANCELLED":
        return "cancelled"
    if engine in ("ERROR", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"):
        return "failed"
    # The run publishes its final state a moment before the engine stores its output: a
    # run is reported final only once the engine says so, together with that output.
    if state is None or state.status in FINAL_STATUSES:
        return "running"
    return state.status

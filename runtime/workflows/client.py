"""``RunsClient``: start, inspect and decide runs from outside any worker (no engine needed)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runtime.workflows.approvals import build_decision, topic_for
from runtime.workflows.durable import DurableClient, RunRow, prepare_database
from runtime.workflows.intents import DecisionLog, Intent, IntentLog, make_engine
from runtime.workflows.records import FINAL_STATUSES, STATE_EVENT, Decision, RunSpec, RunState
from zapi.errors import WorkflowError

__all__ = ["RunInfo", "RunsClient", "sqlite_path"]

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

    def __init__(self, database_url: str, *, prepare: bool = True, create: bool = True) -> None:
        """Connect (creating or migrating the database first unless ``prepare`` is false).

        With ``create=False`` a SQLite file that does not exist is an error instead of a new,
        empty database (for commands that only read or decide existing runs).

        Raises:
            WorkflowError: the database does not exist (``create=False``), cannot be
                reached or created, or its driver is not installed.
        """
        self.database_url = database_url
        path = sqlite_path(database_url)
        if not create and path is not None and not os.path.exists(path):
            raise WorkflowError(
                f"no runs database at {path}: pass --db with the database the run was "
                "started on (or set ZAPI_RUNS_DB)",
                path=path,
            )
        if prepare:
            prepare_database(database_url)
        self._dbos = DurableClient(database_url)
        self._sql = make_engine(database_url)
        self._intents: IntentLog | None = None
        self._decisions: DecisionLog | None = None

    def close(self) -> None:
        """Release connections."""
        self._dbos.close()
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
        return self._dbos.enqueue(
            spec.model_dump(mode="json"), run_id or f"run-{uuid.uuid4().hex[:12]}", app_version
        )

    # -- reading ---------------------------------------------------------------------------

    def state(self, run_id: str) -> RunState | None:
        """The run's last published state (``None`` before it first ran)."""
        raw = self._dbos.event(run_id, STATE_EVENT)
        return RunState.model_validate(raw) if raw else None

    def get(self, run_id: str) -> RunInfo:
        """One run.

        Raises:
            WorkflowError: no such run.
        """
        found = self._dbos.rows(run_ids=[run_id])
        if not found:
            raise WorkflowError(
                f"no such run {run_id!r} in {self.where()}; pass --db with the database the run "
                "was started on",
                run_id=run_id,
            )
        return self._info(found[0])

    def where(self) -> str:
        """The database, for messages (a SQLite path, or the URL without its password)."""
        path = sqlite_path(self.database_url)
        if path is not None:
            return path
        head, sep, tail = self.database_url.partition("@")
        return f"{head.split('://')[0]}://***@{tail}" if sep else self.database_url

    def statuses(self, run_ids: list[str]) -> dict[str, str]:
        """The engine status of each run (``SUCCESS``, ``PENDING``...) without loading inputs."""
        return {r.run_id: r.status for r in self._dbos.rows(run_ids=run_ids, load=False)}

    def executors(self, run_ids: list[str]) -> dict[str, str]:
        """The worker (executor id) that ran each run."""
        return {r.run_id: r.executor_id or "" for r in self._dbos.rows(run_ids=run_ids, load=False)}

    def list_runs(self, *, limit: int = 50, status: str | None = None) -> list[RunInfo]:
        """Recent runs, newest first (optionally only those with our ``status``)."""
        rows = self._dbos.rows(limit=limit if not status else None)
        infos = [self._info(r) for r in rows]
        return [i for i in infos if status is None or i.status == status][:limit]

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        """The engine's checkpointed operations of a run, in order."""
        return self._dbos.steps(run_id)

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
        self.get(run_id)  # "no such run" before "not waiting"
        decision = build_decision(
            run_id, self.state(run_id), action, by=by, note=note, changes=changes
        )
        self._dbos.send(
            run_id,
            decision.model_dump(mode="json"),
            topic_for(decision.wait_id),
            idempotency_key=f"{run_id}:{decision.wait_id}:{action}:{by}",
        )
        self._decision_log().sent(run_id, decision.wait_id, action, by, decision.at)
        return decision

    def pending_decision(self, info: RunInfo) -> tuple[str, str, str] | None:
        """``(action, by, at)`` of a decision sent to the wait ``info`` is parked at, which
        no worker has applied yet (``None`` when there is none)."""
        if not info.parked or info.state is None or info.state.wait is None:
            return None
        return self._decision_log().pending(info.run_id, info.state.wait.wait_id)

    def _decision_log(self) -> DecisionLog:
        if self._decisions is None:
            self._decisions = DecisionLog(self._sql)
        return self._decisions

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
        self._dbos.cancel(run_id)
        return "stopped (no rollback: it was not parked)"

    # -- internals -------------------------------------------------------------------------

    def _info(self, row: RunRow) -> RunInfo:
        run_id = row.run_id
        spec = row.spec
        state = self.state(run_id) if row.status not in ("ENQUEUED", "DELAYED") else None
        return RunInfo(
            run_id=run_id,
            status=_status(row.status, state, row.output),
            workflow=str(spec.get("workflow", "")),
            kind=str(spec.get("kind", "")),
            inputs=dict(spec.get("inputs") or {}),
            plan=spec.get("plan"),
            engine_status=row.status,
            app_version=row.app_version,
            executor_id=row.executor_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
            state=state,
            output=row.output if row.status != "ERROR" else {"error": row.error},
        )


def sqlite_path(url: str) -> str | None:
    """The file of a ``sqlite:///PATH`` URL (``None`` for other databases or in-memory)."""
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///").split("?")[0]
    return path if path and path != ":memory:" else None


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

"""DBOS Transact behind a small interface: the only module of zapi that imports DBOS.

DBOS is a process singleton with a global registry of workflow functions. This module
registers one generic DBOS workflow, ``zapi.run``, which hands each run's spec to the handler
given to :func:`launch` (the engine). Inside a run, :class:`RunJournal` gives the
checkpointed operations (steps, durable waits, events, sleeps); outside any worker,
:class:`DurableClient` starts, lists, messages and cancels runs. Every DBOS exception is
translated here, so the rest of the package only sees ``zapi.errors``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dbos import DBOS, DBOSClient, DBOSPortableJSONSerializer, EnqueueOptions
from dbos import error as dbos_error

from runtime.workflows.intents import make_engine, require_driver
from zapi.errors import ReplayMismatch, WorkflowError

__all__ = [
    "APP_NAME",
    "QUEUE",
    "WORKFLOW_NAME",
    "DurableClient",
    "RunJournal",
    "RunRow",
    "launch",
    "prepare_database",
    "shutdown",
    "stranded_runs",
]

WORKFLOW_NAME = "zapi.run"
QUEUE = "zapi-runs"
APP_NAME = "zapi"

Handler = Callable[[str, dict[str, Any]], dict[str, Any]]

_lock = threading.Lock()
_handler: Handler | None = None


def _serializer() -> DBOSPortableJSONSerializer:
    """The JSON serializer for everything DBOS stores (never pickle)."""
    return DBOSPortableJSONSerializer()


def _safe(url: str) -> str:
    head, sep, tail = url.partition("@")
    return f"{head.split('://')[0]}://***@{tail}" if sep else url


def _one_line(exc: BaseException) -> str:
    """The driver's own first line: SQLAlchemy and psycopg append SQL and links after it."""
    inner = getattr(exc, "orig", None) or exc
    lines = [ln.strip() for ln in str(inner).strip().splitlines() if ln.strip()]
    text = lines[0] if lines else type(inner).__name__
    return text[:240]


def prepare_database(url: str) -> None:
    """Create or migrate the system database (and switch a SQLite file to WAL).

    Raises:
        WorkflowError: the driver is missing, or the database cannot be reached or migrated.
    """
    require_driver(url)
    try:
        DBOS.migrate(url)
        if url.startswith("sqlite"):
            engine = make_engine(url)
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            engine.dispose()
    except Exception as exc:  # DBOS and SQLAlchemy raise many types for an unreachable database
        raise WorkflowError(
            f"cannot open the runs database {_safe(url)}: {_one_line(exc)}"
        ) from exc


def launch(
    *,
    database_url: str,
    app_version: str,
    executor_id: str,
    poll_interval_s: float,
    worker_concurrency: int,
    handler: Handler,
) -> None:
    """Start this process's DBOS worker; ``handler(run_id, spec)`` interprets each run.

    Raises:
        WorkflowError: a worker is already running in this process.
    """
    global _handler
    with _lock:
        if _handler is not None:
            raise WorkflowError(
                "a workflow engine is already running in this process; shut it down first"
            )
        _handler = handler
    try:
        DBOS(
            config={
                "name": APP_NAME,
                "system_database_url": database_url,
                "application_version": app_version,
                "executor_id": executor_id,
                "serializer": _serializer(),
                "log_level": "WARNING",
                "run_migrations": True,
                "notification_listener_polling_interval_sec": poll_interval_s,
                "max_executor_threads": max(64, worker_concurrency * 4),
            }
        )
        DBOS.launch()
        DBOS.register_queue(
            QUEUE,
            worker_concurrency=worker_concurrency,
            polling_interval_sec=poll_interval_s,
            on_conflict="always_update",
        )
    except BaseException:
        shutdown()
        raise


def shutdown() -> None:
    """Stop DBOS in this process (runs in progress stay durable)."""
    global _handler
    DBOS.destroy()
    with _lock:
        _handler = None


def stranded_runs(app_version: str) -> list[tuple[str, str]]:
    """``(run_id, app_version)`` of pending runs pinned to another tool set than ours."""
    return [
        (s.workflow_id, s.app_version)
        for s in DBOS.list_workflows(
            status=["PENDING", "ENQUEUED"], name=WORKFLOW_NAME, load_input=False
        )
        if s.app_version and s.app_version != app_version
    ]


class RunJournal:
    """The checkpointed operations of the run executing on this thread (DBOS inside)."""

    def run_step(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` once as a checkpointed step; a replay returns the recorded value.

        Raises:
            ReplayMismatch: the recorded run has another kind of operation at this point.
        """
        try:
            return DBOS.run_step({"name": name}, fn, *args)
        except dbos_error.DBOSUnexpectedStepError as exc:
            raise ReplayMismatch(
                f"run {DBOS.workflow_id}: the code now asks for {name!r} where the recorded run "
                f"has another operation ({exc}); resume it with the code it started with",
                run_id=DBOS.workflow_id,
            ) from exc

    def recv(self, topic: str, timeout_s: float) -> Any:
        """Durably wait up to ``timeout_s`` for a message on ``topic`` (``None`` on timeout).

        Raises:
            ReplayMismatch: the recorded run did something else at this point.
        """
        try:
            return DBOS.recv(topic, timeout_seconds=timeout_s)
        except dbos_error.DBOSUnexpectedStepError as exc:
            raise ReplayMismatch(
                f"run {DBOS.workflow_id}: the code now waits where the recorded run did "
                f"something else ({exc}); resume it with the code it started with",
                run_id=DBOS.workflow_id,
            ) from exc

    def publish(self, key: str, value: Any) -> None:
        """Set a durable event of the current run (read by clients)."""
        DBOS.set_event(key, value)

    def sleep(self, seconds: float) -> None:
        """Durable sleep inside a run."""
        DBOS.sleep(seconds)

    def now(self) -> float:
        """The current time as a checkpointed step (replays return the recorded time)."""
        return float(self.run_step("zapi.clock", time.time))


@DBOS.workflow(name=WORKFLOW_NAME, max_recovery_attempts=None)
def _zapi_run(spec: dict[str, Any]) -> dict[str, Any]:
    handler = _handler
    if handler is None:
        raise WorkflowError("no workflow engine is active in this process")
    return handler(str(DBOS.workflow_id), spec)


@dataclass(frozen=True)
class RunRow:
    """One run as the engine stores it (its status, spec, output and bookkeeping)."""

    run_id: str
    status: str
    spec: dict[str, Any]
    output: Any
    error: str
    app_version: str | None
    executor_id: str | None
    created_at: int | None
    updated_at: int | None


def _row(status: Any, *, with_input: bool = True) -> RunRow:
    raw_input = (status.input or {}) if with_input else {}
    args = raw_input.get("args") or [{}]
    spec = args[0] if args and isinstance(args[0], dict) else {}
    return RunRow(
        run_id=status.workflow_id,
        status=status.status,
        spec=spec,
        output=status.output,
        error=str(status.error) if status.error is not None else "",
        app_version=status.app_version,
        executor_id=status.executor_id,
        created_at=status.created_at,
        updated_at=status.updated_at,
    )


class DurableClient:
    """Runs as stored in one database, from outside any worker (DBOS's client inside)."""

    def __init__(self, database_url: str) -> None:
        """Connect.

        Raises:
            WorkflowError: the driver is missing or the database cannot be opened.
        """
        require_driver(database_url)
        try:
            self._dbos = DBOSClient(
                system_database_url=database_url,
                serializer=_serializer(),
                application_name=APP_NAME,
            )
        except Exception as exc:  # DBOS/SQLAlchemy: many types for an unreachable database
            raise WorkflowError(
                f"cannot open the runs database {_safe(database_url)}: {_one_line(exc)}"
            ) from exc

    def close(self) -> None:
        """Release connections."""
        self._dbos.destroy()

    def enqueue(self, spec: dict[str, Any], run_id: str, app_version: str | None) -> str:
        """Queue a run of ``spec`` under ``run_id`` (an existing id returns that run)."""
        options: EnqueueOptions = {
            "workflow_name": WORKFLOW_NAME,
            "queue_name": QUEUE,
            "workflow_id": run_id,
        }
        if app_version:
            options["app_version"] = app_version
        handle: Any = self._dbos.enqueue(options, spec)
        return str(handle.get_workflow_id())

    def event(self, run_id: str, key: str) -> Any:
        """The current value of a run's durable event (``None`` when unset)."""
        return self._dbos.get_event(run_id, key, timeout_seconds=0)

    def rows(
        self, *, run_ids: list[str] | None = None, limit: int | None = None, load: bool = True
    ) -> list[RunRow]:
        """Stored runs (``run_ids``, or the newest ``limit``), newest first."""
        if run_ids is not None:
            found = self._dbos.list_workflows(workflow_ids=run_ids, load_input=load)
        else:
            found = self._dbos.list_workflows(
                name=WORKFLOW_NAME, limit=limit, sort_desc=True, load_input=load
            )
        return [_row(s, with_input=load) for s in found]

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        """The checkpointed operations of a run, in order."""
        return [dict(s) for s in self._dbos.list_workflow_steps(run_id)]

    def send(self, run_id: str, message: Any, topic: str, idempotency_key: str) -> None:
        """Deliver ``message`` to the run on ``topic`` (at most once per key)."""
        self._dbos.send(run_id, message, topic, idempotency_key=idempotency_key)

    def cancel(self, run_id: str) -> None:
        """Stop a run where it is.

        Raises:
            WorkflowError: the engine refused.
        """
        try:
            self._dbos.cancel_workflow(run_id)
        except dbos_error.DBOSException as exc:
            raise WorkflowError(f"cannot cancel {run_id}: {exc}", run_id=run_id) from exc

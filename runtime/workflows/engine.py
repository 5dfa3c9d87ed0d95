"""The workflow engine: DBOS Transact behind a small interface (launch, steps, waits, events).

DBOS is a process singleton with a global registry of workflow functions. This module is the
only one that imports it: it registers one generic DBOS workflow, ``zapi.run``, which looks
up the active :class:`Engine` and interprets a :class:`~runtime.workflows.records.RunSpec`
(a registered Python workflow or a pinned plan). User code never touches DBOS, and the
engine could be swapped for another durable executor behind the same small surface.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dbos import DBOS, DBOSPortableJSONSerializer
from dbos import error as dbos_error

from runtime.workflows.definitions import DEFAULT_REGISTRY, Registry
from runtime.workflows.intents import IntentLog, make_engine, require_driver
from runtime.workflows.permissions import Policy
from runtime.workflows.records import RunSpec
from runtime.workflows.runner import ToolRunner
from runtime.workflows.steps import Probe
from zapi.errors import ReplayMismatch, WorkflowError

__all__ = [
    "ENGINE_VERSION",
    "QUEUE",
    "WORKFLOW_NAME",
    "Engine",
    "EngineConfig",
    "app_version_for",
    "prepare_database",
    "serializer",
]

WORKFLOW_NAME = "zapi.run"
QUEUE = "zapi-runs"
APP_NAME = "zapi"
ENGINE_VERSION = "1"
"""Bumped when the interpretation of a recorded run changes incompatibly."""
STATE_EVENT = "zapi.state"

logger = logging.getLogger("zapi.workflows")

_lock = threading.Lock()
_active: Engine | None = None


def serializer() -> DBOSPortableJSONSerializer:
    """The JSON serializer for everything DBOS stores (never pickle)."""
    return DBOSPortableJSONSerializer()


def app_version_for(fingerprint: str) -> str:
    """The DBOS application version of a tool set: runs are pinned to the tools they began with."""
    digest = hashlib.sha256(f"{ENGINE_VERSION}\n{fingerprint}".encode()).hexdigest()
    return f"zapi-{digest[:16]}"


def prepare_database(url: str) -> None:
    """Create or migrate the system database (and switch a SQLite file to WAL).

    Raises:
        WorkflowError: the database cannot be reached or migrated.
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
        raise WorkflowError(f"cannot prepare workflow database {_safe(url)}: {exc}") from exc


def _safe(url: str) -> str:
    head, sep, tail = url.partition("@")
    return f"{head.split('://')[0]}://***@{tail}" if sep else url


@dataclass(frozen=True)
class EngineConfig:
    """Where runs are stored and how this worker takes part.

    Attributes:
        database_url: ``sqlite:///runs.db`` (default, no server) or ``postgresql://...``
            so several workers share one queue.
        executor_id: this worker's stable identity; a restarted worker with the same id
            recovers the runs it had in progress.
        app_version: pin to this version instead of the tool set's (see :func:`app_version_for`).
        worker_concurrency: runs this worker executes at once.
        poll_interval_s: how often the queue and waits are polled.
        wait_chunk_s: longest single blocking wait inside a parked run; a parked run wakes
            this often (durably) to re-check its deadline.
    """

    database_url: str
    executor_id: str = "local"
    app_version: str | None = None
    worker_concurrency: int = 8
    poll_interval_s: float = 0.2
    wait_chunk_s: float = 600.0
    extra: dict[str, Any] = field(default_factory=dict)


class Engine:
    """One process's workflow worker over DBOS: launch, run, shut down.

    Only one engine can be launched per process (DBOS is a singleton); launching a second
    raises ``WorkflowError``.
    """

    def __init__(
        self,
        config: EngineConfig,
        runner: ToolRunner,
        *,
        policy: Policy | None = None,
        registry: Registry | None = None,
        log: logging.Logger | None = None,
        probe: Probe | None = None,
    ) -> None:
        """Prepare (but do not launch) an engine.

        Args:
            config: database and worker settings.
            runner: executes tool calls (the real runtime, adapted, or a test double).
            policy: scope granted to workflows (everything when ``None``).
            registry: Python workflows this worker can run (the ``@workflow`` default).
            log: where denials and warnings go.
            probe: test instrumentation called at named points (``before_step``,
                ``intent_begun``, ``sent``, ``finished``, ``before_finish``).
        """
        self.config = config
        self.runner = runner
        self.policy = policy or Policy.allow_all()
        self.registry = registry or DEFAULT_REGISTRY
        self.probe: Probe = probe or (lambda point, call: None)
        self.log = log or logger
        self.app_version = config.app_version or app_version_for(runner.fingerprint())
        self.intents: IntentLog | None = None
        self._launched = False

    def launch(self) -> Engine:
        """Start DBOS: recover this executor's pending runs and start taking queued runs.

        Raises:
            WorkflowError: another engine is running in this process, or the database
                cannot be prepared.
        """
        global _active
        with _lock:
            if _active is not None:
                raise WorkflowError(
                    "a workflow engine is already running in this process; shut it down first"
                )
            prepare_database(self.config.database_url)
            self.intents = IntentLog(make_engine(self.config.database_url))
            _active = self
        try:
            DBOS(
                config={
                    "name": APP_NAME,
                    "system_database_url": self.config.database_url,
                    "application_version": self.app_version,
                    "executor_id": self.config.executor_id,
                    "serializer": serializer(),
                    "log_level": "WARNING",
                    "run_migrations": True,
                    "notification_listener_polling_interval_sec": self.config.poll_interval_s,
                    "max_executor_threads": max(64, self.config.worker_concurrency * 4),
                }
            )
            DBOS.launch()
            DBOS.register_queue(
                QUEUE,
                worker_concurrency=self.config.worker_concurrency,
                polling_interval_sec=self.config.poll_interval_s,
                on_conflict="always_update",
            )
        except BaseException:
            with _lock:
                _active = None
            DBOS.destroy()
            raise
        self._launched = True
        self._warn_stranded()
        return self

    def shutdown(self) -> None:
        """Stop DBOS. Runs in progress stay durable and resume in the next worker."""
        global _active
        if self._launched:
            DBOS.destroy()
        self._launched = False
        with _lock:
            if _active is self:
                _active = None
        if self.intents is not None:
            self.intents.engine.dispose()

    def __enter__(self) -> Engine:
        """Launch."""
        return self.launch()

    def __exit__(self, *exc: object) -> None:
        """Shut down."""
        self.shutdown()

    def _warn_stranded(self) -> None:
        """Log runs waiting for a tool set other than this worker's (they will not run here)."""
        stranded = [
            s
            for s in DBOS.list_workflows(
                status=["PENDING", "ENQUEUED"], name=WORKFLOW_NAME, load_input=False
            )
            if s.app_version and s.app_version != self.app_version
        ]
        for status in stranded:
            self.log.warning(
                "run %s is pinned to tool set %s, this worker runs %s: it will not run here; "
                "start a worker with the tools it began with",
                status.workflow_id,
                status.app_version,
                self.app_version,
            )

    # -- inside a run ---------------------------------------------------------------------

    def execute(self, raw_spec: dict[str, Any]) -> dict[str, Any]:
        """Interpret one run (called by the DBOS workflow)."""
        from runtime.workflows.context import WorkflowContext

        spec = RunSpec.model_validate(raw_spec)
        ctx = WorkflowContext(self, str(DBOS.workflow_id), spec)
        return ctx.run_to_end()


def run_step(name: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` as a checkpointed step of the current run.

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


def recv(topic: str, timeout_s: float) -> Any:
    """Durably wait up to ``timeout_s`` for a message on ``topic`` (``None`` on timeout)."""
    try:
        return DBOS.recv(topic, timeout_seconds=timeout_s)
    except dbos_error.DBOSUnexpectedStepError as exc:
        raise ReplayMismatch(
            f"run {DBOS.workflow_id}: the code now waits where the recorded run did something "
            f"else ({exc}); resume it with the code it started with",
            run_id=DBOS.workflow_id,
        ) from exc


def publish(key: str, value: Any) -> None:
    """Set a durable event of the current run (read by clients)."""
    DBOS.set_event(key, value)


def sleep(seconds: float) -> None:
    """Durable sleep inside a run."""
    DBOS.sleep(seconds)


def now() -> float:
    """The current time as a checkpointed step (replays return the recorded time)."""
    return float(run_step("zapi.clock", time.time))


@DBOS.workflow(name=WORKFLOW_NAME, max_recovery_attempts=None)
def _zapi_run(spec: dict[str, Any]) -> dict[str, Any]:
    engine = _active
    if engine is None:
        raise WorkflowError("no workflow engine is active in this process")
    return engine.execute(spec)

"""The workflow engine: one worker process's runs, on the durable layer (``durable.py``).

The engine resolves each run's definition (a registered Python workflow or a pinned plan),
hands it with the tools, the intent log and the policy to a :class:`WorkflowContext`, and
lets the context run it. DBOS itself is only touched in :mod:`runtime.workflows.durable`,
so the engine could be moved to another durable executor behind the same small surface.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from runtime.workflows import durable
from runtime.workflows.context import Services, WorkflowContext
from runtime.workflows.definitions import DEFAULT_REGISTRY, Registry
from runtime.workflows.intents import IntentLog, make_engine
from runtime.workflows.permissions import Policy
from runtime.workflows.plan import definition_for
from runtime.workflows.records import RunSpec
from runtime.workflows.runner import ToolRunner
from runtime.workflows.steps import Probe
from zapi.errors import ZapiError

__all__ = [
    "ENGINE_VERSION",
    "Engine",
    "EngineConfig",
    "app_version_for",
]

ENGINE_VERSION = "1"
"""Bumped when the interpretation of a recorded run changes incompatibly."""

logger = logging.getLogger("zapi.workflows")


def app_version_for(fingerprint: str) -> str:
    """The DBOS application version of a tool set: runs are pinned to the tools they began with."""
    digest = hashlib.sha256(f"{ENGINE_VERSION}\n{fingerprint}".encode()).hexdigest()
    return f"zapi-{digest[:16]}"


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
        """Start the worker: recover this executor's pending runs and take queued runs.

        Raises:
            WorkflowError: another engine is running in this process, or the database
                cannot be prepared.
        """
        durable.prepare_database(self.config.database_url)
        # Ready before launching: recovered runs start executing on other threads at once.
        self.intents = IntentLog(make_engine(self.config.database_url))
        try:
            durable.launch(
                database_url=self.config.database_url,
                app_version=self.app_version,
                executor_id=self.config.executor_id,
                poll_interval_s=self.config.poll_interval_s,
                worker_concurrency=self.config.worker_concurrency,
                handler=self.execute,
            )
        except BaseException:
            self.intents.engine.dispose()
            self.intents = None
            raise
        self._launched = True
        self._warn_stranded()
        return self

    def shutdown(self) -> None:
        """Stop the worker. Runs in progress stay durable and resume in the next worker."""
        if self._launched:
            durable.shutdown()
        self._launched = False
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
        for run_id, version in durable.stranded_runs(self.app_version):
            self.log.warning(
                "run %s is pinned to tool set %s, this worker runs %s: it will not run here; "
                "start a worker with the tools it began with",
                run_id,
                version,
                self.app_version,
            )

    # -- inside a run ---------------------------------------------------------------------

    def execute(self, run_id: str, raw_spec: dict[str, Any]) -> dict[str, Any]:
        """Interpret one run (called by the durable layer on a worker thread)."""
        assert self.intents is not None, "execute runs only in a launched engine"
        spec = RunSpec.model_validate(raw_spec)
        services = Services(
            journal=durable.RunJournal(),
            runner=self.runner,
            intents=self.intents,
            policy=self.policy,
            probe=self.probe,
            wait_chunk_s=self.config.wait_chunk_s,
        )
        try:
            # Resolved before the first checkpoint, so a worker missing the workflow fails
            # the run at the same point on a first run and on a replay.
            definition = definition_for(spec, self.registry)
        except ZapiError as exc:
            return WorkflowContext(services, run_id, spec, None).fail(exc)
        return WorkflowContext(services, run_id, spec, definition).run_to_end()

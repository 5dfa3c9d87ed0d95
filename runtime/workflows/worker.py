"""Worker processes: a frozen config, the process entry point, and spawning one from a parent.

``python -m runtime.workflows.worker CONFIG.json`` launches an engine, prints one ``ready``
line, and serves runs until SIGTERM/SIGINT. A worker may also simply be killed: every run
it held resumes in the next worker with the same ``executor_id``.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, Field

from runtime.workflows.client import RunInfo, RunsClient
from runtime.workflows.engine import Engine, EngineConfig, app_version_for
from runtime.workflows.permissions import Policy, load_policy
from runtime.workflows.records import Decision
from runtime.workflows.runner import ToolRunner
from zapi.errors import WorkflowError

__all__ = [
    "READY",
    "WorkerConfig",
    "build_engine",
    "check_tool_set",
    "main",
    "run_with_worker",
    "spawn_worker",
    "stop_worker",
    "wait_ready",
]

READY = "zapi-worker ready"


class WorkerConfig(BaseModel):
    """Everything a worker process needs, as one JSON document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: str = "1"
    database_url: str
    executor_id: str = "local"
    worker_concurrency: int = 8
    poll_interval_s: float = 0.2
    wait_chunk_s: float = 600.0
    app_version: str | None = None
    modules: list[str] = Field(default_factory=list, description="import to register workflows")
    runner: str = Field(description="'module:factory' returning a ToolRunner")
    runner_args: dict[str, Any] = Field(default_factory=dict)
    policy: str | None = Field(None, description="policy file (YAML/JSON)")
    probe: str | None = Field(None, description="'module:factory' of a test probe")
    probe_args: dict[str, Any] = Field(default_factory=dict)


def _load(spec: str) -> Callable[..., Any]:
    module, _, attr = spec.partition(":")
    if not attr:
        raise WorkflowError(f"runner {spec!r}: expected 'module:factory'")
    try:
        return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]
    except (ImportError, AttributeError) as exc:
        raise WorkflowError(f"runner {spec!r} cannot be imported: {exc}") from exc


def build_engine(config: WorkerConfig) -> Engine:
    """Import the workflow modules, build the runner and policy, and return an engine.

    Raises:
        WorkflowError: a module, the runner factory or the policy cannot be loaded.
    """
    for module in config.modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise WorkflowError(f"workflow module {module!r} cannot be imported: {exc}") from exc
    runner: ToolRunner = _load(config.runner)(**config.runner_args)
    policy = load_policy(config.policy) if config.policy else Policy.allow_all()
    return Engine(
        EngineConfig(
            database_url=config.database_url,
            executor_id=config.executor_id,
            app_version=config.app_version,
            worker_concurrency=config.worker_concurrency,
            poll_interval_s=config.poll_interval_s,
            wait_chunk_s=config.wait_chunk_s,
        ),
        runner,
        policy=policy,
        probe=_load(config.probe)(**config.probe_args) if config.probe else None,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Serve runs until SIGTERM or SIGINT (the process entry point)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        sys.stderr.write("usage: python -m runtime.workflows.worker CONFIG.json\n")
        return 2
    with open(args[0], encoding="utf-8") as fh:
        config = WorkerConfig.model_validate(json.load(fh))
    engine = build_engine(config).launch()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sys.stdout.write(f"{READY} {config.executor_id} {engine.app_version}\n")
    sys.stdout.flush()
    stop.wait()
    engine.shutdown()
    sys.stdout.flush()
    # Runs parked in a durable wait still hold executor threads that would delay a normal
    # interpreter exit until their wait times out; everything is on disk, so leave now.
    os._exit(0)


def spawn_worker(
    config: WorkerConfig,
    config_path: str,
    *,
    env: dict[str, str] | None = None,
    stderr: IO[Any] | int | None = None,
) -> subprocess.Popen[str]:
    """Write ``config`` to ``config_path`` and start a worker process on it (not yet ready)."""
    with open(config_path, "w", encoding="utf-8") as fh:
        fh.write(config.model_dump_json(indent=2))
    return subprocess.Popen(
        [sys.executable, "-m", "runtime.workflows.worker", config_path],
        stdout=subprocess.PIPE,
        stderr=stderr if stderr is not None else subprocess.DEVNULL,
        text=True,
        env=env,
    )


def wait_ready(proc: subprocess.Popen[str], timeout_s: float = 120.0) -> str:
    """Block until a spawned worker prints its ready line; return it.

    Raises:
        WorkflowError: the worker exited or stayed silent.
    """
    assert proc.stdout is not None
    box: list[str] = []
    reader = threading.Thread(
        target=lambda: box.append(
            proc.stdout.readline()  # type: ignore[union-attr]
        ),
        daemon=True,
    )
    reader.start()
    reader.join(timeout_s)
    line = box[0] if box else ""
    if not line.startswith(READY):
        raise WorkflowError(
            f"worker {proc.pid} did not start (exit code {proc.poll()}); run it by hand to "
            "see why: python -m runtime.workflows.worker CONFIG.json"
        )
    return line.strip()


def check_tool_set(config: WorkerConfig, pinned: str, run_id: str, *, adopt: bool) -> None:
    """Refuse to drive a run pinned to another tool set than ``config``'s, unless ``adopt``.

    Raises:
        WorkflowError: the tool sets differ and ``adopt`` is false.
    """
    runner = _load(config.runner)(**config.runner_args)
    current = app_version_for(runner.fingerprint())
    close = getattr(runner, "close", None)
    if callable(close):
        close()
    if current != pinned and not adopt:
        raise WorkflowError(
            f"run {run_id} was started with tool set {pinned}; these tools are {current}. "
            "Resume it with the tools it started with, or pass --adopt to continue it on "
            "these tools (every recorded step is checked on replay)",
            run_id=run_id,
        )


def run_with_worker(
    client: RunsClient,
    run_id: str,
    config: WorkerConfig,
    config_path: str,
    *,
    timeout_s: float = 300.0,
    env: dict[str, str] | None = None,
    past: Decision | None = None,
) -> RunInfo:
    """Start a private worker, wait until ``run_id`` is finished or parked, stop the worker.

    Raises:
        WorkflowError: the worker did not start or the run did not settle in time.
    """
    proc = spawn_worker(config, config_path, env=env)
    try:
        wait_ready(proc)
        return client.wait(run_id, timeout_s=timeout_s, past=past)
    finally:
        stop_worker(proc)


def stop_worker(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> None:
    """Stop a worker process: ``sig`` (SIGTERM), then a kill after 30 s; close its pipe."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
    if proc.stdout is not None:
        proc.stdout.close()


if __name__ == "__main__":
    sys.exit(main())

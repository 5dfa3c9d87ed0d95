"""Approval-gated MCP calls: a durable one-step run per call, driven by one private worker.

The call starts a run of a one-step plan; the workflow engine's policy gate parks that
step until a person decides (``zapi runs approve RUN --by NAME``). The server's worker
(``zapi worker`` in a child process, stable executor id ``zapi-serve`` so that a restarted
server recovers its runs) then makes the call through the runtime, logging into the same
action log as the server.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from toolgen.cards import ToolCard
from zapi.errors import InvalidArguments

if TYPE_CHECKING:
    from runtime.workflows import Policy

__all__ = ["RUN_RESULT_TOOL", "WORKFLOW", "ApprovalRuns", "ToolReply", "short"]

WORKFLOW = "zapi-serve"
"""The workflow name policy grants use for MCP calls (``workflow: zapi-serve``)."""
RUN_RESULT_TOOL = "zapi_run_result"
"""The helper tool that reports (and returns the answer of) an approval-gated run."""

_ENGINE_BUSY = frozenset({"PENDING", "ENQUEUED", "DELAYED"})
_REF_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class ToolReply:
    """What one MCP tool call returns: text, structured content, error flag."""

    text: str
    structured: dict[str, Any] | None
    is_error: bool = False


def short(value: Any, limit: int = 4000) -> str:
    """Compact JSON text of ``value``, cut at ``limit`` characters."""
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


class ApprovalRuns:
    """The runs database and the worker process of one ``zapi serve`` session."""

    def __init__(
        self,
        runs_db: str,
        policy: Policy,
        runner_args: dict[str, Any],
        *,
        timeout_s: float = 120.0,
        decision_wait_s: float = 3.0,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        """Prepare (nothing starts until the first gated call).

        Args:
            runs_db: the runs database URL.
            policy: the worker's policy (it gates the calls that need an approval).
            runner_args: arguments of ``open_runtime_runner`` (tools, base URL, credentials,
                action-log state) for the worker.
            timeout_s: how long to wait for a run to park or finish.
            decision_wait_s: how long a parked run may take to pick up a fresh decision.
            sleep: how to wait while polling (a real sleep if omitted).
        """
        self.runs_db = runs_db
        self.runner_args = runner_args
        self.timeout_s = timeout_s
        self.decision_wait_s = decision_wait_s
        self._sleep = sleep if sleep is not None else time.sleep  # noqa: TID251 - the default
        self._tmp = tempfile.mkdtemp(prefix="zapi-serve-")
        self._policy_path = os.path.join(self._tmp, "policy.json")
        with open(self._policy_path, "w", encoding="utf-8") as fh:
            fh.write(policy.model_dump_json(indent=2))
        self._client: Any = None
        self._worker: Any = None

    def _open(self) -> Any:
        from runtime.workflows import RunsClient, WorkerConfig, spawn_worker, wait_ready

        if self._client is None:
            self._client = RunsClient(self.runs_db)
        if self._worker is None or self._worker.poll() is not None:
            config = WorkerConfig(
                database_url=self.runs_db,
                executor_id=WORKFLOW,
                runner="runtime.workflows.adapters:open_runtime_runner",
                runner_args=self.runner_args,
                policy=self._policy_path,
            )
            self._worker = spawn_worker(config, os.path.join(self._tmp, "worker.json"))
            wait_ready(self._worker, timeout_s=self.timeout_s)
        return self._client

    def park(self, card: ToolCard, args: dict[str, Any]) -> ToolReply:
        """Start the call's run and return once it waits for a person (or has finished).

        Raises:
            InvalidArguments: an argument name cannot be referenced from a plan.
            WorkflowError: the worker did not start or the run did not park in time.
        """
        from runtime.workflows import RunSpec
        from runtime.workflows.plan import Plan, PlanInput, PlanStep

        odd = sorted(k for k in args if not _REF_KEY.fullmatch(k))
        if odd:
            raise InvalidArguments(
                f"{card.name}: argument names {odd} cannot be carried through an approval run",
                tool=card.name,
            )
        client = self._open()
        # Arguments travel as a plan input and are referenced, never spliced into the plan:
        # a value that looks like a ``${...}`` reference stays a plain value.
        plan = Plan(
            name=WORKFLOW,
            description=f"{card.name} called through zapi serve",
            inputs={"args": PlanInput(type="object")},
            steps=[
                PlanStep(id="call", tool=card.name, args={k: f"${{inputs.args.{k}}}" for k in args})
            ],
            output="${steps.call.output}",
        )
        spec = RunSpec(
            kind="plan",
            workflow=plan.name,
            plan=plan.model_dump(mode="json"),
            inputs={"args": args},
        )
        run_id = client.start(spec, run_id=f"mcp-{uuid.uuid4().hex[:12]}")
        return self._reply(client.wait(run_id, timeout_s=self.timeout_s), card.name)

    def result(self, args: dict[str, Any]) -> ToolReply:
        """What became of a parked call's run (its answer once it succeeded).

        Raises:
            InvalidArguments: no ``run_id`` given.
            WorkflowError: no such run, or it did not settle in time.
        """
        run_id = args.get("run_id")
        if not isinstance(run_id, str) or not run_id:
            raise InvalidArguments(f"{RUN_RESULT_TOOL}: give run_id, the id a parked call returned")
        client = self._open()
        info = client.get(run_id)
        # A decision sent a moment ago reaches the worker within a poll or two: give it
        # that long before answering "still waiting".
        deadline = time.monotonic() + self.decision_wait_s
        while info.parked and time.monotonic() < deadline:
            self._sleep(0.2)
            info = client.get(run_id)
        if not info.final and not info.parked:
            info = client.wait(run_id, timeout_s=self.timeout_s)
        # The run publishes its final state a moment before the engine stores its output.
        deadline = time.monotonic() + self.timeout_s
        while info.final and info.engine_status in _ENGINE_BUSY and time.monotonic() < deadline:
            self._sleep(0.1)
            info = client.get(run_id)
        return self._reply(info, "")

    def _reply(self, info: Any, tool: str) -> ToolReply:
        db = self.runs_db
        db_arg = shlex.quote(db.removeprefix("sqlite:///") if db.startswith("sqlite:///") else db)
        run = info.run_id
        outcome: dict[str, Any] = {"status": info.status, "run_id": run}
        if tool:
            outcome["tool"] = tool
        if info.parked:
            cmd = f"zapi runs approve {run} --by NAME --db {db_arg}"
            outcome["approve_with"] = cmd
            outcome["reject_with"] = cmd.replace(" approve ", " reject ", 1)
            text = (
                f"Parked for approval: run {run} waits for a person. Approve it with `{cmd}` "
                f"(or reject it), then call {RUN_RESULT_TOOL} with run_id={run!r}."
            )
            return ToolReply(text + "\n" + short({"outcome": outcome}), {"outcome": outcome})
        output = info.output if isinstance(info.output, dict) else {}
        if not info.final:
            text = f"run {run} is {info.status}; call {RUN_RESULT_TOOL} again for its outcome"
            return ToolReply(text, {"outcome": outcome})
        if info.status != "succeeded":
            message = (info.state.message if info.state else "") or str(output.get("error", ""))
            return ToolReply(
                f"run {run} is {info.status}: {message}; see `zapi runs show {run} --db {db_arg}`",
                None,
                is_error=True,
            )
        structured = {"result": output.get("output"), "outcome": outcome}
        return ToolReply(short(structured), structured)

    def close(self) -> None:
        """Stop the worker (parked runs stay durable), close the client, drop temp files."""
        from runtime.workflows.worker import stop_worker

        if self._worker is not None:
            stop_worker(self._worker)
            self._worker = None
        if self._client is not None:
            self._client.close()
            self._client = None
        shutil.rmtree(self._tmp, ignore_errors=True)

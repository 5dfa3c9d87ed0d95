"""``WorkflowContext``: what a running workflow uses — durable calls, approvals, operator waits."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from runtime.workflows import engine as eng
from runtime.workflows.approvals import Approval, topic_for
from runtime.workflows.compensation import Committed, Compensation, rollback
from runtime.workflows.records import (
    Decision,
    RunSpec,
    RunState,
    StepRecord,
    Wait,
    args_digest,
    utc_iso,
)
from runtime.workflows.steps import StepCall, execute_step
from zapi.errors import ReplayMismatch, ScopeDenied, ZapiError

if TYPE_CHECKING:
    from runtime.workflows.definitions import Definition

__all__ = ["RunStopped", "WorkflowContext"]

CompensateArg = Compensation | Callable[[Any], Compensation | None] | None


class RunStopped(Exception):
    """Control flow: the run cannot go on (failure, rejection or cancel); rollback follows."""

    def __init__(
        self,
        status: str,
        message: str,
        *,
        error: dict[str, Any] | None = None,
        decision: Decision | None = None,
        rollback: bool = True,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error = error
        self.decision = decision
        self.rollback = rollback


class WorkflowContext:
    """The handle a workflow receives: every call is a durable, checkpointed step.

    Attributes:
        run_id: this run's id.
        workflow: the workflow (or plan) name.
        inputs: the run's inputs.
    """

    def __init__(self, engine: eng.Engine, run_id: str, spec: RunSpec) -> None:
        """Bind a context to one run (created by the engine, not by user code)."""
        self._engine = engine
        self.run_id = run_id
        self.spec = spec
        self.workflow = spec.workflow
        self.inputs: dict[str, Any] = dict(spec.inputs)
        self._step = 0
        self._waits = 0
        self._committed: list[Committed] = []
        self._definition: Definition | None = None

    # -- the user-facing API --------------------------------------------------------------

    def call(self, tool: str, /, **args: Any) -> Any:
        """Call ``tool`` with ``args`` as a durable step and return its result.

        On resume a completed step returns its recorded result without calling the API.
        """
        return self.step(tool, args)

    def step(
        self,
        tool: str,
        args: Mapping[str, Any],
        *,
        name: str = "",
        compensate: CompensateArg = None,
    ) -> Any:
        """Call ``tool`` durably; ``compensate`` undoes it on rollback.

        ``compensate`` is a :class:`Compensation` (``${args.x}``/``${output.y}`` references
        resolved after the call) or a function of the result returning one. Without it, the
        workflow's per-tool compensation (``@workflow(compensations=...)``) applies.
        """
        args = dict(args)
        info = self._engine.runner.info(tool)
        try:
            self._engine.policy.check(self.workflow, info)
            gated = self._engine.policy.needs_approval(info)
        except ScopeDenied:
            gated = False  # the step itself records the denial
        if gated:
            approved = self.approval(
                f"allow {tool}",
                message=f"the policy requires an approval before {info.access} tool {tool!r}",
                values={"args": args},
            )
            args = dict(approved.values.get("args", args))
        index = self.next_step()
        self._engine.probe(
            "before_step",
            StepCall(self.run_id, self.workflow, index, f"{self.run_id}/{index}", tool, args),
        )
        record = self.durable_call(index, tool, args, name=name)
        if compensate is None or isinstance(compensate, Compensation):
            comp = self._compensation_for(tool, compensate)
            bound = comp.bind(args, record.result) if comp is not None else None
        else:
            bound = compensate(record.result)  # a function of the result binds itself
        self._committed.append(Committed(index, tool, name, info.is_write, bound))
        return record.result

    def approval(
        self,
        name: str,
        *,
        message: str = "",
        values: Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> Approval:
        """Park the run until someone approves or rejects ``name``; return the approved values.

        The approver may change any of ``values`` (e.g. narrow a scope); the run continues
        with exactly the approved values. A rejection or an expired ``timeout_s`` (a durable
        deadline) stops the run and rolls back its committed steps.
        """
        self.next_step()
        values = dict(values or {})
        deadline = eng.now() + timeout_s if timeout_s is not None else None
        wait = self._new_wait(
            "approval",
            name,
            message or f"approve {name}",
            values,
            None,
            deadline,
            ["approve", "reject", "cancel"],
        )
        decision = self._wait(wait, "waiting_approval", deadline)
        if decision.action != "approve":
            status = "cancelled" if decision.action == "cancel" else "rejected"
            what = "timed out" if decision.action == "timeout" else f"{decision.action}ed"
            raise RunStopped(
                status, f"approval {name!r} {what} by {decision.by}", decision=decision
            )
        approved = {**values, **{k: v for k, v in decision.changes.items() if k in values}}
        return Approval(name, decision, approved)

    def sleep(self, seconds: float) -> None:
        """Sleep durably: a restart does not restart the sleep."""
        eng.sleep(seconds)

    # -- used by plans, rollback and the engine -------------------------------------------

    def next_step(self) -> int:
        """Allocate the next step index (deterministic, so replays get the same numbers)."""
        self._step += 1
        return self._step

    def durable_call(
        self,
        index: int,
        tool: str,
        args: dict[str, Any],
        *,
        name: str = "",
        role: str = "step",
    ) -> StepRecord:
        """Run one call under the write protocol; pause on an unknown outcome.

        Raises:
            RunStopped: the call failed or was denied, or an operator cancelled the run.
            ReplayMismatch: the recorded run made another call at this point.
        """
        key = f"{self.run_id}/{index}" + ("/undo" if role == "compensation" else "")
        digest = args_digest(tool, args)
        assume: Any = None
        while True:
            call = StepCall(
                self.run_id,
                self.workflow,
                index,
                key,
                tool,
                args,
                "compensation" if role == "compensation" else "step",
                name,
                assume,
            )
            raw = eng.run_step(f"zapi.{role}", self._execute, call)
            record = StepRecord.model_validate(raw)
            if record.key != key or record.digest != digest:
                raise ReplayMismatch(
                    f"run {self.run_id} step {index}: recorded {record.tool}({record.args}) but "
                    f"the workflow now calls {tool}({args}); resume it with the code and plan it "
                    "started with",
                    run_id=self.run_id,
                    step=index,
                    tool=tool,
                )
            if record.outcome == "ok":
                return record
            err = record.error or {}
            if record.outcome in ("failed", "denied"):
                raise RunStopped(
                    "failed",
                    f"step {index} ({tool}) {record.outcome}: {err.get('message', '')}",
                    error={"step": index, "tool": tool, **err},
                )
            decision = self.operator_wait(
                name="outcome unknown",
                step=index,
                message=(
                    f"step {index} ({tool}) did not finish cleanly and may or may not have "
                    f"applied: {err.get('message', '')}. Fix the cause, then `zapi runs resume "
                    f"{self.run_id}` (it reconciles before any resend) or `zapi runs cancel "
                    f"{self.run_id}` (rolls back)"
                ),
                error={"step": index, "tool": tool, "args": args, **err},
            )
            if decision.action == "cancel":
                raise RunStopped(
                    "cancelled", f"cancelled by {decision.by} at step {index}", decision=decision
                )
            landed = decision.changes.get("landed")
            assume = "landed" if landed is True else "not_landed" if landed is False else None

    def operator_wait(
        self,
        *,
        name: str,
        step: int,
        message: str,
        error: dict[str, Any] | None,
        accepts: tuple[str, ...] = ("resume", "cancel"),
    ) -> Decision:
        """Park the run for an operator (no deadline) and return the decision."""
        wait = self._new_wait("operator", name, message, {}, error, None, list(accepts), step=step)
        return self._wait(wait, "paused", None)

    def compensate(self, done: Committed) -> bool:
        """Run ``done``'s compensation durably; ``False`` when an operator stopped the rollback."""
        assert done.compensation is not None
        comp = done.compensation
        while True:
            try:
                self.durable_call(
                    done.step, comp.tool, dict(comp.args), name=done.name, role="compensation"
                )
                return True
            except RunStopped as stop:
                if stop.status == "cancelled":
                    return False
                decision = self.operator_wait(
                    name="compensation failed",
                    step=done.step,
                    message=(
                        f"the compensation of step {done.step} ({comp.tool}) failed: "
                        f"{stop.message}. Fix the cause and `zapi runs resume {self.run_id}` to "
                        f"retry it, or `zapi runs cancel {self.run_id}` to stop the rollback"
                    ),
                    error=stop.error,
                )
                if decision.action == "cancel":
                    return False

    def publish(self, status: str, *, wait: Wait | None = None, message: str = "") -> None:
        """Publish the run's state as a durable event."""
        state = RunState(
            status=status,
            step=self._step,
            wait=wait,
            message=message,
            updated_at=utc_iso(),
        )
        eng.publish(eng.STATE_EVENT, state.model_dump(mode="json"))

    def run_to_end(self) -> dict[str, Any]:
        """Run the definition, roll back on failure, and return the run's summary."""
        from runtime.workflows.plan import definition_for

        try:
            # Resolved before the first checkpoint, so a worker missing the workflow fails
            # the run at the same point on a first run and on a replay.
            definition = definition_for(self.spec, self._engine.registry)
        except ZapiError as exc:
            return self._stop(RunStopped("failed", exc.message, error=exc.to_dict()))
        self._definition = definition
        self.publish("running")
        try:
            output = definition.run(self)
        except RunStopped as stop:
            return self._stop(stop)
        except ReplayMismatch as exc:
            return self._stop(
                RunStopped("failed", exc.message, error=exc.to_dict(), rollback=False)
            )
        except ZapiError as exc:  # a bad reference, an unknown tool: the run cannot go on
            return self._stop(RunStopped("failed", exc.message, error=exc.to_dict()))
        self._engine.probe(
            "before_finish", StepCall(self.run_id, self.workflow, self._step, "", "", {})
        )
        self.publish("succeeded", message="completed")
        return {"status": "succeeded", "output": output, "steps": self._step}

    # -- internals -------------------------------------------------------------------------

    def _execute(self, call: StepCall) -> dict[str, Any]:
        engine = self._engine
        assert engine.intents is not None
        return execute_step(call, engine.runner, engine.intents, engine.policy, engine.probe)

    def _stop(self, stop: RunStopped) -> dict[str, Any]:
        notes: list[str] = []
        if stop.rollback and any(c.is_write for c in self._committed):
            self.publish("compensating", message=stop.message)
            notes = rollback(self, self._committed, stop.message)
        message = stop.message + (f"; rollback: {'; '.join(notes)}" if notes else "")
        self.publish(stop.status, message=message)
        return {
            "status": stop.status,
            "message": message,
            "error": stop.error,
            "decision": stop.decision.model_dump(mode="json") if stop.decision else None,
            "rollback": notes,
            "steps": self._step,
        }

    def _compensation_for(self, tool: str, compensate: Compensation | None) -> Compensation | None:
        if isinstance(compensate, Compensation):
            return compensate
        if self._definition is not None and hasattr(self._definition, "compensations"):
            found = self._definition.compensations.get(tool)
            return found if isinstance(found, Compensation) else None
        return None

    def _new_wait(
        self,
        kind: str,
        name: str,
        message: str,
        values: dict[str, Any],
        error: dict[str, Any] | None,
        deadline: float | None,
        accepts: list[str],
        *,
        step: int | None = None,
    ) -> Wait:
        self._waits += 1
        return Wait(
            wait_id=f"w{self._waits}",
            kind=kind,
            name=name,
            step=self._step if step is None else step,
            message=message,
            values=values,
            error=error,
            deadline=utc_iso(deadline) if deadline is not None else None,
            accepts=accepts,
        )

    def _wait(self, wait: Wait, status: str, deadline: float | None) -> Decision:
        self.publish(status, wait=wait, message=wait.message)
        topic = topic_for(wait.wait_id)
        chunk = self._engine.config.wait_chunk_s
        while True:
            t = eng.now()
            if deadline is not None and t >= deadline:
                decision = Decision(
                    action="timeout", by="deadline", at=utc_iso(deadline), wait_id=wait.wait_id
                )
                break
            remaining = chunk if deadline is None else min(chunk, deadline - t)
            message = eng.recv(topic, remaining)
            if message is None:
                continue
            try:
                decision = Decision.model_validate(message)
            except ValidationError:
                continue
            if decision.action in wait.accepts:
                break
        eng.run_step(
            "zapi.decision",
            lambda: {
                "wait": wait.model_dump(mode="json"),
                "decision": decision.model_dump(mode="json"),
            },
        )
        self.publish("running")
        return decision

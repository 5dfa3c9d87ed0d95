"""``WorkflowContext``: what a running workflow uses — durable calls, approvals, operator waits."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError

from runtime.workflows.approvals import Approval, topic_for
from runtime.workflows.compensation import Committed, Compensation
from runtime.workflows.control import RunStopped
from runtime.workflows.intents import IntentLog
from runtime.workflows.permissions import Policy
from runtime.workflows.records import (
    STATE_EVENT,
    Decision,
    RunSpec,
    RunState,
    Settlement,
    StepRecord,
    Wait,
    args_digest,
    utc_iso,
)
from runtime.workflows.runner import Snapshots, ToolRunner
from runtime.workflows.steps import Probe, StepCall, execute_step
from zapi.errors import ReplayMismatch, ScopeDenied, ZapiError

__all__ = ["Journal", "RunStopped", "Runnable", "Services", "WorkflowContext"]

CompensateArg = Compensation | Callable[[Any], Compensation | None] | None


class Journal(Protocol):
    """The checkpointed operations of one run (DBOS in a worker: ``durable.RunJournal``)."""

    def run_step(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` once; a replay returns the recorded value."""
        ...

    def recv(self, topic: str, timeout_s: float) -> Any:
        """Durably wait for a message on ``topic`` (``None`` on timeout)."""
        ...

    def publish(self, key: str, value: Any) -> None:
        """Set a durable event of the run."""
        ...

    def sleep(self, seconds: float) -> None:
        """Durable sleep."""
        ...

    def now(self) -> float:
        """The current time, checkpointed."""
        ...


class Runnable(Protocol):
    """What a run executes: a ``@workflow`` definition or a pinned plan."""

    @property
    def compensations(self) -> Mapping[str, Compensation]:
        """Per-tool compensations (``@workflow(compensations=...)``)."""
        ...

    def run(self, ctx: WorkflowContext) -> Any:
        """Execute with ``ctx``; return the run's output."""
        ...


@dataclass(frozen=True)
class Services:
    """What a context needs from its engine: the journal, the tools and the write protocol."""

    journal: Journal
    runner: ToolRunner
    intents: IntentLog
    policy: Policy
    probe: Probe
    wait_chunk_s: float = 600.0


class WorkflowContext:
    """The handle a workflow receives: every call is a durable, checkpointed step.

    Attributes:
        run_id: this run's id.
        workflow: the workflow (or plan) name.
        inputs: the run's inputs.
    """

    def __init__(
        self, services: Services, run_id: str, spec: RunSpec, definition: Runnable | None
    ) -> None:
        """Bind a context to one run and its definition (created by the engine, not by users).

        ``definition`` is ``None`` when the worker could not resolve it; see :meth:`fail`.
        """
        self._services = services
        self._journal = services.journal
        self.run_id = run_id
        self.spec = spec
        self.workflow = spec.workflow
        self.inputs: dict[str, Any] = dict(spec.inputs)
        self._step = 0
        self._waits = 0
        self._committed: list[Committed] = []
        self._definition = definition

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
        info = self._services.runner.info(tool)
        try:
            self._services.policy.check(self.workflow, info)
            gated = self._services.policy.needs_approval(info)
        except ScopeDenied:
            gated = False  # the step itself records the denial
        if gated:
            approved = self.approval(
                f"allow {tool}",
                message=f"the policy requires an approval before {info.access} tool {tool!r}",
                values={"args": args},
                schema={"args": dict(info.input_schema)} if info.input_schema else None,
            )
            args = dict(approved.values.get("args", args))
        index = self.next_step()
        self._services.probe(
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
        schema: Mapping[str, Mapping[str, Any]] | None = None,
        narrow: Sequence[str] = (),
    ) -> Approval:
        """Park the run until someone approves or rejects ``name``; return the approved values.

        The approver may change any of ``values``; each change must match its JSON Schema in
        ``schema`` (default: the proposed value's JSON type), and a value named in ``narrow``
        may only shrink (a number not above the proposal, a subset of a list). The run
        continues with exactly the approved values. A rejection or an expired ``timeout_s``
        (a durable deadline) stops the run and rolls back its committed steps.
        """
        self.next_step()
        values = dict(values or {})
        deadline = self._journal.now() + timeout_s if timeout_s is not None else None
        wait = self._new_wait(
            "approval",
            name,
            message or f"approve {name}",
            values,
            None,
            deadline,
            ["approve", "reject", "cancel"],
        ).model_copy(
            update={
                "value_schema": {k: dict(v) for k, v in (schema or {}).items()},
                "narrow": [n for n in narrow if n in values],
            }
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

    def input_schema(self, tool: str) -> Mapping[str, Any] | None:
        """The JSON Schema of ``tool``'s arguments, when the runner knows it."""
        try:
            return self._services.runner.info(tool).input_schema
        except ZapiError:
            return None

    def sleep(self, seconds: float) -> None:
        """Sleep durably: a restart does not restart the sleep."""
        self._journal.sleep(seconds)

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
        settlement: Settlement | None = None
        snapshot = self._snapshot(tool, args, key)
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
                settlement,
                snapshot,
            )
            raw = self._journal.run_step(f"zapi.{role}", self._execute, call)
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
                return self._with_output(record, index, tool)
            err = record.error or {}
            if record.outcome in ("failed", "denied"):
                raise RunStopped(
                    "failed",
                    f"step {index} ({tool}) {record.outcome}: {err.get('message', '')}",
                    error={"step": index, "tool": tool, **err},
                )
            send = f" (send {record.sends})" if record.sends else ""
            decision = self.operator_wait(
                name="outcome unknown",
                step=index,
                message=(
                    f"step {index} ({tool}){send} did not finish cleanly and may or may not "
                    f"have applied: {err.get('message', '')}. Fix the cause, then `zapi runs "
                    f"resume {self.run_id}` (it reconciles before any resend; add --set "
                    "landed=true|false if you checked the target by hand) or `zapi runs cancel "
                    f"{self.run_id}` (rolls back)"
                ),
                error={"step": index, "tool": tool, "args": args, "send": record.sends, **err},
            )
            if decision.action == "cancel":
                raise RunStopped(
                    "cancelled", f"cancelled by {decision.by} at step {index}", decision=decision
                )
            settlement = _settlement(decision, record.sends)

    def _snapshot(self, tool: str, args: dict[str, Any], key: str) -> list[Any] | None:
        """For a create the server names: its list's identities before the first send.

        Journaled, so a replay after a crash compares with the list as it was before this
        step's write, never with one read after it.
        """
        runner = self._services.runner
        try:
            wanted = runner.info(tool).snapshot
        except ZapiError:
            return None
        if not wanted or not isinstance(runner, Snapshots):
            return None

        def take() -> list[Any] | None:
            assert isinstance(runner, Snapshots)
            try:
                return runner.snapshot(tool, args, idempotency_key=key)
            except ZapiError:
                return None

        found = self._journal.run_step("zapi.snapshot", take)
        return list(found) if isinstance(found, list) else None

    def _with_output(self, record: StepRecord, index: int, tool: str) -> StepRecord:
        """A write settled as landed whose resource could not be read: ask for its output."""
        if record.output_from != "none":
            return record
        decision = self.operator_wait(
            name="output needed",
            step=index,
            message=(
                f"step {index} ({tool}) landed, but there is no read that shows what it "
                f"created. Resume with --set output=JSON (what the write would have answered) "
                f"so later steps can use it: `zapi runs resume {self.run_id} --set output=...`"
                f", or `zapi runs cancel {self.run_id}` (rolls back)"
            ),
            error={"step": index, "tool": tool, "code": "output_unknown"},
        )
        if decision.action == "cancel":
            raise RunStopped(
                "cancelled", f"cancelled by {decision.by} at step {index}", decision=decision
            )
        return record.model_copy(
            update={"result": decision.changes.get("output"), "output_from": "operator"}
        )

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
        self._journal.publish(STATE_EVENT, state.model_dump(mode="json"))

    def checkpoint(self, name: str, value: Any) -> Any:
        """Record ``value`` as a named operation of the run (e.g. a verification finding)."""
        return self._journal.run_step(name, lambda: value)

    def run_to_end(self) -> dict[str, Any]:
        """Run the definition, roll back on failure, and return the run's summary."""
        definition = self._definition
        if definition is None:
            raise ValueError("run_to_end needs a definition; use fail() when there is none")
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
        self._services.probe(
            "before_finish", StepCall(self.run_id, self.workflow, self._step, "", "", {})
        )
        self.publish("succeeded", message="completed")
        return {"status": "succeeded", "output": output, "steps": self._step}

    def fail(self, exc: ZapiError) -> dict[str, Any]:
        """End a run whose definition cannot be resolved (before its first checkpoint).

        A worker missing the workflow fails the run at the same point on a first run and
        on a replay.
        """
        return self._stop(RunStopped("failed", exc.message, error=exc.to_dict()))

    # -- internals -------------------------------------------------------------------------

    def _execute(self, call: StepCall) -> dict[str, Any]:
        sv = self._services
        return execute_step(call, sv.runner, sv.intents, sv.policy, sv.probe)

    def _stop(self, stop: RunStopped) -> dict[str, Any]:
        notes: list[str] = []
        if stop.rollback and any(c.is_write for c in self._committed):
            self.publish("compensating", message=stop.message)
            notes = self._rollback(stop.message)
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
        if self._definition is not None:
            found = self._definition.compensations.get(tool)
            return found if isinstance(found, Compensation) else None
        return None

    def _rollback(self, reason: str) -> list[str]:
        """Compensate committed steps in reverse order; return notes for the run's message.

        Each compensation is a durable call under key ``RUN/STEP/undo``, so after a crash it
        is neither lost nor repeated. A write without a compensation parks the run for an
        operator (resume: it was handled by hand, continue; cancel: stop the rollback here).
        """
        notes: list[str] = []
        for done in reversed(self._committed):
            if done.compensation is None:
                if not done.is_write:
                    continue
                decision = self.operator_wait(
                    name="rollback blocked",
                    step=done.step,
                    message=(
                        f"rollback after {reason}: step {done.step} ({done.name or done.tool}) "
                        f"committed a write with {done.tool!r} and declares no compensation. "
                        f"Undo it by hand, then `zapi runs resume {self.run_id}` to continue "
                        f"the rollback, or `zapi runs cancel {self.run_id}` to stop it here"
                    ),
                    error=None,
                )
                if decision.action == "cancel":
                    notes.append(f"rollback stopped at step {done.step} by {decision.by}")
                    return notes
                notes.append(f"step {done.step} undone by hand (confirmed by {decision.by})")
                continue
            if not self.compensate(done):
                notes.append(f"rollback stopped at step {done.step}: its compensation failed")
                return notes
            notes.append(f"step {done.step} compensated with {done.compensation.tool}")
        return notes

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
        chunk = self._services.wait_chunk_s
        while True:
            t = self._journal.now()
            if deadline is not None and t >= deadline:
                decision = Decision(
                    action="timeout", by="deadline", at=utc_iso(deadline), wait_id=wait.wait_id
                )
                break
            remaining = chunk if deadline is None else min(chunk, deadline - t)
            message = self._journal.recv(topic, remaining)
            if message is None:
                continue
            try:
                decision = Decision.model_validate(message)
            except ValidationError:
                continue
            if decision.action in wait.accepts:
                break
        self._journal.run_step(
            "zapi.decision",
            lambda: {
                "wait": wait.model_dump(mode="json"),
                "decision": decision.model_dump(mode="json"),
            },
        )
        self.publish("running")
        return decision


def _settlement(decision: Decision, send: int) -> Settlement | None:
    """The operator's ``landed`` answer, bound to the send they were asked about."""
    landed = decision.changes.get("landed")
    if not isinstance(landed, bool) or send < 1:
        return None
    return Settlement(
        send=send,
        landed=landed,
        by=decision.by,
        output=decision.changes.get("output"),
        output_given="output" in decision.changes,
    )

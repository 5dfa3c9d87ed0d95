"""The write protocol of one durable tool call: intent first, reconcile before any resend."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from runtime.workflows.intents import Intent, IntentLog
from runtime.workflows.permissions import Policy
from runtime.workflows.records import Attempt, Settlement, StepRecord, args_digest, utc_iso
from runtime.workflows.runner import Landed, Snapshots, ToolInfo, ToolRunner
from zapi.errors import (
    ExecutionError,
    InvalidArguments,
    ScopeDenied,
    ToolCardError,
    UpstreamStatusError,
    ZapiError,
)

__all__ = ["Probe", "StepCall", "classify", "execute_step"]

logger = logging.getLogger("zapi.workflows")

Outcome = Literal["ok", "failed", "unknown", "denied"]

Probe = Callable[[str, "StepCall"], None]
"""Test instrumentation called at named points of a write: ``intent_begun`` (committed,
not yet sent), ``sent`` (answered, outcome not yet recorded), ``finished`` (recorded, not yet
checkpointed by the engine)."""


def _no_probe(point: str, call: StepCall) -> None:
    return None


def classify(exc: ZapiError) -> Literal["failed", "unknown"]:
    """``failed``: nothing was applied and retrying cannot help; ``unknown``: anything else.

    An unknown outcome pauses the run for an operator; a failure ends it (with rollback).
    """
    if isinstance(exc, InvalidArguments | ScopeDenied | ToolCardError):
        return "failed"
    if isinstance(exc, UpstreamStatusError) and 400 <= exc.status < 500 and exc.status != 429:
        return "failed"
    return "unknown"


@dataclass(frozen=True)
class StepCall:
    """One durable call as the workflow asks for it."""

    run_id: str
    workflow: str
    step: int
    key: str
    tool: str
    args: Mapping[str, Any]
    role: Literal["step", "compensation"] = "step"
    name: str = ""
    settlement: Settlement | None = None
    """An operator's verdict on one send of this write; it applies to that send only."""
    snapshot: list[Any] | None = None
    """A create the server names: the identities its list showed before this step's first
    send (journaled by the engine), so a read after a crash can tell whether it landed."""


class _Builder:
    def __init__(self, call: StepCall, prior: list[Attempt]) -> None:
        self.call = call
        self.started = utc_iso()
        self.attempts = list(prior)
        self.safety = ""
        self.sends = 0

    def attempt(
        self,
        action: Literal["send", "resend", "reconcile"],
        outcome: Any,
        error: Any = None,
        *,
        send: int | None = None,
    ) -> None:
        self.attempts.append(
            Attempt(
                n=len(self.attempts) + 1,
                at=utc_iso(),
                action=action,
                outcome=outcome,
                error=error,
                send=send,
            )
        )

    def record(
        self,
        outcome: Outcome,
        *,
        result: Any = None,
        error: dict[str, Any] | None = None,
        reconciled: bool = False,
        output_from: Literal["response", "read", "operator", "none"] = "response",
        verification: dict[str, Any] | None = None,
        drift: list[dict[str, Any]] | None = None,
    ) -> StepRecord:
        c = self.call
        return StepRecord(
            run_id=c.run_id,
            step=c.step,
            key=c.key,
            role=c.role,
            name=c.name,
            tool=c.tool,
            args=dict(c.args),
            digest=args_digest(c.tool, dict(c.args)),
            safety=self.safety,
            outcome=outcome,
            result=result,
            error=error,
            attempts=self.attempts,
            reconciled=reconciled,
            sends=self.sends,
            output_from=output_from,
            verification=verification,
            drift=drift or [],
            started_at=self.started,
            finished_at=utc_iso(),
        )


def _prior(intent: Intent | None) -> list[Attempt]:
    if intent is None or not intent.record:
        return []
    return [Attempt.model_validate(a) for a in intent.record.get("attempts", [])]


def execute_step(
    call: StepCall,
    runner: ToolRunner,
    intents: IntentLog,
    policy: Policy,
    probe: Probe = _no_probe,
) -> dict[str, Any]:
    """Run one tool call under the write protocol and return its JSON :class:`StepRecord`.

    - A policy refusal is decided before any network I/O and returned as ``denied``.
    - Reads are simply sent (repeating a read is harmless).
    - A write whose intent is ``done`` returns the stored record: it is never re-sent.
    - A write left ``in_flight`` (the worker died, or the answer was ambiguous) is resent only
      with the same idempotency key, or after a reconcile read proved it did not land;
      otherwise the outcome is ``unknown`` and the run pauses for an operator.
    - The intent is committed before each send and its outcome before returning.
    """
    b = _Builder(call, [])
    try:
        info: ToolInfo = runner.info(call.tool)
    except ToolCardError as exc:
        return b.record("failed", error=exc.to_dict()).model_dump(mode="json")
    b.safety = info.safety
    try:
        policy.check(call.workflow, info)
    except ScopeDenied as exc:
        logger.warning("denied: run %s step %s: %s", call.run_id, call.step, exc.message)
        return b.record("denied", error=exc.to_dict()).model_dump(mode="json")
    if not info.is_write:
        try:
            result, extras = _invoke(runner, call.tool, call.args, None)
        except ExecutionError as exc:
            b.attempt("send", classify(exc), exc.to_dict())
            return b.record(classify(exc), error=exc.to_dict()).model_dump(mode="json")
        b.attempt("send", "ok")
        return b.record("ok", result=result, **extras).model_dump(mode="json")
    record = _write(call, info, runner, intents, b, probe)
    probe("finished", call)
    return record


def _invoke(
    runner: ToolRunner, tool: str, args: Mapping[str, Any], key: str | None
) -> tuple[Any, dict[str, Any]]:
    """Call a tool; also return the runner's verification and drift findings."""
    result, extras = runner.call_detailed(tool, args, idempotency_key=key)
    return result, dict(extras)


def _write(
    call: StepCall,
    info: ToolInfo,
    runner: ToolRunner,
    intents: IntentLog,
    b: _Builder,
    probe: Probe,
) -> dict[str, Any]:
    intent = intents.get(call.key)
    if intent is not None and intent.state == "done" and intent.record is not None:
        return intent.record
    b.attempts = _prior(intent)
    sent = intent.attempts if intent is not None else 0
    b.sends = sent
    action: Literal["send", "resend"] = "send"
    if intent is not None and intent.state == "in_flight":
        if sum(1 for a in b.attempts if a.action != "reconcile") < sent:
            b.attempt(
                "send",
                "unknown",
                {
                    "code": "interrupted",
                    "message": "the worker stopped with this request in flight",
                },
                send=sent,
            )
        resolved = _resolve_in_flight(call, info, runner, intents, b, sent)
        if resolved is not None:
            return resolved
        action = "resend"
    intents.begin(call.key, call.run_id, call.tool, sent + 1)
    b.sends = sent + 1
    probe("intent_begun", call)
    try:
        result, extras = _invoke(runner, call.tool, call.args, call.key)
    except ExecutionError as exc:
        probe("sent", call)
        outcome = classify(exc)
        b.attempt(action, outcome, exc.to_dict(), send=sent + 1)
        record = b.record(outcome, error=exc.to_dict()).model_dump(mode="json")
        intents.finish(call.key, "failed" if outcome == "failed" else "in_flight", record)
        return record
    probe("sent", call)
    b.attempt(action, "ok", send=sent + 1)
    record = b.record("ok", result=result, **extras).model_dump(mode="json")
    intents.finish(call.key, "done", record)
    return record


def _resolve_in_flight(
    call: StepCall, info: ToolInfo, runner: ToolRunner, intents: IntentLog, b: _Builder, sent: int
) -> dict[str, Any] | None:
    """Decide an in-flight write: a finished record, or ``None`` when resending is safe.

    An operator's settlement counts only for the send it judged (``sent``, the intent's
    last send); after any later send it is stale, and that send is reconciled or put to
    the operator again, never resent on the old word.
    """
    if info.idempotency_key:
        return None  # the server deduplicates a resend under the same key
    verdict = call.settlement
    if verdict is not None and verdict.send != sent:
        b.attempt(
            "reconcile",
            "unknown",
            {
                "code": "stale_settlement",
                "message": f"{verdict.by} judged send {verdict.send}; send {sent} is unsettled",
            },
            send=sent,
        )
        verdict = None
    if verdict is not None and not verdict.landed:
        b.attempt(
            "reconcile",
            "not_landed",
            {"code": "operator", "message": f"{verdict.by}: send {sent} did not land"},
            send=sent,
        )
        return None
    if verdict is not None:
        b.attempt(
            "reconcile",
            "landed",
            {"code": "operator", "message": f"{verdict.by}: send {sent} landed"},
            send=sent,
        )
        result, source = _landed_output(call, runner, verdict)
        done = b.record("ok", result=result, reconciled=True, output_from=source)
        intents.finish(call.key, "done", done.model_dump(mode="json"))
        return done.model_dump(mode="json")
    if not info.reconcilable:
        error = {
            "code": "outcome_unknown",
            "message": (
                f"{call.tool} was in flight and has neither an idempotency key nor a reconcile "
                "read; check the target by hand, then resume with --set landed=true or "
                "--set landed=false"
            ),
            "context": {"tool": call.tool, "args": dict(call.args), "send": sent},
        }
        b.attempt("reconcile", "unknown", error, send=sent)
        record = b.record("unknown", error=error).model_dump(mode="json")
        intents.finish(call.key, "in_flight", record)
        return record
    try:
        if call.snapshot is not None and isinstance(runner, Snapshots):
            found = runner.reconcile_snapshot(
                call.tool, call.args, call.snapshot, idempotency_key=call.key
            )
        else:
            found = runner.reconcile(call.tool, call.args, idempotency_key=call.key)
    except ExecutionError as exc:
        b.attempt("reconcile", "unknown", exc.to_dict(), send=sent)
        record = b.record("unknown", error=exc.to_dict()).model_dump(mode="json")
        intents.finish(call.key, "in_flight", record)
        return record
    if isinstance(found, Landed):
        b.attempt("reconcile", "landed", send=sent)
        landed = b.record("ok", result=found.result, reconciled=True, output_from="read")
        intents.finish(call.key, "done", landed.model_dump(mode="json"))
        return landed.model_dump(mode="json")
    b.attempt("reconcile", "not_landed", send=sent)
    return None


def _landed_output(
    call: StepCall, runner: ToolRunner, verdict: Settlement
) -> tuple[Any, Literal["read", "operator", "none"]]:
    """The output of a write settled as landed: the operator's, else a read of the resource."""
    if verdict.output_given:
        return verdict.output, "operator"
    if call.snapshot is not None and isinstance(runner, Snapshots):
        try:
            found_new = runner.reconcile_snapshot(
                call.tool, call.args, call.snapshot, idempotency_key=call.key
            )
        except ExecutionError as exc:
            logger.warning("list read of %s (%s) failed: %s", call.key, call.tool, exc.message)
        else:
            if isinstance(found_new, Landed):
                return found_new.result, "read"
    try:
        found = runner.read_back(call.tool, call.args, idempotency_key=call.key)
    except ExecutionError as exc:
        logger.warning("read-back of %s (%s) failed: %s", call.key, call.tool, exc.message)
        return None, "none"
    return (found.result, "read") if found is not None else (None, "none")

"""Rollback: each committed step's declared compensation, run in reverse order, at most once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runtime.workflows.refs import resolve

if TYPE_CHECKING:
    from runtime.workflows.context import WorkflowContext

__all__ = ["Committed", "Compensation", "rollback"]


@dataclass(frozen=True)
class Compensation:
    """Undo a step by calling ``tool`` with ``args``.

    ``args`` values may reference the step's own arguments and result: ``${args.group}``,
    ``${output.id}`` (resolved when the step has committed).
    """

    tool: str
    args: Mapping[str, Any] = field(default_factory=dict)

    def bind(self, args: Mapping[str, Any], output: Any) -> Compensation:
        """This compensation with references to the step's ``args`` and ``output`` resolved."""
        scope = {"args": dict(args), "output": output}
        return Compensation(self.tool, resolve(dict(self.args), scope))


@dataclass(frozen=True)
class Committed:
    """A step that committed, with its bound compensation (``None``: none declared)."""

    step: int
    tool: str
    name: str
    is_write: bool
    compensation: Compensation | None


def rollback(ctx: WorkflowContext, committed: list[Committed], reason: str) -> list[str]:
    """Compensate ``committed`` steps in reverse order; return notes for the run's message.

    Each compensation is a durable call under key ``RUN/STEP/undo``, so after a crash it is
    neither lost nor repeated. A write without a compensation parks the run for an operator
    (resume: it was handled by hand, continue; cancel: stop the rollback here).
    """
    notes: list[str] = []
    for done in reversed(committed):
        if done.compensation is None:
            if not done.is_write:
                continue
            decision = ctx.operator_wait(
                name="rollback blocked",
                step=done.step,
                message=(
                    f"rollback after {reason}: step {done.step} ({done.name or done.tool}) "
                    f"committed a write with {done.tool!r} and declares no compensation. Undo it "
                    "by hand, then `zapi runs resume RUN` to continue the rollback, or "
                    "`zapi runs cancel RUN` to stop it here"
                ),
                error=None,
            )
            if decision.action == "cancel":
                notes.append(f"rollback stopped at step {done.step} by {decision.by}")
                return notes
            notes.append(f"step {done.step} undone by hand (confirmed by {decision.by})")
            continue
        if not ctx.compensate(done):
            notes.append(f"rollback stopped at step {done.step}: its compensation failed")
            return notes
        notes.append(f"step {done.step} compensated with {done.compensation.tool}")
    return notes

"""Human in the loop: approvals and operator decisions delivered as durable messages."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from runtime.workflows.records import Decision, RunState, Wait, utc_iso
from zapi.errors import WorkflowError

__all__ = ["Approval", "build_decision", "check_changes", "parse_set", "schema_of", "topic_for"]

_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


def schema_of(value: Any) -> dict[str, Any]:
    """The JSON type of a proposed value, as a schema an approver's change must keep."""
    if value is None:
        return {}
    for py, name in _JSON_TYPES:
        if isinstance(value, py):
            return {"type": name}
    return {}


def _narrower(old: Any, new: Any) -> bool:
    """Numbers: not above the proposed one (and not below zero when it was not); lists: a
    subset; anything else: unchanged."""
    if isinstance(old, bool) or isinstance(new, bool):
        return bool(new == old)
    if isinstance(old, int | float) and isinstance(new, int | float):
        return new <= old and (new >= 0 or old < 0)
    if isinstance(old, list) and isinstance(new, list):
        return all(item in old for item in new)
    return bool(new == old)


def check_changes(run_id: str, wait: Wait, changes: Mapping[str, Any]) -> None:
    """Refuse changed values that break the value's schema or widen a narrow-only value.

    Raises:
        WorkflowError: one line naming the value, what is wrong and what is allowed.
    """
    for name, new in changes.items():
        if name not in wait.values:
            continue
        old = wait.values[name]
        schema = wait.value_schema.get(name) or schema_of(old)
        try:
            jsonschema.validate(new, schema)
        except jsonschema.ValidationError as exc:
            raise WorkflowError(
                f"run {run_id}: --set {name}={json.dumps(new)} is refused: {exc.message} "
                f"(proposed: {json.dumps(old)})",
                run_id=run_id,
            ) from None
        if name in wait.narrow and not _narrower(old, new):
            raise WorkflowError(
                f"run {run_id}: --set {name}={json.dumps(new)} widens the request; "
                f"{wait.name!r} lets an approver only narrow {name} (proposed: "
                f"{json.dumps(old)}: a number not above it, a subset of a list)",
                run_id=run_id,
            )


TOPIC_PREFIX = "zapi.wait."


def topic_for(wait_id: str) -> str:
    """The message topic a parked run listens on at wait point ``wait_id``."""
    return TOPIC_PREFIX + wait_id


@dataclass(frozen=True)
class Approval:
    """An approved request: who decided and the values to continue with (any changes applied)."""

    name: str
    decision: Decision
    values: Mapping[str, Any]

    @property
    def by(self) -> str:
        """Who approved."""
        return self.decision.by


def parse_set(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``k=v`` pairs to a dict; ``v`` is JSON when it parses, else the string.

    Raises:
        ValueError: an item has no ``=``.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"expected k=v, got {item!r}")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


def build_decision(
    run_id: str,
    state: RunState | None,
    action: str,
    *,
    by: str,
    note: str = "",
    changes: Mapping[str, Any] | None = None,
) -> Decision:
    """Check ``action`` against what the run waits for and build the decision to send.

    Raises:
        WorkflowError: the run is not parked, waits for something else, or a changed value
            names a field the approval does not have.
    """
    if not by:
        raise WorkflowError("a decision needs --by NAME (who decides)", run_id=run_id)
    wait = state.wait if state is not None else None
    if state is None or wait is None:
        status = state.status if state is not None else "unknown"
        raise WorkflowError(
            f"run {run_id} is not waiting for a decision (status: {status})", run_id=run_id
        )
    if action not in wait.accepts:
        raise WorkflowError(
            f"run {run_id} waits for {wait.kind} {wait.name!r}, which accepts "
            f"{', '.join(wait.accepts)}, not {action}",
            run_id=run_id,
        )
    changes = dict(changes or {})
    if changes and action not in ("approve", "resume"):
        raise WorkflowError("--set applies only to approve and resume", run_id=run_id)
    unknown = sorted(
        set(changes) - set(wait.values) - ({"landed", "output"} if action == "resume" else set())
    )
    if unknown:
        raise WorkflowError(
            f"run {run_id}: {wait.name!r} has no value {', '.join(unknown)} to change "
            f"(it has: {', '.join(sorted(wait.values)) or 'none'})",
            run_id=run_id,
        )
    if action == "approve":
        check_changes(run_id, wait, changes)
    if action == "resume" and "landed" in changes and not isinstance(changes["landed"], bool):
        raise WorkflowError(
            f"run {run_id}: --set landed= takes true or false, not {changes['landed']!r}",
            run_id=run_id,
        )
    return Decision(
        action=action,
        by=by,
        at=utc_iso(),
        note=note,
        changes=changes,
        wait_id=wait.wait_id,
    )

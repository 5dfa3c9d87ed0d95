"""Settling writes by reading: read-after-write verification and reconciliation.

Both take the read as an injected callable (``read(tool, args) -> data``), so the
executor decides how reads are sent and logged and these functions only decide
what the reads mean.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from runtime.policy import RetryPolicy
from runtime.verify import Mismatch, check, expected_from, read_args, resolve_pointer
from toolgen.cards import ToolCard
from zapi.errors import ExecutionError

__all__ = ["ReconcileResult", "Reader", "VerificationReport", "reconcile_write", "verify_write"]

Reader = Callable[[str, dict[str, Any]], Any]
"""``read(tool, args)``: call a read tool and return its response data."""


class VerificationReport(BaseModel):
    """What read-after-write verification found."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ok: bool
    read_tool: str
    reads: int
    mismatches: list[Mismatch] = Field(default_factory=list)


class ReconcileResult(BaseModel):
    """Whether a write whose outcome was ambiguous landed, as far as a read can tell."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    result: Literal["landed", "not_landed", "unknown"]
    detail: str
    evidence: Any = None


def verify_write(
    card: ToolCard,
    args: Mapping[str, Any],
    data: Any,
    read: Reader,
    policy: RetryPolicy,
    sleep: Callable[[float], None],
) -> tuple[list[Mismatch], int] | None:
    """Read the written resource back (bounded polling); ``None`` when there is nothing to check.

    Returns:
        The mismatches of the last read (empty when the write round-trips) and the reads made.
    """
    plan = card.verification
    if plan is None:
        return None
    rargs = read_args(plan.args, dict(args), data)
    expected = expected_from(plan, dict(args))
    if rargs is None or not expected:
        return None
    mismatches: list[Mismatch] = []
    reads = 0
    for i in range(policy.verify_attempts):
        reads += 1
        try:
            observed = read(plan.tool, rargs)
        except ExecutionError as exc:
            observed = {"error": exc.code, "message": exc.message}
            return [Mismatch(pointer="", expected=expected, observed=observed)], reads
        mismatches = check(expected, observed)
        if not mismatches:
            break
        if i + 1 < policy.verify_attempts:
            sleep(policy.verify_interval_s)
    return mismatches, reads


def reconcile_write(
    card: ToolCard,
    args: Mapping[str, Any],
    read: Reader,
    policy: RetryPolicy,
    sleep: Callable[[float], None],
) -> ReconcileResult:
    """Find out whether a write landed: the card's reconcile read, or for PUT/PATCH its
    verification read; "not landed" only after every bounded read showed nothing."""
    result = ReconcileResult(result="unknown", detail="the card has no reconcile plan")
    for i in range(policy.verify_attempts):
        if card.reconcile is not None:
            result = _reconcile_list(card, args, read)
        elif card.verification is not None and card.method.upper() in ("PUT", "PATCH"):
            plan = card.verification
            rargs = read_args(plan.args, dict(args), None)
            expected = expected_from(plan, dict(args))
            if rargs is None or not expected:
                return result
            try:
                seen = read(plan.tool, rargs)
            except ExecutionError as exc:
                return ReconcileResult(result="unknown", detail=f"{plan.tool} failed: {exc.code}")
            mism = check(expected, seen)
            result = ReconcileResult(
                result="not_landed" if mism else "landed",
                evidence=seen,
                detail=f"{plan.tool} shows "
                + ("the written values" if not mism else f"{len(mism)} field(s) not written"),
            )
        if result.result != "not_landed":
            return result
        if i + 1 < policy.verify_attempts:
            sleep(policy.verify_interval_s)
    return result


def _reconcile_list(card: ToolCard, args: Mapping[str, Any], read: Reader) -> ReconcileResult:
    """Look for this call's item in the card's list read, matched by a client-generated id."""
    plan = card.reconcile
    assert plan is not None
    rargs = read_args(plan.args, dict(args), None)
    if rargs is None:
        return ReconcileResult(result="unknown", detail="reconcile arguments are missing")
    try:
        seen = read(plan.tool, rargs)
    except ExecutionError as exc:
        return ReconcileResult(result="unknown", detail=f"{plan.tool} failed: {exc.code}")
    items = resolve_pointer(seen, plan.items_pointer)
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        return ReconcileResult(
            result="unknown", detail=f"{plan.tool} has no list at {plan.items_pointer!r}"
        )
    want = {fld: args[a] for a, fld in plan.match.items() if a in args}
    hits = [
        it
        for it in items
        if isinstance(it, dict)
        and not check(
            {"/" + f.replace("~", "~0").replace("/", "~1"): v for f, v in want.items()}, it
        )
    ]
    keyed = [a for a in plan.match if a in card.idempotency.client_ids and a in args]
    filtered = any(src.removeprefix("arg:") in keyed for src in plan.args.values())
    if hits and keyed:
        return ReconcileResult(
            result="landed",
            evidence=hits[0],
            detail=f"{plan.tool} lists it by {keyed[0]}={args[keyed[0]]!r}",
        )
    if hits:
        return ReconcileResult(
            result="unknown",
            evidence=hits[0],
            detail=f"{plan.tool} lists a matching item, but no client id makes it this call's",
        )
    if keyed and filtered:
        return ReconcileResult(
            result="not_landed",
            detail=f"{plan.tool} has no item with {keyed[0]}={args[keyed[0]]!r}",
        )
    return ReconcileResult(
        result="unknown", detail=f"{plan.tool} shows no match, but its list may be partial"
    )

"""Settling writes by reading: read-after-write verification and reconciliation.

Both take the read as an injected callable (``read(tool, args) -> data``), so the
executor decides how reads are sent and logged and these functions only decide
what the reads mean.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from runtime.policy import RetryPolicy
from runtime.verify import (
    MISSING,
    Mismatch,
    check,
    expected_from,
    is_absent,
    read_args,
    resolve_pointer,
)
from toolgen.cards import Reconcile, ToolCard, Verification
from zapi.errors import ExecutionError

__all__ = [
    "ReconcileResult",
    "Reader",
    "VerificationReport",
    "reconcile_write",
    "snapshot_identities",
    "verify_write",
]

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
    *,
    headers: Mapping[str, str] | None = None,
) -> tuple[list[Mismatch], int] | None:
    """Read the written resource back (bounded polling); ``None`` when there is nothing to check.

    What is read depends on the plan's kind: the same resource, its NEW location after a
    move (and the old one, which must be gone), the resource the response created, or
    for a delete, the resource, which must answer 404/410. ``headers`` are the write
    response's headers (for plans bound to ``header:Location``).

    Returns:
        The mismatches of the last read (empty when the write shows) and the reads made.
    """
    plan = card.verification
    if plan is None:
        return None
    rargs = read_args(plan.args, dict(args), data, headers=headers, patterns=plan.patterns)
    if rargs is None:
        return None
    expected = expected_from(plan, dict(args))
    identity: dict[str, Any] = {}
    for ptr, source in plan.expect.items():
        got = read_args({"v": source}, dict(args), data, headers=headers)
        if got is None:
            return None
        identity[ptr] = got["v"]
    if plan.kind == "same" and not expected:
        return None
    gone: dict[str, Any] | None = None
    if plan.kind == "moved" and plan.gone_args:
        gone = read_args(plan.gone_args, dict(args), data, headers=headers)
        if gone == rargs:
            gone = None  # moved onto itself: nothing must be gone
    mismatches: list[Mismatch] = []
    reads = 0
    for i in range(policy.verify_attempts):
        mismatches, n, final = _verify_once(plan, rargs, expected, identity, gone, read)
        reads += n
        if not mismatches or final:
            break
        if i + 1 < policy.verify_attempts:
            sleep(policy.verify_interval_s)
    return mismatches, reads


def _verify_once(
    plan: Verification,
    rargs: dict[str, Any],
    expected: dict[str, Any],
    identity: dict[str, Any],
    gone: dict[str, Any] | None,
    read: Reader,
) -> tuple[list[Mismatch], int, bool]:
    """One round of reads: (mismatches, reads made, whether re-reading cannot help)."""
    try:
        observed = read(plan.tool, rargs)
    except ExecutionError as exc:
        if is_absent(exc):
            if plan.kind == "deleted":
                return [], 1, True
            return [Mismatch(pointer="", expected="the resource", observed="absent")], 1, False
        observed = {"error": exc.code, "message": exc.message}
        want = "absent (404/410)" if plan.kind == "deleted" else (expected or identity)
        return [Mismatch(pointer="", expected=want, observed=observed)], 1, True
    if plan.kind == "deleted":
        if not plan.items_pointer:
            return [Mismatch(pointer="", expected="absent (404/410)", observed="present")], 1, False
        items = resolve_pointer(observed, plan.items_pointer)
        hit = _find(items, identity) if isinstance(items, list) else None
        if hit is not None:
            return [Mismatch(pointer="", expected="absent from the list", observed=hit)], 1, False
        return [], 1, False
    target: Any = observed
    if plan.items_pointer:
        items = resolve_pointer(observed, plan.items_pointer)
        target = _find(items, identity) if isinstance(items, list) else None
        if target is None:
            return (
                [Mismatch(pointer=plan.items_pointer, expected=identity, observed=MISSING)],
                1,
                False,
            )
        mism = check(expected, target)
    else:
        mism = check({**expected, **identity}, target)
    if mism or gone is None:
        return mism, 1, False
    try:
        still = read(plan.tool, gone)
    except ExecutionError as exc:
        if is_absent(exc):
            return [], 2, False
        return (
            [Mismatch(pointer="(old location)", expected="absent (404/410)", observed=exc.code)],
            2,
            True,
        )
    return (
        [Mismatch(pointer="(old location)", expected="absent (404/410)", observed=_short(still))],
        2,
        False,
    )


def _find(items: Any, identity: Mapping[str, Any]) -> Any:
    """The first item of a list whose identity fields all match (``None`` if none)."""
    if not identity or not isinstance(items, list):
        return None
    for it in items:
        if isinstance(it, dict) and not check(identity, it):
            return it
    return None


def _short(data: Any) -> Any:
    text = repr(data)
    return data if len(text) <= 200 else text[:200] + "..."


def snapshot_identities(card: ToolCard, args: Mapping[str, Any], read: Reader) -> list[Any] | None:
    """The identities the card's snapshot list shows now (read before a create is sent).

    ``None`` when the card settles no create by a snapshot, or the list cannot be read.
    """
    plan = card.reconcile
    if plan is None or plan.kind != "created" or not plan.snapshot:
        return None
    rargs = read_args(plan.args, dict(args), None, patterns=plan.patterns)
    if rargs is None:
        return None
    try:
        seen = read(plan.tool, rargs)
    except ExecutionError:
        return None
    items = _listed(seen, plan.items_pointer)
    if items is None:
        return None
    return sorted({json.dumps(it.get(plan.snapshot), sort_keys=True) for it in items}, key=str)


def _listed(seen: Any, pointer: str) -> list[dict[str, Any]] | None:
    items = resolve_pointer(seen, pointer)
    if not isinstance(items, list):
        return None
    return [it for it in items if isinstance(it, dict)]


def reconcile_write(
    card: ToolCard,
    args: Mapping[str, Any],
    read: Reader,
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    *,
    snapshot: Sequence[Any] | None = None,
) -> ReconcileResult:
    """Find out whether a write landed: the card's reconcile read, or for PUT/PATCH its
    verification read; "not landed" only after every bounded read showed nothing.

    ``snapshot``: for a create the server names, the identities its list showed before the
    send (:func:`snapshot_identities`); without it such a create is ``unknown``.
    """
    result = ReconcileResult(result="unknown", detail="the card has no reconcile plan")
    for i in range(policy.verify_attempts):
        plan = card.reconcile
        if plan is not None and plan.kind == "created" and plan.snapshot:
            result = _reconcile_snapshot(card, args, read, snapshot)
        elif plan is not None and plan.kind == "created":
            result = _reconcile_list(card, args, read)
        elif plan is not None:
            result = _reconcile_read(card, plan, args, read)
        elif card.verification is not None and card.method.upper() in ("PUT", "PATCH"):
            legacy = card.verification
            result = _reconcile_read(
                card,
                Reconcile(
                    tool=legacy.tool,
                    args=legacy.args,
                    patterns=legacy.patterns,
                    match={a: p.lstrip("/") for a, p in legacy.compare.items()},
                ),
                args,
                read,
            )
        if result.result != "not_landed":
            return result
        if i + 1 < policy.verify_attempts:
            sleep(policy.verify_interval_s)
    return result


def _reconcile_read(
    card: ToolCard, plan: Reconcile, args: Mapping[str, Any], read: Reader
) -> ReconcileResult:
    """Read the resource (same, moved or deleted) and say whether the write shows."""
    rargs = read_args(plan.args, dict(args), None, patterns=plan.patterns)
    if rargs is None:
        return ReconcileResult(result="unknown", detail="reconcile arguments are missing")
    expected = {
        "/" + f.replace("~", "~0").replace("/", "~1"): args[a]
        for a, f in plan.match.items()
        if a in args
    }
    if plan.kind == "same" and not expected:
        return ReconcileResult(result="unknown", detail="nothing written to compare")
    try:
        seen = read(plan.tool, rargs)
    except ExecutionError as exc:
        if not is_absent(exc):
            return ReconcileResult(result="unknown", detail=f"{plan.tool} failed: {exc.code}")
        if plan.kind == "deleted":
            return ReconcileResult(result="landed", detail=f"{plan.tool} answers {exc.code}: gone")
        if plan.kind == "moved":
            return _old_location(plan, args, rargs, read)
        if card.method.upper() == "PUT":
            return ReconcileResult(
                result="not_landed", detail=f"{plan.tool} shows no resource where the PUT writes"
            )
        return ReconcileResult(result="unknown", detail=f"{plan.tool} shows no such resource")
    if plan.kind == "deleted":
        return ReconcileResult(
            result="not_landed", evidence=seen, detail=f"{plan.tool} still shows the resource"
        )
    mism = check(expected, seen)
    return ReconcileResult(
        result="not_landed" if mism else "landed",
        evidence=seen,
        detail=f"{plan.tool} shows "
        + ("the written values" if not mism else f"{len(mism)} field(s) not written"),
    )


def _old_location(
    plan: Reconcile, args: Mapping[str, Any], new: dict[str, Any], read: Reader
) -> ReconcileResult:
    """The new location is empty: the move did not land if the old one still reads."""
    old = read_args(plan.gone_args, dict(args), None) if plan.gone_args else None
    if old is None or old == new:
        return ReconcileResult(result="unknown", detail=f"{plan.tool} shows nothing at the target")
    try:
        seen = read(plan.tool, old)
    except ExecutionError as exc:
        return ReconcileResult(
            result="unknown",
            detail=f"{plan.tool} shows nothing at the target nor the source ({exc.code})",
        )
    return ReconcileResult(
        result="not_landed",
        evidence=seen,
        detail=f"{plan.tool} still shows the resource at its old location, none at the new",
    )


def _read_list(
    plan: Reconcile, args: Mapping[str, Any], read: Reader
) -> tuple[Any, ReconcileResult | None]:
    """The plan's list read with this call's arguments, or why it could not be read."""
    rargs = read_args(plan.args, dict(args), None, patterns=plan.patterns)
    if rargs is None:
        return None, ReconcileResult(result="unknown", detail="reconcile arguments are missing")
    try:
        return read(plan.tool, rargs), None
    except ExecutionError as exc:
        return None, ReconcileResult(result="unknown", detail=f"{plan.tool} failed: {exc.code}")


def _reconcile_list(card: ToolCard, args: Mapping[str, Any], read: Reader) -> ReconcileResult:
    """Look for this call's item in the card's list read, matched by a client-generated id."""
    plan = card.reconcile
    assert plan is not None
    seen, failed = _read_list(plan, args, read)
    if failed is not None:
        return failed
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


def _reconcile_snapshot(
    card: ToolCard, args: Mapping[str, Any], read: Reader, before: Sequence[Any] | None
) -> ReconcileResult:
    """The list read again: exactly one new identity landed, none did not, more: unknown.

    A single new item showing another value in a field the write sent (``type``) is not
    taken for this write's: unknown. Limit: another writer's create in the same window,
    while this one did not land, looks like this one (see the README, "Verified writes").
    """
    plan = card.reconcile
    assert plan is not None
    if before is None:
        return ReconcileResult(
            result="unknown",
            detail=f"{plan.tool} was not read before the send: nothing to compare the list with",
        )
    seen, failed = _read_list(plan, args, read)
    if failed is not None:
        return failed
    items = _listed(seen, plan.items_pointer)
    if items is None:
        return ReconcileResult(
            result="unknown", detail=f"{plan.tool} has no list at {plan.items_pointer!r}"
        )
    known = set(before)
    new = [it for it in items if json.dumps(it.get(plan.snapshot), sort_keys=True) not in known]
    if not new:
        return ReconcileResult(
            result="not_landed",
            detail=f"{plan.tool} lists no {plan.snapshot} it did not list before the send",
        )
    if len(new) > 1:
        names = ", ".join(repr(it.get(plan.snapshot)) for it in new[:5])
        return ReconcileResult(
            result="unknown",
            evidence=new,
            detail=(
                f"{plan.tool} lists {len(new)} new items since before the send ({names}): "
                "another writer created in the same collection, or this create landed more "
                "than once; check by hand"
            ),
        )
    item = new[0]
    want = {
        "/" + f.replace("~", "~0").replace("/", "~1"): args[a]
        for a, f in plan.match.items()
        if a in args
    }
    differs = check(want, item)
    if differs:
        return ReconcileResult(
            result="unknown",
            evidence=item,
            detail=(
                f"{plan.tool} lists one new item since before the send, but its "
                f"{differs[0].pointer.lstrip('/')} is {differs[0].observed!r}, not "
                f"{differs[0].expected!r}: maybe another writer's; check by hand"
            ),
        )
    return ReconcileResult(
        result="landed",
        evidence=_read_item(card, args, item, read),
        detail=f"{plan.tool} lists one new item since before the send: "
        f"{plan.snapshot}={item.get(plan.snapshot)!r}",
    )


def _read_item(card: ToolCard, args: Mapping[str, Any], item: Any, read: Reader) -> Any:
    """The created resource, read by the verification plan from the listed item (else the item)."""
    plan = card.verification
    if plan is None or plan.kind != "created" or plan.items_pointer:
        return item
    rargs = read_args(plan.args, dict(args), item, patterns=plan.patterns)
    if rargs is None:
        return item
    try:
        return read(plan.tool, rargs)
    except ExecutionError:
        return item

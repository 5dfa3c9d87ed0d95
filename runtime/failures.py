"""The errors a call ends with, built from what the call knows (pure: no I/O, no logging)."""

from __future__ import annotations

from typing import Any

from runtime.actionlog import excerpt
from runtime.drift import unknown_required_field
from runtime.verify import Mismatch
from toolgen.cards import ToolCard
from zapi.errors import (
    ExecutionError,
    OutcomeUnknown,
    SchemaDrift,
    UpstreamStatusError,
    VerificationFailed,
)
from zapi.redact import Redactor

__all__ = ["auth_fix", "outcome_unknown", "status_error", "verification_failed"]

AUTH_STATUSES = frozenset({401, 403})


def auth_fix(card: ToolCard) -> str:
    """What to do after a 401/403: which credential the card needs and how to give it."""
    if card.login is not None:
        secrets = ", ".join(card.login.secret_args) or "its arguments"
        return (
            f"the login was refused: check {secrets} in the credentials file's 'login' entry "
            "(and the variables it names), then run `zapi auth check OUT --credentials FILE`"
        )
    if card.auth:
        needs = ", ".join(card.auth)
        return (
            f"check the credential for {needs} in the credentials file under {card.origin} "
            f"(or --auth {card.auth[0]}=env:VAR), or add a 'login' entry (`zapi auth init`); "
            "then run `zapi auth check OUT --credentials FILE`"
        )
    return "the card records no auth scheme; re-record while logged in and re-run zapi analyze"


def status_error(
    card: ToolCard, status: int, data: Any, redactor: Redactor, record_id: int | None
) -> ExecutionError:
    """The error for a non-retryable error answer: drift, an auth failure, or the status."""
    body = excerpt(data, redactor)
    fld = unknown_required_field(card, data) if 400 <= status < 500 else None
    if fld is not None:
        return SchemaDrift(
            f"{card.name}: the API now requires field {fld!r}, which the card does not "
            f"know (status {status}); re-record and re-run zapi analyze",
            tool=card.name,
            field=fld,
            status=status,
            body=body,
            record_id=record_id,
        )
    if status in AUTH_STATUSES:
        what = "not authenticated" if status == 401 else "not allowed"
        fix = auth_fix(card)
        if status == 403 and card.csrf:
            where = card.csrf.get("header") or card.csrf.get("field") or "a CSRF field"
            source = card.csrf.get("cookie")
            fix = (
                f"the write needs a CSRF token in {where}"
                + (f" (from cookie {source})" if source else "")
                + "; a 'login' entry in the credentials file gets a fresh one (`zapi auth "
                "init OUT -o creds.json` writes it); " + fix
            )
        return UpstreamStatusError(
            f"{card.name}: the API answered {status} ({what}): {fix}",
            tool=card.name,
            status=status,
            body=body,
            record_id=record_id,
            auth=list(card.auth),
        )
    return UpstreamStatusError(
        f"{card.name}: the API answered {status}: {_short(redactor.text(str(data)))}",
        tool=card.name,
        status=status,
        body=body,
        record_id=record_id,
    )


def outcome_unknown(
    card: ToolCard,
    intent_id: int,
    detail: str,
    *,
    known: list[str],
    sent: dict[str, Any],
    args: Any,
) -> OutcomeUnknown:
    """The error for a write that may have landed and that no read could settle."""
    return OutcomeUnknown(
        f"{card.name}: the write may or may not have landed ({'; '.join(known)}); "
        f"reconcile: {detail}. Check the API before retrying; the intent is record "
        f"{intent_id} (`zapi log --tool {card.name}`)",
        tool=card.name,
        record_id=intent_id,
        sent=sent,
        known=list(known),
        args=args,
        reconcile=detail,
    )


def verification_failed(
    card: ToolCard, read_tool: str, mismatches: list[Mismatch], record_id: int
) -> VerificationFailed:
    """The error for a write the API acknowledged but the read back does not show."""
    return VerificationFailed(
        f"{card.name}: the API acknowledged the write but {read_tool} shows "
        + ", ".join(
            f"{m.pointer}={m.observed!r} (expected {m.expected!r})" for m in mismatches[:5]
        ),
        tool=card.name,
        expected={m.pointer: m.expected for m in mismatches},
        observed={m.pointer: m.observed for m in mismatches},
        record_id=record_id,
    )


def _short(text: str) -> str:
    return text if len(text) <= 200 else text[:200] + "..."

"""One vocabulary for what became of an attempt, a write and a call, and the decisions it drives.

Every fate a write can have is one :class:`Outcome` member, whether the runtime, a
reconcile read, an operator or a workflow step decided it:

==============  ================================================================
``ok``          the API answered with success: the write was applied
``failed``      the API answered with an error: not applied, resending cannot help
``not_applied`` definitely not applied (not sent, or 429/503): safe to send again
``refused``     refused before sending (bad header/cookie value, policy): nothing left
``ambiguous``   sent and the answer lost (drop, reset, 502/504): may have landed
``landed``      settled by a read or an operator: it landed
``not_landed``  settled by a read or an operator: it did not land
``unknown``     not settled: may have landed; check by hand before resending
``denied``      refused by scope or an operator's rejection before sending
==============  ================================================================

Subsets name where each value may appear: :data:`AttemptOutcome` (an attempt record),
:data:`Verdict` (a reconcile read or an operator's answer), :data:`StepOutcome` (a
workflow step). The action log stores the plain strings.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Literal

from runtime.policy import AMBIGUOUS_STATUSES, NOT_APPLIED_STATUSES
from runtime.transport import was_sent
from zapi.errors import TransportError

__all__ = [
    "AttemptOutcome",
    "Decision",
    "Outcome",
    "StepOutcome",
    "Verdict",
    "classify_error",
    "classify_status",
    "decide",
    "may_have_landed",
]


class Outcome(enum.StrEnum):
    """The fate of an attempt, a write or a call (see the module docstring)."""

    OK = "ok"
    FAILED = "failed"
    NOT_APPLIED = "not_applied"
    REFUSED = "refused"
    AMBIGUOUS = "ambiguous"
    LANDED = "landed"
    NOT_LANDED = "not_landed"
    UNKNOWN = "unknown"
    DENIED = "denied"


AttemptOutcome = Literal["ok", "not_applied", "ambiguous", "failed"]
"""What one send came to, as an ``attempt_finished`` record stores it (a refusal at the
wire is stored as ``not_applied`` with code ``refused``)."""
Verdict = Literal["landed", "not_landed", "unknown"]
"""What a reconcile read (or an operator) says about a write whose fate was not known."""
StepOutcome = Literal["ok", "failed", "unknown", "denied"]
"""What a workflow step came to."""

_MAY_HAVE_LANDED = frozenset({Outcome.OK, Outcome.AMBIGUOUS, Outcome.LANDED, Outcome.UNKNOWN})


def may_have_landed(outcome: str) -> bool:
    """Whether a write with this outcome may have been applied (so must not be resent blindly)."""
    return outcome in _MAY_HAVE_LANDED


@dataclass(frozen=True)
class Decision:
    """What to do after an ambiguous attempt: ``accept`` it, ``resend`` or ``raise``.

    Attributes:
        action: accept the write as landed, send it again, or stop with an error.
        verdict: what the runtime knows of the write at this point.
        detail: why, in one line (logged with the ``reconciled`` record).
        evidence: the read that showed the write landed (``accept`` only).
    """

    action: Literal["accept", "resend", "raise"]
    verdict: Verdict
    detail: str
    evidence: Any = None


def classify_status(status: int) -> Outcome:
    """What an answer with ``status`` means for the attempt."""
    if status < 400:
        return Outcome.OK
    if status in NOT_APPLIED_STATUSES:
        return Outcome.NOT_APPLIED
    if status in AMBIGUOUS_STATUSES:
        return Outcome.AMBIGUOUS
    return Outcome.FAILED


def classify_error(error: TransportError) -> Outcome:
    """What a wire error means: not sent, or may have landed."""
    return Outcome.AMBIGUOUS if was_sent(error) else Outcome.NOT_APPLIED


def decide(
    found: Verdict | None,
    detail: str = "",
    evidence: Any = None,
    *,
    keyed: str = "",
    idempotent: bool,
    more: bool,
    method: str,
) -> Decision:
    """What to do after an ambiguous send of a write (pure).

    Args:
        found: what the reconcile read found (``None`` when none was made).
        detail: the read's explanation.
        evidence: what the read saw when the write landed.
        keyed: the idempotency header the write carries ("" when none): the server
            de-duplicates, so it is resent with the same key without reading.
        idempotent: sending the write twice has the effect of sending it once.
        more: the policy allows another attempt.
        method: the HTTP method (named in the reason).
    """
    if keyed:
        if more:
            return Decision("resend", "unknown", f"resending with the same {keyed} key")
        return Decision("raise", "unknown", "retries exhausted with the idempotency key")
    if found == "landed":
        return Decision("accept", "landed", detail, evidence)
    if found == "not_landed" or idempotent:
        verdict: Verdict = "not_landed" if found == "not_landed" else "unknown"
        why = detail if found == "not_landed" else f"{detail}; {method} is idempotent"
        if more:
            return Decision("resend", verdict, why)
        if found == "not_landed":
            return Decision("raise", "not_landed", why)
    return Decision("raise", "unknown", detail)

"""One call's data: its context, its in-flight bookkeeping, what a send came to, its result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from runtime.actionlog import LogRecord
from runtime.drift import Finding
from runtime.outcomes import Outcome
from runtime.settle import VerificationReport
from toolgen.cards import ToolCard
from zapi.errors import ExecutionError

__all__ = ["AttemptHook", "CallContext", "CallResult", "CallState", "Sent", "decode"]

AttemptHook = Callable[[LogRecord], None]
"""Called with each intent record right after it is stored and before the request is sent."""


class CallResult(BaseModel):
    """The result of one tool call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: str
    call_id: str
    ok: bool = True
    status: int | None
    data: Any
    args: dict[str, Any]
    attempts: int
    intent_ids: list[int]
    record_ids: list[int]
    idempotency_key: str | None = None
    reconciled: Literal["landed"] | None = None
    verification: VerificationReport | None = None
    drift: list[Finding] = Field(default_factory=list)
    headers: dict[str, str] = Field(
        default_factory=dict,
        exclude=True,
        repr=False,
        description="the success answer's headers (lower-cased names); never dumped",
    )


@dataclass(frozen=True)
class CallContext:
    """Where a call belongs and how to run it: recorded on, or steering, every event."""

    run_id: str | None = None
    step: int | None = None
    parent: str | None = None
    hook: AttemptHook | None = None
    verify: bool = True


@dataclass
class CallState:
    """Mutable bookkeeping of one call in flight."""

    card: ToolCard
    args: dict[str, Any]
    call_id: str
    key: str | None
    ctx: CallContext
    records: list[int] = field(default_factory=list)
    intents: list[int] = field(default_factory=list)
    known: list[str] = field(default_factory=list)
    unsettled: list[int] = field(default_factory=list)
    """Intents that may have landed and no read has settled: the call's fate is unknown."""
    snapshot: list[Any] | None = None
    """A create the server names: the identities its list showed before the first send."""
    last_request: dict[str, Any] = field(default_factory=dict)
    response_headers: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Sent:
    """What one send came to."""

    outcome: Outcome
    response: httpx.Response | None
    error: ExecutionError | None
    data: Any
    elapsed_ms: float

    @property
    def status(self) -> int | None:
        """The answer's status (``None`` when no answer came)."""
        return self.response.status_code if self.response is not None else None


def decode(response: httpx.Response) -> Any:
    """The response body: JSON when it says or looks so, else text; ``None`` when empty."""
    if not response.content:
        return None
    ctype = response.headers.get("content-type", "")
    text = response.text
    if "json" in ctype or text[:1] in ("{", "["):
        try:
            return response.json()
        except ValueError:
            pass
    return text

"""The zapi error tree: operational failures that cross the public boundary.

    ZapiError
    ├── RecordingError        browser could not be found, launched or driven
    ├── HarError              a HAR file could not be read
    │   └── HarParseError     ... at a known file / entry
    ├── AnalysisError         the analysis found nothing usable (scope, rules file)
    ├── ToolCardError         a tool card could not be read
    │   └── InvalidToolCard
    ├── SpecError
    │   └── SpecValidationError   the OpenAPI we built does not validate
    ├── ExecutionError        calling a tool failed
    │   ├── InvalidArguments  arguments do not match the card's input schema
    │   ├── ScopeDenied       host / tool / class outside what the policy grants
    │   ├── TransportError    the request could not be sent or answered
    │   ├── UpstreamStatusError   the API answered with an error status
    │   ├── RetryExhausted
    │   ├── OutcomeUnknown    a write may or may not have landed
    │   ├── VerificationFailed    read-after-write did not round-trip
    │   └── SchemaDrift       the live API no longer matches the card
    └── WorkflowError         a durable run cannot proceed
        └── ReplayMismatch    a resumed run's plan differs from its recorded steps

Programmer misuse raises the built-in ``TypeError`` / ``ValueError`` instead.
Every class has a stable ``code`` for logs.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AnalysisError",
    "ExecutionError",
    "HarError",
    "HarParseError",
    "InvalidArguments",
    "InvalidToolCard",
    "OutcomeUnknown",
    "RecordingError",
    "ReplayMismatch",
    "RetryExhausted",
    "SchemaDrift",
    "ScopeDenied",
    "SpecError",
    "SpecValidationError",
    "ToolCardError",
    "TransportError",
    "UpstreamStatusError",
    "VerificationFailed",
    "WorkflowError",
    "ZapiError",
]


class ZapiError(Exception):
    """Root of every operational error zapi raises."""

    code = "zapi_error"

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description (code, message, context)."""
        return {"code": self.code, "message": self.message, "context": self.context}


class RecordingError(ZapiError):
    """The browser could not be found, launched or driven."""

    code = "recording_error"


class HarError(ZapiError):
    """A HAR file could not be read."""

    code = "har_error"

    def __init__(self, message: str, *, har_path: str | None = None, **context: Any) -> None:
        super().__init__(message, har_path=har_path, **context)
        self.har_path = har_path


class HarParseError(HarError):
    """A HAR file is not valid JSON or not a HAR, at a known place."""

    code = "har_parse_error"

    def __init__(
        self, message: str, *, har_path: str | None = None, entry_index: int | None = None
    ) -> None:
        where = har_path or "<har>"
        if entry_index is not None:
            where += f" entry {entry_index}"
        super().__init__(f"{where}: {message}", har_path=har_path, entry_index=entry_index)
        self.entry_index = entry_index


class AnalysisError(ZapiError):
    """The analysis cannot produce a useful result (bad scope, bad rules file)."""

    code = "analysis_error"


class ToolCardError(ZapiError):
    """A tool card could not be loaded."""

    code = "tool_card_error"


class InvalidToolCard(ToolCardError):
    """A tool card file does not match the ToolCard model."""

    code = "invalid_tool_card"


class SpecError(ZapiError):
    """An OpenAPI document problem."""

    code = "spec_error"


class SpecValidationError(SpecError):
    """The OpenAPI document we built is not valid; nothing was written."""

    code = "spec_invalid"


class ExecutionError(ZapiError):
    """Calling a tool failed."""

    code = "execution_error"

    def __init__(self, message: str, *, tool: str | None = None, **context: Any) -> None:
        super().__init__(message, tool=tool, **context)
        self.tool = tool


class InvalidArguments(ExecutionError):
    """Arguments do not match the card's input schema; nothing was sent."""

    code = "invalid_arguments"


class ScopeDenied(ExecutionError):
    """The call is outside the granted scope (host, tool, method, class); nothing was sent."""

    code = "scope_denied"


class TransportError(ExecutionError):
    """The request could not be sent or no response arrived."""

    code = "transport_error"


class UpstreamStatusError(ExecutionError):
    """The API answered with a non-success status that is not retried."""

    code = "upstream_status"

    def __init__(
        self,
        message: str,
        *,
        tool: str | None = None,
        status: int = 0,
        body: Any = None,
        **context: Any,
    ) -> None:
        super().__init__(message, tool=tool, status=status, body=body, **context)
        self.status = status
        self.body = body


class RetryExhausted(ExecutionError):
    """Every allowed attempt failed with a retryable error."""

    code = "retry_exhausted"


class OutcomeUnknown(ExecutionError):
    """A write was sent, no conclusive answer came back, and reconciliation could not tell."""

    code = "outcome_unknown"


class VerificationFailed(ExecutionError):
    """The read after a write did not show the written values."""

    code = "verification_failed"

    def __init__(
        self,
        message: str,
        *,
        tool: str | None = None,
        expected: Any = None,
        observed: Any = None,
        **context: Any,
    ) -> None:
        super().__init__(message, tool=tool, expected=expected, observed=observed, **context)
        self.expected = expected
        self.observed = observed


class SchemaDrift(ExecutionError):
    """The live API rejected a call in a way that names fields the card does not know."""

    code = "schema_drift"


class WorkflowError(ZapiError):
    """A durable run cannot proceed."""

    code = "workflow_error"


class ReplayMismatch(WorkflowError):
    """A resumed run's steps differ from what was recorded for it."""

    code = "replay_mismatch"

"""``RunStopped``: the control-flow signal that ends a run (failure, rejection or cancel)."""

from __future__ import annotations

from typing import Any

from runtime.workflows.records import Decision

__all__ = ["RunStopped"]


class RunStopped(BaseException):
    """The run cannot go on; rollback follows.

    A ``BaseException`` (like ``KeyboardInterrupt``, structlog's ``DropEvent`` or DBOS's own
    control flow), so a workflow's ``except Exception`` cannot swallow a rejection, a cancel
    or a failed step and carry on as if it had been approved.
    """

    def __init__(
        self,
        status: str,
        message: str,
        *,
        error: dict[str, Any] | None = None,
        decision: Decision | None = None,
        rollback: bool = True,
    ) -> None:
        """Stop with run ``status`` (``failed``, ``rejected``, ``cancelled``) and ``message``."""
        super().__init__(message)
        self.status = status
        self.message = message
        self.error = error
        self.decision = decision
        self.rollback = rollback

"""What the workflow engine needs from a tool executor: describe, call and reconcile a tool."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = ["Landed", "NotLanded", "Reconciled", "Snapshots", "ToolInfo", "ToolRunner"]


@dataclass(frozen=True)
class ToolInfo:
    """What the engine must know about a tool before calling it (for scope checks and safety).

    Attributes:
        name: tool name.
        method: HTTP method (upper case).
        origin: ``scheme://host[:port]`` the call goes to.
        safety: ``read_only``, ``idempotent``, ``write`` or ``destructive``.
        idempotency_key: the runner honours an idempotency key, so resending with the same
            key cannot apply a write twice.
        reconcilable: the runner can tell, by reading, whether a write landed.
        credential: name of the credential the runner calls it with (for the policy).
        input_schema: JSON Schema of the tool's arguments, when the runner knows it (an
            approver's changed values are checked against it).
        snapshot: a create whose server picks the identity, settled by a list read before
            the send (see :class:`Snapshots`).
    """

    name: str
    method: str
    origin: str
    safety: str
    idempotency_key: bool = False
    reconcilable: bool = False
    credential: str = ""
    input_schema: Mapping[str, Any] | None = None
    snapshot: bool = False

    @property
    def is_write(self) -> bool:
        """Anything but a read."""
        return self.safety != "read_only"

    @property
    def access(self) -> Literal["read", "write", "destructive"]:
        """The permission class: ``read``, ``write`` or ``destructive``."""
        if self.safety == "read_only":
            return "read"
        return "destructive" if self.safety == "destructive" else "write"


@dataclass(frozen=True)
class Landed:
    """Reconciliation found the write applied; ``result`` stands in for the lost response."""

    result: Any = None


@dataclass(frozen=True)
class NotLanded:
    """Reconciliation found the write was not applied: sending it is safe."""


Reconciled = Landed | NotLanded
"""What a reconcile read found (the runtime's own ``ReconcileResult`` adds ``unknown``)."""


@runtime_checkable
class ToolRunner(Protocol):
    """A tool executor as the workflow engine uses it.

    The real :class:`runtime.Runtime` is adapted by
    :class:`runtime.workflows.adapters.RuntimeRunner`; tests and benchmarks may plug in
    their own. Errors are :class:`zapi.errors.ExecutionError` subclasses: ``OutcomeUnknown``,
    ``TransportError``, ``RetryExhausted`` and 5xx ``UpstreamStatusError`` mean the outcome of
    a write is not known; ``ScopeDenied``, ``InvalidArguments`` and 4xx mean nothing was
    applied.
    """

    def info(self, tool: str) -> ToolInfo:
        """Describe ``tool``.

        Raises:
            ToolCardError: no such tool.
        """
        ...

    def call(
        self, tool: str, args: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Any:
        """Send one call (with the runner's own retries and verification); return the result.

        ``idempotency_key`` is stable per run step: the runner sends it as the tool's
        idempotency header, and may derive client-generated ids (``client_ref``) from it.
        """
        ...

    def call_detailed(
        self, tool: str, args: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> tuple[Any, Mapping[str, Any]]:
        """Like :meth:`call`, plus what the step record keeps: ``verification`` and ``drift``.

        A runner without such findings returns ``(self.call(...), {})``.
        """
        ...

    def reconcile(
        self, tool: str, args: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Reconciled:
        """Find out whether an earlier send of this write (with this key) landed.

        Raises:
            OutcomeUnknown: the runner cannot tell.
        """
        ...

    def read_back(
        self, tool: str, args: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Landed | None:
        """Read the resource a landed write produced (its verification or reconcile read).

        Used when an operator settles a write as landed, so the step still has an output.
        ``None`` when the runner has no such read for ``tool``.

        Raises:
            ExecutionError: the read failed.
        """
        ...

    def fingerprint(self) -> str:
        """A stable digest of the tool set (names, methods, bindings); pins the app version."""
        ...


@runtime_checkable
class Snapshots(Protocol):
    """A runner that settles creates the server names by a list read before the send.

    The engine journals :meth:`snapshot` before the write's intent, so after a crash the
    list read again is compared with what it showed before this step's first send.
    """

    def snapshot(
        self, tool: str, args: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> list[Any] | None:
        """The identities ``tool``'s list shows now (``None``: no such plan, or unreadable)."""
        ...

    def reconcile_snapshot(
        self,
        tool: str,
        args: Mapping[str, Any],
        before: list[Any],
        *,
        idempotency_key: str | None = None,
    ) -> Reconciled:
        """Exactly one new identity since ``before``: landed (the item read back); none:
        not landed.

        Raises:
            OutcomeUnknown: several new items (another writer), or the read failed.
        """
        ...

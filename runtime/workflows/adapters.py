"""Adapters from real executors to :class:`~runtime.workflows.runner.ToolRunner`."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import runtime
from runtime.executor import Runtime
from runtime.settle import ReconcileResult, snapshot_identities
from runtime.verify import read_args
from runtime.workflows.runner import (
    Landed,
    NotLanded,
    Reconciled,
    Snapshots,
    ToolInfo,
    ToolRunner,
)
from zapi.errors import OutcomeUnknown, ToolCardError

__all__ = ["RoutingRunner", "RuntimeRunner", "open_runtime_runner"]


class RuntimeRunner:
    """Runs workflow steps through :class:`runtime.Runtime` (scope, retries, verify, log).

    The step's intent key is passed as ``idempotency_key``: the runtime sends it as the
    card's idempotency header and derives client ids (``client_ref``) from it, so a resumed
    step's resend or reconcile read refers to the same logical write.
    """

    def __init__(self, runtime: Runtime, *, credential: str = "") -> None:
        """Adapt ``runtime`` (owned by the caller); ``credential`` names it for the policy."""
        self.runtime = runtime
        self.credential = credential

    def info(self, tool: str) -> ToolInfo:
        """Describe a card (raises ``ToolCardError`` for an unknown tool)."""
        card = self.runtime.cards.get(tool)
        if card is None:
            raise ToolCardError(f"no tool {tool!r} in this tool set", tool=tool)
        reconcilable = card.reconcile is not None or (
            card.verification is not None and card.method.upper() in ("PUT", "PATCH")
        )
        origin = self.runtime.base_url or card.origin
        return ToolInfo(
            name=card.name,
            method=card.method.upper(),
            origin=origin,
            safety=card.safety,
            idempotency_key=bool(card.idempotency.header),
            reconcilable=reconcilable,
            credential=self.credential,
            input_schema=card.input_schema,
            snapshot=card.reconcile is not None and bool(card.reconcile.snapshot),
        )

    def call(
        self, tool: str, args: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Any:
        """Execute through the runtime; return the response data (with verification)."""
        return self.call_detailed(tool, args, idempotency_key=idempotency_key)[0]

    def call_detailed(
        self, tool: str, args: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Execute; return the data and what the step record keeps: verification, drift."""
        result = self.runtime.execute(tool, dict(args), idempotency_key=idempotency_key)
        extras: dict[str, Any] = {
            "verification": result.verification.model_dump(mode="json")
            if result.verification is not None
            else None,
            "drift": [f.model_dump(mode="json") for f in result.drift],
        }
        return result.data, extras

    def reconcile(
        self, tool: str, args: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Reconciled:
        """Ask the runtime's reconcile read whether the write landed."""
        prepared = self.runtime.prepare(tool, dict(args), idempotency_key=idempotency_key)
        return _verdict(tool, self.runtime.reconcile(tool, prepared))

    def snapshot(
        self, tool: str, args: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> list[Any] | None:
        """What the card's snapshot list shows now (before a create the server names)."""
        card = self.runtime.cards.get(tool)
        if card is None:
            raise ToolCardError(f"no tool {tool!r} in this tool set", tool=tool)
        prepared = self.runtime.prepare(tool, dict(args), idempotency_key=idempotency_key)

        def read(name: str, rargs: dict[str, Any]) -> Any:
            return self.runtime.execute(name, rargs, verify=False).data

        return snapshot_identities(card, prepared, read)

    def reconcile_snapshot(
        self,
        tool: str,
        args: Mapping[str, Any],
        before: list[Any],
        *,
        idempotency_key: str | None = None,
    ) -> Reconciled:
        """Compare the list with ``before``: one new item landed, none did not."""
        prepared = self.runtime.prepare(tool, dict(args), idempotency_key=idempotency_key)
        return _verdict(tool, self.runtime.reconcile(tool, prepared, snapshot=before))

    def read_back(
        self, tool: str, args: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Landed | None:
        """The created/changed resource: the reconcile read's match, else the verification read.

        Raises:
            ExecutionError: the read failed.
        """
        card = self.runtime.cards.get(tool)
        if card is None:
            raise ToolCardError(f"no tool {tool!r} in this tool set", tool=tool)
        prepared = self.runtime.prepare(tool, dict(args), idempotency_key=idempotency_key)
        if card.reconcile is not None:
            found = self.runtime.reconcile(tool, prepared)
            if found.result == "landed":
                return Landed(found.evidence)
        plan = card.verification
        rargs = read_args(plan.args, prepared, None) if plan is not None else None
        if plan is None or rargs is None:
            return None
        return Landed(self.runtime.execute(plan.tool, rargs, verify=False).data)

    def fingerprint(self) -> str:
        """Digest of the tool cards."""
        h = hashlib.sha256()
        for name in sorted(self.runtime.cards):
            h.update(self.runtime.cards[name].dump().encode())
        return h.hexdigest()


class RoutingRunner:
    """Several runners as one: each tool goes to the first runner that knows it."""

    def __init__(self, runners: Sequence[ToolRunner]) -> None:
        """Route over ``runners`` in order."""
        if not runners:
            raise ValueError("RoutingRunner needs at least one runner")
        self.runners = list(runners)

    def _for(self, tool: str) -> ToolRunner:
        for runner in self.runners:
            try:
                runner.info(tool)
            except ToolCardError:
                continue
            return runner
        raise ToolCardError(f"no runner has a tool {tool!r}", tool=tool)

    def info(self, tool: str) -> ToolInfo:
        """Describe ``tool`` from the runner that has it."""
        return self._for(tool).info(tool)

    def call(
        self, tool: str, args: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Any:
        """Call through the runner that has ``tool``."""
        return self._for(tool).call(tool, args, idempotency_key=idempotency_key)

    def call_detailed(
        self, tool: str, args: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> tuple[Any, Mapping[str, Any]]:
        """Call (with findings) through the runner that has ``tool``."""
        return self._for(tool).call_detailed(tool, args, idempotency_key=idempotency_key)

    def reconcile(
        self, tool: str, args: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Reconciled:
        """Reconcile through the runner that has ``tool``."""
        return self._for(tool).reconcile(tool, args, idempotency_key=idempotency_key)

    def snapshot(
        self, tool: str, args: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> list[Any] | None:
        """Snapshot through the runner that has ``tool`` (``None`` if it takes none)."""
        runner = self._for(tool)
        if not isinstance(runner, Snapshots):
            return None
        return runner.snapshot(tool, args, idempotency_key=idempotency_key)

    def reconcile_snapshot(
        self,
        tool: str,
        args: Mapping[str, Any],
        before: list[Any],
        *,
        idempotency_key: str | None = None,
    ) -> Reconciled:
        """Settle by snapshot through the runner that has ``tool``."""
        runner = self._for(tool)
        if not isinstance(runner, Snapshots):
            return runner.reconcile(tool, args, idempotency_key=idempotency_key)
        return runner.reconcile_snapshot(tool, args, before, idempotency_key=idempotency_key)

    def read_back(
        self, tool: str, args: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Landed | None:
        """Read back through the runner that has ``tool``."""
        return self._for(tool).read_back(tool, args, idempotency_key=idempotency_key)

    def fingerprint(self) -> str:
        """Digest of every runner's fingerprint, in order."""
        return hashlib.sha256("\n".join(r.fingerprint() for r in self.runners).encode()).hexdigest()


def open_runtime_runner(
    tools: str,
    *,
    base_url: str | None = None,
    credentials: str | None = None,
    state: str | None = None,
    credential: str = "",
) -> RuntimeRunner:
    """Worker factory (``runtime.workflows.adapters:open_runtime_runner``) for a tool folder.

    Raises:
        ToolCardError: the folder holds no cards.
        ExecutionError: the credentials cannot be resolved.
    """
    rt = runtime.open(
        tools, credentials=credentials, base_url=base_url, state=state if state is not None else ""
    )
    return RuntimeRunner(rt, credential=credential)


def _verdict(tool: str, found: ReconcileResult) -> Reconciled:
    """A reconcile read's result as the engine's settlement; unknown raises."""
    if found.result == "landed":
        return Landed(found.evidence)
    if found.result == "not_landed":
        return NotLanded()
    raise OutcomeUnknown(
        f"{tool}: reconcile could not tell: {found.detail}", tool=tool, reconcile=found.detail
    )

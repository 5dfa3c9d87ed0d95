"""The write ledger: an exact, append-only record of every committed write, for test oracles."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

__all__ = ["Ledger", "utc_now"]


def utc_now() -> str:
    """Current UTC time as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Ledger:
    """Committed writes, numbered from 1.

    Not locked itself: the owning app appends while holding the same lock that guards
    the state change, so the ledger and the state can never disagree.
    """

    def __init__(self, kinds: Iterable[str]) -> None:
        """Create an empty ledger.

        Args:
            kinds: Write kinds always reported in ``counts`` (zero until written).
        """
        self._kinds = tuple(kinds)
        self._writes: list[dict[str, Any]] = []

    def record(self, kind: str, request_id: str, **fields: Any) -> dict[str, Any]:
        """Append one committed write and return its entry.

        Args:
            kind: Write kind, e.g. ``"stock"``.
            request_id: The request's ``X-Request-ID``.
            **fields: Kind-specific details (``sku``, ``quantity``, ...).

        Returns:
            The entry: ``seq``, ``kind``, the fields, ``request_id`` and ``ts``.
        """
        entry: dict[str, Any] = {"seq": len(self._writes) + 1, "kind": kind, **fields}
        entry["request_id"] = request_id
        entry["ts"] = utc_now()
        self._writes.append(entry)
        return entry

    def recent(self, limit: int) -> list[dict[str, Any]]:
        """The last ``limit`` entries, oldest first."""
        return [dict(entry) for entry in self._writes[-limit:]] if limit > 0 else []

    def snapshot(self) -> dict[str, Any]:
        """``{"writes": [...], "counts": {kind: n}, "total": n}`` as served by ``/admin/ledger``."""
        counts = dict.fromkeys(self._kinds, 0)
        for kind, group in itertools.groupby(sorted(entry["kind"] for entry in self._writes)):
            counts[kind] = len(list(group))
        return {
            "writes": [dict(entry) for entry in self._writes],
            "counts": counts,
            "total": len(self._writes),
        }

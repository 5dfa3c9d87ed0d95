"""In-memory ERP state (items, orders, notes, attachments, sessions) guarded by one lock."""

from __future__ import annotations

import dataclasses
import hashlib
import random
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from samples._catalog import catalog
from samples._ledger import Ledger, utc_now

__all__ = ["WRITE_KINDS", "Attachment", "ErpStore", "Item", "Order", "Session"]

WRITE_KINDS = ("stock", "order", "notes", "attachment", "legacy")
"""Kinds of committed write recorded in the ledger (and targetable by ``faults_apply_to``)."""

_SEEDED_AT = "2024-01-15T09:00:00Z"
_WAREHOUSES = {"WH-EAST": "region-east", "WH-WEST": "region-west", "WH-NORTH": "region-north"}


@dataclass
class Item:
    """A stock-keeping unit. ``warehouse`` is deprecated; ``region_id`` replaces it under drift."""

    sku: str
    name: str
    price: float
    quantity: int
    location: str
    bin: str
    warehouse: str
    region_id: str
    updated_at: str

    def to_json(self, *, drift: bool) -> dict[str, Any]:
        """The API representation; under drift ``region_id`` replaces ``warehouse``."""
        document: dict[str, Any] = {
            "sku": self.sku,
            "name": self.name,
            "price": self.price,
            "quantity": self.quantity,
            "location": self.location,
            "bin": self.bin,
        }
        if drift:
            document["region_id"] = self.region_id
        else:
            document["warehouse"] = self.warehouse
        document["updated_at"] = self.updated_at
        return document


@dataclass(frozen=True)
class Order:
    """A sales order (ERP orders do not reserve stock)."""

    id: str
    sku: str
    quantity: int
    customer: str
    client_ref: str | None
    status: str
    total: float
    created_at: str

    def to_json(self) -> dict[str, Any]:
        """The API representation."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Attachment:
    """An uploaded file (only its digest and size are kept)."""

    id: str
    sku: str
    filename: str
    content_type: str
    size: int
    sha256: str
    comment: str
    created_at: str

    def to_json(self) -> dict[str, Any]:
        """The API representation."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Session:
    """A logged-in browser session and its double-submit CSRF token."""

    token: str
    user: str
    csrf: str


class ErpStore:
    """All ERP state. Every commit changes state and appends to the ledger under one lock."""

    def __init__(self, seed: int) -> None:
        """Create the store seeded with ``seed`` (call :meth:`reset` to re-seed)."""
        self._seed = seed
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._items: dict[str, Item] = {}
        self._orders: dict[str, Order] = {}
        self._notes: dict[str, bytes] = {}
        self._attachments: list[Attachment] = []
        self._ledger = Ledger(WRITE_KINDS)
        self.reset()

    def reset(self) -> None:
        """Restore the seeded items and orders and empty the ledger (sessions survive)."""
        rng = random.Random(f"erp-{self._seed}")
        items: dict[str, Item] = {}
        for entry in catalog(self._seed):
            warehouse = rng.choice(sorted(_WAREHOUSES))
            items[entry.sku] = Item(
                sku=entry.sku,
                name=entry.name,
                price=entry.price_cents / 100,
                quantity=rng.randint(0, 250),
                location=f"Aisle {rng.randint(1, 12)}",
                bin=f"BIN-{rng.randint(1, 60):02d}",
                warehouse=warehouse,
                region_id=_WAREHOUSES[warehouse],
                updated_at=_SEEDED_AT,
            )
        seeded = [("A-1", 2, "ACME Corp"), ("B-3", 5, "Globex")]
        orders = {}
        for number, (sku, quantity, customer) in enumerate(seeded, start=1):
            order = Order(
                id=f"ORD-{number:04d}",
                sku=sku,
                quantity=quantity,
                customer=customer,
                client_ref=None,
                status="open",
                total=round(items[sku].price * quantity, 2),
                created_at=_SEEDED_AT,
            )
            orders[order.id] = order
        with self._lock:
            self._items, self._orders = items, orders
            self._notes, self._attachments = {}, []
            self._ledger = Ledger(WRITE_KINDS)

    # -- sessions --------------------------------------------------------------------------

    def open_session(self, user: str) -> Session:
        """Create a session for ``user`` with fresh random tokens."""
        session = Session(secrets.token_hex(16), user, secrets.token_urlsafe(24))
        with self._lock:
            self._sessions[session.token] = session
        return session

    def session(self, token: str) -> Session | None:
        """Look a session up by cookie value."""
        with self._lock:
            return self._sessions.get(token)

    def close_session(self, token: str) -> None:
        """Forget a session."""
        with self._lock:
            self._sessions.pop(token, None)

    def clear_sessions(self) -> None:
        """Log everybody out."""
        with self._lock:
            self._sessions = {}

    # -- reads -----------------------------------------------------------------------------

    def item(self, sku: str) -> Item | None:
        """A copy of one item, or ``None``."""
        with self._lock:
            item = self._items.get(sku)
            return dataclasses.replace(item) if item else None

    def items(self, query: str, page: int, per_page: int) -> tuple[list[Item], int]:
        """One page of items whose SKU or name contains ``query``, and the match count."""
        needle = query.strip().lower()
        with self._lock:
            matches = [
                dataclasses.replace(item)
                for item in self._items.values()
                if needle in item.sku.lower() or needle in item.name.lower()
            ]
        start = (page - 1) * per_page
        return matches[start : start + per_page], len(matches)

    def order(self, order_id: str) -> Order | None:
        """One order, or ``None``."""
        with self._lock:
            return self._orders.get(order_id)

    def orders(self, client_ref: str | None, page: int, per_page: int) -> tuple[list[Order], int]:
        """One page of orders (optionally only those with ``client_ref``) and the total."""
        with self._lock:
            matches = [
                order
                for order in self._orders.values()
                if client_ref is None or order.client_ref == client_ref
            ]
        start = (page - 1) * per_page
        return matches[start : start + per_page], len(matches)

    def notes_size(self, sku: str) -> int:
        """Size in bytes of the stored notes document for ``sku`` (0 when none)."""
        with self._lock:
            return len(self._notes.get(sku, b""))

    def attachments(self, sku: str) -> list[Attachment]:
        """Attachments of ``sku``, oldest first."""
        with self._lock:
            return [a for a in self._attachments if a.sku == sku]

    def ledger_snapshot(self) -> dict[str, Any]:
        """The ledger as served by ``/admin/ledger``."""
        with self._lock:
            return self._ledger.snapshot()

    def recent_writes(self, limit: int) -> list[dict[str, Any]]:
        """The last ``limit`` ledger entries."""
        with self._lock:
            return self._ledger.recent(limit)

    # -- commits ---------------------------------------------------------------------------

    def set_stock(
        self,
        sku: str,
        quantity: int,
        *,
        warehouse: str | None,
        region_id: str | None,
        request_id: str,
        apply: bool = True,
    ) -> Item:
        """Set the on-hand quantity of ``sku`` and record it.

        With ``apply=False`` nothing changes and nothing is recorded; the item is returned
        as if the update had been applied (the ``lie_on_write`` fault).

        Raises:
            KeyError: If the SKU does not exist.
        """
        with self._lock:
            current = self._items[sku]
            updated = dataclasses.replace(current, quantity=quantity, updated_at=utc_now())
            if warehouse is not None:
                updated.warehouse = warehouse
            if region_id is not None:
                updated.region_id = region_id
            if apply:
                self._items[sku] = updated
                self._ledger.record("stock", request_id, sku=sku, quantity=quantity)
            return dataclasses.replace(updated)

    def create_order(
        self, sku: str, quantity: int, customer: str, client_ref: str | None, request_id: str
    ) -> Order:
        """Create an order numbered ``ORD-nnnn`` and record it.

        Raises:
            KeyError: If the SKU does not exist.
        """
        with self._lock:
            order = Order(
                id=f"ORD-{len(self._orders) + 1:04d}",
                sku=sku,
                quantity=quantity,
                customer=customer,
                client_ref=client_ref,
                status="open",
                total=round(self._items[sku].price * quantity, 2),
                created_at=utc_now(),
            )
            self._orders[order.id] = order
            self._ledger.record(
                "order",
                request_id,
                sku=sku,
                quantity=quantity,
                order_id=order.id,
                client_ref=client_ref,
            )
            return order

    def save_notes(self, sku: str, document: bytes, request_id: str) -> int:
        """Store the raw notes document of ``sku``, record it and return its size."""
        with self._lock:
            self._notes[sku] = document
            self._ledger.record("notes", request_id, sku=sku, bytes=len(document))
            return len(document)

    def add_attachment(
        self,
        sku: str,
        *,
        filename: str,
        content_type: str,
        data: bytes,
        comment: str,
        request_id: str,
    ) -> Attachment:
        """Store an attachment of ``sku`` (digest and size only) and record it."""
        with self._lock:
            attachment = Attachment(
                id=f"ATT-{len(self._attachments) + 1:04d}",
                sku=sku,
                filename=filename,
                content_type=content_type,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                comment=comment,
                created_at=utc_now(),
            )
            self._attachments.append(attachment)
            self._ledger.record(
                "attachment",
                request_id,
                sku=sku,
                attachment_id=attachment.id,
                filename=filename,
                size=len(data),
            )
            return attachment

    def set_bin(self, sku: str, bin_code: str, request_id: str) -> None:
        """Move ``sku`` to storage bin ``bin_code`` (the legacy endpoint) and record it.

        Raises:
            KeyError: If the SKU does not exist.
        """
        with self._lock:
            item = self._items[sku]
            self._items[sku] = dataclasses.replace(item, bin=bin_code, updated_at=utc_now())
            self._ledger.record("legacy", request_id, sku=sku, bin=bin_code)

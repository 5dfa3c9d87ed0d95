"""In-memory storefront state (products, orders, idempotency keys) guarded by one lock."""

from __future__ import annotations

import dataclasses
import random
import string
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from samples._catalog import catalog
from samples._ledger import Ledger, utc_now

__all__ = [
    "ORDER_STATUSES",
    "WRITE_KINDS",
    "IdempotencyMismatch",
    "InvalidTransition",
    "Order",
    "OrderLine",
    "Product",
    "StorefrontStore",
]

WRITE_KINDS = ("order", "order_update", "order_cancel")
"""Kinds of committed write recorded in the ledger (and targetable by ``faults_apply_to``)."""

ORDER_STATUSES = ("pending", "paid", "shipped", "cancelled")
_TRANSITIONS = {
    "pending": frozenset({"paid", "cancelled"}),
    "paid": frozenset({"shipped", "cancelled"}),
    "shipped": frozenset[str](),
    "cancelled": frozenset[str](),
}
_PRODUCTS_PER_CATEGORY = 3
_SEEDED_ORDERS = (
    ("paid", "alice@example.com", ((0, 2), (4, 1))),
    ("paid", "bob@example.com", ((1, 1),)),
    ("pending", "carol@example.com", ((5, 3),)),
    ("shipped", "dave@example.com", ((2, 1),)),
    ("paid", "erin@example.com", ((8, 4), (9, 1))),
)


@dataclass(frozen=True)
class Product:
    """A product for sale; ``sku`` is the ERP SKU that holds its stock."""

    id: str
    sku: str
    name: str
    category: str
    price_cents: int
    currency: str = "USD"

    def to_json(self) -> dict[str, Any]:
        """The API representation."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class OrderLine:
    """One line of an order."""

    product_id: str
    sku: str
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class Order:
    """A customer order with a UUID id."""

    id: str
    status: str
    customer_email: str
    items: tuple[OrderLine, ...]
    created_at: str
    updated_at: str

    @property
    def total_cents(self) -> int:
        """Sum of the lines."""
        return sum(line.quantity * line.unit_price_cents for line in self.items)

    def to_json(self) -> dict[str, Any]:
        """The API representation."""
        return {
            "id": self.id,
            "status": self.status,
            "customer_email": self.customer_email,
            "items": [dataclasses.asdict(line) for line in self.items],
            "total_cents": self.total_cents,
            "currency": "USD",
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


class IdempotencyMismatch(Exception):
    """An ``Idempotency-Key`` was reused with a different request body."""


class InvalidTransition(Exception):
    """The requested status change is not allowed from the order's current status."""


@dataclass(frozen=True)
class _KeyRecord:
    fingerprint: str
    response: dict[str, Any]


class StorefrontStore:
    """All storefront state. Every commit changes state and appends to the ledger atomically."""

    def __init__(self, seed: int) -> None:
        """Create the store seeded with ``seed`` (call :meth:`reset` to re-seed)."""
        self._seed = seed
        self._lock = threading.Lock()
        self._products: dict[str, Product] = {}
        self._orders: dict[str, Order] = {}
        self._keys: dict[str, _KeyRecord] = {}
        self._ledger = Ledger(WRITE_KINDS)
        self._uuids = random.Random()
        self.reset()

    def reset(self) -> None:
        """Restore the seeded products and orders; forget idempotency keys and the ledger."""
        rng = random.Random(f"storefront-{self._seed}")
        alphabet = string.ascii_letters + string.digits
        products: dict[str, Product] = {}
        by_category: dict[str, int] = {}
        for entry in catalog(self._seed):
            if by_category.get(entry.category, 0) >= _PRODUCTS_PER_CATEGORY:
                continue
            by_category[entry.category] = by_category.get(entry.category, 0) + 1
            product_id = "prod_" + "".join(rng.choices(alphabet, k=6))
            products[product_id] = Product(
                product_id, entry.sku, entry.name, entry.category, entry.price_cents
            )
        catalogue = list(products.values())
        orders: dict[str, Order] = {}
        for hour, (status, email, lines) in enumerate(_SEEDED_ORDERS):
            stamp = f"2024-02-01T{10 + hour:02d}:00:00Z"
            order = Order(
                id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                status=status,
                customer_email=email,
                items=tuple(_line(catalogue[index], quantity) for index, quantity in lines),
                created_at=stamp,
                updated_at=stamp,
            )
            orders[order.id] = order
        with self._lock:
            self._products, self._orders, self._keys = products, orders, {}
            self._ledger = Ledger(WRITE_KINDS)
            self._uuids = random.Random(f"storefront-orders-{self._seed}")

    # -- reads -----------------------------------------------------------------------------

    def product(self, product_id: str) -> Product | None:
        """One product, or ``None``."""
        with self._lock:
            return self._products.get(product_id)

    def products(self, category: str, page: int, per_page: int) -> tuple[list[Product], int]:
        """One page of products (optionally of one ``category``) and the match count."""
        with self._lock:
            matches = [p for p in self._products.values() if not category or p.category == category]
        start = (page - 1) * per_page
        return matches[start : start + per_page], len(matches)

    def order(self, order_id: str) -> Order | None:
        """One order, or ``None``."""
        with self._lock:
            return self._orders.get(order_id)

    def orders(self, status: str, page: int, per_page: int) -> tuple[list[Order], int]:
        """One page of orders (optionally with one ``status``) and the match count."""
        with self._lock:
            matches = [o for o in self._orders.values() if not status or o.status == status]
        start = (page - 1) * per_page
        return matches[start : start + per_page], len(matches)

    def replay(self, key: str, fingerprint: str) -> dict[str, Any] | None:
        """The stored response for ``key``, or ``None`` if the key is new.

        Raises:
            IdempotencyMismatch: If ``key`` was used with a different fingerprint.
        """
        with self._lock:
            return self._replay(key, fingerprint)

    def _replay(self, key: str, fingerprint: str) -> dict[str, Any] | None:
        record = self._keys.get(key)
        if record is None:
            return None
        if record.fingerprint != fingerprint:
            raise IdempotencyMismatch(key)
        return record.response

    def ledger_snapshot(self) -> dict[str, Any]:
        """The ledger as served by ``/admin/ledger``."""
        with self._lock:
            return self._ledger.snapshot()

    # -- commits ---------------------------------------------------------------------------

    def create_order(
        self,
        lines: Sequence[tuple[str, int]],
        customer_email: str,
        *,
        request_id: str,
        idempotency_key: str | None = None,
        fingerprint: str = "",
    ) -> tuple[dict[str, Any], bool]:
        """Create a pending order unless ``idempotency_key`` already created one.

        Args:
            lines: ``(product_id, quantity)`` pairs; every product must exist.
            customer_email: Buyer's e-mail.
            request_id: Recorded in the ledger.
            idempotency_key: Optional client key; a repeat returns the first response.
            fingerprint: Digest of the request body, compared on repeats.

        Returns:
            The order document and whether it is a replay.

        Raises:
            IdempotencyMismatch: If the key was used with a different body.
            KeyError: If a product does not exist.
        """
        with self._lock:
            if idempotency_key is not None:
                replayed = self._replay(idempotency_key, fingerprint)
                if replayed is not None:
                    return replayed, True
            stamp = utc_now()
            order = Order(
                id=str(uuid.UUID(int=self._uuids.getrandbits(128), version=4)),
                status="pending",
                customer_email=customer_email,
                items=tuple(_line(self._products[pid], qty) for pid, qty in lines),
                created_at=stamp,
                updated_at=stamp,
            )
            self._orders[order.id] = order
            document = order.to_json()
            if idempotency_key is not None:
                self._keys[idempotency_key] = _KeyRecord(fingerprint, document)
            self._ledger.record(
                "order",
                request_id,
                order_id=order.id,
                idempotency_key=idempotency_key,
                total_cents=order.total_cents,
            )
            return document, False

    def set_status(
        self, order_id: str, status: str, *, request_id: str, kind: str, apply: bool = True
    ) -> Order:
        """Move an order to ``status`` and record it as a ``kind`` write.

        A no-op (same status) changes and records nothing. With ``apply=False`` the
        updated order is returned but nothing changes (the ``lie_on_write`` fault).

        Raises:
            KeyError: If the order does not exist.
            InvalidTransition: If the change is not allowed.
        """
        with self._lock:
            order = self._orders[order_id]
            if order.status == status:
                return order
            if status not in _TRANSITIONS[order.status]:
                raise InvalidTransition(f"cannot move order from {order.status} to {status}")
            updated = dataclasses.replace(order, status=status, updated_at=utc_now())
            if apply:
                self._orders[order_id] = updated
                self._ledger.record(kind, request_id, order_id=order_id, status=status)
            return updated


def _line(product: Product, quantity: int) -> OrderLine:
    return OrderLine(product.id, product.sku, quantity, product.price_cents)

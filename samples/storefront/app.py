"""The storefront sample: a JSON REST API with bearer auth and ``Idempotency-Key`` support.

Routes (``/admin/*`` is an unauthenticated test hook; never expose it outside tests):

- ``GET /api/products?category=&page=&per_page=``, ``GET /api/products/{product_id}``
- ``GET /api/orders?status=&page=&per_page=``, ``GET /api/orders/{order_id}``
- ``POST /api/orders`` (``Idempotency-Key`` honoured), ``PATCH /api/orders/{order_id}``
  (``{"status": ...}``), ``DELETE /api/orders/{order_id}`` (cancel)
- ``GET /`` (a sign-in page), ``POST /api/login`` (``{username, password}`` ->
  ``{access_token, refresh_token, expires_in}``), ``POST /api/token/refresh``
  (``{refresh_token}`` -> a new pair; the old refresh token is used up)
- ``GET /admin/ledger``, ``POST /admin/reset``, ``GET|POST /admin/faults``,
  ``POST /admin/expire-tokens`` (every access token ends, as when they time out)

Every other ``/api/*`` call needs ``Authorization: Bearer <token>``: the fixed ``token``
the server was started with, or an access token from a login (alice / wonderland) that
has not expired. Products carry the ERP
``sku`` that holds their stock, so a workflow can sync a paid order to the ERP.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from typing import Any

from samples._faults import FaultInjector, Faults
from samples._http import HttpError, Request, Response, Router, html_response, json_response
from samples._server import SampleServer
from samples.storefront.auth import SIGN_IN_PAGE, TokenIssuer
from samples.storefront.store import (
    ORDER_STATUSES,
    WRITE_KINDS,
    IdempotencyMismatch,
    InvalidTransition,
    Order,
    StorefrontStore,
)

__all__ = ["DEFAULT_TOKEN", "WRITE_KINDS", "Faults", "StorefrontServer", "make_server"]

DEFAULT_TOKEN = "demo-token"
_OPEN = frozenset({"/api/login", "/api/token/refresh"})


class StorefrontServer(SampleServer):
    """The storefront app. See the module docstring for routes."""

    def __init__(
        self,
        port: int = 0,
        *,
        token: str = DEFAULT_TOKEN,
        seed: int = 0,
        faults: Faults | None = None,
        access_ttl_s: int = 900,
    ) -> None:
        """Create (but do not start) the storefront.

        Args:
            port: Port on 127.0.0.1 (``0`` = ephemeral).
            token: The bearer token every ``/api/*`` call must present.
            seed: Seed for the data and the probabilistic faults.
            faults: Fault settings at start and after ``POST /admin/reset``; the write
                kinds are ``order``, ``order_update`` and ``order_cancel``.
            access_ttl_s: Lifetime of an access token from ``POST /api/login``.
        """
        super().__init__(port)
        if not token:
            raise ValueError("token must be non-empty")
        self.token = token
        self.seed = seed
        self.initial_faults = faults or Faults()
        self.store = StorefrontStore(seed)
        self.injector = FaultInjector(self.initial_faults, seed)
        self.tokens = TokenIssuer(access_ttl_s=access_ttl_s)
        self.router = Router()
        add = self.router.add
        add("GET", "/", lambda _: html_response(SIGN_IN_PAGE))
        add("GET", "/favicon.ico", lambda _: Response(204))
        add("POST", "/api/login", self._login)
        add("POST", "/api/token/refresh", self._refresh)
        add("POST", "/admin/expire-tokens", self._admin_expire_tokens)
        add("GET", "/api/products", self._list_products)
        add("GET", "/api/products/{product_id}", self._get_product)
        add("GET", "/api/orders", self._list_orders)
        add("POST", "/api/orders", self._create_order)
        add("GET", "/api/orders/{order_id}", self._get_order)
        add("PATCH", "/api/orders/{order_id}", self._update_order)
        add("DELETE", "/api/orders/{order_id}", self._cancel_order)
        add("GET", "/admin/ledger", self._admin_ledger)
        add("POST", "/admin/reset", self._admin_reset)
        add("GET", "/admin/faults", lambda _: json_response(self.faults.to_json()))
        add("POST", "/admin/faults", self._admin_set_faults)

    @property
    def faults(self) -> Faults:
        """The fault settings now in force."""
        return self.injector.faults

    def reset(self) -> None:
        """Re-seed the data and restore the initial faults."""
        self.store.reset()
        self.injector.reset(self.initial_faults)

    def handle(self, request: Request) -> Response:
        """Apply faults and bearer auth to ``/api/*``, then route."""
        if request.path.startswith("/api/") and request.path not in _OPEN:
            throttled = self.injector.throttle()
            if throttled is not None:
                return throttled
            scheme, _, credential = request.header("authorization").partition(" ")
            credential = credential.strip()
            if scheme.lower() != "bearer" or not (
                secrets.compare_digest(credential.encode(), self.token.encode())
                or self.tokens.valid(credential)
            ):
                return json_response(
                    {"error": "unauthorized", "detail": "missing or invalid bearer token"},
                    401,
                    headers=(("WWW-Authenticate", 'Bearer realm="storefront"'),),
                )
        return self.router.dispatch(request)

    def _commit(self, kind: str, commit: Callable[[], Response]) -> Response:
        outcome = self.injector.decide(kind)
        if not outcome.commits:
            return FaultInjector.refusal()
        return FaultInjector.after_commit(outcome, commit())

    # -- sign-in -------------------------------------------------------------------------

    def _login(self, request: Request) -> Response:
        body = request.json_object()
        user, password = body.get("username"), body.get("password")
        grant = (
            self.tokens.login(user, password)
            if isinstance(user, str) and isinstance(password, str)
            else None
        )
        if grant is None:
            return json_response({"error": "invalid_grant", "detail": "bad credentials"}, 401)
        return json_response(grant.to_json())

    def _refresh(self, request: Request) -> Response:
        token = request.json_object().get("refresh_token")
        grant = self.tokens.refresh(token) if isinstance(token, str) else None
        if grant is None:
            return json_response({"error": "invalid_grant", "detail": "refresh token"}, 401)
        return json_response(grant.to_json())

    def _admin_expire_tokens(self, request: Request) -> Response:
        return json_response({"expired": self.tokens.expire_access()})

    # -- products --------------------------------------------------------------------------

    def _list_products(self, request: Request) -> Response:
        page = request.int_arg("page", 1)
        per_page = request.int_arg("per_page", 10, high=100)
        products, total = self.store.products(request.arg("category"), page, per_page)
        return _page([p.to_json() for p in products], page, per_page, total)

    def _get_product(self, request: Request) -> Response:
        product = self.store.product(request.params["product_id"])
        if product is None:
            raise HttpError.not_found("no such product")
        return json_response(product.to_json())

    # -- orders ----------------------------------------------------------------------------

    def _order(self, request: Request) -> Order:
        order = self.store.order(request.params["order_id"])
        if order is None:
            raise HttpError.not_found("no such order")
        return order

    def _list_orders(self, request: Request) -> Response:
        status = request.arg("status")
        if status and status not in ORDER_STATUSES:
            raise HttpError.validation(
                f"status must be one of {', '.join(ORDER_STATUSES)}", "status"
            )
        page = request.int_arg("page", 1)
        per_page = request.int_arg("per_page", 10, high=100)
        orders, total = self.store.orders(status, page, per_page)
        return _page([o.to_json() for o in orders], page, per_page, total)

    def _get_order(self, request: Request) -> Response:
        return json_response(self._order(request).to_json())

    def _create_order(self, request: Request) -> Response:
        body = request.json_object()
        lines = self._validate_lines(body.get("items"))
        email = body.get("customer_email")
        if not isinstance(email, str) or "@" not in email:
            raise HttpError.validation("customer_email must be an e-mail address", "customer_email")
        key = request.header("idempotency-key") or None
        fingerprint = hashlib.sha256(
            json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()
        if key is not None:
            try:
                replayed = self.store.replay(key, fingerprint)
            except IdempotencyMismatch:
                raise _key_reused() from None
            if replayed is not None:
                return _created(replayed, replayed=True)

        def commit() -> Response:
            try:
                document, was_replay = self.store.create_order(
                    lines,
                    email,
                    request_id=request.header("x-request-id"),
                    idempotency_key=key,
                    fingerprint=fingerprint,
                )
            except IdempotencyMismatch:
                raise _key_reused() from None
            return _created(document, replayed=was_replay)

        return self._commit("order", commit)

    def _validate_lines(self, items: object) -> list[tuple[str, int]]:
        if not isinstance(items, list) or not items:
            raise HttpError.validation("items must be a non-empty list", "items")
        lines: list[tuple[str, int]] = []
        for index, line in enumerate(items):
            if not isinstance(line, dict):
                raise HttpError.validation("each item must be an object", f"items[{index}]")
            product_id, quantity = line.get("product_id"), line.get("quantity")
            if not isinstance(product_id, str) or self.store.product(product_id) is None:
                raise HttpError.validation(
                    f"unknown product {product_id!r}", f"items[{index}].product_id"
                )
            if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
                raise HttpError.validation(
                    "quantity must be a positive integer", f"items[{index}].quantity"
                )
            lines.append((product_id, quantity))
        return lines

    def _update_order(self, request: Request) -> Response:
        order = self._order(request)
        status = request.json_object().get("status")
        if not isinstance(status, str) or status not in ORDER_STATUSES:
            raise HttpError.validation(
                f"status must be one of {', '.join(ORDER_STATUSES)}", "status"
            )
        return self._transition(request, order, status, "order_update")

    def _cancel_order(self, request: Request) -> Response:
        return self._transition(request, self._order(request), "cancelled", "order_cancel")

    def _transition(self, request: Request, order: Order, status: str, kind: str) -> Response:
        request_id = request.header("x-request-id")

        def apply(really: bool) -> Response:
            try:
                updated = self.store.set_status(
                    order.id, status, request_id=request_id, kind=kind, apply=really
                )
            except InvalidTransition as exc:
                raise HttpError(409, {"error": "invalid_transition", "detail": str(exc)}) from exc
            return json_response(updated.to_json())

        if order.status == status:
            return json_response(order.to_json())
        if self.injector.lies(kind):
            return apply(False)
        return self._commit(kind, lambda: apply(True))

    # -- admin (test hooks) ----------------------------------------------------------------

    def _admin_ledger(self, request: Request) -> Response:
        snapshot = self.store.ledger_snapshot()
        snapshot["injected"] = self.injector.stats()
        return json_response(snapshot)

    def _admin_reset(self, request: Request) -> Response:
        self.reset()
        return json_response({"ok": True})

    def _admin_set_faults(self, request: Request) -> Response:
        try:
            faults = self.faults.merged(request.json_object())
        except ValueError as exc:
            raise HttpError(422, {"error": "validation", "detail": str(exc)}) from exc
        self.injector.configure(faults)
        return json_response(faults.to_json())


def make_server(
    port: int = 0, *, token: str = DEFAULT_TOKEN, seed: int = 0, faults: Faults | None = None
) -> StorefrontServer:
    """Create a storefront server (call ``start()`` or use it as a context manager).

    Args:
        port: Port on 127.0.0.1 (``0`` = ephemeral).
        token: Bearer token required on ``/api/*``.
        seed: Seed for the data and the probabilistic faults.
        faults: Initial fault settings (all off when ``None``).

    Returns:
        The unstarted server.

    Raises:
        ValueError: If ``token`` is empty.
    """
    return StorefrontServer(port, token=token, seed=seed, faults=faults)


def _page(data: list[dict[str, Any]], page: int, per_page: int, total: int) -> Response:
    return json_response(
        {
            "data": data,
            "page": page,
            "per_page": per_page,
            "total": total,
            "has_more": page * per_page < total,
        }
    )


def _created(document: dict[str, Any], *, replayed: bool) -> Response:
    headers = [("Location", f"/api/orders/{document['id']}")]
    if replayed:
        headers.append(("Idempotent-Replayed", "true"))
    return json_response(document, 201, headers=tuple(headers))


def _key_reused() -> HttpError:
    return HttpError(
        422,
        {
            "error": "idempotency_key_reused",
            "detail": "Idempotency-Key was already used with a different request body",
        },
    )


def _bad_status() -> HttpError:
    return HttpError.validation(f"status must be one of {', '.join(ORDER_STATUSES)}", "status")

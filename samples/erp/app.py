"""The legacy ERP sample: cookie-session HTML UI, CSRF-guarded JSON API and fault knobs.

Routes (``/admin/*`` is an unauthenticated test hook; never expose it outside tests):

- ``GET /login``, ``POST /login`` (form), ``POST /logout``, ``GET /inventory`` (HTML UI)
- ``GET /api/items?page=&per_page=&q=``, ``GET /api/items/{sku}``
- ``PUT /api/items/{sku}/stock``, ``GET|PUT /api/items/{sku}/notes``,
  ``GET|POST /api/items/{sku}/attachments`` (multipart)
- ``GET|POST /api/orders`` (``?page=&per_page=&client_ref=``), ``GET /api/orders/{order_id}``
- ``GET /api/ledger.xml``, ``POST /legacy/bin_update.do`` (form)
- ``GET /admin/ledger``, ``POST /admin/reset``, ``GET|POST /admin/faults``,
  ``POST /admin/expire-sessions`` (every login ends, as when sessions time out)

Every ``/api/*`` and ``/legacy/*`` call needs the ``erp_session`` cookie; writes also need
the ``X-XSRF-TOKEN`` header equal to the ``XSRF-TOKEN`` cookie. The ERP has no idempotency
keys: clients reconcile an ambiguous order by listing ``/api/orders?client_ref=...``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree

from samples._faults import FaultInjector, Faults
from samples._http import (
    HttpError,
    Request,
    Response,
    Router,
    html_response,
    json_response,
    redirect,
    text_response,
)
from samples._server import SampleServer
from samples.erp.pages import render_inventory, render_login
from samples.erp.store import WRITE_KINDS, ErpStore, Item

__all__ = ["USERS", "WRITE_KINDS", "ErpServer", "Faults", "make_server"]

USERS = {"alice": "wonderland", "bob": "builder"}
"""Demo accounts: username to password."""

SESSION_COOKIE = "erp_session"
CSRF_COOKIE = "XSRF-TOKEN"
CSRF_HEADER = "X-XSRF-TOKEN"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ErpServer(SampleServer):
    """The legacy ERP app. See the module docstring for routes."""

    def __init__(self, port: int = 0, *, seed: int = 0, faults: Faults | None = None) -> None:
        """Create (but do not start) the ERP.

        Args:
            port: Port on 127.0.0.1 (``0`` = ephemeral).
            seed: Seed for the data and for the probabilistic faults.
            faults: Fault settings at start and after ``POST /admin/reset``.
        """
        super().__init__(port)
        self.seed = seed
        self.initial_faults = faults or Faults()
        self.store = ErpStore(seed)
        self.injector = FaultInjector(self.initial_faults, seed)
        self.router = Router()
        self._add_routes()

    @property
    def faults(self) -> Faults:
        """The fault settings now in force."""
        return self.injector.faults

    def reset(self) -> None:
        """Re-seed the data, log everyone out and restore the initial faults."""
        self.store.reset()
        self.store.clear_sessions()
        self.injector.reset(self.initial_faults)

    def _add_routes(self) -> None:
        add = self.router.add
        add("GET", "/", self._root)
        add("GET", "/favicon.ico", lambda _: Response(204))
        add("GET", "/login", lambda _: html_response(render_login()))
        add("POST", "/login", self._login)
        add("POST", "/logout", self._logout)
        add("GET", "/inventory", self._inventory)
        add("GET", "/api/items", self._list_items)
        add("GET", "/api/items/{sku}", self._get_item)
        add("PUT", "/api/items/{sku}/stock", self._update_stock)
        add("GET", "/api/items/{sku}/notes", self._get_notes)
        add("PUT", "/api/items/{sku}/notes", self._save_notes)
        add("GET", "/api/items/{sku}/attachments", self._list_attachments)
        add("POST", "/api/items/{sku}/attachments", self._upload)
        add("GET", "/api/orders", self._list_orders)
        add("POST", "/api/orders", self._create_order)
        add("GET", "/api/orders/{order_id}", self._get_order)
        add("GET", "/api/ledger.xml", self._ledger_xml)
        add("POST", "/legacy/bin_update.do", self._legacy_bin_update)
        add("GET", "/admin/ledger", self._admin_ledger)
        add("POST", "/admin/reset", self._admin_reset)
        add("GET", "/admin/faults", lambda _: json_response(self.faults.to_json()))
        add("POST", "/admin/faults", self._admin_set_faults)
        add("POST", "/admin/expire-sessions", self._admin_expire_sessions)

    # -- middleware ------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Apply faults and auth to ``/api/*`` and ``/legacy/*``, then route."""
        guarded = request.path.startswith(("/api/", "/legacy/"))
        return (self._guard(request) if guarded else None) or self.router.dispatch(request)

    def _guard(self, request: Request) -> Response | None:
        throttled = self.injector.throttle()
        if throttled is not None:
            return throttled
        legacy = request.path.startswith("/legacy/")
        session = self.store.session(request.cookies.get(SESSION_COOKIE, ""))
        if session is None:
            if legacy:
                return text_response("ERROR unauthenticated", 401, "text/html")
            return json_response({"error": "unauthenticated"}, 401)
        if request.method in _SAFE_METHODS:
            return None
        sent = request.header(CSRF_HEADER)
        if not sent and legacy and request.media_type == "application/x-www-form-urlencoded":
            sent = request.form().get("_csrf", "")
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not (sent and cookie and secrets.compare_digest(sent, cookie)):
            if legacy:
                return text_response("ERROR csrf", 403, "text/html")
            return json_response({"error": "csrf"}, 403)
        if not secrets.compare_digest(sent, session.csrf):
            return json_response({"error": "csrf"}, 403)
        return None

    def _commit(self, kind: str, commit: Callable[[], Response]) -> Response:
        """Run ``commit`` unless a fault refuses it, then let faults replace the answer."""
        outcome = self.injector.decide(kind)
        if not outcome.commits:
            return FaultInjector.refusal()
        return FaultInjector.after_commit(outcome, commit())

    # -- HTML ------------------------------------------------------------------------------

    def _root(self, request: Request) -> Response:
        signed_in = self.store.session(request.cookies.get(SESSION_COOKIE, "")) is not None
        return redirect("/inventory" if signed_in else "/login")

    def _login(self, request: Request) -> Response:
        form = request.form()
        user = form.get("username", "")
        if USERS.get(user) is None or not secrets.compare_digest(
            USERS[user], form.get("password", "")
        ):
            return html_response(render_login("Invalid username or password"), 401)
        session = self.store.open_session(user)
        return redirect(
            "/inventory",
            headers=(
                ("Set-Cookie", f"{SESSION_COOKIE}={session.token}; Path=/; HttpOnly; SameSite=Lax"),
                ("Set-Cookie", f"{CSRF_COOKIE}={session.csrf}; Path=/; SameSite=Lax"),
            ),
        )

    def _logout(self, request: Request) -> Response:
        self.store.close_session(request.cookies.get(SESSION_COOKIE, ""))
        expired = "=; Path=/; Max-Age=0"
        return redirect(
            "/login",
            headers=(
                ("Set-Cookie", SESSION_COOKIE + expired),
                ("Set-Cookie", CSRF_COOKIE + expired),
            ),
        )

    def _inventory(self, request: Request) -> Response:
        session = self.store.session(request.cookies.get(SESSION_COOKIE, ""))
        if session is None:
            return redirect("/login")
        return html_response(render_inventory(session.user))

    # -- items -----------------------------------------------------------------------------

    def _item(self, sku: str) -> Item:
        item = self.store.item(sku)
        if item is None:
            raise HttpError.not_found(f"no item with sku {sku!r}")
        return item

    def _list_items(self, request: Request) -> Response:
        page = request.int_arg("page", 1)
        per_page = request.int_arg("per_page", 20, high=100)
        items, total = self.store.items(request.arg("q"), page, per_page)
        drift = self.faults.drift
        return json_response(
            {
                "items": [item.to_json(drift=drift) for item in items],
                "page": page,
                "per_page": per_page,
                "total": total,
            }
        )

    def _get_item(self, request: Request) -> Response:
        return json_response(self._item(request.params["sku"]).to_json(drift=self.faults.drift))

    def _update_stock(self, request: Request) -> Response:
        sku = request.params["sku"]
        self._item(sku)
        body = request.json_object()
        drift = self.faults.drift
        quantity = _int_field(body, "quantity", low=0)
        _optional_str(body, "reason")
        warehouse = _optional_str(body, "warehouse")
        region_id = _optional_str(body, "region_id")
        if drift and not region_id:
            raise HttpError.validation("Region_ID is required", "region_id")
        if not drift:
            region_id = None
        if self.injector.lies("stock"):
            fake = self.store.set_stock(
                sku, quantity, warehouse=warehouse, region_id=region_id, request_id="", apply=False
            )
            return json_response(fake.to_json(drift=drift))
        request_id = request.header("x-request-id")

        def commit() -> Response:
            item = self.store.set_stock(
                sku, quantity, warehouse=warehouse, region_id=region_id, request_id=request_id
            )
            return json_response(item.to_json(drift=drift))

        return self._commit("stock", commit)

    def _get_notes(self, request: Request) -> Response:
        sku = self._item(request.params["sku"]).sku
        return json_response({"sku": sku, "bytes": self.store.notes_size(sku)})

    def _save_notes(self, request: Request) -> Response:
        sku = self._item(request.params["sku"]).sku
        request.json_object()
        request_id = request.header("x-request-id")

        def commit() -> Response:
            size = self.store.save_notes(sku, request.body, request_id)
            return json_response({"sku": sku, "bytes": size})

        return self._commit("notes", commit)

    def _list_attachments(self, request: Request) -> Response:
        sku = self._item(request.params["sku"]).sku
        return json_response({"attachments": [a.to_json() for a in self.store.attachments(sku)]})

    def _upload(self, request: Request) -> Response:
        sku = self._item(request.params["sku"]).sku
        parts = request.multipart()
        upload = parts.get("file")
        if upload is None or upload.filename is None:
            raise HttpError.validation("a file part named 'file' is required", "file")
        comment = parts["comment"].text() if "comment" in parts else ""
        request_id = request.header("x-request-id")

        def commit() -> Response:
            attachment = self.store.add_attachment(
                sku,
                filename=upload.filename or "",
                content_type=upload.content_type,
                data=upload.data,
                comment=comment,
                request_id=request_id,
            )
            return json_response(attachment.to_json(), 201)

        return self._commit("attachment", commit)

    # -- orders ----------------------------------------------------------------------------

    def _list_orders(self, request: Request) -> Response:
        page = request.int_arg("page", 1)
        per_page = request.int_arg("per_page", 20, high=100)
        client_ref = request.query["client_ref"][0] if "client_ref" in request.query else None
        orders, total = self.store.orders(client_ref, page, per_page)
        return json_response(
            {
                "orders": [order.to_json() for order in orders],
                "page": page,
                "per_page": per_page,
                "total": total,
            }
        )

    def _get_order(self, request: Request) -> Response:
        order = self.store.order(request.params["order_id"])
        if order is None:
            raise HttpError.not_found(f"no order {request.params['order_id']!r}")
        return json_response(order.to_json())

    def _create_order(self, request: Request) -> Response:
        body = request.json_object()
        sku = _optional_str(body, "sku") or ""
        if self.store.item(sku) is None:
            raise HttpError.validation(f"unknown sku {sku!r}", "sku")
        quantity = _int_field(body, "quantity", low=1)
        customer = _optional_str(body, "customer")
        if not customer:
            raise HttpError.validation("customer is required", "customer")
        client_ref = _optional_str(body, "client_ref")
        request_id = request.header("x-request-id")

        def commit() -> Response:
            order = self.store.create_order(sku, quantity, customer, client_ref, request_id)
            location = ("Location", f"/api/orders/{order.id}")
            return json_response(order.to_json(), 201, headers=(location,))

        return self._commit("order", commit)

    # -- legacy and XML --------------------------------------------------------------------

    def _legacy_bin_update(self, request: Request) -> Response:
        form = request.form()
        sku, bin_code = form.get("sku", "").strip(), form.get("bin", "").strip()
        if self.store.item(sku) is None:
            return text_response("ERROR unknown sku", 404, "text/html")
        if not bin_code:
            return text_response("ERROR bin required", 422, "text/html")
        request_id = request.header("x-request-id")

        def commit() -> Response:
            self.store.set_bin(sku, bin_code, request_id)
            return html_response('<span class="legacy-ok">OK</span>')

        return self._commit("legacy", commit)

    def _ledger_xml(self, request: Request) -> Response:
        limit = request.int_arg("limit", 20, low=0, high=1000)
        snapshot = self.store.ledger_snapshot()
        root = ElementTree.Element("ledger", {"total": str(snapshot["total"])})
        for entry in snapshot["writes"][-limit:] if limit else []:
            attributes = {key: str(value) for key, value in entry.items() if value is not None}
            ElementTree.SubElement(root, "entry", attributes)
        xml = ElementTree.tostring(root, encoding="unicode")
        return text_response(
            '<?xml version="1.0" encoding="UTF-8"?>\n' + xml + "\n", content_type="application/xml"
        )

    # -- admin (test hooks) ----------------------------------------------------------------

    def _admin_ledger(self, request: Request) -> Response:
        snapshot = self.store.ledger_snapshot()
        snapshot["injected"] = self.injector.stats()
        return json_response(snapshot)

    def _admin_reset(self, request: Request) -> Response:
        self.store.reset()
        self.injector.reset(self.initial_faults)
        return json_response({"ok": True})

    def _admin_expire_sessions(self, request: Request) -> Response:
        self.store.clear_sessions()
        return json_response({"ok": True})

    def _admin_set_faults(self, request: Request) -> Response:
        try:
            faults = self.faults.merged(request.json_object())
        except ValueError as exc:
            raise HttpError(422, {"error": "validation", "detail": str(exc)}) from exc
        self.injector.configure(faults)
        return json_response(faults.to_json())


def make_server(port: int = 0, *, seed: int = 0, faults: Faults | None = None) -> ErpServer:
    """Create an ERP server (call ``start()`` or use it as a context manager).

    Args:
        port: Port on 127.0.0.1 (``0`` = ephemeral).
        seed: Seed for the data and the probabilistic faults.
        faults: Initial fault settings (all off when ``None``).

    Returns:
        The unstarted server.
    """
    return ErpServer(port, seed=seed, faults=faults)


def _int_field(body: dict[str, Any], name: str, *, low: int) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise HttpError.validation(f"{name} must be an integer", name)
    if value < low:
        raise HttpError.validation(f"{name} must be >= {low}", name)
    return value


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise HttpError.validation(f"{name} must be a string", name)
    return value

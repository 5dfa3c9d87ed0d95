"""A stateful fake API for runtime unit tests (plugged into httpx.MockTransport) and its cards."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx

from toolgen.cards import Binding, Idempotency, Provenance, Reconcile, ToolCard, Verification

ORIGIN = "https://api.example.test"
TOKEN = "s3cr3t-bearer-value-123"


@dataclass
class FakeApi:
    """Items, orders and payments in dicts; ``faults`` queues per ``METHOD /path-prefix``.

    A fault is one of: ``("status", code, headers)`` answered before any change,
    ``("commit_then", code)`` apply then answer ``code``, ``("commit_then_drop",)`` apply then
    raise ``ReadTimeout``, ``("drop",)`` raise ``ReadTimeout`` without applying,
    ``("connect_error",)``, ``("lie",)`` answer success without applying.
    """

    items: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            "A-1": {"sku": "A-1", "quantity": 5, "name": "Drill"},
            "B-2": {"sku": "B-2", "quantity": 9, "name": "Saw"},
        }
    )
    orders: list[dict[str, Any]] = field(default_factory=list)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: dict[str, deque[tuple[Any, ...]]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    extra_field: bool = False
    require_region: bool = False

    def fail(self, route: str, *faults: tuple[Any, ...]) -> None:
        """Queue faults for requests whose ``METHOD /path`` starts with ``route``."""
        self.faults.setdefault(route, deque()).extend(faults)

    def transport(self) -> httpx.MockTransport:
        """The transport to plug into ``httpx.Client``."""
        return httpx.MockTransport(self.handle)

    def client(self, **kwargs: Any) -> httpx.Client:
        """A client on the fake."""
        return httpx.Client(transport=self.transport(), **kwargs)

    def _fault(self, request: httpx.Request) -> tuple[Any, ...] | None:
        line = f"{request.method} {request.url.path}"
        for route, queue in self.faults.items():
            if line.startswith(route) and queue:
                return queue.popleft()
        return None

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Route one request."""
        self.requests.append(request)
        if request.url.host != "api.example.test":
            return httpx.Response(200, json={"leaked": True})
        fault = self._fault(request)
        if fault is not None:
            if fault[0] == "status":
                return httpx.Response(
                    fault[1], headers=fault[2] if len(fault) > 2 else {}, json={"error": "fault"}
                )
            if fault[0] == "drop":
                raise httpx.ReadTimeout("timed out", request=request)
            if fault[0] == "connect_error":
                raise httpx.ConnectError("refused", request=request)
        response = self._route(request, fault)
        if fault is not None and fault[0] == "commit_then":
            return httpx.Response(fault[1], json={"error": "gateway"})
        if fault is not None and fault[0] == "commit_then_drop":
            raise httpx.ReadTimeout("timed out", request=request)
        return response

    def _route(self, request: httpx.Request, fault: tuple[Any, ...] | None) -> httpx.Response:
        path, method = request.url.path, request.method
        lie = fault is not None and fault[0] == "lie"
        if path == "/login" and method == "POST":
            return httpx.Response(
                303,
                headers=[
                    ("location", "/home"),
                    ("set-cookie", "sid=sess-cookie-value-456; Path=/"),
                    ("set-cookie", "XSRF-TOKEN=xsrf-token-value-789; Path=/"),
                ],
            )
        if path == "/moved":
            return httpx.Response(302, headers={"location": "https://evil.example.net/steal"})
        if path == "/old-items":
            return httpx.Response(301, headers={"location": "/items/A-1"})
        if path.startswith("/items/"):
            sku = path.split("/")[2]
            if sku not in self.items:
                return httpx.Response(404, json={"error": "not_found"})
            if method == "PUT":
                if request.headers.get("x-xsrf-token") not in (None, "xsrf-token-value-789"):
                    return httpx.Response(403, json={"error": "csrf"})
                body = json.loads(request.content)
                if self.require_region and "region_id" not in body:
                    return httpx.Response(
                        422,
                        json={
                            "error": "validation",
                            "field": "region_id",
                            "detail": "Region_ID is required",
                        },
                    )
                if not isinstance(body.get("quantity"), int):
                    return httpx.Response(400, json={"error": "bad quantity"})
                item = {**self.items[sku], "quantity": body["quantity"]}
                if not lie:
                    self.items[sku] = item
                return httpx.Response(200, json=item)
            item = dict(self.items[sku])
            if self.extra_field:
                item["region_id"] = "r-1"
                del item["name"]
            return httpx.Response(200, json=item)
        if path == "/orders" and method == "POST":
            body = json.loads(request.content)
            order = {"id": f"O-{len(self.orders) + 1}", **body}
            self.orders.append(order)
            return httpx.Response(201, json=order)
        if path == "/orders" and method == "GET":
            ref = request.url.params.get("client_ref")
            hits = [o for o in self.orders if ref is None or o.get("client_ref") == ref]
            return httpx.Response(200, json={"orders": hits, "total": len(hits)})
        if path.startswith("/orders/"):
            oid = path.split("/")[2]
            for o in self.orders:
                if o["id"] == oid:
                    return httpx.Response(200, json=o)
            return httpx.Response(404, json={"error": "not_found"})
        if path == "/payments" and method == "POST":
            key = request.headers.get("idempotency-key", "")
            if key and key in self.payments:
                return httpx.Response(201, json=self.payments[key])
            payment = {"id": f"P-{len(self.payments) + 1}", **json.loads(request.content)}
            self.payments[key or payment["id"]] = payment
            return httpx.Response(201, json=payment)
        if path == "/notes" and method == "POST":
            return httpx.Response(201, json={"ok": True})
        return httpx.Response(404, json={"error": "no route"})

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        """Requests seen for ``method path``."""
        return [r for r in self.requests if r.method == method and r.url.path == path]


def card(name: str, method: str, path: str, **kw: Any) -> ToolCard:
    """A hand-written card with sensible defaults."""
    base: dict[str, Any] = {
        "name": name,
        "description": f"{method} {path}",
        "method": method,
        "origin": ORIGIN,
        "path": path,
        "safety": "read_only" if method == "GET" else "write",
        "input_schema": {"type": "object", "properties": {}, "additionalProperties": False},
        "output_schema": {},
        "bindings": [],
        "responses": {"200": "seen"},
        "confidence": 1.0,
        "reasons": [],
        "provenance": Provenance(sources={}, entries=[], samples=1),
        "auth": ["bearer"],
    }
    base.update(kw)
    return ToolCard(**base)


def _obj(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }


ITEM_SCHEMA = {
    "type": "object",
    "properties": {
        "sku": {"type": "string"},
        "quantity": {"type": "integer"},
        "name": {"type": "string"},
    },
    "required": ["name", "quantity", "sku"],
}


def cards() -> list[ToolCard]:
    """Cards for every route of :class:`FakeApi`."""
    sku = {"sku": {"type": "string"}}
    return [
        card(
            "get_item",
            "GET",
            "/items/{sku}",
            input_schema=_obj(sku, ["sku"]),
            bindings=[Binding(arg="sku", location="path", name="sku")],
            output_schema=ITEM_SCHEMA,
        ),
        card("old_item", "GET", "/old-items", input_schema=_obj({}, [])),
        card("moved", "GET", "/moved", input_schema=_obj({}, [])),
        card(
            "update_stock",
            "PUT",
            "/items/{sku}",
            safety="idempotent",
            input_schema=_obj(
                {**sku, "quantity": {"type": "integer", "minimum": 0}}, ["quantity", "sku"]
            ),
            bindings=[
                Binding(arg="sku", location="path", name="sku"),
                Binding(arg="quantity", location="body", name="quantity"),
            ],
            body_media="application/json",
            output_schema=ITEM_SCHEMA,
            csrf={"cookie": "XSRF-TOKEN", "header": "X-XSRF-TOKEN"},
            verification=Verification(
                tool="get_item", args={"sku": "arg:sku"}, compare={"quantity": "/quantity"}
            ),
        ),
        card(
            "create_order",
            "POST",
            "/orders",
            input_schema=_obj(
                {**sku, "quantity": {"type": "integer"}, "client_ref": {"type": "string"}},
                ["quantity", "sku"],
            ),
            bindings=[
                Binding(arg=a, location="body", name=a) for a in ("sku", "quantity", "client_ref")
            ],
            body_media="application/json",
            idempotency=Idempotency(client_ids=["client_ref"]),
            reconcile=Reconcile(
                tool="list_orders",
                args={"client_ref": "arg:client_ref"},
                match={"client_ref": "client_ref", "sku": "sku"},
                items_pointer="/orders",
            ),
            verification=Verification(
                tool="get_order",
                args={"order_id": "response:/id"},
                compare={"quantity": "/quantity", "sku": "/sku"},
            ),
        ),
        card(
            "list_orders",
            "GET",
            "/orders",
            input_schema=_obj({"client_ref": {"type": "string"}}, []),
            bindings=[Binding(arg="client_ref", location="query", name="client_ref")],
        ),
        card(
            "get_order",
            "GET",
            "/orders/{order_id}",
            input_schema=_obj({"order_id": {"type": "string"}}, ["order_id"]),
            bindings=[Binding(arg="order_id", location="path", name="order_id")],
        ),
        card(
            "pay",
            "POST",
            "/payments",
            input_schema=_obj({"amount": {"type": "integer"}}, ["amount"]),
            bindings=[Binding(arg="amount", location="body", name="amount")],
            body_media="application/json",
            idempotency=Idempotency(header="Idempotency-Key", evidence="seen"),
        ),
        card(
            "add_note",
            "POST",
            "/notes",
            input_schema=_obj({"text": {"type": "string"}}, ["text"]),
            bindings=[Binding(arg="text", location="body", name="text")],
            body_media="application/json",
        ),
        card(
            "login",
            "POST",
            "/login",
            auth=[],
            input_schema=_obj(
                {"username": {"type": "string"}, "password": {"type": "string"}},
                ["password", "username"],
            ),
            bindings=[Binding(arg=a, location="body", name=a) for a in ("username", "password")],
            body_media="application/x-www-form-urlencoded",
        ),
    ]


class FakeClock:
    """A clock that only moves when slept on; records every sleep."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

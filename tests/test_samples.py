"""Integration tests for the sample apps: real servers on 127.0.0.1, ephemeral ports."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest

from samples.erp.app import ErpServer, Faults
from samples.erp.app import make_server as make_erp
from samples.storefront.app import StorefrontServer
from samples.storefront.app import make_server as make_storefront

pytestmark = pytest.mark.integration

TLS = ssl.create_default_context()
REPO_ROOT = Path(__file__).resolve().parents[1]
ITEM_KEYS = ["sku", "name", "price", "quantity", "location", "bin", "warehouse", "updated_at"]
NO_FAULTS = {
    "commit_then_504": 0.0,
    "commit_then_drop": 0.0,
    "fail_before_commit": 0.0,
    "rate_limit_every": 0,
    "slow_ms": 0,
    "drift": False,
    "lie_on_write": False,
    "faults_apply_to": ["stock"],
}


def new_client(base_url: str, headers: dict[str, str] | None = None) -> httpx.Client:
    """An httpx client reusing one SSL context (building one per client costs ~60 ms)."""
    return httpx.Client(base_url=base_url, headers=headers, verify=TLS, timeout=5)


def request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request from a throwaway client without cookies."""
    with httpx.Client(verify=TLS, timeout=5) as client:
        return client.request(method, url, **kwargs)


def login(server: ErpServer, user: str = "alice", password: str = "wonderland") -> httpx.Client:
    """Sign in through the HTML form and return a client that sends the CSRF header."""
    client = new_client(server.url)
    response = client.post("/login", data={"username": user, "password": password})
    assert response.status_code == 303
    client.headers["X-XSRF-TOKEN"] = client.cookies["XSRF-TOKEN"]
    return client


def admin(server: ErpServer | StorefrontServer, path: str = "/admin/ledger") -> Any:
    """GET an unauthenticated admin hook and decode it."""
    response = request("GET", server.url + path)
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def erp() -> Iterator[ErpServer]:
    """A fresh ERP without faults."""
    with make_erp() as server:
        yield server


@pytest.fixture
def alice(erp: ErpServer) -> Iterator[httpx.Client]:
    """A signed-in ERP client."""
    with signed_in(erp) as client:
        yield client


@pytest.fixture
def shop() -> Iterator[StorefrontServer]:
    """A fresh storefront without faults."""
    with make_storefront() as server:
        yield server


@pytest.fixture
def shopper(shop: StorefrontServer) -> Iterator[httpx.Client]:
    """A storefront client carrying the default bearer token."""
    headers = {"Authorization": "Bearer demo-token"}
    with new_client(shop.url, headers=headers) as client:
        yield client


@contextlib.contextmanager
def signed_in(server: ErpServer) -> Iterator[httpx.Client]:
    """A signed-in ERP client, closed on exit."""
    client = login(server)
    try:
        yield client
    finally:
        client.close()


@contextlib.contextmanager
def erp_with(faults: Faults) -> Iterator[tuple[ErpServer, httpx.Client]]:
    """A running ERP started with ``faults`` and a signed-in client."""
    with make_erp(faults=faults) as server, signed_in(server) as client:
        yield server, client


class TestServerLifecycle:
    """Servers bind 127.0.0.1 on an ephemeral port, reset on start and stop cleanly."""

    def test_url_is_loopback_with_the_bound_port(self, erp: ErpServer) -> None:
        assert erp.url == f"http://127.0.0.1:{erp.port}"
        assert erp.port > 0

    def test_restart_resets_state(self) -> None:
        server = make_erp()
        with server, signed_in(server) as client:
            assert client.put("/api/items/A-1/stock", json={"quantity": 3}).status_code == 200
        assert not server.running
        with pytest.raises(RuntimeError, match="not running"):
            _ = server.url
        with server, signed_in(server) as client:
            assert client.get("/api/items/A-1").json()["quantity"] == 124
            assert admin(server)["total"] == 0

    def test_start_twice_is_refused_and_stop_is_idempotent(self, erp: ErpServer) -> None:
        with pytest.raises(RuntimeError, match="already running"):
            erp.start()
        erp.stop()
        erp.stop()
        assert not erp.running

    def test_request_id_is_echoed_or_generated(self, alice: httpx.Client) -> None:
        mine = alice.get("/api/items/A-1", headers={"X-Request-ID": "trace-42"})
        assert mine.headers["X-Request-ID"] == "trace-42"
        assert re.fullmatch(r"req-\d{6}", alice.get("/api/items/A-1").headers["X-Request-ID"])


class TestErpLogin:
    """The login form sets session and CSRF cookies; the API enforces both."""

    def test_login_page_has_stable_ids(self, erp: ErpServer) -> None:
        html = request("GET", erp.url + "/login").text
        for fragment in ('name="username" id="username"', 'id="password"', 'id="login-btn"'):
            assert fragment in html

    def test_bad_credentials_get_401_page(self, erp: ErpServer) -> None:
        response = request("POST", erp.url + "/login", data={"username": "alice", "password": "x"})
        assert response.status_code == 401
        assert 'id="login-error"' in response.text
        assert "set-cookie" not in response.headers

    def test_login_sets_cookies_and_redirects(self, erp: ErpServer) -> None:
        form = {"username": "bob", "password": "builder"}
        response = request("POST", erp.url + "/login", data=form)
        assert response.status_code == 303
        assert response.headers["Location"] == "/inventory"
        session, csrf = response.headers.get_list("set-cookie")
        assert re.fullmatch(r"erp_session=[0-9a-f]{32}; Path=/; HttpOnly; SameSite=Lax", session)
        assert csrf.startswith("XSRF-TOKEN=") and "HttpOnly" not in csrf

    def test_api_requires_session(self, erp: ErpServer) -> None:
        response = request("GET", erp.url + "/api/items")
        assert (response.status_code, response.json()) == (401, {"error": "unauthenticated"})

    @pytest.mark.parametrize("header", [None, "wrong-token"])
    def test_writes_require_matching_csrf_header(
        self, erp: ErpServer, alice: httpx.Client, header: str | None
    ) -> None:
        alice.headers.pop("X-XSRF-TOKEN")
        if header is not None:
            alice.headers["X-XSRF-TOKEN"] = header
        response = alice.put("/api/items/A-1/stock", json={"quantity": 1})
        assert (response.status_code, response.json()) == (403, {"error": "csrf"})
        assert alice.get("/api/items/A-1").json()["quantity"] == 124
        assert admin(erp)["total"] == 0

    def test_inventory_page_needs_session_and_exposes_control_ids(
        self, erp: ErpServer, alice: httpx.Client
    ) -> None:
        assert request("GET", erp.url + "/inventory").headers["Location"] == "/login"
        html = alice.get("/inventory").text
        ids = re.findall(r'id="([\w-]+)"', html)
        for control in (
            "search",
            "search-btn",
            "qty",
            "save-stock",
            "order-sku",
            "order-qty",
            "create-order",
            "notes",
            "save-notes",
            "attachment",
            "upload",
            "legacy-form",
            "ledger-frag",
            "status",
        ):
            assert control in ids


class TestErpItems:
    """Items are seeded deterministically and can be listed, searched and paginated."""

    def test_first_page(self, alice: httpx.Client) -> None:
        body = alice.get("/api/items").json()
        assert (body["page"], body["per_page"], body["total"]) == (1, 20, 40)
        assert [item["sku"] for item in body["items"][:3]] == ["A-1", "A-2", "A-3"]
        assert list(body["items"][0]) == ITEM_KEYS
        assert body["items"][0]["quantity"] == 124

    def test_second_page_starts_at_c1(self, alice: httpx.Client) -> None:
        body = alice.get("/api/items", params={"page": 2, "per_page": 20}).json()
        assert [item["sku"] for item in body["items"]][:2] == ["C-1", "C-2"]
        assert len(body["items"]) == 20

    def test_search_matches_sku_and_name(self, alice: httpx.Client) -> None:
        by_sku = alice.get("/api/items", params={"q": "b-1"}).json()
        assert [item["sku"] for item in by_sku["items"]] == ["B-1", "B-10"]
        name = alice.get("/api/items/A-1").json()["name"]
        by_name = alice.get("/api/items", params={"q": name.upper()}).json()
        assert [item["sku"] for item in by_name["items"]] == ["A-1"]

    def test_unknown_item_is_404(self, alice: httpx.Client) -> None:
        assert alice.get("/api/items/Z-9").status_code == 404

    def test_bad_page_is_422(self, alice: httpx.Client) -> None:
        response = alice.get("/api/items", params={"page": "two"})
        assert response.status_code == 422
        assert response.json()["field"] == "page"

    def test_seed_changes_data(self) -> None:
        def a1(seed: int) -> dict[str, Any]:
            with make_erp(seed=seed) as server, signed_in(server) as client:
                item: dict[str, Any] = client.get("/api/items/A-1").json()
                return item

        assert a1(0) == a1(0)
        assert a1(0) != a1(1)


class TestErpStock:
    """Stock updates show up in reads and in the ledger exactly once."""

    def test_update_is_read_back_and_recorded(self, erp: ErpServer, alice: httpx.Client) -> None:
        payload = {"quantity": 7, "reason": "count", "warehouse": "WH-WEST"}
        updated = alice.put("/api/items/A-1/stock", json=payload)
        assert updated.status_code == 200
        assert (updated.json()["quantity"], updated.json()["warehouse"]) == (7, "WH-WEST")
        assert alice.get("/api/items/A-1").json()["quantity"] == 7
        ledger = admin(erp)
        assert ledger["total"] == 1
        assert ledger["counts"] == {
            "stock": 1,
            "order": 0,
            "notes": 0,
            "attachment": 0,
            "legacy": 0,
        }
        entry = ledger["writes"][0]
        assert {k: entry[k] for k in ("seq", "kind", "sku", "quantity")} == {
            "seq": 1,
            "kind": "stock",
            "sku": "A-1",
            "quantity": 7,
        }
        assert entry["request_id"] == updated.headers["X-Request-ID"]

    def test_invalid_quantity_is_422_and_not_recorded(
        self, erp: ErpServer, alice: httpx.Client
    ) -> None:
        response = alice.put("/api/items/A-1/stock", json={"quantity": "7"})
        assert response.status_code == 422
        assert response.json() == {
            "error": "validation",
            "detail": "quantity must be an integer",
            "field": "quantity",
        }
        assert admin(erp)["total"] == 0

    def test_ledger_is_exact_under_concurrency(self, erp: ErpServer) -> None:
        statuses: list[int] = []

        def writer(worker: int) -> None:
            with signed_in(erp) as client:
                for n in range(10):
                    url = f"/api/items/B-{worker + 1}/stock"
                    statuses.append(client.put(url, json={"quantity": n}).status_code)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [200] * 80
        ledger = admin(erp)
        assert ledger["total"] == 80
        assert [entry["seq"] for entry in ledger["writes"]] == list(range(1, 81))
        with signed_in(erp) as client:
            assert client.get("/api/items/B-8").json()["quantity"] == 9


class TestErpOrders:
    """Orders get sequential ids; without idempotency keys, client_ref is the reconcile handle."""

    def test_create_get_and_find_by_client_ref(self, erp: ErpServer, alice: httpx.Client) -> None:
        payload = {"sku": "A-2", "quantity": 3, "customer": "Initech", "client_ref": "run-1/step-2"}
        created = alice.post("/api/orders", json=payload)
        assert created.status_code == 201
        order = created.json()
        assert order["id"] == "ORD-0003"
        assert created.headers["Location"] == "/api/orders/ORD-0003"
        assert alice.get("/api/orders/ORD-0003").json() == order
        found = alice.get("/api/orders", params={"client_ref": "run-1/step-2"}).json()
        assert [o["id"] for o in found["orders"]] == ["ORD-0003"]
        assert alice.get("/api/orders").json()["total"] == 3
        assert admin(erp)["writes"][0]["client_ref"] == "run-1/step-2"

    def test_idempotency_key_is_ignored(self, erp: ErpServer, alice: httpx.Client) -> None:
        payload = {"sku": "A-2", "quantity": 1, "customer": "Initech"}
        headers = {"Idempotency-Key": "same"}
        first = alice.post("/api/orders", json=payload, headers=headers).json()["id"]
        second = alice.post("/api/orders", json=payload, headers=headers).json()["id"]
        assert (first, second) == ("ORD-0003", "ORD-0004")
        assert admin(erp)["counts"]["order"] == 2

    def test_unknown_sku_is_422(self, alice: httpx.Client) -> None:
        response = alice.post("/api/orders", json={"sku": "nope", "quantity": 1, "customer": "x"})
        assert (response.status_code, response.json()["field"]) == (422, "sku")


class TestErpFaults:
    """Fault knobs commit-then-fail, fail-before-commit, throttle, drift and lie as specified."""

    def test_commit_then_504(self) -> None:
        with erp_with(Faults(commit_then_504=1.0)) as (server, client):
            response = client.put("/api/items/A-1/stock", json={"quantity": 11})
            assert (response.status_code, response.json()["error"]) == (504, "gateway_timeout")
            assert client.get("/api/items/A-1").json()["quantity"] == 11
            ledger = admin(server)
            assert (ledger["total"], ledger["writes"][0]["quantity"]) == (1, 11)
            assert ledger["injected"]["commit_then_504"] == 1

    def test_commit_then_drop(self) -> None:
        with erp_with(Faults(commit_then_drop=1.0)) as (server, client):
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                client.put("/api/items/A-1/stock", json={"quantity": 12})
            assert client.get("/api/items/A-1").json()["quantity"] == 12
            assert admin(server)["counts"]["stock"] == 1

    def test_fail_before_commit(self) -> None:
        with erp_with(Faults(fail_before_commit=1.0)) as (server, client):
            response = client.put("/api/items/A-1/stock", json={"quantity": 13})
            assert response.status_code == 503
            assert client.get("/api/items/A-1").json()["quantity"] == 124
            assert admin(server)["total"] == 0

    def test_faults_only_hit_listed_kinds(self) -> None:
        with erp_with(Faults(commit_then_504=1.0)) as (server, client):
            order = {"sku": "A-1", "quantity": 1, "customer": "x"}
            assert client.post("/api/orders", json=order).status_code == 201
            request("POST", server.url + "/admin/faults", json={"faults_apply_to": ["order"]})
            assert client.post("/api/orders", json=order).status_code == 504
            assert client.put("/api/items/A-1/stock", json={"quantity": 1}).status_code == 200
            assert admin(server)["counts"]["order"] == 2

    def test_rate_limit_every_third_request(self) -> None:
        with erp_with(Faults(rate_limit_every=3)) as (server, client):
            responses = [client.get("/api/items/A-1") for _ in range(6)]
            assert [r.status_code for r in responses] == [200, 200, 429, 200, 200, 429]
            assert responses[2].headers["Retry-After"] == "1"
            assert responses[2].json()["error"] == "rate_limited"
            assert admin(server)["injected"]["rate_limited"] == 2

    def test_slow_ms_adds_latency(self) -> None:
        with erp_with(Faults(slow_ms=60)) as (server, client):
            started = time.perf_counter()
            assert client.get("/api/items/A-1").status_code == 200
            assert time.perf_counter() - started >= 0.06

    def test_drift_requires_region_id(self, erp: ErpServer, alice: httpx.Client) -> None:
        assert "warehouse" in alice.get("/api/items/A-1").json()
        request("POST", erp.url + "/admin/faults", json={"drift": True})
        old_style = alice.put("/api/items/A-1/stock", json={"quantity": 5, "warehouse": "WH-EAST"})
        assert old_style.status_code == 422
        assert old_style.json() == {
            "error": "validation",
            "detail": "Region_ID is required",
            "field": "region_id",
        }
        item = alice.get("/api/items/A-1").json()
        assert "warehouse" not in item
        assert item["region_id"] == "region-north"
        new_style = alice.put("/api/items/A-1/stock", json={"quantity": 5, "region_id": "region-x"})
        assert (new_style.status_code, new_style.json()["region_id"]) == (200, "region-x")
        assert admin(erp)["total"] == 1

    def test_lie_on_write(self) -> None:
        with erp_with(Faults(lie_on_write=True)) as (server, client):
            response = client.put("/api/items/A-1/stock", json={"quantity": 99})
            assert (response.status_code, response.json()["quantity"]) == (200, 99)
            assert client.get("/api/items/A-1").json()["quantity"] == 124
            ledger = admin(server)
            assert (ledger["total"], ledger["injected"]["lie_on_write"]) == (0, 1)

    def test_faults_are_configurable_at_runtime_and_reset(self, erp: ErpServer) -> None:
        assert admin(erp, "/admin/faults") == NO_FAULTS
        changed = request("POST", erp.url + "/admin/faults", json={"commit_then_504": 0.25})
        assert changed.json() == {**NO_FAULTS, "commit_then_504": 0.25}
        assert erp.faults.commit_then_504 == 0.25
        bad = request("POST", erp.url + "/admin/faults", json={"bogus": 1})
        assert (bad.status_code, bad.json()["detail"]) == (422, "unknown fault field 'bogus'")
        assert request("POST", erp.url + "/admin/reset").json() == {"ok": True}
        assert admin(erp, "/admin/faults") == NO_FAULTS

    def test_probabilistic_faults_are_reproducible(self) -> None:
        with erp_with(Faults(commit_then_504=0.5)) as (server, client):

            def run() -> list[int]:
                return [
                    client.put("/api/items/A-1/stock", json={"quantity": n}).status_code
                    for n in range(20)
                ]

            first = run()
            assert request("POST", server.url + "/admin/reset").status_code == 200
            assert run() == first
            assert set(first) == {200, 504}
            assert admin(server)["counts"]["stock"] == 20

    def test_invalid_faults_are_rejected(self) -> None:
        with pytest.raises(ValueError, match="commit_then_504"):
            Faults(commit_then_504=1.5)
        with pytest.raises(ValueError, match="sum"):
            Faults(commit_then_504=0.6, fail_before_commit=0.6)


class TestErpUploadsLegacyAndXml:
    """Large JSON, multipart, legacy form and XML endpoints work and are ledgered."""

    def test_large_notes_document(self, erp: ErpServer, alice: httpx.Client) -> None:
        history = [
            {"seq": i, "by": "alice", "action": "counted", "delta": i % 7} for i in range(2000)
        ]
        body = json.dumps({"notes": "recount aisle 3", "history": history}).encode()
        assert len(body) > 100_000
        headers = {"Content-Type": "application/json"}
        response = alice.put("/api/items/A-1/notes", content=body, headers=headers)
        assert response.json() == {"sku": "A-1", "bytes": len(body)}
        assert alice.get("/api/items/A-1/notes").json()["bytes"] == len(body)
        assert admin(erp)["writes"][0]["bytes"] == len(body)

    def test_multipart_upload(self, erp: ErpServer, alice: httpx.Client) -> None:
        data = bytes(range(256)) + b"\r\n--not-a-boundary\r\n" + bytes(range(255, -1, -1))
        response = alice.post(
            "/api/items/A-1/attachments",
            files={"file": ("scan.bin", data, "application/octet-stream")},
            data={"comment": "dock receipt"},
        )
        assert response.status_code == 201
        body = response.json()
        assert (body["id"], body["filename"], body["size"]) == ("ATT-0001", "scan.bin", len(data))
        assert body["sha256"] == hashlib.sha256(data).hexdigest()
        assert body["comment"] == "dock receipt"
        listed = alice.get("/api/items/A-1/attachments").json()["attachments"]
        assert [a["id"] for a in listed] == ["ATT-0001"]
        assert admin(erp)["counts"]["attachment"] == 1

    def test_upload_without_file_is_422(self, alice: httpx.Client) -> None:
        response = alice.post("/api/items/A-1/attachments", files={"comment": (None, "x")})
        assert (response.status_code, response.json()["field"]) == (422, "file")

    def test_legacy_form_endpoint(self, erp: ErpServer, alice: httpx.Client) -> None:
        response = alice.post("/legacy/bin_update.do", data={"sku": "A-1", "bin": "BIN-99"})
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert response.text == '<span class="legacy-ok">OK</span>'
        assert alice.get("/api/items/A-1").json()["bin"] == "BIN-99"
        assert admin(erp)["writes"][0]["bin"] == "BIN-99"

    def test_legacy_form_accepts_csrf_field_and_rejects_none(self, alice: httpx.Client) -> None:
        token = alice.headers.pop("X-XSRF-TOKEN")
        refused = alice.post("/legacy/bin_update.do", data={"sku": "A-1", "bin": "BIN-01"})
        assert (refused.status_code, refused.text) == (403, "ERROR csrf")
        form = {"sku": "A-1", "bin": "BIN-01", "_csrf": token}
        assert alice.post("/legacy/bin_update.do", data=form).status_code == 200

    def test_ledger_xml(self, alice: httpx.Client) -> None:
        alice.put("/api/items/A-1/stock", json={"quantity": 4})
        alice.post("/legacy/bin_update.do", data={"sku": "A-2", "bin": "BIN-07"})
        response = alice.get("/api/ledger.xml")
        assert response.headers["Content-Type"] == "application/xml; charset=utf-8"
        root = ElementTree.fromstring(response.content)
        assert (root.tag, root.get("total")) == ("ledger", "2")
        entries = [(e.get("kind"), e.get("sku"), e.get("quantity"), e.get("bin")) for e in root]
        assert entries == [("stock", "A-1", "4", None), ("legacy", "A-2", None, "BIN-07")]


class TestStorefront:
    """The storefront enforces bearer auth and honours Idempotency-Key on order creation."""

    def test_bearer_token_required(self, shop: StorefrontServer) -> None:
        missing = request("GET", shop.url + "/api/products")
        assert missing.status_code == 401
        assert missing.headers["WWW-Authenticate"] == 'Bearer realm="storefront"'
        wrong = request("GET", shop.url + "/api/products", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401

    def test_custom_token(self) -> None:
        with make_storefront(token="s3cret") as server:
            ok = request(
                "GET", server.url + "/api/products", headers={"Authorization": "Bearer s3cret"}
            )
            assert ok.status_code == 200

    def test_products_paginate_and_map_to_erp_skus(self, shopper: httpx.Client) -> None:
        first = shopper.get("/api/products").json()
        assert (first["total"], len(first["data"]), first["has_more"]) == (12, 10, True)
        second = shopper.get("/api/products", params={"page": 2}).json()
        assert (len(second["data"]), second["has_more"]) == (2, False)
        product = first["data"][0]
        assert re.fullmatch(r"prod_[A-Za-z0-9]{6}", product["id"])
        assert product["sku"] == "A-1"
        assert shopper.get(f"/api/products/{product['id']}").json() == product
        garden = shopper.get("/api/products", params={"category": "garden"}).json()
        assert [p["sku"] for p in garden["data"]] == ["C-1", "C-2", "C-3"]

    def test_seeded_paid_orders(self, shopper: httpx.Client) -> None:
        paid = shopper.get("/api/orders", params={"status": "paid"}).json()
        assert paid["total"] == 3
        order = paid["data"][0]
        assert uuid.UUID(order["id"]).version == 4
        assert [(line["sku"], line["quantity"]) for line in order["items"]] == [
            ("A-1", 2),
            ("B-2", 1),
        ]
        assert shopper.get(f"/api/orders/{order['id']}").json() == order

    def test_idempotent_replay_and_mismatch(
        self, shop: StorefrontServer, shopper: httpx.Client
    ) -> None:
        product = shopper.get("/api/products").json()["data"][0]["id"]
        body = {"items": [{"product_id": product, "quantity": 2}], "customer_email": "a@b.c"}
        headers = {"Idempotency-Key": "key-1"}
        first = shopper.post("/api/orders", json=body, headers=headers)
        assert first.status_code == 201
        assert "Idempotent-Replayed" not in first.headers
        again = shopper.post("/api/orders", json=body, headers=headers)
        assert again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        other = {**body, "customer_email": "other@b.c"}
        mismatch = shopper.post("/api/orders", json=other, headers=headers)
        assert (mismatch.status_code, mismatch.json()["error"]) == (422, "idempotency_key_reused")
        no_key = shopper.post("/api/orders", json=body)
        assert no_key.json()["id"] != first.json()["id"]
        assert admin(shop)["counts"]["order"] == 2

    def test_retry_after_504_replays_the_committed_order(self) -> None:
        faults = Faults(commit_then_504=1.0, faults_apply_to=("order",))
        with make_storefront(faults=faults) as server:
            auth = {"Authorization": "Bearer demo-token", "Idempotency-Key": "k"}
            with new_client(server.url, headers=auth) as client:
                product = client.get("/api/products").json()["data"][0]["id"]
                body = {"items": [{"product_id": product, "quantity": 1}], "customer_email": "a@b"}
                assert client.post("/api/orders", json=body).status_code == 504
                retry = client.post("/api/orders", json=body)
                assert (retry.status_code, retry.headers["Idempotent-Replayed"]) == (201, "true")
                assert admin(server)["counts"]["order"] == 1

    def test_patch_and_cancel(self, shop: StorefrontServer, shopper: httpx.Client) -> None:
        pending = shopper.get("/api/orders", params={"status": "pending"}).json()["data"][0]
        url = f"/api/orders/{pending['id']}"
        assert shopper.patch(url, json={"status": "paid"}).json()["status"] == "paid"
        refused = shopper.patch(url, json={"status": "pending"})
        assert (refused.status_code, refused.json()["error"]) == (409, "invalid_transition")
        assert shopper.delete(url).json()["status"] == "cancelled"
        assert shopper.delete(url).status_code == 200
        assert admin(shop)["counts"] == {"order": 0, "order_update": 1, "order_cancel": 1}

    def test_validation(self, shopper: httpx.Client) -> None:
        response = shopper.post("/api/orders", json={"items": [], "customer_email": "a@b"})
        assert response.json() == {
            "error": "validation",
            "detail": "items must be a non-empty list",
            "field": "items",
        }


class TestCommandLine:
    """``python -m samples.<app>`` prints its URL, applies flags and stops on Ctrl-C."""

    @pytest.mark.parametrize(
        ("module", "path"), [("samples.erp", "/login"), ("samples.storefront", "/admin/ledger")]
    )
    def test_foreground_run(self, module: str, path: str) -> None:
        command = [sys.executable, "-m", module, "--port", "0", "--fault-rate-limit-every", "5"]
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
        try:
            assert process.stdout is not None
            match = re.search(r"http://127\.0\.0\.1:\d+", process.stdout.readline())
            assert match is not None
            assert request("GET", match.group() + path).status_code == 200
            faults = request("GET", match.group() + "/admin/faults").json()
            assert faults["rate_limit_every"] == 5
        finally:
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=5) == 0
            if process.stdout is not None:
                process.stdout.close()

"""``SampleAppsRunner``: a plain HTTP tool runner for the ERP and storefront samples.

It is deliberately naive — no retries and no reconcile of its own — so that the workflow
engine's write protocol (intent, reconcile, pause) is what keeps a run exact. Tools:

- ERP (cookie login + ``X-XSRF-TOKEN``): ``erp_get_item(sku)``, ``erp_set_stock(sku,
  quantity)`` (reconciled by reading the item), ``erp_create_order(sku, quantity, customer,
  client_ref)`` (reconciled by ``client_ref``), ``erp_list_orders(client_ref)``.
- Storefront (bearer): ``shop_get_order(order_id)``, ``shop_get_product(product_id)``,
  ``shop_create_order(items, customer_email)`` (``Idempotency-Key``), ``shop_cancel_order``.
"""

from __future__ import annotations

import hashlib
import os
import signal
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from runtime.workflows.runner import Landed, NotLanded, Reconciled, ToolInfo
from zapi.errors import (
    InvalidArguments,
    OutcomeUnknown,
    ToolCardError,
    TransportError,
    UpstreamStatusError,
)

__all__ = ["SampleAppsRunner", "kill_probe", "make_runner"]

_TOOLS: dict[str, tuple[str, str, str, bool, bool]] = {
    # name: (app, method, safety, idempotency key, reconcilable)
    "erp_get_item": ("erp", "GET", "read_only", False, False),
    "erp_set_stock": ("erp", "PUT", "idempotent", False, True),
    "erp_create_order": ("erp", "POST", "write", False, True),
    "erp_list_orders": ("erp", "GET", "read_only", False, False),
    "shop_get_order": ("shop", "GET", "read_only", False, False),
    "shop_get_product": ("shop", "GET", "read_only", False, False),
    "shop_create_order": ("shop", "POST", "write", True, False),
    "shop_cancel_order": ("shop", "DELETE", "destructive", False, False),
}


class SampleAppsRunner:
    """Calls the sample apps over HTTP (see the module docstring for the tools)."""

    def __init__(
        self,
        *,
        erp_url: str = "",
        shop_url: str = "",
        token: str = "demo-token",
        user: str = "alice",
        password: str = "wonderland",
        timeout_s: float = 30.0,
        tool_set: str = "",
        unreconcilable: tuple[str, ...] | list[str] = (),
    ) -> None:
        """Prepare clients for the apps whose URL is given (nothing is sent yet).

        ``tool_set`` is mixed into the fingerprint, to stand for a changed tool set in tests.
        ``unreconcilable`` tools claim no reconcile read, so an in-flight write of theirs
        needs an operator's answer (as on an app whose creates cannot be looked up).
        """
        self.tool_set = tool_set + "".join(f"|no-reconcile:{t}" for t in unreconcilable)
        self.unreconcilable = frozenset(unreconcilable)
        self.urls = {"erp": erp_url.rstrip("/"), "shop": shop_url.rstrip("/")}
        self.token, self.user, self.password = token, user, password
        self.erp = httpx.Client(
            base_url=self.urls["erp"] or "http://erp.invalid", timeout=timeout_s
        )
        self.shop = httpx.Client(
            base_url=self.urls["shop"] or "http://shop.invalid",
            timeout=timeout_s,
            headers={"Authorization": f"Bearer {token}"},
        )
        self._logged_in = False

    # -- ToolRunner -------------------------------------------------------------------------

    def info(self, tool: str) -> ToolInfo:
        """Describe one of the sample tools."""
        if tool not in _TOOLS:
            raise ToolCardError(f"no sample tool {tool!r} (have: {', '.join(sorted(_TOOLS))})")
        app, method, safety, key, recon = _TOOLS[tool]
        return ToolInfo(
            tool,
            method,
            self.urls[app] or f"http://{app}.invalid",
            safety,
            key,
            recon and tool not in self.unreconcilable,
            credential=self.user if app == "erp" else "shop-token",
        )

    def fingerprint(self) -> str:
        """Digest of the tool table."""
        return hashlib.sha256((self.tool_set + repr(sorted(_TOOLS.items()))).encode()).hexdigest()

    def call(
        self, tool: str, args: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Any:
        """Send one request; raise on anything but a success."""
        self.info(tool)
        a = dict(args)
        rid = idempotency_key
        try:
            if tool == "erp_get_item":
                return self._erp("GET", f"/api/items/{a['sku']}", tool)
            if tool == "erp_set_stock":
                body = {"quantity": a["quantity"], "reason": a.get("reason", "workflow")}
                return self._erp("PUT", f"/api/items/{a['sku']}/stock", tool, json=body, rid=rid)
            if tool == "erp_create_order":
                body = {k: a[k] for k in ("sku", "quantity", "customer", "client_ref")}
                return self._erp("POST", "/api/orders", tool, json=body, rid=rid)
            if tool == "erp_list_orders":
                return self._erp("GET", "/api/orders", tool, params={"client_ref": a["client_ref"]})
            if tool == "shop_get_order":
                return self._send(self.shop, "GET", f"/api/orders/{a['order_id']}", tool)
            if tool == "shop_get_product":
                return self._send(self.shop, "GET", f"/api/products/{a['product_id']}", tool)
            if tool == "shop_create_order":
                headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
                body = {"items": a["items"], "customer_email": a["customer_email"]}
                return self._send(
                    self.shop, "POST", "/api/orders", tool, json=body, headers=headers
                )
            return self._send(self.shop, "DELETE", f"/api/orders/{a['order_id']}", tool)
        except KeyError as exc:
            raise InvalidArguments(f"{tool}: missing argument {exc.args[0]!r}", tool=tool) from exc

    def reconcile(
        self, tool: str, args: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Reconciled:
        """Read back whether a write landed."""
        if tool == "erp_set_stock":
            item = self._erp("GET", f"/api/items/{args['sku']}", "erp_get_item")
            return Landed(item) if item.get("quantity") == args["quantity"] else NotLanded()
        if tool == "erp_create_order":
            page = self._erp(
                "GET", "/api/orders", "erp_list_orders", params={"client_ref": args["client_ref"]}
            )
            found = page.get("orders", [])
            return Landed(found[0]) if found else NotLanded()
        raise OutcomeUnknown(f"{tool} has no reconcile read", tool=tool)

    def call_detailed(
        self, tool: str, args: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> tuple[Any, Mapping[str, Any]]:
        """:meth:`call`; this runner has no verification or drift findings to add."""
        return self.call(tool, args, idempotency_key=idempotency_key), {}

    def read_back(
        self, tool: str, args: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Landed | None:
        """The item (stock writes) or the order found by ``client_ref`` (creates)."""
        if tool == "erp_set_stock":
            return Landed(self._erp("GET", f"/api/items/{args['sku']}", "erp_get_item"))
        if tool == "erp_create_order":
            found = self.reconcile(tool, args, idempotency_key=idempotency_key)
            return found if isinstance(found, Landed) else None
        return None

    def close(self) -> None:
        """Close the HTTP clients."""
        self.erp.close()
        self.shop.close()

    # -- HTTP -------------------------------------------------------------------------------

    def _login(self) -> None:
        response = self.erp.post("/login", data={"username": self.user, "password": self.password})
        if response.status_code >= 400:
            raise UpstreamStatusError(
                f"ERP login failed: {response.status_code}", status=response.status_code
            )
        self._logged_in = True

    def _erp(self, method: str, path: str, tool: str, *, rid: str | None = None, **kw: Any) -> Any:
        if not self._logged_in:
            self._login_safely(tool)
        csrf = self.erp.cookies.get("XSRF-TOKEN") or ""
        headers = {"X-XSRF-TOKEN": csrf} if method != "GET" else {}
        if method != "GET" and rid:
            headers["X-Request-ID"] = rid  # the ledger names the step it served
        return self._send(self.erp, method, path, tool, headers=headers, **kw)

    def _login_safely(self, tool: str) -> None:
        try:
            self._login()
        except httpx.TransportError as exc:
            raise TransportError(f"ERP login: {exc}", tool=tool, sent=False) from exc

    def _send(self, client: httpx.Client, method: str, path: str, tool: str, **kw: Any) -> Any:
        write = method != "GET"
        try:
            response = client.request(method, path, **kw)
        except httpx.TransportError as exc:
            sent = not isinstance(exc, httpx.ConnectError)
            if write and sent:
                raise OutcomeUnknown(
                    f"{tool}: {type(exc).__name__} after sending", tool=tool, sent=True
                ) from exc
            raise TransportError(
                f"{tool}: {type(exc).__name__}: {exc}", tool=tool, sent=sent
            ) from exc
        try:
            data = response.json() if response.content else None
        except ValueError:
            data = response.text
        if response.status_code < 400:
            return data
        if write and response.status_code in (502, 504):
            raise OutcomeUnknown(
                f"{tool}: {method} {path} answered {response.status_code}; the write may have "
                "landed",
                tool=tool,
                status=response.status_code,
                body=data,
            )
        raise UpstreamStatusError(
            f"{tool}: {method} {path} answered {response.status_code}",
            tool=tool,
            status=response.status_code,
            body=data,
        )


def make_runner(**kwargs: Any) -> SampleAppsRunner:
    """Factory for worker configs: ``samples.plans.runner:make_runner``."""
    return SampleAppsRunner(**kwargs)


def kill_probe(*, point: str, step: int, marker: str, role: str = "step") -> Callable[..., None]:
    """A worker probe that SIGKILLs its own process at ``point`` of ``step`` (first time only).

    ``marker`` is a file created just before the kill, so a restarted worker given the same
    probe does not die again.
    """

    def probe(at: str, call: Any) -> None:
        if at != point or call.step != step or getattr(call, "role", "step") != role:
            return
        if os.path.exists(marker):
            return
        with open(marker, "w", encoding="utf-8") as fh:
            fh.write(f"{at} {call.key}\n")
        os.kill(os.getpid(), signal.SIGKILL)

    return probe


def make_runtime_runner(*, erp_url: str, cards: str, **_: Any) -> Any:
    """Factory for worker configs: the real zapi runtime over analysed ERP cards.

    ``samples.plans.runner:make_runtime_runner`` with ``erp_url`` and ``cards`` (an
    analyzer output folder). Logs into the ERP sample as alice (a test account of the
    sample, not a secret) and sends every call through :class:`runtime.Runtime`.
    """
    from runtime import Runtime
    from runtime.workflows.adapters import RuntimeRunner
    from toolgen.cards import load_cards

    http = httpx.Client(timeout=10)
    http.post(erp_url + "/login", data={"username": "alice", "password": "wonderland"})
    rt = Runtime(load_cards(cards), client=http, base_url=erp_url)
    return RuntimeRunner(rt, credential="alice")

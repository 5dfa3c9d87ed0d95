"""HAR builders with fixed timestamps, for goldens and unit tests (no clock, no randomness)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

T0 = "2026-01-02T03:04:05.000Z"

BEARER = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2VjcmV0LXNpZ25hdHVyZQ"
SESSION = "s3ss10n-7f9a2c41d8e6b5"
CSRF = "csrf-9b1f4e7a22c8d0"
API_KEY = "ak_live_5Tq9Wm2Xz8Rb"
PASSWORD = "hunter2-correct-horse"
PLANTED = (BEARER, SESSION, CSRF, API_KEY, PASSWORD)


def header_list(h: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in h.items()]


def entry(
    method: str,
    url: str,
    status: int = 200,
    *,
    req_headers: dict[str, str] | None = None,
    body: Any = None,
    body_mime: str = "application/json",
    resp: Any = None,
    resp_mime: str = "application/json",
    resp_headers: dict[str, str] | None = None,
    resource_type: str = "fetch",
    base64_body: bool = False,
    params: list[dict[str, str]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One Chrome-style HAR entry."""
    post = None
    if body is not None or params is not None:
        text = body if isinstance(body, str) else json.dumps(body) if body is not None else None
        post = {"mimeType": body_mime}
        if text is not None:
            post["text"] = text
        if params is not None:
            post["params"] = params
    if isinstance(resp, bytes):
        content = {
            "size": len(resp),
            "mimeType": resp_mime,
            "text": base64.b64encode(resp).decode(),
            "encoding": "base64",
        }
    elif resp is None:
        content = {"size": 0, "mimeType": resp_mime}
    else:
        text = resp if isinstance(resp, str) else json.dumps(resp)
        if base64_body:
            content = {
                "size": len(text),
                "mimeType": resp_mime,
                "text": base64.b64encode(text.encode()).decode(),
                "encoding": "base64",
            }
        else:
            content = {"size": len(text), "mimeType": resp_mime, "text": text}
    req: dict[str, Any] = {
        "method": method,
        "url": url,
        "httpVersion": "HTTP/1.1",
        "headers": header_list(req_headers or {}),
        "queryString": [],
        "cookies": [],
        "headersSize": -1,
        "bodySize": -1,
    }
    if post is not None:
        req["postData"] = post
    e: dict[str, Any] = {
        "startedDateTime": T0,
        "time": 12.5,
        "request": req,
        "response": {
            "status": status,
            "statusText": "",
            "httpVersion": "HTTP/1.1",
            "headers": header_list(resp_headers or {"content-type": resp_mime}),
            "cookies": [],
            "content": content,
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
        },
        "cache": {},
        "timings": {"send": 0, "wait": 10, "receive": 2.5},
        "_resourceType": resource_type,
        "_initiator": {"type": "script"},
    }
    if extra:
        e.update(extra)
    return e


def har(entries: list[dict[str, Any]], creator: str = "WebInspector") -> dict[str, Any]:
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": creator, "version": "537.36"},
            "pages": [],
            "entries": entries,
        }
    }


APP = "https://shop.example.com"
API = "https://api.example.com"


def _auth(csrf: bool = False) -> dict[str, str]:
    h = {
        "Authorization": f"Bearer {BEARER}",
        "Cookie": f"sid={SESSION}; XSRF-TOKEN={CSRF}; _ga=GA1.2.3",
        "Accept": "application/json",
        "Origin": APP,
        "Referer": APP + "/app",
        "User-Agent": "Mozilla/5.0",
        "sec-ch-ua": '"Chromium"',
        "X-Api-Version": "2026-01-01",
    }
    if csrf:
        h["X-XSRF-TOKEN"] = CSRF
    return h


def shop_entries() -> list[dict[str, Any]]:
    """A realistic single-page-app capture with noise and producer quirks."""
    es: list[dict[str, Any]] = [
        entry(
            "GET",
            APP + "/app",
            resp="<!doctype html><html></html>",
            resp_mime="text/html",
            resource_type="document",
        ),
        entry(
            "GET",
            APP + "/static/app.3f9a.js",
            resp="console.log(1)",
            resp_mime="application/javascript",
            resource_type="script",
        ),
        entry(
            "GET",
            APP + "/static/logo.png",
            resp=b"\x89PNG\r\n",
            resp_mime="image/png",
            resource_type="image",
        ),
        entry(
            "GET",
            "https://www.google-analytics.com/g/collect?v=2&tid=G-1",
            status=204,
            resource_type="ping",
        ),
        entry(
            "OPTIONS",
            API + "/v2/orders",
            status=204,
            resource_type="preflight",
            req_headers={"Access-Control-Request-Method": "POST", "Origin": APP},
        ),
        entry(
            "GET",
            API + "/v2/orders/9",
            status=0,
            resource_type="fetch",
            extra={"_error": "net::ERR_CONNECTION_REFUSED"},
        ),
        entry(
            "GET",
            "wss://api.example.com/live",
            status=101,
            resource_type="websocket",
            extra={"_webSocketMessages": [{"type": "send", "opcode": 1, "data": "hi"}]},
        ),
    ]
    statuses = ["paid", "shipped", "pending"]
    for i, oid in enumerate([8812, 8813, 9120, 10442, 77]):
        es.append(
            entry(
                "GET",
                f"{API}/v2/orders/{oid}",
                req_headers=_auth(),
                resp={
                    "id": oid,
                    "status": statuses[i % 3],
                    "total": 12.5 + i,
                    "customer": {"email": f"c{i}@example.com", "id": f"cus_8H2k{i}Qz9"},
                    "lines": [{"sku": f"A-{i}", "qty": i + 1}],
                    "created_at": f"2026-01-0{i + 1}T10:00:00Z",
                    "note": None if i % 2 else "gift",
                },
            )
        )
    for page in (1, 2, 3):
        es.append(
            entry(
                "GET",
                f"{API}/v2/orders?page={page}&per_page=20&status=paid&status=shipped",
                req_headers=_auth(),
                resp={"items": [{"id": page, "status": "paid"}], "page": page, "total": 41},
            )
        )
    es.append(
        entry(
            "GET",
            f"{API}/v2/orders?page=4&per_page=20",
            req_headers=_auth(),
            resp={"items": [], "page": 4, "total": 41},
        )
    )
    for i, key in enumerate(
        ["0d6f6b1e-0d4b-4c1e-9a8f-1b2c3d4e5f60", "9a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d"]
    ):
        es.append(
            entry(
                "POST",
                f"{API}/v2/orders",
                req_headers={
                    **_auth(csrf=True),
                    "Idempotency-Key": key,
                    "Content-Type": "text/plain;charset=UTF-8",
                },
                body={"sku": f"B-{i}", "quantity": 2 + i, "client_ref": f"ref-{i}"},
                body_mime="text/plain;charset=UTF-8",
                status=201,
                resp={"id": 9000 + i, "status": "pending", "sku": f"B-{i}", "quantity": 2 + i},
            )
        )
    for oid in (8812, 9120):
        es.append(
            entry(
                "PATCH",
                f"{API}/v2/orders/{oid}",
                req_headers=_auth(csrf=True),
                body={"status": "shipped"},
                resp={"id": oid, "status": "shipped"},
            )
        )
    es.append(entry("DELETE", f"{API}/v2/orders/10442", status=204, req_headers=_auth(csrf=True)))
    # /users/me and /users/search stay literal beside /users/{user_id}
    for uid in (101, 202, 303, 404):
        es.append(
            entry(
                "GET",
                f"{API}/v2/users/{uid}",
                req_headers=_auth(),
                resp={"id": uid, "name": f"user{uid}", "role": "staff"},
            )
        )
    es.append(
        entry(
            "GET",
            f"{API}/v2/users/me",
            req_headers=_auth(),
            resp={"id": 1, "name": "alice", "role": "admin", "api_key": API_KEY},
        )
    )
    es.append(
        entry(
            "GET",
            f"{API}/v2/users/search?q=al",
            req_headers=_auth(),
            resp=[{"id": 1, "name": "alice"}],
        )
    )
    # dynamic-key map: stock levels by warehouse id
    es.append(
        entry(
            "GET",
            f"{API}/v2/stock",
            req_headers=_auth(),
            base64_body=True,
            resp={"levels": {"1001": {"qty": 4}, "1002": {"qty": 0}, "1003": {"qty": 9}}},
        )
    )
    # exports named by file: {name}.json
    for name in ("q1-2026", "q2-2026", "q3-2026"):
        es.append(
            entry("GET", f"{API}/v2/exports/{name}.json", req_headers=_auth(), resp={"rows": 3})
        )
    # legacy form post and XML response
    es.append(
        entry(
            "POST",
            f"{APP}/legacy/bin_update.do",
            body="sku=A-1&bin=B7&password=" + PASSWORD,
            body_mime="application/x-www-form-urlencoded",
            req_headers={
                "Cookie": f"sid={SESSION}",
                "X-Requested-With": "XMLHttpRequest",
                "Referer": APP + "/app",
            },
            resp="<ok/>",
            resp_mime="application/xml",
            resource_type="xhr",
        )
    )
    # multipart upload recorded as params only (no postData.text)
    es.append(
        entry(
            "POST",
            f"{API}/v2/orders/8812/attachments",
            req_headers=_auth(csrf=True),
            body=None,
            body_mime="multipart/form-data; boundary=----x",
            params=[
                {"name": "file", "fileName": "invoice.pdf", "contentType": "application/pdf"},
                {"name": "comment", "value": "signed"},
            ],
            status=201,
            resp={"id": "att_1", "size": 1234},
        )
    )
    # GraphQL batch
    es.append(
        entry(
            "POST",
            f"{API}/graphql",
            req_headers=_auth(),
            body=[
                {
                    "operationName": "GetCart",
                    "query": "query GetCart($id: ID!) { cart(id: $id) { id } }",
                    "variables": {"id": "c1"},
                },
                {
                    "operationName": "AddToCart",
                    "query": "mutation AddToCart($sku: String!) { add(sku: $sku) { id } }",
                    "variables": {"sku": "A-1"},
                },
            ],
            resp=[{"data": {"cart": {"id": "c1"}}}, {"data": {"add": {"id": "c1"}}}],
        )
    )
    # API key in the query string
    es.append(
        entry(
            "GET", f"{API}/v2/rates?currency=EUR&api_key={API_KEY}", resp={"EUR": 1.0, "USD": 1.08}
        )
    )
    # login with a password in a JSON body; sets a session cookie
    es.append(
        entry(
            "POST",
            f"{APP}/api/session",
            body={"username": "alice", "password": PASSWORD},
            resp={"ok": True, "token": BEARER},
            resp_headers={
                "content-type": "application/json",
                "set-cookie": f"sid={SESSION}; HttpOnly; Path=/",
            },
            req_headers={"Referer": APP + "/app"},
        )
    )
    return es


def exchange_entry(response: httpx.Response) -> dict[str, Any]:
    """A HAR entry of a real httpx exchange (what a browser would record of it)."""
    req = response.request
    entry: dict[str, Any] = {
        "startedDateTime": "2024-01-01T00:00:00Z",
        "time": 1,
        "cache": {},
        "timings": {"send": 0, "wait": 1, "receive": 0},
        "request": {
            "method": req.method,
            "url": str(req.url),
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": k, "value": v} for k, v in req.headers.multi_items()],
            "queryString": [{"name": k, "value": v} for k, v in req.url.params.multi_items()],
            "cookies": [],
            "headersSize": -1,
            "bodySize": len(req.content),
        },
        "response": {
            "status": response.status_code,
            "statusText": "",
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "redirectURL": "",
            "headers": [{"name": k, "value": v} for k, v in response.headers.multi_items()],
            "content": {
                "size": len(response.content),
                "text": response.text,
                "mimeType": response.headers.get("content-type", ""),
            },
            "headersSize": -1,
            "bodySize": len(response.content),
        },
    }
    if req.content:
        entry["request"]["postData"] = {
            "mimeType": req.headers.get("content-type", ""),
            "text": req.content.decode(),
        }
    return entry

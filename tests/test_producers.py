"""HARs from other producers (Firefox, Chrome DevTools) analyze correctly despite their quirks."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from zapi.api import analyze
from zapi.har import HarEntry, SkippedEntry, iter_har

T0 = "2026-01-02T03:04:05.000+01:00"


def _headers(pairs: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in pairs.items()]


def _content(body: Any, mime: str, *, b64: bool = False) -> dict[str, Any]:
    if body is None:
        return {"size": -1, "mimeType": mime}
    raw = (
        body
        if isinstance(body, bytes)
        else (body if isinstance(body, str) else json.dumps(body)).encode()
    )
    if b64:
        return {
            "size": len(raw),
            "mimeType": mime,
            "encoding": "base64",
            "text": base64.b64encode(raw).decode(),
        }
    return {"size": len(raw), "mimeType": mime, "text": raw.decode()}


def _entry(
    method: str,
    url: str,
    status: int = 200,
    *,
    body: Any = None,
    body_mime: str = "application/json",
    resp: Any = None,
    resp_mime: str = "application/json",
    b64: bool = False,
    params: list[dict[str, str]] | None = None,
    drop_text: bool = False,
    extra: dict[str, Any] | None = None,
    navigate: bool = False,
) -> dict[str, Any]:
    fetch = (
        {"Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "navigate"}
        if navigate
        else {"Sec-Fetch-Dest": "empty", "Sec-Fetch-Mode": "cors"}
    )
    request: dict[str, Any] = {
        "method": method,
        "url": url,
        "httpVersion": "HTTP/2",
        "headers": _headers({"Accept": "application/json", "Host": url.split("/")[2], **fetch}),
        "cookies": [],
        "queryString": [],
        "headersSize": -1,
        "bodySize": -1,
    }
    if body is not None or params is not None:
        post: dict[str, Any] = {"mimeType": body_mime}
        if params is not None:
            post["params"] = params
        if body is not None and not drop_text:
            post["text"] = body if isinstance(body, str) else json.dumps(body)
        request["postData"] = post
    entry: dict[str, Any] = {
        "startedDateTime": T0,
        "time": -1,
        "request": request,
        "response": {
            "status": status,
            "statusText": "",
            "httpVersion": "HTTP/2",
            "headers": _headers({"Content-Type": resp_mime}),
            "cookies": [],
            "content": _content(resp, resp_mime, b64=b64),
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
        },
        "cache": {},
        "timings": {
            "blocked": -1,
            "dns": -1,
            "connect": -1,
            "ssl": -1,
            "send": 0,
            "wait": 12,
            "receive": 1,
        },
    }
    entry.update(extra or {})
    return entry


def firefox_har() -> dict[str, Any]:
    """Firefox 12x export: no _resourceType, -1 sizes, base64 JSON, multipart as params only."""
    base = "https://shop.example.test"
    es = [
        _entry(
            "GET",
            base + "/",
            resp="<html></html>",
            resp_mime="text/html; charset=utf-8",
            navigate=True,
        )
    ]
    for pid, price in ((1842, 12.5), (2210, 3.0), (3057, 7.25)):
        es.append(
            _entry(
                "GET",
                f"{base}/api/products/{pid}",
                resp={"id": pid, "name": f"Thing {pid}", "price": price},
                b64=True,
            )
        )
    es.append(
        _entry(
            "GET",
            base + "/api/products?page=2&sort=price",
            resp={"items": [{"id": 1842}], "page": 2},
        )
    )
    for cart in ("9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d", "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed"):
        es.append(
            _entry(
                "POST",
                f"{base}/api/carts/{cart}/items",
                body={"product_id": 1842, "qty": 1},
                resp={"cart": cart, "lines": 1},
                b64=True,
            )
        )
    es.append(
        _entry(
            "POST",
            f"{base}/api/products/1842/reviews",
            status=201,
            body='--x\r\nContent-Disposition: form-data; name="stars"\r\n\r\n5\r\n--x--\r\n',
            body_mime="multipart/form-data; boundary=x",
            drop_text=True,
            params=[
                {"name": "stars", "value": "5"},
                {"name": "photo", "fileName": "p.jpg", "contentType": "image/jpeg"},
            ],
            resp={"id": 77, "stars": 5},
        )
    )
    es.append(
        _entry(
            "GET",
            base + "/static/logo.png",
            resp=b"\x89PNG\r\n\x1a\n",
            resp_mime="image/png",
            b64=True,
        )
    )
    es.append(
        _entry(
            "POST",
            base + "/api/analytics/ping",
            status=0,
            body={"e": "view"},
            resp=None,
            resp_mime="x-unknown",
        )
    )
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "Firefox", "version": "128.0"},
            "browser": {"name": "Firefox", "version": "128.0"},
            "pages": [
                {
                    "startedDateTime": T0,
                    "id": "page_1",
                    "title": base,
                    "pageTimings": {"onContentLoad": -1, "onLoad": -1},
                }
            ],
            "entries": es,
        }
    }


def chrome_har() -> dict[str, Any]:
    """Chrome DevTools export: _resourceType/_initiator, websocket, status 0, -1 sizes."""
    base = "https://app.example.test"
    chrome = {
        "_initiator": {"type": "script"},
        "_priority": "High",
        "_resourceType": "fetch",
        "connection": "443",
        "serverIPAddress": "10.0.0.7",
    }
    es = [
        _entry(
            "GET",
            base + "/projects",
            resp="<html></html>",
            resp_mime="text/html",
            extra={**chrome, "_resourceType": "document", "_initiator": {"type": "other"}},
        )
    ]
    es.append(
        _entry(
            "GET",
            base + "/assets/app.js",
            resp="console.log(1)",
            resp_mime="application/javascript",
            extra={**chrome, "_resourceType": "script"},
        )
    )
    for pid in (1042, 1077, 2210):
        es.append(
            _entry(
                "GET",
                f"{base}/api/v2/projects/{pid}",
                resp={"id": pid, "name": f"P{pid}", "archived": False},
                extra=chrome,
            )
        )
        es.append(
            _entry(
                "GET",
                f"{base}/api/v2/projects/{pid}/tasks?status=open",
                resp={"tasks": [{"id": pid * 10, "title": "t"}]},
                extra=chrome,
            )
        )
    es.append(
        _entry(
            "PATCH",
            base + "/api/v2/projects/1042",
            body={"name": "Renamed"},
            resp={"id": 1042, "name": "Renamed", "archived": False},
            extra=chrome,
        )
    )
    es.append(
        _entry(
            "POST",
            base + "/api/v2/projects/1077/tasks",
            status=201,
            body={"title": "Write docs"},
            resp={"id": 10771, "title": "Write docs"},
            b64=True,
            extra=chrome,
        )
    )
    es.append(
        _entry(
            "DELETE",
            base + "/api/v2/projects/2210/tasks/22100",
            status=204,
            resp=None,
            extra=chrome,
        )
    )
    es.append(
        _entry(
            "DELETE",
            base + "/api/v2/projects/1042/tasks/10420",
            status=204,
            resp=None,
            extra=chrome,
        )
    )
    es.append(
        _entry(
            "GET",
            "wss://app.example.test/live",
            status=101,
            resp=None,
            extra={
                **chrome,
                "_resourceType": "websocket",
                "_webSocketMessages": [
                    {"type": "send", "time": 1.0, "opcode": 1, "data": '{"sub":"tasks"}'}
                ],
            },
        )
    )
    es.append(
        _entry(
            "POST",
            base + "/api/v2/telemetry",
            status=0,
            body={"e": 1},
            resp=None,
            resp_mime="x-unknown",
            extra={**chrome, "_error": "net::ERR_BLOCKED"},
        )
    )
    es.append(
        _entry(
            "GET",
            "https://www.google-analytics.com/g/collect?v=2",
            status=204,
            resp=None,
            extra={**chrome, "_resourceType": "ping"},
        )
    )
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "WebInspector", "version": "537.36"},
            "pages": [],
            "entries": es,
        }
    }


def write(path: Path, doc: dict[str, Any], *, bom: bool) -> Path:
    data = json.dumps(doc, indent=2).encode()
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def operations(har: Path, out: Path) -> set[tuple[str, str]]:
    result = analyze([str(har)], str(out))
    cards = [json.loads(Path(p).read_text()) for p in result.card_paths]
    return {(c["method"], c["path"]) for c in cards}


class TestFirefoxExport:
    """A Firefox export (BOM, base64 JSON, params-only multipart, status 0) analyzes exactly."""

    def test_reader_tolerates_quirks(self, tmp_path: Path) -> None:
        har = write(tmp_path / "ff.har", firefox_har(), bom=True)
        items = list(iter_har(har))
        assert not [i for i in items if isinstance(i, SkippedEntry)]
        review = next(i for i in items if isinstance(i, HarEntry) and "reviews" in i.url)
        assert review.request_text_raw is None
        assert [(p.name, p.filename) for p in review.request_params] == [
            ("stars", None),
            ("photo", "p.jpg"),
        ]
        product = next(i for i in items if isinstance(i, HarEntry) and i.path.endswith("/1842"))
        assert json.loads(product.response_body() or b"")["price"] == 12.5

    def test_templates(self, tmp_path: Path) -> None:
        har = write(tmp_path / "ff.har", firefox_har(), bom=True)
        assert operations(har, tmp_path / "out") == {
            ("GET", "/api/products"),
            ("GET", "/api/products/{product_id}"),
            ("POST", "/api/carts/{cart_id}/items"),
            ("POST", "/api/products/{product_id}/reviews"),
        }


class TestChromeDevToolsExport:
    """A DevTools export (_resourceType, websocket, status 0, tracker) analyzes exactly."""

    @pytest.mark.parametrize("bom", [False, True], ids=["plain", "bom"])
    def test_templates(self, tmp_path: Path, bom: bool) -> None:
        har = write(tmp_path / "chrome.har", chrome_har(), bom=bom)
        assert operations(har, tmp_path / "out") == {
            ("GET", "/api/v2/projects/{project_id}"),
            ("PATCH", "/api/v2/projects/{project_id}"),
            ("GET", "/api/v2/projects/{project_id}/tasks"),
            ("POST", "/api/v2/projects/{project_id}/tasks"),
            ("DELETE", "/api/v2/projects/{project_id}/tasks/{task_id}"),
        }

    def test_websocket_and_failed_entries_are_read_not_analyzed(self, tmp_path: Path) -> None:
        har = write(tmp_path / "chrome.har", chrome_har(), bom=False)
        items = [i for i in iter_har(har) if isinstance(i, HarEntry)]
        ws = [i for i in items if i.is_websocket]
        failed = [i for i in items if i.status == 0]
        assert [w.url for w in ws] == ["wss://app.example.test/live"]
        assert [f.failed_reason for f in failed] == ["net::ERR_BLOCKED"]
        assert {i.time_ms for i in items} == {-1.0}
        assert {i.response_size for i in items if i.response_text_raw is None} == {-1}

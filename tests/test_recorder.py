"""The recorder: browser discovery, the HAR writer's redaction, and real recordings of the ERP."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from samples.erp.app import ErpServer
from zapi.api import analyze
from zapi.cli import main
from zapi.errors import RecordingError
from zapi.har import HarEntry, iter_har
from zapi.har_writer import Exchange, build_har, host_in_scope, parse_multipart
from zapi.recorder import BROWSER_ENV, RecordOptions, find_browser, launch_browser, load_script
from zapi.redact import Redactor
from zapi.ui_actions import UiAction, attribute, describe

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "wonderland"
UPLOAD = bytes(range(256)) * 24 + b"\x00\xff end-of-scan"  # 6 KB, not UTF-8
WRITES = ("POST", "PUT", "PATCH", "DELETE")

# The UI session the e2e tests record.  It writes the browser's real cookie values next
# to itself so the test can grep every output byte for them.
DRIVE = """
import json

UPLOAD = __UPLOAD__
SECRETS_PATH = __SECRETS__


def drive(page):
    def done(prefix):
        page.wait_for_function(
            "p => document.getElementById('status').textContent.startsWith(p)", arg=prefix)

    def click_for(selector, method, part):
        with page.expect_response(lambda r: r.request.method == method and part in r.url) as info:
            page.click(selector)
        return info.value

    page.fill("#username", "alice")
    page.fill("#password", "wonderland")
    page.click("#login-btn")
    page.wait_for_url("**/inventory")
    page.wait_for_selector("a.item-link")
    page.fill("#search", "a")
    click_for("#search-btn", "GET", "/api/items?")
    skus = ["A-1", "A-2", "A-3", "A-4", "A-5"]
    for sku, qty in (("A-1", 17), ("A-2", 23)):
        click_for(f'a.item-link[data-sku="{sku}"]', "GET", "/api/items/" + sku)
        done("Loaded")
        page.fill("#qty", str(qty))
        click_for("#save-stock", "PUT", "/stock")
        done("Saved")
    click_for('a.item-link[data-sku="A-5"]', "GET", "/api/items/A-5")
    page.fill("#order-qty", "2")
    click_for("#create-order", "POST", "/api/orders")
    done("Order")
    click_for('a.item-link[data-sku="A-3"]', "GET", "/api/items/A-3")
    page.fill("#notes", "Recount after the audit.")
    click_for("#save-notes", "PUT", "/notes")
    done("Notes saved")
    click_for('a.item-link[data-sku="A-4"]', "GET", "/api/items/A-4")
    page.set_input_files("#attachment", files=[
        {"name": "scan.bin", "mimeType": "application/octet-stream", "buffer": UPLOAD}])
    page.fill("#attachment-comment", "shelf label")
    click_for("#upload", "POST", "/attachments")
    done("Uploaded")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with open(SECRETS_PATH, "w") as fh:
        json.dump(cookies, fh)
"""


def write_drive(tmp_path: Path) -> tuple[Path, Path]:
    secrets = tmp_path / "secrets.json"
    script = tmp_path / "drive.py"
    script.write_text(
        DRIVE.replace("__UPLOAD__", repr(UPLOAD)).replace("__SECRETS__", repr(str(secrets)))
    )
    return script, secrets


def shape(path: str) -> str:
    """``/api/items/{item_id}/stock`` -> ``/api/items/{}/stock``: the template, not the name."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def entries(har_path: Path) -> list[HarEntry]:
    out = [e for e in iter_har(har_path) if isinstance(e, HarEntry)]
    return out


def all_output_bytes(*paths: Path) -> bytes:
    """Every byte under the given files/folders, plus the decoded base64 HAR bodies."""
    chunks = []
    for p in paths:
        files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
        for f in files:
            chunks.append(f.read_bytes())
            if f.suffix == ".har":
                for e in entries(f):
                    chunks.extend(b for b in (e.request_body(), e.response_body()) if b)
    return b"\n".join(chunks)


def assert_recording(har: Path, out: Path, secrets: dict[str, str]) -> None:
    """Cards, templates, complete write bodies and no secret anywhere."""
    result = analyze([str(har)], str(out))
    ops = {
        (json.loads(Path(p).read_text())["method"], shape(json.loads(Path(p).read_text())["path"]))
        for p in result.card_paths
    }
    expected = {
        ("GET", "/api/items"),
        ("GET", "/api/items/{}"),
        ("PUT", "/api/items/{}/stock"),
        ("POST", "/api/orders"),
        ("PUT", "/api/items/{}/notes"),
        ("POST", "/api/items/{}/attachments"),
    }
    assert expected <= ops, sorted(ops)
    assert not any("A-1" in path for _, path in ops), sorted(ops)

    writes = [e for e in entries(har) if e.method in WRITES]
    assert {(e.method, re.sub(r"A-\d+", "X", e.path)) for e in writes} == {
        ("POST", "/login"),
        ("PUT", "/api/items/X/stock"),
        ("POST", "/api/orders"),
        ("PUT", "/api/items/X/notes"),
        ("POST", "/api/items/X/attachments"),
    }
    for e in writes:
        body = e.request_body()
        assert body, f"{e.method} {e.url} has no body in the HAR"
    notes = next(e for e in writes if e.path.endswith("/notes"))
    notes_body = notes.request_body() or b""
    assert len(notes_body) > 100_000
    assert len(json.loads(notes_body)["history"]) == 2000
    upload = next(e for e in writes if e.path.endswith("/attachments"))
    assert UPLOAD in (upload.request_body() or b"")
    assert {(p.name, p.filename) for p in upload.request_params} == {
        ("file", "scan.bin"),
        ("comment", None),
    }
    stock = [json.loads(e.request_body() or b"") for e in writes if e.path.endswith("/stock")]
    assert [s["quantity"] for s in stock] == [17, 23]

    values = [secrets["erp_session"], secrets["XSRF-TOKEN"], PASSWORD]
    assert all(len(v) >= 6 for v in values)
    blob = all_output_bytes(har, Path(str(har) + ".actions.json"), out)
    for v in values:
        assert v.encode() not in blob, f"secret {v[:4]}... leaked"
    assert b"[REDACTED:" in blob


class TestBrowserDiscovery:
    """find_browser: --browser-path, then ZAPI_BROWSER, then the system, then Playwright."""

    def test_nothing_found_names_all_three_options(self) -> None:
        with pytest.raises(RecordingError) as info:
            find_browser(environ={}, search_path="", locations=(), managed=False)
        msg = info.value.message
        assert "--browser-path" in msg
        assert BROWSER_ENV in msg
        assert "playwright install chromium" in msg

    def test_explicit_path_wins_over_the_environment(self, tmp_path: Path) -> None:
        choice = find_browser(sys.executable, environ={BROWSER_ENV: "/nonexistent"})
        assert (choice.path, choice.source) == (sys.executable, "--browser-path")

    def test_environment_variable_is_second(self) -> None:
        choice = find_browser(environ={BROWSER_ENV: sys.executable}, search_path="", locations=())
        assert (choice.path, choice.source) == (sys.executable, BROWSER_ENV)

    def test_missing_explicit_path_is_an_error_naming_it(self, tmp_path: Path) -> None:
        missing = str(tmp_path / "chrome")
        with pytest.raises(RecordingError, match=re.escape(missing)):
            find_browser(missing, environ={})

    def test_system_browser_on_path(self, tmp_path: Path) -> None:
        exe = tmp_path / "chromium"
        exe.write_text("#!/bin/sh\n")
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
        choice = find_browser(environ={}, search_path=str(tmp_path), locations=(), managed=False)
        assert (choice.path, choice.source) == (str(exe), "system")


def _exchange(method: str, url: str, **kw: Any) -> Exchange:
    kw.setdefault("started_ms", 1_700_000_000_000.0)
    kw.setdefault("status", 200)
    kw.setdefault("resource_type", "fetch")
    return Exchange(method=method, url=url, **kw)


SESSION = "9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c"
CSRF = "Qm9vZ2llV29vZ2llLXRva2Vu"
APIKEY = "k3y-ABCDEF123456"


def _login_session() -> list[Exchange]:
    html = (
        f'<form><input type="hidden" name="csrf_token" value="{CSRF}"></form>'
        f'<script>var t = "{CSRF}";</script>'
    ).encode()
    return [
        _exchange(
            "POST",
            "https://erp.test/login",
            resource_type="document",
            status=303,
            request_headers=[("Content-Type", "application/x-www-form-urlencoded")],
            request_body=f"username=alice&password={PASSWORD}".encode(),
            response_headers=[
                ("Set-Cookie", f"sid={SESSION}; Path=/; HttpOnly"),
                ("Set-Cookie", f"XSRF-TOKEN={CSRF}; Path=/"),
                ("Location", "/inventory"),
            ],
        ),
        _exchange(
            "GET",
            "https://erp.test/inventory",
            resource_type="document",
            started_ms=1_700_000_000_010.0,
            request_headers=[("Cookie", f"sid={SESSION}; XSRF-TOKEN={CSRF}")],
            response_headers=[("Content-Type", "text/html")],
            response_body=html,
        ),
        _exchange(
            "PUT",
            f"https://erp.test/api/items/A-1/stock?api_key={APIKEY}",
            started_ms=1_700_000_000_020.0,
            request_headers=[
                ("Content-Type", "application/json"),
                ("X-XSRF-TOKEN", CSRF),
                ("Cookie", f"sid={SESSION}"),
            ],
            request_body=json.dumps({"quantity": 3, "echo": CSRF}).encode(),
            response_headers=[("Content-Type", "application/json")],
            response_body=json.dumps({"sku": "A-1", "note": f"by {SESSION}"}).encode(),
        ),
        _exchange(
            "POST",
            "https://erp.test/api/items/A-1/attachments",
            started_ms=1_700_000_000_030.0,
            request_headers=[("Content-Type", "application/octet-stream")],
            request_body=b"\x00\xff\xfe" + CSRF.encode() + b"\x80\x81",
        ),
    ]


class TestHarWriterRedaction:
    """build_har learns the session's secrets first, then scrubs them from every string."""

    def test_no_secret_survives_anywhere(self) -> None:
        har, kept = build_har(_login_session(), redactor=Redactor())
        text = json.dumps(har)
        binary = base64.b64decode(har["log"]["entries"][3]["request"]["postData"]["text"])
        for secret in (SESSION, CSRF, PASSWORD, APIKEY):
            assert secret not in text
            assert secret.encode() not in binary
        assert len(kept) == 4
        assert binary.startswith(b"\x00\xff\xfe[REDACTED:") and binary.endswith(b"\x80\x81")

    def test_markers_keep_the_shape_class(self) -> None:
        har, _ = build_har(_login_session(), redactor=Redactor())
        e0, e1, e2, _ = har["log"]["entries"]
        assert {"name": "Set-Cookie", "value": "sid=[REDACTED:hex]; Path=/; HttpOnly"} in (
            e0["response"]["headers"]
        )
        assert e0["request"]["postData"]["params"][1]["value"].startswith("[REDACTED:")
        assert e1["response"]["content"]["text"].count("[REDACTED:") == 2  # hidden input + JS
        assert json.loads(e2["request"]["postData"]["text"]) == {
            "quantity": 3,
            "echo": json.loads(e2["request"]["postData"]["text"])["echo"],
        }
        assert json.loads(e2["response"]["content"]["text"])["note"].startswith("by [REDACTED:")
        assert "api_key=[REDACTED:" in e2["request"]["url"]
        assert e2["request"]["queryString"][0]["value"].startswith("[REDACTED:")

    def test_secrets_passed_up_front_are_scrubbed(self) -> None:
        token = "bearer-token-value-123"
        ex = _exchange(
            "GET",
            "https://erp.test/api/me",
            response_body=f"hi {token}".encode(),
            response_headers=[("Content-Type", "text/plain")],
        )
        har, _ = build_har([ex], redactor=Redactor(), secrets=[token])
        assert token not in json.dumps(har)

    def test_no_redact_keeps_values(self) -> None:
        har, _ = build_har(_login_session(), redactor=Redactor(enabled=False))
        text = json.dumps(har)
        assert SESSION in text and CSRF in text and PASSWORD in text

    def test_bodies_text_or_base64_and_read_back(self, tmp_path: Path) -> None:
        body = json.dumps({"history": ["x" * 50] * 3000}).encode()
        exs = [
            _exchange(
                "PUT",
                "https://erp.test/api/items/A-1/notes",
                request_body=body,
                request_headers=[("Content-Type", "application/json")],
            ),
            _exchange(
                "POST",
                "https://erp.test/upload",
                request_body=UPLOAD,
                started_ms=1_700_000_000_001.0,
            ),
        ]
        har, _ = build_har(exs, redactor=Redactor())
        post0 = har["log"]["entries"][0]["request"]["postData"]
        post1 = har["log"]["entries"][1]["request"]["postData"]
        assert "encoding" not in post0 and post0["text"] == body.decode()
        assert post1["encoding"] == "base64"
        path = tmp_path / "x.har"
        path.write_text(json.dumps(har))
        read = entries(path)
        assert [e.request_body() for e in read] == [body, UPLOAD]

    def test_multipart_params(self) -> None:
        boundary = "----b0undary"
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        body += (
            UPLOAD
            + (
                f"\r\n--{boundary}\r\nContent-Disposition: form-data; "
                f'name="comment"\r\n\r\nhello\r\n--{boundary}--\r\n'
            ).encode()
        )
        params = parse_multipart(body, f"multipart/form-data; boundary={boundary}")
        assert params == [
            {"name": "file", "fileName": "a.bin", "contentType": "application/octet-stream"},
            {"name": "comment", "value": "hello"},
        ]

    def test_host_scope_and_stable_times(self) -> None:
        exs = [
            _exchange("GET", "https://erp.test/a"),
            _exchange("GET", "https://cdn.other.test/b", started_ms=1_700_000_000_005.0),
        ]
        har, kept = build_har(
            exs, redactor=Redactor(), exclude_hosts=["*.other.test"], stable_times=True
        )
        assert [e.url for e in kept] == ["https://erp.test/a"]
        assert har["log"]["entries"][0]["startedDateTime"] == "2000-01-01T00:00:00.000Z"
        assert host_in_scope("127.0.0.1:8001", ["127.0.0.1"], [])
        assert not host_in_scope("api.x.test", ["erp.test"], [])


class TestAttribution:
    """Each request is attributed to the latest UI action at most 2 s before it."""

    def _action(self, t: float, kind: str = "click", label: str = "Save") -> UiAction:
        return UiAction(time_ms=t, kind=kind, page_url="http://h/inventory", label=label)

    def test_latest_action_within_window(self) -> None:
        acts = [self._action(0, label="Search"), self._action(100, label="Save")]
        assert attribute([50, 150, 2101, 5000], acts) == [0, 1, None, None]

    def test_describe(self) -> None:
        assert describe(self._action(0)) == "clicking 'Save' on /inventory"
        assert describe(self._action(0, kind="navigate")) == "opening /inventory"

    def test_password_values_are_never_kept(self) -> None:
        red = Redactor()
        pw = UiAction.from_payload(
            {"kind": "fill", "t0": 1, "secret": True, "value": PASSWORD, "name": "pw"}, red
        )
        named = UiAction.from_payload(
            {"kind": "fill", "t0": 1, "value": "abc", "name": "api_token"}, red
        )
        plain = UiAction.from_payload({"kind": "fill", "t0": 1, "value": "abc", "name": "q"}, red)
        assert pw is not None and pw.secret and pw.value is None
        assert named is not None and named.secret and named.value is None
        assert plain is not None and plain.value == "abc"


@pytest.mark.browser
class TestRecordCommand:
    """`zapi record --headless --script` records a complete, redacted, analyzable HAR."""

    def test_record_script_analyze(
        self,
        tmp_path: Path,
        erp_server: ErpServer,
        chromium_path: str | None,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        script, secrets_path = write_drive(tmp_path)
        har = tmp_path / "session.har"
        argv = [
            "record",
            erp_server.url + "/login",
            "-o",
            str(har),
            "--headless",
            "--script",
            str(script),
            "--timeout",
            "30",
        ]
        if chromium_path:
            argv += ["--browser-path", chromium_path]
        assert main(argv) == 0
        line = capsys.readouterr().out.strip()
        assert line.startswith(f"wrote {har}:") and "redacted" in line
        assert "MISSING" not in line
        secrets = json.loads(secrets_path.read_text())
        assert_recording(har, tmp_path / "out", secrets)

        side = json.loads(Path(str(har) + ".actions.json").read_text())
        pw = [a for a in side["actions"] if a["selector"] == "#password"]
        assert pw and all(a.get("secret") and "value" not in a for a in pw)
        by_entry = {a["entry"]: a["action"] for a in side["attributions"]}
        stock = [i for i, e in enumerate(entries(har)) if e.path.endswith("/stock")]
        assert all(by_entry[i] == "clicking 'Save stock' on /inventory" for i in stock)
        report = (tmp_path / "out" / "report.md").read_text()
        assert "Save stock" in report or any(
            "Save stock" in p.read_text() for p in (tmp_path / "out" / "cards").iterdir()
        )

    def test_timeout_ends_an_unscripted_session(
        self, tmp_path: Path, erp_server: ErpServer, chromium_path: str | None
    ) -> None:
        har = tmp_path / "idle.har"
        argv = [
            "record",
            erp_server.url + "/login",
            "-o",
            str(har),
            "--headless",
            "--timeout",
            "0.5",
        ]
        if chromium_path:
            argv += ["--browser-path", chromium_path]
        assert main(argv) == 0
        assert [e.path for e in entries(har)] == ["/login"]

    def test_saved_login_is_reused(
        self, tmp_path: Path, erp_server: ErpServer, chromium_path: str | None
    ) -> None:
        login = tmp_path / "login.py"
        login.write_text(
            "def drive(page):\n    page.fill('#username', 'alice')\n"
            "    page.fill('#password', 'wonderland')\n"
            "    page.click('#login-btn')\n    page.wait_for_url('**/inventory')\n"
        )
        check = tmp_path / "check.py"
        check.write_text("def drive(page):\n    assert page.url.endswith('/inventory'), page.url\n")
        state = tmp_path / "state.json"
        base = ["--headless"] + (["--browser-path", chromium_path] if chromium_path else [])
        assert (
            main(
                [
                    "record",
                    erp_server.url + "/login",
                    "-o",
                    str(tmp_path / "a.har"),
                    "--script",
                    str(login),
                    "--save-storage-state",
                    str(state),
                    *base,
                ]
            )
            == 0
        )
        assert stat.S_IMODE(state.stat().st_mode) == 0o600
        assert (
            main(
                [
                    "record",
                    erp_server.url + "/inventory",
                    "-o",
                    str(tmp_path / "b.har"),
                    "--script",
                    str(check),
                    "--storage-state",
                    str(state),
                    *base,
                ]
            )
            == 0
        )

    def test_script_failure_is_a_recording_error(
        self,
        tmp_path: Path,
        erp_server: ErpServer,
        chromium_path: str | None,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        bad = tmp_path / "bad.py"
        bad.write_text("def drive(page):\n    page.click('#nope', timeout=200)\n")
        argv = [
            "record",
            erp_server.url + "/login",
            "-o",
            str(tmp_path / "x.har"),
            "--headless",
            "--script",
            str(bad),
        ]
        if chromium_path:
            argv += ["--browser-path", chromium_path]
        assert main(argv) == 1
        assert capsys.readouterr().err.startswith("error: the drive script failed")


@pytest.mark.browser
class TestPythonApi:
    """ZAPI().launch_browser / session.page / dump_logs / build_tools, as users write it."""

    def test_same_flow_through_the_python_api(
        self, tmp_path: Path, erp_server: ErpServer, chromium_path: str | None
    ) -> None:
        from zapi import ZAPI

        script, _ = write_drive(tmp_path)
        drive = load_script(str(script))
        har = tmp_path / "erp_update.har"
        with ZAPI(browser_path=chromium_path) as z:
            session = z.launch_browser(url=erp_server.url + "/login", headless=True)
            drive(session.page)
            secrets = {c["name"]: c["value"] for c in session.context.cookies()}
            summary = session.dump_logs(har)
            session.close()
            result = z.build_tools(har, tmp_path / "out")
            again = z.upload_har(str(har), str(tmp_path / "out2"))
        assert summary.entries == len(entries(har)) and summary.missing_bodies == 0
        assert summary.api_calls >= 12 and summary.redacted
        assert_recording(har, tmp_path / "out", secrets)
        names = sorted(Path(p).name for p in result.card_paths)
        assert names == sorted(Path(p).name for p in again.card_paths)

    def test_credentials_go_to_the_target_origin_only(
        self, tmp_path: Path, erp_server: ErpServer, chromium_path: str | None
    ) -> None:
        from samples.storefront.app import make_server as make_storefront
        from zapi import ZAPI

        token = "tok-Zq81vXy3pLm0"
        with make_storefront(0) as other, ZAPI(browser_path=chromium_path, redact=False) as z:
            session = z.launch_browser(
                erp_server.url + "/login",
                headless=True,
                bearer_token=token,
                headers={"X-Team": "blue"},
            )
            session.page.evaluate(
                "async (o) => { await fetch('/api/items'); "
                "await fetch(o + '/api/products', {mode: 'no-cors'}); }",
                other.url,
            )
            raw = session.dump_logs(tmp_path / "raw.har")
            session.close()
            other_host = other.url.split("//")[1]
        assert raw.redacted == {}
        by_host = {e.host: e for e in entries(tmp_path / "raw.har") if e.path.startswith("/api/")}
        mine = by_host[erp_server.url.split("//")[1]]
        theirs = by_host[other_host]
        assert mine.header("authorization") == f"Bearer {token}"
        assert mine.header("x-team") == "blue"
        assert theirs.header("authorization") is None and theirs.header("x-team") is None

    def test_injected_token_is_redacted_by_default(
        self, tmp_path: Path, erp_server: ErpServer, chromium_path: str | None
    ) -> None:
        token = "tok-Zq81vXy3pLm0"
        options = RecordOptions(
            headless=True,
            browser_path=chromium_path,
            bearer_token=token,
            cookies=(("pref", "cookie-value-777"),),
        )
        with launch_browser(erp_server.url + "/login", options) as session:
            session.page.evaluate("fetch('/api/items').then(r => r.text())")
            session.dump_logs(tmp_path / "s.har")
        blob = all_output_bytes(tmp_path / "s.har", tmp_path / "s.har.actions.json")
        assert token.encode() not in blob and b"cookie-value-777" not in blob
        items = [e for e in entries(tmp_path / "s.har") if e.path == "/api/items"]
        assert items and (items[0].header("authorization") or "").startswith("Bearer [REDACTED:")
        assert "pref=[REDACTED:" in (items[0].header("cookie") or "")


@pytest.mark.browser
class TestSessionEnd:
    """An interactive session ends on Enter, on the window closing, or on the timeout.

    A person closing a headed window cannot run in CI; closing the page is the same event.
    """

    def test_enter_window_close_and_timeout(
        self, erp_server: ErpServer, chromium_path: str | None
    ) -> None:
        options = RecordOptions(headless=True, browser_path=chromium_path)
        with launch_browser(erp_server.url + "/login", options) as session:
            assert session.wait_until_closed(timeout_s=0.3) == "timeout"
            assert session.wait_until_closed(stdin=io.StringIO("\n"), timeout_s=10) == "enter"
            assert session.wait_until_closed(stdin=io.StringIO(""), timeout_s=0.5) == "timeout"
            session.page.close()
            assert session.wait_until_closed(timeout_s=10) == "window closed"


@pytest.mark.browser
class TestDemo:
    """`zapi demo` serves the ERP, records, analyzes and lists the tools."""

    def test_demo(
        self, tmp_path: Path, chromium_path: str | None, capsys: pytest.CaptureFixture[str]
    ) -> None:
        argv = ["demo", "-o", str(tmp_path)]
        if chromium_path:
            argv += ["--browser-path", chromium_path]
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert "tools in" in out and "update_item_stock" in out
        cards = [json.loads(p.read_text()) for p in (tmp_path / "cards").glob("*.json")]
        assert ("PUT", "/api/items/{}/stock") in {(c["method"], shape(c["path"])) for c in cards}


class TestCommittedSample:
    """samples/hars/erp_session.har is redacted and analyzes into the ERP's operations."""

    def test_sample_har(self, tmp_path: Path) -> None:
        har = ROOT / "samples" / "hars" / "erp_session.har"
        blob = all_output_bytes(har, Path(str(har) + ".actions.json"))
        assert PASSWORD.encode() not in blob
        assert not re.search(rb"erp_session=(?!\[REDACTED)", blob)
        result = analyze([str(har)], str(tmp_path))
        ops = {
            (
                json.loads(Path(p).read_text())["method"],
                shape(json.loads(Path(p).read_text())["path"]),
            )
            for p in result.card_paths
        }
        assert {
            ("PUT", "/api/items/{}/stock"),
            ("PUT", "/api/items/{}/notes"),
            ("POST", "/api/items/{}/attachments"),
            ("POST", "/legacy/bin_update.do"),
            ("GET", "/api/orders/{}"),
            ("GET", "/api/ledger.xml"),
        } <= ops
        assert os.path.getsize(har) > 200_000

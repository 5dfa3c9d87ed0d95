"""From a fresh recording to a successful write: login tool, zapi auth init/check, renewals.

Real parts throughout: the ERP and storefront samples on 127.0.0.1, sessions recorded with
``zapi record --headless --script`` in real Chromium, the CLI's own ``main``. The sample
servers expire sessions and tokens server-side (``/admin/expire-sessions``,
``/admin/expire-tokens``); their ledgers say how many writes were committed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import runtime
from runtime.actionlog import CallFinished
from samples.erp.app import ErpServer
from samples.flows.app import DEFAULT_PASSWORD, DEFAULT_USER, FlowsServer
from samples.storefront.app import StorefrontServer
from toolgen.cards import load_cards
from zapi.cli import main
from zapi.errors import UpstreamStatusError
from zapi.har_writer import build_har
from zapi.redact import Redactor

ERP_DRIVE = """
from samples.demo import drive_erp


def drive(page):
    drive_erp(page)
"""

SHOP_DRIVE = (Path(__file__).resolve().parent.parent / "samples/storefront/drive.py").read_text()


def _record(url: str, tmp: Path, drive: str, chromium: str | None) -> Path:
    """``zapi record --headless --script`` then ``zapi analyze``; the output folder."""
    script = tmp / "drive.py"
    script.write_text(drive)
    har = tmp / "session.har"
    args = ["record", url, "-o", str(har), "--headless", "--script", str(script)]
    if chromium:
        args += ["--browser-path", chromium]
    assert main(args) == 0
    out = tmp / "out"
    assert main(["analyze", str(har), "-o", str(out)]) == 0
    return out


def _stock_writes(server: ErpServer, sku: str, quantity: int) -> list[dict[str, Any]]:
    ledger = httpx.get(server.url + "/admin/ledger").json()
    return [
        w
        for w in ledger["writes"]
        if w.get("kind") == "stock" and w.get("sku") == sku and w.get("quantity") == quantity
    ]


def _calls(rt: runtime.Runtime, tool: str) -> list[Any]:
    return [
        r.event
        for r in rt.log.records()
        if isinstance(r.event, CallFinished) and r.event.tool == tool
    ]


@pytest.fixture(scope="module")
def erp_recording(
    tmp_path_factory: pytest.TempPathFactory, chromium_path: str | None
) -> Iterator[tuple[Path, int]]:
    """A fresh ERP session recorded through the login form; (output folder, ERP port)."""
    tmp = tmp_path_factory.mktemp("erp_auth")
    with ErpServer(0) as server:
        out = _record(server.url + "/login", tmp, ERP_DRIVE, chromium_path)
        port = server.port
    yield out, port


@pytest.fixture
def erp_creds(
    erp_recording: tuple[Path, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """``zapi auth init`` on the recording, with ERP_PASSWORD set."""
    out, _ = erp_recording
    creds = tmp_path / "creds.json"
    assert main(["auth", "init", str(out), "-o", str(creds), "--env-prefix", "ERP"]) == 0
    monkeypatch.setenv("ERP_PASSWORD", "wonderland")
    return creds


@pytest.mark.browser
class TestErpFromRecording:
    """ERP (form login, session cookie, double-submit CSRF): write after restart and expiry."""

    def test_auth_init_writes_references_not_secrets(
        self, erp_recording: tuple[Path, int], erp_creds: Path
    ) -> None:
        data = json.loads(erp_creds.read_text())
        origin = f"http://127.0.0.1:{erp_recording[1]}"
        assert data == {
            origin: {},  # the session cookie comes from the login
            "login": {
                "tool": "login",
                "args": {"username": "alice", "password": "env:ERP_PASSWORD"},
            },
        }
        assert "wonderland" not in erp_creds.read_text()

    def test_auth_init_keeps_an_existing_file(
        self, erp_recording: tuple[Path, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        creds = tmp_path / "creds.json"
        creds.write_text("{}")
        assert main(["auth", "init", str(erp_recording[0]), "-o", str(creds)]) == 1
        assert creds.read_text() == "{}"
        assert "--force" in capsys.readouterr().err

    def test_write_after_restart_logs_in(
        self, erp_recording: tuple[Path, int], erp_creds: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out, port = erp_recording
        with ErpServer(port) as server:  # the ERP restarted: every recorded session is gone
            code = main(
                ["call", str(out), "update_item_stock", "--arg", "item_id=A-1", "--arg"]
                + ["quantity=7", "--credentials", str(erp_creds)]
            )
            printed = capsys.readouterr()
            assert code == 0, printed.err
            assert json.loads(printed.out)["data"]["quantity"] == 7
            assert len(_stock_writes(server, "A-1", 7)) == 1
        logged = b"".join(p.read_bytes() for p in out.glob("zapi.db*"))
        assert logged and b"wonderland" not in logged  # the password never reaches the log

    def test_session_expired_mid_run_relogs_once(
        self, erp_recording: tuple[Path, int], erp_creds: Path
    ) -> None:
        out, port = erp_recording
        with (
            ErpServer(port) as server,
            runtime.open(out, credentials=str(erp_creds), state=None) as rt,
        ):
            assert rt.call("update_item_stock", item_id="A-2", quantity=11).data["quantity"] == 11
            assert httpx.post(server.url + "/admin/expire-sessions").status_code == 200
            result = rt.call("update_item_stock", item_id="A-2", quantity=12)
            assert result.data["quantity"] == 12
            assert result.attempts == 2  # 401 (not applied), then once more after the login
            assert len(_stock_writes(server, "A-2", 12)) == 1  # exactly one committed write
            assert len(_stock_writes(server, "A-2", 11)) == 1
            assert len(_calls(rt, "login")) == 2  # the first login, and one re-login

    def test_auth_check_one_line_per_origin(
        self,
        erp_recording: tuple[Path, int],
        erp_creds: Path,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        out, port = erp_recording
        with ErpServer(port):
            assert main(["auth", "check", str(out), "--credentials", str(erp_creds)]) == 0
            lines = capsys.readouterr().out.splitlines()
            assert len(lines) == 1
            assert lines[0].startswith(f"http://127.0.0.1:{port}: ok: logged in with login;")
            monkeypatch.setenv("ERP_PASSWORD", "not-the-password")
            assert main(["auth", "check", str(out), "--credentials", str(erp_creds)]) == 1
            line = capsys.readouterr().out.strip()
            assert "login failed" in line and "password" in line and "zapi auth check" in line


@pytest.fixture(scope="module")
def shop_recording(
    tmp_path_factory: pytest.TempPathFactory, chromium_path: str | None
) -> Iterator[tuple[Path, int]]:
    """A fresh storefront session (sign-in page, bearer token, one refresh, one payment)."""
    tmp = tmp_path_factory.mktemp("shop_auth")
    with StorefrontServer(0) as server:
        out = _record(server.url + "/", tmp, SHOP_DRIVE, chromium_path)
        port = server.port
    yield out, port


@pytest.mark.browser
class TestStorefrontFromRecording:
    """Storefront (bearer token from a JSON login, refresh token): refresh, then re-login."""

    def test_cards_and_init(self, shop_recording: tuple[Path, int], tmp_path: Path) -> None:
        out, port = shop_recording
        cards = load_cards(out)
        login = cards["login"].login
        assert login is not None
        assert (login.token_pointer, login.refresh_pointer) == ("/access_token", "/refresh_token")
        creds = tmp_path / "creds.json"
        assert main(["auth", "init", str(out), "-o", str(creds), "--env-prefix", "SHOP"]) == 0
        data = json.loads(creds.read_text())
        assert data[f"http://127.0.0.1:{port}"] == {}  # the bearer token comes from the login
        assert data["login"]["args"] == {"username": "alice", "password": "env:SHOP_PASSWORD"}

    def test_refresh_then_relogin(self, shop_recording: tuple[Path, int], tmp_path: Path) -> None:
        out, port = shop_recording
        creds = tmp_path / "creds.json"
        assert main(["auth", "init", str(out), "-o", str(creds), "--env-prefix", "SHOP"]) == 0
        env = {"SHOP_PASSWORD": "wonderland"}
        with (
            StorefrontServer(port) as server,
            runtime.open(out, credentials=str(creds), state=None, environ=env) as rt,
        ):
            pending = rt.call("list_orders", status="pending").data["data"]
            assert len(pending) == 1 and server.tokens.logins == 1
            order = pending[0]["id"]
            assert httpx.post(server.url + "/admin/expire-tokens").json()["expired"] == 1
            result = rt.call("update_order", order_id=order, status="paid")
            assert result.data["status"] == "paid" and result.attempts == 2
            assert (server.tokens.refreshes, server.tokens.logins) == (1, 1)  # refreshed
            server.tokens.expire_all()  # the refresh token is gone too: log in again
            result = rt.call("update_order", order_id=order, status="shipped")
            assert result.data["status"] == "shipped"
            assert (server.tokens.refreshes, server.tokens.logins) == (1, 2)
            ledger = httpx.get(server.url + "/admin/ledger").json()
            assert ledger["counts"]["order_update"] == 2  # one committed write per call

    def test_cli_write_after_restart(
        self,
        shop_recording: tuple[Path, int],
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        out, port = shop_recording
        creds = tmp_path / "creds.json"
        assert main(["auth", "init", str(out), "-o", str(creds), "--env-prefix", "SHOP"]) == 0
        monkeypatch.setenv("SHOP_PASSWORD", "wonderland")
        with StorefrontServer(port):
            capsys.readouterr()
            assert (
                main(
                    ["call", str(out), "list_orders", "--arg", "status=pending"]
                    + ["--credentials", str(creds)]
                )
                == 0
            )
            order = json.loads(capsys.readouterr().out)["data"]["data"][0]["id"]
            code = main(
                ["call", str(out), "update_order", "--arg", f"order_id={order}"]
                + ["--arg", "status=paid", "--credentials", str(creds)]
            )
            assert code == 0
            assert json.loads(capsys.readouterr().out)["data"]["status"] == "paid"


@pytest.fixture(scope="module")
def flows_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The flows sample's session (form login, <meta> CSRF token) analysed."""
    from test_card_semantics import _ui_session

    tmp = tmp_path_factory.mktemp("flows_auth")
    with FlowsServer() as server:
        har, _ = build_har(_ui_session(server.url), redactor=Redactor())
    (tmp / "flows.har").write_text(json.dumps(har))
    assert main(["analyze", str(tmp / "flows.har"), "-o", str(tmp / "out")]) == 0
    return tmp / "out"


class TestRenewOnlyOnce:
    """A 401 renews the session once per call; a second 401 is an error naming the fix."""

    def test_no_loop(self, flows_out: Path) -> None:
        cards = load_cards(flows_out)
        logins = []

        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/login":
                logins.append(1)
                return httpx.Response(
                    303, headers={"Location": "/app", "Set-Cookie": "flows_session=s; Path=/"}
                )
            if request.url.path == "/app":
                return httpx.Response(200, text='<meta name="csrf-token" content="tok">')
            return httpx.Response(401, json={"error": "unauthorized"})

        creds = runtime.Credentials(
            login=runtime.LoginSpec("login", {"username": DEFAULT_USER, "password": "pw"})
        )
        client = httpx.Client(transport=httpx.MockTransport(handler))
        with (
            runtime.Runtime(cards, client=client, credentials=creds) as rt,
            pytest.raises(UpstreamStatusError) as info,
        ):
            rt.call("create_flow_run", name="x", flow="etl")
        assert len(logins) == 2  # the first login and one renewal, no loop
        assert info.value.context["status"] == 401
        assert "zapi auth check" in info.value.message

    def test_redirect_to_the_login_page_is_an_expired_session(self, flows_out: Path) -> None:
        cards = load_cards(flows_out)
        seen: list[str] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(f"{request.method} {request.url.path}")
            if request.url.path == "/login":
                if request.method == "GET":
                    return httpx.Response(200, text="<form>log in</form>")
                return httpx.Response(
                    303, headers={"Location": "/app", "Set-Cookie": "flows_session=s; Path=/"}
                )
            if request.url.path == "/app":
                return httpx.Response(200, text='<meta name="csrf-token" content="tok">')
            if seen.count(f"{request.method} {request.url.path}") == 1:
                return httpx.Response(302, headers={"Location": "/login?next=/x"})
            assert request.headers["x-csrf-token"] == "tok"
            return httpx.Response(200, json={"id": "fr-0001", "state": "CANCELLED"})

        creds = runtime.Credentials(
            login=runtime.LoginSpec("login", {"username": DEFAULT_USER, "password": "pw"})
        )
        client = httpx.Client(transport=httpx.MockTransport(handler))
        with runtime.Runtime(cards, client=client, credentials=creds) as rt:
            result = rt.call("set_state_flow_run", flow_run_id="fr-0001", state="CANCELLED")
        assert result.attempts == 2
        writes = [s for s in seen if s.startswith("POST /api/")]
        assert writes == ["POST /api/flow_runs/fr-0001/set_state"] * 2  # refused, then sent
        assert seen.count("POST /login") == 2


class TestCsrfFromThePage:
    """The CSRF token a login yields: from the page's <meta> (flows sample) or a header."""

    def test_csrf_token_from_a_login_response_header(self, flows_out: Path) -> None:
        cards = load_cards(flows_out)
        login = cards["login"]
        assert login.login is not None
        info = login.login.model_copy(update={"csrf_source": "header:X-CSRF-Token"})
        cards["login"] = login.model_copy(update={"login": info})
        sent: list[str] = []

        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/login":
                return httpx.Response(
                    303,
                    headers={
                        "Location": "/app",
                        "Set-Cookie": "flows_session=s; Path=/",
                        "X-CSRF-Token": "from-header",
                    },
                )
            sent.append(request.headers.get("x-csrf-token", ""))
            return httpx.Response(201, json={"id": "fr-0100", "name": "x"})

        creds = runtime.Credentials(
            login=runtime.LoginSpec("login", {"username": DEFAULT_USER, "password": "pw"})
        )
        client = httpx.Client(transport=httpx.MockTransport(handler))
        with runtime.Runtime(cards, client=client, credentials=creds) as rt:
            rt.call("create_flow_run", name="x", flow="etl")
        assert sent == ["from-header"]  # no page fetched: the header carried it

    def test_meta_token_and_relogin(self, flows_out: Path) -> None:
        with FlowsServer() as server:
            creds = runtime.Credentials(
                login=runtime.LoginSpec(
                    "login", {"username": DEFAULT_USER, "password": DEFAULT_PASSWORD}
                )
            )
            with runtime.Runtime(
                load_cards(flows_out), credentials=creds, base_url=server.url
            ) as rt:
                before = server.writes
                rt.call("create_flow_run", name="one", flow="etl")
                server.sessions.clear()  # expired server-side
                result = rt.call("create_flow_run", name="two", flow="etl")
                assert result.attempts == 2
                assert server.writes == before + 2


class TestCredentialsTemplate:
    """What `zapi auth init` writes, without any server (pure)."""

    def test_per_origin_references_and_no_login(self) -> None:
        from fakes import card

        from runtime.auth_setup import credentials_template

        cards = [
            card("a", "GET", "/a", auth=["bearer"]).model_copy(
                update={"origin": "https://api.example.test"}
            ),
            card("b", "GET", "/b", auth=["header:X-API-Key"]).model_copy(
                update={"origin": "http://127.0.0.1:8001"}
            ),
            card("c", "GET", "/c", auth=["cookie:sid"]).model_copy(
                update={"origin": "http://127.0.0.1:8002"}
            ),
        ]
        data, wanted = credentials_template(cards)
        assert data == {
            "https://api.example.test": {"bearer": "env:ZAPI_API_EXAMPLE_TEST_BEARER"},
            # two origins on one host: the port tells them apart
            "http://127.0.0.1:8001": {"header:X-API-Key": "env:ZAPI_127_0_0_1_8001_X_API_KEY"},
            "http://127.0.0.1:8002": {"cookie:sid": "env:ZAPI_127_0_0_1_8002_SID"},
        }
        assert [w.variable for w in wanted] == [
            "ZAPI_127_0_0_1_8001_X_API_KEY",
            "ZAPI_127_0_0_1_8002_SID",
            "ZAPI_API_EXAMPLE_TEST_BEARER",
        ]
        files, _ = credentials_template(cards, refs="file", env_prefix="shop")
        assert files["https://api.example.test"] == {
            "bearer": "file:secrets/shop_api_example_test_bearer"
        }

    def test_a_written_template_loads_and_passes_the_key_check(self, tmp_path: Path) -> None:
        from fakes import card

        from runtime.auth_setup import credentials_template

        cards = [card("a", "GET", "/a", auth=["bearer", "query:key"])]
        data, wanted = credentials_template(cards, env_prefix="API")
        path = tmp_path / "creds.json"
        path.write_text(json.dumps(data))
        creds = runtime.load_credentials(
            str(path), environ={w.variable: "v-" + w.variable for w in wanted}
        )
        creds.check(cards)  # every key written is one the tools use
        assert creds.by_origin["https://api.example.test"] == {
            "bearer": "v-API_BEARER",
            "query:key": "v-API_KEY",
        }

    def test_csrf_token_from_meta_and_input(self) -> None:
        from runtime.session import csrf_from_html

        page = (
            '<head><meta name="other" content="x"><meta name="CSRF-Token" content="m1"></head>'
            '<form><input type="hidden" name="csrfmiddlewaretoken" value="i1"></form>'
        )
        assert csrf_from_html(page, "meta:csrf-token") == "m1"
        assert csrf_from_html(page, "input:csrfmiddlewaretoken") == "i1"
        assert csrf_from_html(page, "input:missing") == ""
        assert csrf_from_html(page, "cookie:csrf") == ""


class TestErrorsNameTheFix:
    """401/403 errors name the credential and the command that checks it."""

    def test_csrf_403_without_login(self, erp_server: ErpServer, tmp_path: Path) -> None:
        from samples.demo import BUNDLED_HAR  # the committed recording of the ERP sample

        out = tmp_path / "out"
        assert main(["analyze", BUNDLED_HAR, "-o", str(out)]) == 0
        token = httpx.post(
            erp_server.url + "/login", data={"username": "alice", "password": "wonderland"}
        ).cookies["erp_session"]
        creds = runtime.Credentials(secrets={"cookie:erp_session": token})
        with (
            runtime.open(out, credentials=creds, state=None, base_url=erp_server.url) as rt,
            pytest.raises(UpstreamStatusError) as info,
        ):
            rt.call("update_item_stock", item_id="A-1", quantity=3)
        message = info.value.message
        assert "403" in message and "X-XSRF-TOKEN" in message and "XSRF-TOKEN" in message
        assert "zapi auth init" in message and "zapi auth check" in message


class TestStaleCsrf:
    """A write refused for its CSRF token renews the session once and is sent once more."""

    def test_stale_token_relogs(self, erp_server: ErpServer, tmp_path: Path) -> None:
        from samples.demo import BUNDLED_HAR

        out = tmp_path / "out"
        assert main(["analyze", BUNDLED_HAR, "-o", str(out)]) == 0
        creds = runtime.Credentials(
            login=runtime.LoginSpec("login", {"username": "alice", "password": "wonderland"})
        )
        with runtime.open(out, credentials=creds, state=None, base_url=erp_server.url) as rt:
            rt.call("get_item", item_id="A-3")  # logs in
            rt.client.cookies.set("XSRF-TOKEN", "stale", domain="127.0.0.1", path="/")
            result = rt.call("update_item_stock", item_id="A-3", quantity=4)
            assert result.attempts == 2 and result.data["quantity"] == 4
            assert len(_stock_writes(erp_server, "A-3", 4)) == 1
            assert len(_calls(rt, "login")) == 2

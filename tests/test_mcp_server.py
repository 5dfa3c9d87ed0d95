"""``zapi serve`` with the MCP SDK's own client (stdio and streamable HTTP) against the ERP."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("mcp")

from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402

from runtime.actionlog import ActionLog  # noqa: E402
from runtime.mcp_server import RUN_RESULT_TOOL, ServeConfig, ToolServer, build_server  # noqa: E402
from samples._http import Request, Response  # noqa: E402
from samples.erp.app import ErpServer  # noqa: E402
from zapi.cli import main  # noqa: E402

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent


class CountingErp(ErpServer):
    """The ERP sample, counting the API requests it receives (``/api/*``, ``/legacy/*``)."""

    def __init__(self) -> None:
        super().__init__(0, seed=0)
        self.api_requests = 0

    def handle(self, request: Request) -> Response:
        if request.path.startswith(("/api/", "/legacy/")):
            self.api_requests += 1
        return super().handle(request)


@pytest.fixture(scope="module")
def erp_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tools analysed from the bundled ERP recording."""
    from zapi.api import analyze

    out = tmp_path_factory.mktemp("mcp") / "out"
    analyze([str(ROOT / "samples/hars/erp_session.har")], str(out))
    return out


@pytest.fixture
def erp() -> Iterator[CountingErp]:
    with CountingErp() as server:
        yield server


def login_state(server: ErpServer, path: Path) -> Path:
    """A Playwright-style storage state holding a fresh ERP session (what `record` saves)."""
    with httpx.Client(base_url=server.url) as c:
        c.post("/login", data={"username": "alice", "password": "wonderland"})
        cookies = [
            {"name": k, "value": v, "domain": "127.0.0.1", "path": "/"}
            for k, v in c.cookies.items()
        ]
    (path / "login.json").write_text(json.dumps({"cookies": cookies, "origins": []}))
    (path / "creds.json").write_text(json.dumps({"storage_state": str(path / "login.json")}))
    return path / "creds.json"


def ledger(server: ErpServer) -> dict[str, Any]:
    book: dict[str, Any] = httpx.get(server.url + "/admin/ledger", timeout=5).json()
    return book


def serve_args(out: Path, server: ErpServer, tmp: Path, *extra: str) -> list[str]:
    creds = login_state(server, tmp)
    return [
        "-m",
        "zapi",
        "serve",
        str(out),
        "--base-url",
        server.url,
        "--credentials",
        str(creds),
        "--state",
        str(tmp / "zapi.db"),
        *extra,
    ]


def stdio(args: list[str], cwd: Path | None = None) -> Client:
    return Client(StdioServerParameters(command=sys.executable, args=args, cwd=cwd))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def text(result: Any) -> str:
    return str(result.content[0].text)


class TestListing:
    """Tools carry their schemas and the right annotations; writes are opt-in."""

    def test_read_only_by_default(self, erp_out: Path, erp: CountingErp, tmp_path: Path) -> None:
        """Without --allow-writes only read-only tools are listed."""

        async def go() -> Any:
            async with stdio(serve_args(erp_out, erp, tmp_path)) as c:
                return (await c.list_tools()).tools

        tools = {t.name: t for t in run(go())}
        assert set(tools) == {"get_item", "get_ledger", "get_order", "list_items", "list_orders"}
        for tool in tools.values():
            assert tool.annotations is not None and tool.annotations.read_only_hint is True
            assert tool.annotations.destructive_hint is False
            assert tool.input_schema["type"] == "object" and tool.output_schema is not None
        assert tools["get_item"].input_schema["required"] == ["item_id"]
        assert "Seen" in (tools["get_item"].description or "")

    def test_annotations_by_class(self, erp_out: Path, erp: CountingErp, tmp_path: Path) -> None:
        """Idempotent PUTs, non-idempotent POSTs; names within 64 characters."""

        async def go() -> Any:
            async with stdio(serve_args(erp_out, erp, tmp_path, "--allow-writes")) as c:
                return (await c.list_tools()).tools

        tools = {t.name: t for t in run(go())}
        stock = tools["update_item_stock"].annotations
        order = tools["create_order"].annotations
        assert stock is not None and order is not None
        assert (stock.read_only_hint, stock.idempotent_hint, stock.destructive_hint) == (
            False,
            True,
            False,
        )
        assert (order.read_only_hint, order.idempotent_hint, order.destructive_hint) == (
            False,
            False,
            False,
        )
        assert all(len(name) <= 64 for name in tools)
        assert "verified by reading get_order" in (tools["create_order"].description or "")

    def test_destructive_and_globs(self, tmp_path: Path) -> None:
        """A DELETE is destructive and needs approval; --tools selects by glob."""
        from zapi.api import analyze

        analyze([str(ROOT / "samples/hars/shop.har")], str(tmp_path / "shop"))
        config = ServeConfig(
            out_dir=str(tmp_path / "shop"),
            tools=("*order*",),
            allow_writes=True,
            state=None,
            runs_db="sqlite:///" + str(tmp_path / "runs.db"),
        )
        tools = ToolServer(config)
        try:

            async def go() -> tuple[Any, Any, Any]:
                async with Client(build_server(tools)) as c:
                    resources = (await c.list_resources()).resources
                    spec = await c.read_resource("zapi://openapi.json")
                    return (await c.list_tools()).tools, resources, spec

            found, resources, spec = run(go())
            listed = {t.name: t for t in found}
        finally:
            tools.close()
        uris = {str(r.uri) for r in resources}
        assert uris == {"zapi://openapi.json"} | {
            f"zapi://cards/{n}" for n in listed if n != RUN_RESULT_TOOL
        }
        assert json.loads(spec.contents[0].text)["openapi"].startswith("3.1")
        assert RUN_RESULT_TOOL in listed
        assert all("order" in n for n in listed if n != RUN_RESULT_TOOL)
        delete = listed["delete_order"].annotations
        assert delete is not None and delete.destructive_hint is True
        assert "approval" in (listed["delete_order"].description or "")
        assert "approval" not in (listed["update_order"].description or "")


class TestNames:
    """MCP tool names are at most 64 characters of [A-Za-z0-9_-], stable and distinct."""

    def test_long_and_odd_names(self) -> None:
        """Plain names pass unchanged; others are cut and told apart by a digest."""
        from runtime.mcp_server import mcp_name

        long_a, long_b = "x" * 70 + "_a", "x" * 70 + "_b"
        names = [mcp_name(n) for n in ("get_item", long_a, long_b, "get item.v2")]
        assert names[0] == "get_item"
        assert all(len(n) <= 64 and re.fullmatch(r"[A-Za-z0-9_-]+", n) for n in names)
        assert len(set(names)) == 4 and mcp_name(long_a) == names[1]


class TestCalls:
    """Calls go through the runtime: validated, scoped, logged, verified."""

    def test_read_and_verified_write(self, erp_out: Path, erp: CountingErp, tmp_path: Path) -> None:
        """A read answers; a write is verified, logged and the chain is intact."""

        async def go() -> tuple[Any, Any]:
            async with stdio(serve_args(erp_out, erp, tmp_path, "--allow-writes")) as c:
                read = await c.call_tool("get_item", {"item_id": "A-1"})
                write = await c.call_tool(
                    "update_item_stock",
                    {"item_id": "A-1", "quantity": 77, "reason": "mcp", "warehouse": "WH-NORTH"},
                )
                return read, write

        read, write = run(go())
        assert not read.is_error, text(read)
        assert read.structured_content["result"]["sku"] == "A-1"
        assert read.structured_content["outcome"]["status"] == "ok"
        assert not write.is_error, text(write)
        outcome = write.structured_content["outcome"]
        assert outcome["verified"] is True and outcome["verified_by"] == "get_item"
        assert write.structured_content["result"]["quantity"] == 77
        book = ledger(erp)
        assert book["total"] == 1 and book["writes"][0]["quantity"] == 77
        kinds = Counter(r.event.kind for r in ActionLog.open(tmp_path / "zapi.db").records())
        assert kinds["verification"] == 1 and kinds["call_finished"] >= 2
        assert main(["log", "verify", "--state", str(tmp_path / "zapi.db")]) == 0

    def test_write_refused_without_allow_writes(
        self, erp_out: Path, erp: CountingErp, tmp_path: Path
    ) -> None:
        """A write tool is not served: the call errors and the ERP sees no request."""

        async def go() -> Any:
            async with stdio(serve_args(erp_out, erp, tmp_path)) as c:
                return await c.call_tool(
                    "update_item_stock",
                    {"item_id": "A-1", "quantity": 1, "reason": "x", "warehouse": "WH-NORTH"},
                )

        result = run(go())
        assert result.is_error and "unknown tool 'update_item_stock'" in text(result)
        assert erp.api_requests == 0 and ledger(erp)["total"] == 0

    def test_invalid_arguments_before_any_request(
        self, erp_out: Path, erp: CountingErp, tmp_path: Path
    ) -> None:
        """A wrong type is refused with the runtime's one-line message, nothing sent."""

        async def go() -> Any:
            async with stdio(serve_args(erp_out, erp, tmp_path, "--allow-writes")) as c:
                return await c.call_tool(
                    "update_item_stock",
                    {"item_id": "A-1", "quantity": "many", "reason": "x", "warehouse": "WH-NORTH"},
                )

        result = run(go())
        assert result.is_error and text(result).startswith("InvalidArguments: update_item_stock")
        assert "quantity" in text(result) and "\n" not in text(result)
        assert erp.api_requests == 0

    def test_outcome_unknown(self, erp_out: Path, erp: CountingErp, tmp_path: Path) -> None:
        """A write that may have landed, with no read to settle it, says so and where to look."""
        httpx.post(
            erp.url + "/admin/faults",
            json={"commit_then_drop": 1.0, "faults_apply_to": ["legacy"]},
            timeout=5,
        ).raise_for_status()

        async def go() -> Any:
            async with stdio(serve_args(erp_out, erp, tmp_path, "--allow-writes")) as c:
                return await c.call_tool("bin_update_legacy", {"sku": "A-1", "bin": "BIN-9"})

        result = run(go())
        message = text(result)
        assert result.is_error and message.startswith("OutcomeUnknown: bin_update_legacy")
        assert "may or may not have landed" in message and "\n" not in message
        assert f"zapi log --state {tmp_path / 'zapi.db'} --tool bin_update_legacy" in message
        assert ledger(erp)["total"] == 1  # it did land: only a read could have told

    def test_write_budget(self, erp_out: Path, erp: CountingErp, tmp_path: Path) -> None:
        """The session's write budget refuses the write after the last allowed one."""
        args = {"item_id": "A-2", "quantity": 3, "reason": "x", "warehouse": "WH-NORTH"}

        async def go() -> list[Any]:
            extra = ("--allow-writes", "--write-budget", "1")
            async with stdio(serve_args(erp_out, erp, tmp_path, *extra)) as c:
                return [await c.call_tool("update_item_stock", args) for _ in range(2)]

        first, second = run(go())
        assert not first.is_error and second.is_error
        assert "write budget" in text(second) and ledger(erp)["total"] == 1

    def test_streamable_http(self, erp_out: Path, erp: CountingErp, tmp_path: Path) -> None:
        """The same tools over streamable HTTP: list, read, write."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        args = serve_args(erp_out, erp, tmp_path, "--allow-writes", "--http", "--port", str(port))
        proc = subprocess.Popen([sys.executable, *args], stderr=subprocess.PIPE, text=True)
        try:
            _wait_port(port, proc)

            async def go() -> tuple[Any, Any, Any]:
                async with Client(f"http://127.0.0.1:{port}/mcp") as c:
                    tools = (await c.list_tools()).tools
                    read = await c.call_tool("get_item", {"item_id": "B-1"})
                    order = {"sku": "B-1", "quantity": 2, "customer": "MCP"}
                    write = await c.call_tool("create_order", order)
                    return tools, read, write

            tools, read, write = run(go())
        finally:
            proc.terminate()
            proc.communicate(timeout=30)
        assert "create_order" in {t.name for t in tools}
        assert not read.is_error and read.structured_content["result"]["sku"] == "B-1"
        assert not write.is_error, text(write)
        assert write.structured_content["outcome"]["verified"] is True
        book = ledger(erp)
        assert book["total"] == 1 and book["writes"][0]["kind"] == "order"


def _wait_port(port: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"zapi serve exited: {proc.communicate()[1]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("zapi serve --http did not open its port")


class TestApproval:
    """A call that needs approval is parked as a durable run and completes once approved."""

    def test_parked_then_approved(self, erp_out: Path, erp: CountingErp, tmp_path: Path) -> None:
        """No request before the approval; after `zapi runs approve`, the write lands."""
        (tmp_path / "policy.yaml").write_text(
            "default: allow\nrequire_approval: [update_item_stock]\n"
        )
        db = str(tmp_path / "runs.db")
        args = serve_args(
            erp_out, erp, tmp_path, "--policy", str(tmp_path / "policy.yaml"), "--db", db
        )
        call = {"item_id": "A-3", "quantity": 31, "reason": "approved", "warehouse": "WH-NORTH"}

        async def go() -> tuple[Any, Any, Any]:
            async with stdio(args) as c:
                bad = await c.call_tool("update_item_stock", {**call, "quantity": "lots"})
                assert bad.is_error and text(bad).startswith("InvalidArguments: update_item_stock")
                assert not os.path.exists(db)  # refused before any run was started
                parked = await c.call_tool("update_item_stock", call)
                run_id = parked.structured_content["outcome"]["run_id"]
                early = await c.call_tool(RUN_RESULT_TOOL, {"run_id": run_id})
                assert ledger(erp)["total"] == 0
                assert main(["runs", "approve", run_id, "--by", "carol", "--db", db]) == 0
                deadline = time.monotonic() + 120
                while True:  # the worker takes the decision up within a few polls
                    done = await c.call_tool(RUN_RESULT_TOOL, {"run_id": run_id})
                    status = (done.structured_content or {}).get("outcome", {}).get("status")
                    if status != "waiting_approval" or time.monotonic() > deadline:
                        return parked, early, done

        parked, early, done = run(go())
        assert not parked.is_error, text(parked)
        outcome = parked.structured_content["outcome"]
        assert outcome["status"] == "waiting_approval"
        assert re.search(r"zapi runs approve mcp-\w+ --by NAME --db ", text(parked))
        assert early.structured_content["outcome"]["status"] == "waiting_approval"
        assert not done.is_error, text(done)
        assert done.structured_content["outcome"]["status"] == "succeeded"
        assert done.structured_content["result"]["quantity"] == 31, text(done)
        book = ledger(erp)
        assert book["total"] == 1 and book["writes"][0]["quantity"] == 31
        log = ActionLog.open(tmp_path / "zapi.db")
        assert any(r.event.kind == "verification" for r in log.records()) and log.verify().ok


def record_storefront(url: str, path: Path) -> None:
    """Real httpx exchanges with the storefront (orders made and cancelled), as a HAR."""
    from samples.storefront.app import DEFAULT_TOKEN
    from zapi.har_writer import Exchange, build_har
    from zapi.redact import Redactor

    seen: list[Exchange] = []

    def hook(r: httpx.Response) -> None:
        r.read()
        seen.append(
            Exchange(
                started_ms=time.time() * 1000,
                method=r.request.method,
                url=str(r.request.url),
                request_headers=list(r.request.headers.multi_items()),
                request_body=r.request.content or None,
                resource_type="fetch",
                status=r.status_code,
                response_headers=list(r.headers.multi_items()),
                response_body=r.content,
            )
        )

    auth = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    with httpx.Client(base_url=url, headers=auth, event_hooks={"response": [hook]}) as c:
        product = c.get("/api/products").json()["data"][0]["id"]
        for i in range(3):
            order = c.post(
                "/api/orders",
                json={
                    "customer_email": f"c{i}@example.com",
                    "items": [{"product_id": product, "quantity": 1}],
                },
                headers={"Idempotency-Key": f"rec-{i}"},
            ).json()
            c.get(f"/api/orders/{order['id']}")
            c.delete(f"/api/orders/{order['id']}")
        c.get("/api/orders")
    har, _ = build_har(seen, redactor=Redactor(), secrets=[DEFAULT_TOKEN])
    path.write_text(json.dumps(har))


class TestDestructive:
    """A destructive tool (DELETE) is parked for a person and completes once approved."""

    def test_delete_parked_then_approved(self, tmp_path: Path) -> None:
        """Listed as destructive; nothing sent before `zapi runs approve`; cancelled after."""
        from samples.storefront.app import DEFAULT_TOKEN
        from samples.storefront.app import make_server as make_storefront
        from zapi.api import analyze

        with make_storefront(0) as shop:
            record_storefront(shop.url, tmp_path / "shop.har")
        analyze([str(tmp_path / "shop.har")], str(tmp_path / "out"))
        (tmp_path / "creds.json").write_text(json.dumps({"auth": {"bearer": "env:SHOP_TOKEN"}}))
        db = str(tmp_path / "runs.db")
        with make_storefront(0) as shop:
            api = httpx.Client(
                base_url=shop.url, headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}
            )
            product = api.get("/api/products").json()["data"][0]["id"]
            order = api.post(
                "/api/orders",
                json={
                    "customer_email": "d@example.com",
                    "items": [{"product_id": product, "quantity": 1}],
                },
            ).json()["id"]
            before = httpx.get(shop.url + "/admin/ledger").json()["total"]
            args = [
                "-m",
                "zapi",
                "serve",
                str(tmp_path / "out"),
                "--base-url",
                shop.url,
                "--credentials",
                str(tmp_path / "creds.json"),
                "--state",
                str(tmp_path / "zapi.db"),
                "--allow-writes",
                "--db",
                db,
            ]
            params = StdioServerParameters(
                command=sys.executable, args=args, env={**os.environ, "SHOP_TOKEN": DEFAULT_TOKEN}
            )

            async def go() -> tuple[Any, Any, Any]:
                async with Client(params) as c:
                    tools = {t.name: t for t in (await c.list_tools()).tools}
                    parked = await c.call_tool("delete_order", {"order_id": order})
                    run_id = parked.structured_content["outcome"]["run_id"]
                    assert api.get(f"/api/orders/{order}").json()["status"] == "pending"
                    assert main(["runs", "approve", run_id, "--by", "dana", "--db", db]) == 0
                    deadline = time.monotonic() + 120
                    while True:
                        done = await c.call_tool(RUN_RESULT_TOOL, {"run_id": run_id})
                        status = (done.structured_content or {}).get("outcome", {}).get("status")
                        if status != "waiting_approval" or time.monotonic() > deadline:
                            return tools, parked, done

            tools, parked, done = run(go())
            after = httpx.get(shop.url + "/admin/ledger").json()["total"]
            status = api.get(f"/api/orders/{order}").json()["status"]
            api.close()
        hints = tools["delete_order"].annotations
        assert hints is not None and hints.destructive_hint is True
        assert hints.read_only_hint is False
        assert parked.structured_content["outcome"]["status"] == "waiting_approval"
        assert not done.is_error, text(done)
        assert done.structured_content["outcome"]["status"] == "succeeded"
        assert done.structured_content["result"]["status"] == "cancelled"
        assert status == "cancelled" and after == before + 1
        assert main(["log", "verify", "--state", str(tmp_path / "zapi.db")]) == 0


class TestFaults:
    """Under commit-then-drop, every write lands exactly once and every ambiguity is settled."""

    def test_100_writes_exactly_100_commits(
        self, erp_out: Path, erp: CountingErp, tmp_path: Path
    ) -> None:
        """100 MCP write calls: 100 ledger entries, one reconcile record per ambiguous send."""
        httpx.post(
            erp.url + "/admin/faults",
            json={"commit_then_drop": 1.0, "faults_apply_to": ["stock", "order"]},
            timeout=5,
        ).raise_for_status()
        skus = ["A-1", "A-2", "A-3", "B-1", "B-2"]

        async def go() -> list[Any]:
            out = []
            async with stdio(serve_args(erp_out, erp, tmp_path, "--allow-writes")) as c:
                for i in range(50):
                    stock = {
                        "item_id": skus[i % 5],
                        "quantity": 1000 + i,
                        "reason": "drop",
                        "warehouse": "WH-NORTH",
                    }
                    out.append(await c.call_tool("update_item_stock", stock))
                    order = {"sku": skus[i % 5], "quantity": 1 + i % 3, "customer": "MCP"}
                    out.append(await c.call_tool("create_order", order))
            return out

        results = run(go())
        assert not [text(r) for r in results if r.is_error]
        book = ledger(erp)
        assert book["total"] == 100, book["counts"]
        stock = Counter(w["quantity"] for w in book["writes"] if w["kind"] == "stock")
        refs = Counter(w["client_ref"] for w in book["writes"] if w["kind"] == "order")
        assert set(stock) == set(range(1000, 1050)) and max(stock.values()) == 1
        assert len(refs) == 50 and max(refs.values()) == 1
        assert book["injected"]["commit_then_drop"] == 100
        records = ActionLog.open(tmp_path / "zapi.db").records()
        ambiguous = {
            r.event.call_id
            for r in records
            if r.event.kind == "attempt_finished" and r.event.outcome == "ambiguous"
        }
        reconciled = {r.event.call_id for r in records if r.event.kind == "reconciled"}
        assert len(ambiguous) == 100 and ambiguous == reconciled
        assert all(r.structured_content["outcome"].get("reconciled") for r in results)


class TestReadme:
    """The README's MCP client config starts a working server, exactly as written."""

    def test_config_snippet(self, erp_out: Path, erp: CountingErp, tmp_path: Path) -> None:
        """The JSON block under "Use with an agent" is the command a client runs."""
        readme = (ROOT / "README.md").read_text()
        section = readme.split("## Use with an agent", 1)[1]
        block = re.search(r"```json\n(.*?)^```", section, re.S | re.M)
        assert block is not None
        server = json.loads(block.group(1))["mcpServers"]["zapi"]
        shutil.copytree(erp_out, tmp_path / "out")
        login_state(erp, tmp_path)
        (tmp_path / "creds.json").write_text(json.dumps({"storage_state": "login.json"}))
        args = [re.sub(r"http://127\.0\.0\.1:80\d\d", erp.url, a) for a in server["args"]]
        command = shutil.which(server["command"], path=os.path.dirname(sys.executable))
        assert command is not None

        async def go() -> Any:
            params = StdioServerParameters(command=command, args=args, cwd=tmp_path)
            async with Client(params) as c:
                return await c.call_tool("get_item", {"item_id": "A-1"})

        result = run(go())
        assert not result.is_error, text(result)
        assert result.structured_content["result"]["sku"] == "A-1"

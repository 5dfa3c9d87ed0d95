"""What a card says: login cards, required inputs with evidence, fixed values, safety from evidence.

The flows sample (``samples/flows``) is driven over real HTTP the way its UI does
it; every exchange is recorded into a HAR with the project's own HAR writer and
analysed, then the cards are checked against what the app really does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from samples.flows.app import DEFAULT_PASSWORD, DEFAULT_USER, FlowsServer
from toolgen.cards import ToolCard, load_cards
from toolgen.render import render
from zapi.api import analyze
from zapi.har_writer import Exchange, build_har
from zapi.redact import Redactor

ROOT = Path(__file__).resolve().parent.parent
ERP_HAR = ROOT / "samples" / "hars" / "erp_session.har"


class _Recorder:
    """An httpx client that keeps every exchange, as the browser recorder would."""

    def __init__(self, base: str) -> None:
        self.exchanges: list[Exchange] = []
        self.kind = "fetch"
        self.client = httpx.Client(
            base_url=base, event_hooks={"response": [self._keep]}, follow_redirects=False
        )
        self.t = 1_700_000_000_000.0

    def _keep(self, response: httpx.Response) -> None:
        response.read()
        req = response.request
        self.t += 1000
        self.exchanges.append(
            Exchange(
                started_ms=self.t,
                method=req.method,
                url=str(req.url),
                request_headers=list(req.headers.multi_items()),
                request_body=req.content or None,
                resource_type=self.kind,
                status=response.status_code,
                response_headers=list(response.headers.multi_items()),
                response_body=response.content,
            )
        )

    def page(self, method: str, url: str, **kw: Any) -> httpx.Response:
        self.kind = "document"
        try:
            return self.client.request(method, url, **kw)
        finally:
            self.kind = "fetch"


def _ui_session(base: str) -> list[Exchange]:
    """What a person clicking through the flows UI makes the browser send."""
    rec = _Recorder(base)
    c = rec.client
    rec.page("GET", "/login")
    rec.page("POST", "/login", data={"username": DEFAULT_USER, "password": DEFAULT_PASSWORD})
    page = rec.page("GET", "/app").text
    csrf = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    c.cookies.set("ui_theme", "dark", domain="127.0.0.1")  # document.cookie in the page
    ui = {"X-App-UI": "true", "X-CSRF-Token": csrf, "X-Requested-With": "XMLHttpRequest"}
    c.get("/app/settings", headers=ui)
    for state in ("RUNNING", "FAILED", "COMPLETED", "SCHEDULED", "CANCELLED", "RUNNING"):
        c.post("/api/flow_runs/filter", json={"state": state, "limit": 10}, headers=ui)
        c.post("/api/flow_runs/count", json={"state": state}, headers=ui)
    for i in (1, 2, 3, 4, 5, 6):
        c.post("/api/task_runs/count", json={"flow_run_id": f"fr-{i:04d}"}, headers=ui)
        c.post(f"/api/flow_runs/fr-{i:04d}/history", json={}, headers=ui)
    for page_no in (1, 2, 3):
        c.post("/api/flow_runs/paginate", json={"page": page_no, "per_page": 4}, headers=ui)
    for _ in range(2):  # the dashboard refreshes the pinned runs: same request, same answer
        c.post("/api/flow_runs/by_ids", json={"ids": ["fr-0001", "fr-0002"]}, headers=ui)
    now = int(time.time() * 1000)
    for k in range(4):
        c.get("/api/flow_runs/recent", params={"_": str(now + 17 * k)}, headers=ui)
        c.get(f"/api/flow_runs/recent?p_{now + 31 * k}=", headers=ui)
    for _ in range(3):
        c.get("/api/legacy_stats", headers=ui)
    c.post("/api/flow_runs", json={"flow": "etl"}, headers=ui)  # forgot the name: 422
    for n in (1, 2):
        c.post("/api/flow_runs", json={"name": f"adhoc-{n}", "flow": "etl"}, headers=ui)
    c.post("/api/flow_runs/fr-0003/set_state", json={"state": "CANCELLED"}, headers=ui)
    c.post("/api/flow_runs/fr-0004/set_state", json={"state": "RUNNING"}, headers=ui)
    c.delete("/api/flow_runs/fr-0012", headers=ui)
    c.delete("/api/flow_runs/fr-0011", headers=ui)
    for rid in ("fr-0005", "fr-0006"):
        c.post("/api/ui/actions?id=list_tasks", json={"flow_run_id": rid}, headers=ui)
    c.post("/api/ui/actions?id=delete_tasks", json={"flow_run_id": "fr-0006"}, headers=ui)
    gql = {
        "FlowRuns": "query FlowRuns($state: String) { flowRuns(state: $state) { id name } }",
        "FlowRunCount": "query FlowRunCount($state: String) { flowRunCount(state: $state) }",
        "CreateFlowRun": "mutation CreateFlowRun($name: String!) { createFlowRun(name: $name) "
        "{ id } }",
        "DeleteFlowRun": "mutation DeleteFlowRun($id: ID!) { deleteFlowRun(id: $id) }",
    }
    for name, variables in (
        ("FlowRuns", {"state": "RUNNING"}),
        ("FlowRunCount", {"state": "FAILED"}),
        ("FlowRuns", {"state": "FAILED"}),
        ("CreateFlowRun", {"name": "from-graphql"}),
        ("DeleteFlowRun", {"id": "fr-0010"}),
    ):
        body = {"operationName": name, "query": gql[name], "variables": variables}
        c.post("/graphql", json=body, headers=ui)
    for i, (method, params) in enumerate(
        (
            ("runs.list", {"state": "RUNNING"}),
            ("runs.get", {"id": "fr-0001"}),
            ("runs.retry", {"id": "fr-0002"}),
        )
    ):
        c.post(
            "/rpc", json={"jsonrpc": "2.0", "id": i, "method": method, "params": params}, headers=ui
        )
    c.close()
    return rec.exchanges


@pytest.fixture(scope="module")
def flows(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, ToolCard], Any]]:
    """Record the flows UI session, analyse it, yield (cards by name, analysis report)."""
    tmp = tmp_path_factory.mktemp("flows")
    with FlowsServer() as server:
        exchanges = _ui_session(server.url)
        writes = server.writes
    assert writes == 10  # the session really wrote what it says (creates, states, deletes...)
    har, _ = build_har(exchanges, redactor=Redactor())
    path = tmp / "flows.har"
    path.write_text(json.dumps(har))
    result = analyze([str(path)], str(tmp / "out"))
    yield load_cards(tmp / "out"), result


def _required(card: ToolCard) -> list[str]:
    return sorted(card.input_schema.get("required", []))


class TestReadsThatArePosts:
    """POST reads are read_only and named as reads; writes stay writes (issue 12)."""

    @pytest.mark.parametrize(
        "name",
        [
            "filter_flow_runs",
            "count_flow_runs",
            "count_task_runs",
            "paginate_flow_runs",
            "get_flow_run_history",
            "graphql_flow_runs",
            "graphql_flow_run_count",
            "rpc_runs_list",
            "rpc_runs_get",
            "query_flow_runs_by_ids",
        ],
    )
    def test_reads(self, flows: tuple[dict[str, ToolCard], Any], name: str) -> None:
        cards = flows[0]
        assert name in cards, sorted(cards)
        card = cards[name]
        assert card.safety == "read_only", (name, card.safety_reasons)
        assert card.safety_reasons
        assert card.verification is None and card.reconcile is None

    @pytest.mark.parametrize(
        ("name", "safety"),
        [
            ("create_flow_run", "write"),
            ("set_state_flow_run", "write"),
            ("delete_flow_run", "destructive"),
            ("graphql_create_flow_run", "write"),
            ("graphql_delete_flow_run", "destructive"),
            ("rpc_runs_retry", "write"),
        ],
    )
    def test_writes(self, flows: tuple[dict[str, ToolCard], Any], name: str, safety: str) -> None:
        cards = flows[0]
        assert name in cards, sorted(cards)
        assert cards[name].safety == safety, cards[name].safety_reasons

    def test_no_read_is_named_create(self, flows: tuple[dict[str, ToolCard], Any]) -> None:
        for card in flows[0].values():
            if card.safety == "read_only":
                assert not card.name.startswith(("create_", "post_")), card.name

    def test_action_route_carries_per_value_safety(
        self, flows: tuple[dict[str, ToolCard], Any]
    ) -> None:
        card = flows[0]["run_ui_action"]
        assert card.path == "/api/ui/actions"
        assert card.safety == "destructive"
        prop = card.input_schema["properties"]["id"]
        assert prop["x-action-safety"] == {"delete_tasks": "destructive", "list_tasks": "read_only"}
        assert any("id=delete_tasks -> destructive" in r for r in card.safety_reasons)


class TestLoginCard:
    """A form login answered by a redirect becomes the login tool (issue 12)."""

    def test_flows_form_login(self, flows: tuple[dict[str, ToolCard], Any]) -> None:
        card = flows[0]["login"]
        assert card.method == "POST" and card.path == "/login"
        assert card.login is not None
        assert card.login.secret_args == ["password"]
        assert card.login.sets_cookies == ["flows_session"]
        assert card.login.csrf_source == "meta:csrf-token"
        assert card.login.csrf_page == "/app"  # where the login redirects
        assert _required(card) == ["password", "username"]
        pw = card.input_schema["properties"]["password"]
        assert "examples" not in pw and pw.get("writeOnly") is True
        assert DEFAULT_PASSWORD not in card.dump()

    def test_erp_form_login(self, tmp_path: Path) -> None:
        analyze([str(ERP_HAR)], str(tmp_path / "out"))
        card = load_cards(tmp_path / "out")["login"]
        assert card.login is not None
        assert card.login.sets_cookies == ["erp_session"]
        assert card.login.csrf_source == "cookie:XSRF-TOKEN"
        assert card.login.secret_args == ["password"]


class TestRequiredWithEvidence:
    """Inputs are required only when the evidence says so."""

    def test_erp_update_item_stock(self, tmp_path: Path) -> None:
        analyze([str(ERP_HAR)], str(tmp_path / "out"))
        cards = load_cards(tmp_path / "out")
        assert _required(cards["update_item_stock"]) == ["item_id", "quantity"]
        assert "reason" in cards["update_item_stock"].input_schema["properties"]
        assert _required(cards["list_items"]) == []
        assert {"page", "per_page"} <= set(cards["list_items"].input_schema["properties"])

    def test_a_4xx_naming_a_field_makes_it_required(
        self, flows: tuple[dict[str, ToolCard], Any]
    ) -> None:
        card = flows[0]["create_flow_run"]
        assert _required(card) == ["name"]
        assert any("4xx naming it" in r for r in card.reasons)

    def test_constant_presence_over_enough_calls(
        self, flows: tuple[dict[str, ToolCard], Any]
    ) -> None:
        # 6 distinct calls; limit too, but a page size is no requirement (the app defaults it)
        assert _required(flows[0]["filter_flow_runs"]) == ["state"]
        assert _required(flows[0]["paginate_flow_runs"]) == []  # 3 calls say nothing


class TestFixedAndDropped:
    """UI constants are fixed, cache-busters generated, client-only cookies dropped."""

    def test_ui_flag_and_requested_with_are_fixed(
        self, flows: tuple[dict[str, ToolCard], Any]
    ) -> None:
        for card in flows[0].values():
            if card.name == "login":
                continue
            wires = {b.name for b in card.bindings}
            assert "x-app-ui" not in wires and "x-requested-with" not in wires, card.name
            fixed = {f.name: f.value for f in card.fixed if f.location == "header"}
            assert fixed.get("x-app-ui") == "true", card.name

    def test_cache_busters_are_generated(self, flows: tuple[dict[str, ToolCard], Any]) -> None:
        card = (
            flows[0]["list_flow_runs_recent"]
            if "list_flow_runs_recent" in flows[0]
            else next(c for c in flows[0].values() if c.path == "/api/flow_runs/recent")
        )
        assert card.input_schema["properties"] == {}
        gen = {(f.name, f.generate, f.in_key) for f in card.fixed if f.location == "query"}
        assert gen == {("_", "timestamp_ms", False), ("p_", "timestamp_ms", True)}

    def test_client_only_cookie_is_never_an_argument(
        self, flows: tuple[dict[str, ToolCard], Any]
    ) -> None:
        for card in flows[0].values():
            assert all(b.location != "cookie" for b in card.bindings), card.name
        card = flows[0]["filter_flow_runs"]
        assert any("ui_theme dropped: client-only" in r for r in card.reasons)


class TestOutcomes:
    """Pages fetched by scripts are not tools; failing-only operations are marked."""

    def test_html_page_fetched_by_script_is_dropped(
        self, flows: tuple[dict[str, ToolCard], Any]
    ) -> None:
        assert all(c.path != "/app/settings" for c in flows[0].values())
        report = (Path(flows[1].openapi_path).parent / "report.md").read_text()
        assert "HTML page fetched by a script" in report
        assert "read_only (POST named as a read: route word 'filter')" in report

    def test_seen_only_failing(self, flows: tuple[dict[str, ToolCard], Any]) -> None:
        card = next(c for c in flows[0].values() if c.path == "/api/legacy_stats")
        assert card.seen_working is False
        assert card.confidence <= 0.3
        assert any("seen only failing (404 x3)" in r for r in card.reasons)
        working = [c for c in flows[0].values() if c.path == "/api/flow_runs/filter"]
        assert working[0].seen_working is True
        offered = json.loads(render(flows[0].values(), "mcp"))["tools"]
        names = {t["name"] for t in offered}
        assert card.name not in names and "filter_flow_runs" in names
        everything = json.loads(render(flows[0].values(), "mcp", include_failing=True))["tools"]
        assert card.name in {t["name"] for t in everything}

"""Flows: the dependency graph, a runnable plan from a recording, drift and contract checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

import zapi
from samples.erp.app import Faults, make_server
from zapi.analyzer.flows import Endpoint, linkable, trace_flows
from zapi.cli.app import main
from zapi.har import HarEntry

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "hars" / "erp_session.har"

# A short UI session: sign in, open item A-1, set its stock.
DRIVE_STOCK = """
def drive(page):
    def done(prefix):
        page.wait_for_function(
            "p => document.getElementById('status').textContent.startsWith(p)", arg=prefix)

    page.fill("#username", "alice")
    page.fill("#password", "wonderland")
    page.click("#login-btn")
    page.wait_for_url("**/inventory")
    page.wait_for_selector('a.item-link[data-sku="A-1"]')
    with page.expect_response(lambda r: "/api/items/A-1" in r.url):
        page.click('a.item-link[data-sku="A-1"]')
    done("Loaded")
    page.fill("#qty", "17")
    with page.expect_response(lambda r: r.request.method == "PUT" and "/stock" in r.url):
        page.click("#save-stock")
    done("Saved")
"""


def edges(out: Path) -> list[dict[str, Any]]:
    return list(json.loads((out / "flows.json").read_text())["edges"])


def has(
    es: list[dict[str, Any]], consumer: str, inp: str, producers: set[str], output: str
) -> bool:
    return any(
        e["consumer"] == consumer
        and e["input"] == inp
        and e["producer"] in producers
        and e["output"] == output
        for e in es
    )


@pytest.fixture(scope="module")
def sample_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("flows") / "out"
    zapi.analyze([str(SAMPLE)], str(out))
    return out


class TestSampleGraph:
    """On the bundled ERP recording the graph has the edges a person would draw."""

    def test_list_to_item_to_stock_update(self, sample_out: Path) -> None:
        """list_items → get_item (item id) → update_item_stock."""
        es = edges(sample_out)
        assert has(es, "get_item", "item_id", {"list_items"}, "items[].sku")
        assert has(es, "update_item_stock", "item_id", {"get_item"}, "sku")

    def test_login_csrf_cookie_feeds_the_write_header(self, sample_out: Path) -> None:
        """The login's XSRF-TOKEN cookie feeds every write's X-XSRF-TOKEN header, by role."""
        es = edges(sample_out)
        csrf = [e for e in es if e["input"] == "header:X-XSRF-TOKEN"]
        assert {e["consumer"] for e in csrf} >= {"update_item_stock", "create_order"}
        assert all(e["producer"] == "login" and e["output"] == "cookie:XSRF-TOKEN" for e in csrf)
        assert all(e["role"] == "csrf" for e in csrf)
        session = [e for e in es if e["input"] == "cookie:erp_session"]
        assert session and all(e["role"] == "session" for e in session)

    def test_order_to_client_ref_lookup(self, sample_out: Path) -> None:
        """The order's client_ref is the value the order list is searched by."""
        es = edges(sample_out)
        assert has(es, "list_orders", "client_ref", {"create_order", "get_order"}, "client_ref")
        assert has(es, "get_order", "order_id", {"list_orders", "create_order"}, "orders[].id") or (
            has(es, "get_order", "order_id", {"create_order"}, "id")
        )

    def test_no_coincidental_edge(self, sample_out: Path) -> None:
        """Quantities, pages, prices and words never link."""
        es = edges(sample_out)
        assert not [e for e in es if e["input"] in ("page", "per_page", "quantity", "reason")]
        assert not [e for e in es if e["output"].endswith(("quantity", "price", "name"))]

    def test_outputs_hold_no_values(self, sample_out: Path) -> None:
        """flows.json names fields and roles, never a recorded value."""
        text = (sample_out / "flows.json").read_text()
        assert "A-1" not in text and "REDACTED" not in text and "demo-1791" not in text

    def test_cards_report_and_hints(self, sample_out: Path) -> None:
        """Cards gain inputs_from; report.md shows a Mermaid diagram of the flows."""
        card = json.loads((sample_out / "cards" / "get_item.json").read_text())
        assert card["inputs_from"] == {"item_id": ["list_items.items[].sku"]}
        stock = json.loads((sample_out / "cards" / "update_item_stock.json").read_text())
        assert stock["inputs_from"]["item_id"] == ["get_item.sku"]
        report = (sample_out / "report.md").read_text()
        assert "## Flows" in report and "```mermaid\nflowchart LR" in report
        assert "n_list_items -->" in report


def _entry(i: int, method: str, url: str, body: Any = None, response: Any = None) -> HarEntry:
    return HarEntry(
        source="t.har",
        index=i,
        method=method,
        url=url,
        status=200,
        request_mime="application/json" if body is not None else "",
        request_text_raw=json.dumps(body) if body is not None else None,
        response_mime="application/json",
        response_text_raw=json.dumps(response) if response is not None else None,
    )


def _classify(e: HarEntry) -> Endpoint:
    parts = [p for p in e.path.split("/") if p]
    template = "/" + "/".join(parts[:2] + ["{id}"] * (len(parts) - 2))
    return Endpoint(node=f"{e.method.lower()}_{parts[1]}", template=template)


class TestCoincidences:
    """Planted coincidences (small integers, booleans, common words, dates) make no edge."""

    PLANTED = {
        "count": 3,
        "active": True,
        "status": "open",
        "page": 2,
        "price": 9.5,
        "year": 2024,
        "name": "apple",
        "label": "Red Apple",
        "when": "2024-01-01T00:00:00Z",
        "algorithm": "least_connections",
        "state": "CHANGES_REQUESTED",
        "ip_type": "ipv6",
        "id": "thing-7781",
    }

    def test_only_the_id_links(self) -> None:
        """Every planted value comes back in the next request; only the id is an edge."""
        entries = [
            _entry(0, "GET", "http://x.test/api/things", response={"items": [self.PLANTED]}),
            _entry(
                1,
                "POST",
                "http://x.test/api/search/thing-7781",
                body={k: v for k, v in self.PLANTED.items() if k != "id"},
                response={"ok": True},
            ),
            _entry(2, "GET", "http://x.test/api/other?status=open&count=3&active=true&year=2024"),
        ]
        graph = trace_flows(entries, _classify)
        assert [(e.producer, e.output, e.consumer, e.input) for e in graph.edges] == [
            ("get_things", "items[].id", "post_search", "id")
        ]

    @pytest.mark.parametrize(
        ("value", "linked"),
        [
            (True, False),
            (7, False),
            (999, False),
            (2024, False),
            (9.5, False),
            ("ok", False),
            ("open", False),
            ("Walk-in", False),
            ("Brass Shelf", False),
            ("2024-01-01", False),
            ("least_connections", False),
            ("CHANGES_REQUESTED", False),
            ("ipv4", False),
            ("aBcDeFgHiJkLmNoPqR", True),
            ("[REDACTED:hex]", False),
            ("A-1", True),
            ("ORD-0003", True),
            (48213, True),
            ("48213", True),
            ("c0ffee00-1234-4abc-9def-0123456789ab", True),
        ],
    )
    def test_linkable(self, value: Any, linked: bool) -> None:
        """What counts as a value worth linking."""
        assert (linkable(value) is not None) is linked

    def test_index_is_capped(self) -> None:
        """A long capture forgets its oldest values instead of growing without bound."""
        entries = [
            _entry(
                i,
                "GET",
                f"http://x.test/api/p{i}",
                response={"ids": [f"v-{i}-{j}" for j in range(50)]},
            )
            for i in range(40)
        ]
        graph = trace_flows(entries, _classify, max_index=100)
        assert graph.forgotten == 40 * 50 - 100


# -- recordings of the ERP (headless Chromium) ----------------------------------------------


def record(tmp: Path, name: str, chromium: str | None, faults: Faults | None = None) -> Path:
    script = tmp / "drive_stock.py"
    script.write_text(DRIVE_STOCK)
    har = tmp / f"{name}.har"
    with make_server(0, seed=0, faults=faults) as server:
        argv = ["record", server.url + "/login", "-o", str(har), "--headless"]
        argv += ["--script", str(script), "--timeout", "60"]
        if chromium:
            argv += ["--browser-path", chromium]
        assert main(argv) == 0
    return har


@pytest.fixture(scope="module")
def recordings(
    tmp_path_factory: pytest.TempPathFactory, chromium_path: str | None
) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("recordings")
    return {
        "a": record(tmp, "a", chromium_path),
        "b": record(tmp, "b", chromium_path),
        "drift": record(tmp, "drift", chromium_path, Faults(drift=True)),
    }


def login_state(url: str, path: Path) -> Path:
    """A storage state signed in to a fresh ERP, as `--save-storage-state` would write it."""
    r = httpx.post(url + "/login", data={"username": "alice", "password": "wonderland"}, timeout=5)
    host = httpx.URL(url).host
    cookies = [
        {
            "name": k,
            "value": v,
            "domain": host,
            "path": "/",
            "expires": -1,
            "httpOnly": False,
            "secure": False,
            "sameSite": "Lax",
        }
        for k, v in r.cookies.items()
    ]
    path.write_text(json.dumps({"cookies": cookies, "origins": []}))
    creds = path.with_suffix(".creds.json")
    creds.write_text(json.dumps({"storage_state": str(path)}))
    return creds


@pytest.fixture(scope="module")
def planned(
    recordings: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """The analysis and the `zapi plan` of recording "a" (module-scoped: pytest 10
    removes class-scoped fixtures defined as instance methods)."""
    tmp = tmp_path_factory.mktemp("plan")
    out = tmp / "out"
    zapi.analyze([str(recordings["a"])], str(out))
    plan = tmp / "plan.yaml"
    assert main(["plan", str(recordings["a"]), "--tools", str(out), "-o", str(plan)]) == 0
    return out, plan


@pytest.mark.browser
class TestPlanFromRecording:
    """`zapi plan` on a fresh recording runs through `zapi run` against a fresh ERP."""

    def test_plan_shape(self, planned: tuple[Path, Path]) -> None:
        """References for response values, inputs for typed values, verify and compensate."""
        _, plan_path = planned
        plan = yaml.safe_load(plan_path.read_text())
        steps = {s["id"]: s for s in plan["steps"]}
        stock = steps["update_item_stock"]
        assert stock["args"]["item_id"].startswith("${steps.get_item.output.")
        assert stock["args"]["quantity"] == "${inputs.quantity}"
        assert plan["inputs"]["quantity"]["default"] == 17
        assert stock["verify"]["expect"]["/quantity"] == "${args.quantity}"
        assert stock["compensate"]["args"]["quantity"] == "${steps.get_item.output.quantity}"
        assert steps["get_item"]["args"]["item_id"].startswith("${steps.list_items.output.items.")
        assert [s["id"] for s in plan["steps"]] == ["list_items", "get_item", "update_item_stock"]

    def _run(self, plan: Path, out: Path, url: str, tmp: Path, run_id: str) -> int:
        creds = login_state(url, tmp / f"{run_id}-login.json")
        argv = ["run", str(plan), "--tools", str(out), "--base-url", url]
        argv += ["--credentials", str(creds), "--db", str(tmp / f"{run_id}.db"), "--run-id", run_id]
        argv += ["--timeout", "60"]
        return main(argv)

    def test_runs_verified_one_write(self, planned: tuple[Path, Path], tmp_path: Path) -> None:
        """Verification passes and the ERP ledger shows exactly one committed write."""
        out, plan = planned
        with make_server(0, seed=0) as erp:
            assert self._run(plan, out, erp.url, tmp_path, "ok-1") == 0
            writes = erp.store.ledger_snapshot()["writes"]
            assert [(w["kind"], w.get("quantity")) for w in writes] == [("stock", 17)]
            assert erp.store.item("A-1").quantity == 17  # type: ignore[union-attr]

    def test_commit_then_504_writes_once(self, planned: tuple[Path, Path], tmp_path: Path) -> None:
        """Commit-then-504 on every stock write: never a second commit.

        The runtime settles the ambiguous PUT with the card's verification read (the
        stock is there) and the run succeeds; were it unsettled, the run pauses (exit 3)
        and a resume settles it.  Either way the ledger shows exactly one write.
        """
        out, plan = planned
        with make_server(0, seed=0, faults=Faults(commit_then_504=1.0)) as erp:
            rc = self._run(plan, out, erp.url, tmp_path, "f-1")
            assert rc in (0, 3)
            if rc == 3:
                argv = ["runs", "resume", "f-1", "--by", "ops", "--tools", str(out)]
                argv += ["--base-url", erp.url, "--db", str(tmp_path / "f-1.db")]
                argv += ["--credentials", str(tmp_path / "f-1-login.creds.json")]
                assert main(argv) == 0
            writes = erp.store.ledger_snapshot()["writes"]
            assert [(w["kind"], w.get("quantity")) for w in writes] == [("stock", 17)]
            assert erp.store.item("A-1").quantity == 17  # type: ignore[union-attr]


@pytest.mark.browser
class TestDiffAndCheck:
    """`zapi diff` reports the drift mode's changes as breaking; identical captures: nothing."""

    def test_identical_recordings(
        self, recordings: dict[str, Path], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Two recordings of the same session give no changes and exit 0."""
        assert main(["diff", str(recordings["a"]), str(recordings["b"])]) == 0
        assert capsys.readouterr().out.strip() == "no changes"

    def test_drift_is_breaking(
        self, recordings: dict[str, Path], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """region_id became required and warehouse was removed: exactly those break, exit 1."""
        assert main(["diff", str(recordings["a"]), str(recordings["drift"]), "--json"]) == 1
        report = json.loads(capsys.readouterr().out)
        assert report["breaking"] is True and not report["added"] and not report["removed"]
        breaking = {(c["tool"], c["kind"], c["field"]) for c in report["changes"] if c["breaking"]}
        assert {(k, f.rsplit(".", 1)[-1]) for _, k, f in breaking} <= {
            ("input_required", "region_id"),
            ("output_removed", "warehouse"),
        }
        assert ("update_item_stock", "input_required", "region_id") in breaking
        assert ("get_item", "output_removed", "warehouse") in breaking

    def test_check_against_cards(
        self, recordings: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The same traffic agrees with its cards; drifted traffic does not."""
        out = tmp_path / "out"
        zapi.analyze([str(recordings["a"])], str(out))
        assert main(["check", str(recordings["b"]), "--against", str(out)]) == 0
        # the recording's three API calls and its form login (a tool of its own)
        assert "4 calls checked: 0 findings" in capsys.readouterr().out
        assert main(["check", str(recordings["drift"]), "--against", str(out), "--json"]) == 1
        report = json.loads(capsys.readouterr().out)
        details = " ".join(f["detail"] for f in report["findings"])
        assert "region_id" in details and "warehouse" in details


class TestPlanFromSample:
    """`zapi plan` on the bundled recording: a valid, editable plan; bad input is one line."""

    def test_plan_validates_and_links(self, sample_out: Path, tmp_path: Path) -> None:
        """Every write of the session, in order, each fed by the read before it."""
        from runtime.workflows.plan import load_plan

        out = tmp_path / "plan.yaml"
        assert main(["plan", str(SAMPLE), "--tools", str(sample_out), "-o", str(out)]) == 0
        plan = load_plan(out)
        writes = [s for s in plan.steps if s.tool and not s.tool.startswith(("get_", "list_"))]
        assert [s.tool for s in writes] == [
            "update_item_stock",
            "update_item_stock",
            "create_order",
            "update_item_notes",
            "create_item_attachment",
            "bin_update_legacy",
        ]
        order = next(s for s in plan.steps if s.tool == "create_order")
        assert order.verify is not None and order.verify.args == {"order_id": "${output.id}"}
        assert order.args["sku"].startswith("${steps.get_item_")
        assert "history" in plan.inputs  # a large typed value is an input, not inline
        assert "REDACTED" not in out.read_text()

    def test_only_and_errors(
        self, sample_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--only keeps one tool's writes; an unknown tool or a read-only HAR is one line."""
        argv = ["plan", str(SAMPLE), "--tools", str(sample_out), "--only", "create_order"]
        assert main(argv) == 0
        plan = yaml.safe_load(capsys.readouterr().out)
        assert [s["tool"] for s in plan["steps"]] == ["list_items", "get_item", "create_order"]
        assert main([*argv[:-1], "nope"]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: --only nope: no such tool") and err.count("\n") == 1
        reads = tmp_path / "reads.har"
        data = json.loads(SAMPLE.read_text())
        data["log"]["entries"] = [
            e for e in data["log"]["entries"] if e["request"]["method"] == "GET"
        ]
        reads.write_text(json.dumps(data))
        assert main(["plan", str(reads), "--tools", str(sample_out)]) == 1
        assert "holds no successful write" in capsys.readouterr().err


class TestDiffCards:
    """diff_cards: breaking vs compatible, per kind of change."""

    def test_same_folder_no_changes(
        self, sample_out: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A capture compared with its own HAR: no changes, exit 0."""
        assert main(["diff", str(sample_out), str(SAMPLE)]) == 0
        assert capsys.readouterr().out == "no changes\n"

    def test_kinds(self, sample_out: Path) -> None:
        """Each kind of change is classified; a removed operation is breaking too."""
        from toolgen.cards import load_cards
        from toolgen.diff import diff_cards

        old = load_cards(sample_out)
        new = dict(old)
        stock = old["update_item_stock"]
        schema = json.loads(json.dumps(stock.input_schema))
        schema["properties"]["region_id"] = {"type": "string"}
        schema["required"] = [*schema["required"], "region_id"]
        schema["properties"]["quantity"]["type"] = "string"
        new["update_item_stock"] = stock.model_copy(
            update={"input_schema": schema, "auth": [], "responses": {"202": "seen"}}
        )
        item = old["get_item"]
        out = json.loads(json.dumps(item.output_schema))
        del out["properties"]["bin"]
        out["properties"]["extra"] = {"type": "string"}
        new["get_item"] = item.model_copy(update={"output_schema": out})
        del new["get_ledger"]
        report = diff_cards(old, new)
        got = {(c.tool, c.kind, c.field, c.breaking) for c in report.changes}
        assert got == {
            ("update_item_stock", "input_required", "region_id", True),
            ("update_item_stock", "input_type", "quantity", True),
            ("update_item_stock", "auth", "", True),
            ("update_item_stock", "status", "", True),
            ("get_item", "output_removed", "bin", True),
            ("get_item", "output_added", "extra", False),
        }
        assert report.removed == ["GET /api/ledger.xml (get_ledger)"] and report.has_breaking


class TestCompensation:
    """A POST whose created resource a DELETE tool can remove gets that DELETE as compensate."""

    def test_delete_undoes_post(self, sample_out: Path) -> None:
        """create_order is undone by a DELETE /api/orders/{order_id} of its output id."""
        from toolgen.cards import load_cards
        from toolgen.flowplan import build_plan, recorded_calls
        from zapi.har import iter_har

        cards = load_cards(sample_out)
        get_order = cards["get_order"]
        cards["delete_order"] = get_order.model_copy(
            update={"name": "delete_order", "method": "DELETE", "safety": "destructive"}
        )
        calls = recorded_calls(iter_har(SAMPLE), list(cards.values()))
        plan = build_plan(calls, list(cards.values()), name="t", only=["create_order"])
        order = next(s for s in plan["steps"] if s["tool"] == "create_order")
        assert order["compensate"] == {"tool": "delete_order", "args": {"order_id": "${output.id}"}}


class TestRoles:
    """Redacted CSRF and bearer tokens are linked by role to where they came from."""

    def test_meta_csrf_and_bearer(self) -> None:
        """A page's csrf meta feeds the CSRF header; the login's access_token the bearer."""
        page = HarEntry(
            source="t.har",
            index=0,
            method="GET",
            url="http://x.test/app",
            status=200,
            response_mime="text/html",
            response_text_raw='<meta name="csrf-token" content="[REDACTED:token]">',
        )
        login = _entry(
            1,
            "POST",
            "http://x.test/api/session",
            body={},
            response={"access_token": "[REDACTED:jwt]"},
        )
        write = _entry(2, "POST", "http://x.test/api/items", body={"name": "x"})
        write.request_headers = [
            ("X-CSRF-Token", "[REDACTED:token]"),
            ("Authorization", "Bearer [REDACTED:jwt]"),
        ]

        def classify(e: HarEntry) -> Endpoint:
            if e.path == "/app":
                return Endpoint(node="GET /app", kind="page")
            return _classify(e)

        graph = trace_flows([page, login, write], classify)
        got = {(e.producer, e.output, e.consumer, e.input, e.role) for e in graph.edges}
        assert got == {
            ("GET /app", "html:meta[csrf-token]", "post_items", "header:X-CSRF-Token", "csrf"),
            ("post_session", "access_token", "post_items", "header:Authorization", "auth"),
        }


class TestOrderPlanRuns:
    """A POST replayed from the bundled recording: the runtime makes the client id per step."""

    def test_create_order_once(self, sample_out: Path, tmp_path: Path) -> None:
        """No recorded client_ref in the plan; one order whose client_ref is the run's step."""
        plan = tmp_path / "order.yaml"
        argv = ["plan", str(SAMPLE), "--tools", str(sample_out), "--only", "create_order"]
        assert main([*argv, "-o", str(plan)]) == 0
        assert "client_ref" not in plan.read_text()
        with make_server(0, seed=0) as erp:
            creds = login_state(erp.url, tmp_path / "login.json")
            argv = ["run", str(plan), "--tools", str(sample_out), "--base-url", erp.url]
            argv += ["--credentials", str(creds), "--db", str(tmp_path / "runs.db")]
            assert main([*argv, "--run-id", "o1", "--timeout", "60"]) == 0
            writes = erp.store.ledger_snapshot()["writes"]
            assert [(w["kind"], w["sku"], w["client_ref"]) for w in writes] == [
                ("order", "A-6", "o1/3")
            ]


class TestPauseUnderFault:
    """A replayed write the runtime cannot settle pauses the run; it is never resent."""

    def test_commit_then_504_pauses(
        self, sample_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The legacy form POST (no reconcile read) answered 504 after committing: paused.

        `zapi run` exits 3 (paused). The operator says it landed; with no read of the
        resource to take the step's output from, the run asks for it (still paused),
        and continues once given; the write is never resent.
        """
        plan = tmp_path / "bin.yaml"
        argv = ["plan", str(SAMPLE), "--tools", str(sample_out), "--only", "bin_update_legacy"]
        assert main([*argv, "-o", str(plan)]) == 0
        faults = Faults(commit_then_504=1.0, faults_apply_to=("legacy",))
        with make_server(0, seed=0, faults=faults) as erp:
            creds = login_state(erp.url, tmp_path / "login.json")
            tools = ["--tools", str(sample_out), "--base-url", erp.url, "--credentials", str(creds)]
            db = ["--db", str(tmp_path / "runs.db")]
            capsys.readouterr()
            rc = main(["run", str(plan), *tools, *db, "--run-id", "b1", "--timeout", "60"])
            out = capsys.readouterr().out
            assert rc == 3 and "run b1: paused" in out and "504" in out
            writes = erp.store.ledger_snapshot()["writes"]
            assert [(w["kind"], w["sku"]) for w in writes] == [("legacy", "A-4")]
            argv = ["runs", "resume", "b1", "--by", "ops", "--set", "landed=true", *tools, *db]
            assert main(argv) == 3
            assert "--set output=" in capsys.readouterr().out
            argv = ["runs", "resume", "b1", "--by", "ops", "--set", "output={}", *tools, *db]
            assert main(argv) == 0
            assert "run b1: succeeded" in capsys.readouterr().out
            assert len(erp.store.ledger_snapshot()["writes"]) == 1

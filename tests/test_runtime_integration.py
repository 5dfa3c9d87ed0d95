"""The runtime against the real ERP sample: faults, reconcile, verification, drift, CLI, demo."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from factories import exchange_entry

from runtime import Credentials, LoginSpec, RetryPolicy, Runtime
from runtime import open as open_runtime
from samples.demo_call import demo_call
from samples.erp.app import make_server
from zapi.errors import SchemaDrift, VerificationFailed

pytestmark = pytest.mark.integration

LOGIN = Credentials(
    login=LoginSpec(tool="login", args={"username": "alice", "password": "wonderland"})
)


def record_erp_har(path: Path) -> None:
    """Real httpx exchanges with the sample, written as a HAR (what a browser would record)."""
    entries: list[dict[str, Any]] = []

    def hook(response: httpx.Response) -> None:
        response.read()
        entries.append(exchange_entry(response))

    with (
        make_server() as server,
        httpx.Client(base_url=server.url, event_hooks={"response": [hook]}) as c,
    ):
        c.post("/login", data={"username": "alice", "password": "wonderland"})
        c.headers["X-XSRF-TOKEN"] = c.cookies["XSRF-TOKEN"]
        skus = [i["sku"] for i in c.get("/api/items", params={"per_page": 100}).json()["items"]]
        for q, sku in enumerate(skus[:10]):
            c.get(f"/api/items/{sku}")
            c.put(f"/api/items/{sku}/stock", json={"quantity": q, "reason": "count"})
            c.get(f"/api/items/{sku}")
        for i, sku in enumerate(skus[:3]):
            c.post(
                "/api/orders",
                json={"sku": sku, "quantity": i + 1, "customer": "ACME", "client_ref": f"ref-{i}"},
            )
            c.get("/api/orders", params={"client_ref": f"ref-{i}"})
        for oid in ("ORD-0001", "ORD-0003", "ORD-0004"):
            c.get(f"/api/orders/{oid}")
    path.write_text(
        json.dumps(
            {
                "log": {
                    "version": "1.2",
                    "creator": {"name": "test", "version": "1"},
                    "entries": entries,
                }
            }
        )
    )


@pytest.fixture(scope="session")
def erp_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Cards analysed from recorded ERP traffic."""
    from zapi.api import analyze

    base = tmp_path_factory.mktemp("erp")
    record_erp_har(base / "erp.har")
    analyze([str(base / "erp.har")], str(base / "out"))
    return base / "out"


@pytest.fixture
def erp() -> Iterator[Any]:
    with make_server(seed=7) as server:
        yield server


def set_faults(server: Any, **faults: Any) -> None:
    httpx.post(server.url + "/admin/faults", json=faults, timeout=5).raise_for_status()


def ledger(server: Any) -> dict[str, Any]:
    result: dict[str, Any] = httpx.get(server.url + "/admin/ledger", timeout=5).json()
    return result


def rt_for(erp_out: Path, server: Any, tmp_path: Path, **kw: Any) -> Runtime:
    return open_runtime(
        erp_out,
        credentials=LOGIN,
        state=tmp_path / "zapi.db",
        base_url=server.url,
        sleep=lambda s: None,
        **kw,
    )


class TestUpload:
    """A multipart upload tool sends the file as a file part, with its fields."""

    def test_upload_through_the_runtime(self, erp: Any, tmp_path: Path) -> None:
        import zapi
        from toolgen.cards import load_cards

        root = Path(__file__).resolve().parent.parent
        zapi.analyze([str(root / "samples/hars/erp_session.har")], str(tmp_path / "out"))
        cards = load_cards(tmp_path / "out")
        upload = next(c for c in cards.values() if c.path.endswith("/attachments"))
        assert upload.body_media.startswith("multipart/form-data")
        doc = tmp_path / "invoice.pdf"
        doc.write_bytes(b"%PDF-1.4 " + bytes(range(256)) * 8)
        http = httpx.Client(timeout=10)
        http.post(erp.url + "/login", data={"username": "alice", "password": "wonderland"})
        rt = Runtime(
            cards, client=http, base_url=erp.url, sleep=lambda s: None, files_root=tmp_path
        )
        try:
            res = rt.call(upload.name, item_id="A-3", file=str(doc), comment="signed")
        finally:
            rt.close()
            http.close()
        assert res.status == 201 and res.data["size"] == doc.stat().st_size
        assert res.data["filename"] == "invoice.pdf"
        assert ledger(erp)["counts"]["attachment"] == 1

    def test_missing_file_names_the_argument(self, erp: Any, tmp_path: Path) -> None:
        import zapi
        from toolgen.cards import load_cards
        from zapi.errors import InvalidArguments

        root = Path(__file__).resolve().parent.parent
        zapi.analyze([str(root / "samples/hars/erp_session.har")], str(tmp_path / "out"))
        cards = load_cards(tmp_path / "out")
        upload = next(c for c in cards.values() if c.path.endswith("/attachments"))
        rt = Runtime(cards, base_url=erp.url, sleep=lambda s: None, files_root=tmp_path)
        with pytest.raises(InvalidArguments, match="readable file") as exc:
            rt.call(upload.name, item_id="A-3", file=str(tmp_path / "nope.pdf"), comment="x")
        rt.close()
        assert exc.value.context["field"] == "file"
        assert ledger(erp)["total"] == 0


class TestCards:
    """The analysed cards carry the plans the runtime needs."""

    def test_plans(self, erp_out: Path) -> None:
        from toolgen.cards import load_cards

        cards = load_cards(erp_out)
        assert cards["update_item_stock"].verification is not None
        order = cards["create_order"]
        assert order.reconcile is not None and order.idempotency.client_ids == ["client_ref"]
        assert order.csrf == {"cookie": "XSRF-TOKEN", "header": "x-xsrf-token"}


class TestFaults:
    """No write is duplicated or lost under injected faults."""

    def test_200_calls_exactly_200_writes(self, erp_out: Path, erp: Any, tmp_path: Path) -> None:
        set_faults(
            erp,
            commit_then_drop=0.25,
            commit_then_504=0.1,
            fail_before_commit=0.1,
            rate_limit_every=13,
            faults_apply_to=["stock", "order"],
        )
        policy = RetryPolicy(max_attempts=8, initial_interval_s=0.0, jitter=0.0)
        skus = ["A-1", "A-2", "A-3", "B-1", "B-2"]
        started = time.monotonic()
        refs = []
        with rt_for(erp_out, erp, tmp_path, policy=policy) as rt:
            for i in range(100):
                rt.call("update_item_stock", item_id=skus[i % 5], quantity=1000 + i, reason="cycle")
                res = rt.call("create_order", sku=skus[i % 5], quantity=1 + i % 3, customer="ACME")
                refs.append(res.args["client_ref"])
            records = rt.log.records()
            assert rt.log.verify().ok
        elapsed = time.monotonic() - started
        book = ledger(erp)
        assert book["total"] == 200, book["counts"]
        stock = Counter(w["quantity"] for w in book["writes"] if w["kind"] == "stock")
        orders = Counter(w["client_ref"] for w in book["writes"] if w["kind"] == "order")
        assert set(stock) == set(range(1000, 1100)) and max(stock.values()) == 1
        assert set(orders) == set(refs) and max(orders.values()) == 1
        injected = book["injected"]
        assert injected["commit_then_drop"] > 20 and injected["commit_then_504"] > 5
        ambiguous = [
            r.event
            for r in records
            if r.event.kind == "attempt_finished" and r.event.outcome == "ambiguous"
        ]
        resolved = [r.event for r in records if r.event.kind == "reconciled"]
        assert len(ambiguous) == injected["commit_then_drop"] + injected["commit_then_504"]
        assert len(resolved) == len(ambiguous)
        assert {(e.result, e.action) for e in resolved} == {("landed", "accept")}
        assert elapsed < 30

    def test_lie_on_write_is_caught(self, erp_out: Path, erp: Any, tmp_path: Path) -> None:
        set_faults(erp, lie_on_write=True)
        with rt_for(erp_out, erp, tmp_path) as rt, pytest.raises(VerificationFailed) as err:
            rt.call("update_item_stock", item_id="A-1", quantity=4242, reason="lie")
        assert err.value.expected == {"/quantity": 4242}
        assert err.value.observed["/quantity"] != 4242

    def test_drift_names_region_id(self, erp_out: Path, erp: Any, tmp_path: Path) -> None:
        set_faults(erp, drift=True)
        with rt_for(erp_out, erp, tmp_path) as rt:
            with pytest.raises(SchemaDrift, match="region_id") as err:
                rt.call("update_item_stock", item_id="A-1", quantity=5, reason="x")
            assert err.value.context["field"] == "region_id"
            seen = rt.call("get_item", item_id="A-1")
            kinds = {(f.kind, f.field) for f in seen.drift}
            assert ("new_field", "region_id") in kinds
            assert ("missing_required", "warehouse") in kinds


class TestSessions:
    """Cookie sessions from a storage state; the CLI end to end; the demo."""

    def test_storage_state(self, erp_out: Path, erp: Any, tmp_path: Path) -> None:
        from runtime.credentials import load_storage_state

        with httpx.Client(base_url=erp.url) as c:
            c.post("/login", data={"username": "bob", "password": "builder"})
            cookies = [
                {"name": k.name, "value": k.value, "domain": k.domain, "path": k.path}
                for k in c.cookies.jar
            ]
        state = tmp_path / "state.json"
        state.write_text(json.dumps({"cookies": cookies, "origins": []}))
        creds = Credentials(cookies=load_storage_state(str(state)))
        with open_runtime(erp_out, credentials=creds, state=None, base_url=erp.url) as rt:
            result = rt.call("update_item_stock", item_id="B-1", quantity=3, reason="x")
        assert result.verification is not None and result.verification.ok

    def test_cli_call_and_log(
        self,
        erp_out: Path,
        erp: Any,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        from zapi.cli import main

        monkeypatch.setenv("ERP_USER", "alice")
        monkeypatch.setenv("ERP_PASS", "wonderland")
        creds = tmp_path / "creds.json"
        creds.write_text(
            json.dumps(
                {
                    "login": {
                        "tool": "login",
                        "args": {"username": "env:ERP_USER", "password": "env:ERP_PASS"},
                    }
                }
            )
        )
        db = tmp_path / "cli.db"
        code = main(
            [
                "call",
                str(erp_out),
                "update_item_stock",
                "--arg",
                "item_id=A-2",
                "--arg",
                "quantity=77",
                "--arg",
                "reason=cli",
                "--base-url",
                erp.url,
                "--credentials",
                str(creds),
                "--state",
                str(db),
            ]
        )
        out = capsys.readouterr().out
        assert code == 0, out
        result = json.loads(out)
        assert result["data"]["quantity"] == 77 and result["verification"]["ok"]
        assert main(["log", "--state", str(db), "--tool", "update_item_stock"]) == 0
        assert "attempt_started" in capsys.readouterr().out
        assert b"wonderland" not in db.read_bytes()
        assert (
            main(
                [
                    "call",
                    str(erp_out),
                    "update_item_stock",
                    "--arg",
                    "item_id=A-2",
                    "--state",
                    str(db),
                    "--base-url",
                    erp.url,
                ]
            )
            == 1
        )
        assert "missing required argument" in capsys.readouterr().err
        assert main(["tools", str(erp_out)]) == 0
        assert "idempotent" in capsys.readouterr().out

    def test_demo(self, erp_out: Path, erp: Any) -> None:
        summary = demo_call(str(erp_out), erp.url, quantity=31)
        assert "verified: True" in summary and "intact" in summary
        assert ledger(erp)["writes"][-1]["quantity"] == 31

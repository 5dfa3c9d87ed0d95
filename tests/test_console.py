"""The operator console: real console processes, real workers, sample apps, headless Chromium."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from console_stage import REPO, Stage

from runtime.actionlog import ActionLog, AttemptFinished, AttemptStarted, SqliteStore
from runtime.console.logview import LogFilter, LogReader, link_of
from runtime.console.values import ValueProblem, check_changes, schemas_for
from samples.erp.app import Faults

pytestmark = pytest.mark.integration

WAIT = 180.0
"""Ceiling for a run to settle: generous, so a busy 2-core machine only makes tests slower."""


@pytest.fixture
def stage(tmp_path: Path) -> Iterator[Stage]:
    s = Stage(tmp_path)
    yield s
    s.close()


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


# -- pure parts -------------------------------------------------------------------------------


class TestValues:
    """Approval values are checked against the proposed type, plan schemas and tool schemas."""

    PLAN: dict[str, Any] = {
        "steps": [
            {
                "id": "gate",
                "approval": {
                    "name": "push stock",
                    "values": {"quantity": 9, "skus": ["A", "B"]},
                    "narrow": ["quantity", "skus"],
                    "schema": {"properties": {"quantity": {"minimum": 1}}},
                },
            },
            {"id": "w", "tool": "set", "args": {"quantity": "${steps.gate.values.quantity}"}},
        ]
    }

    def test_type_of_proposed_value(self) -> None:
        """An integer stays an integer; an unknown name is refused; unchanged values drop out."""
        schemas, narrow = schemas_for({"quantity": 77}, wait_name="set stock")
        assert narrow == set()
        assert check_changes({"quantity": 77}, {"quantity": 5}, schemas) == {"quantity": 5}
        assert check_changes({"quantity": 77}, {"quantity": 77}, schemas) == {}
        with pytest.raises(ValueProblem, match=r"quantity: \"lots\" is refused: 'lots' is not of"):
            check_changes({"quantity": 77}, {"quantity": "lots"}, schemas)
        with pytest.raises(ValueProblem, match="no such value"):
            check_changes({"quantity": 77}, {"warehouse": "x"}, schemas)

    def test_plan_schema_narrowing_and_tool_schema(self) -> None:
        """The gate's schema and narrow list, and the input schema of the tool the value feeds."""
        values = {"quantity": 9, "skus": ["A", "B"]}
        tools = {"set": {"properties": {"quantity": {"type": "integer", "maximum": 8}}}}
        schemas, narrow = schemas_for(
            values, wait_name="push stock", plan=self.PLAN, tool_schemas=tools
        )
        assert narrow == {"quantity", "skus"}
        assert check_changes(values, {"skus": ["B"], "quantity": 3}, schemas, narrow) == {
            "skus": ["B"],
            "quantity": 3,
        }
        with pytest.raises(ValueProblem, match="widens the request"):
            check_changes(values, {"skus": ["A", "C"]}, schemas, narrow)
        with pytest.raises(ValueProblem, match="less than the minimum of 1"):
            check_changes(values, {"quantity": 0}, schemas, narrow)
        with pytest.raises(ValueProblem, match="greater than the maximum of 8"):
            check_changes({"quantity": 9, "skus": []}, {"quantity": 9.0 + 0}, schemas, set())

    def test_policy_gate_args_meet_the_tool_schema(self) -> None:
        """An "allow TOOL" approval's args are checked against that tool's input schema."""
        tools = {
            "set": {
                "type": "object",
                "properties": {"quantity": {"type": "integer", "minimum": 0}},
                "required": ["sku", "quantity"],
            }
        }
        values = {"args": {"sku": "A", "quantity": 3}}
        schemas, _ = schemas_for(values, wait_name="allow set", tool_schemas=tools)
        ok = check_changes(values, {"args": {"sku": "A", "quantity": 2}}, schemas)
        assert ok == {"args": {"sku": "A", "quantity": 2}}
        with pytest.raises(ValueProblem, match="less than the minimum of 0"):
            check_changes(values, {"args": {"sku": "A", "quantity": -1}}, schemas)
        with pytest.raises(ValueProblem, match="'quantity' is a required property"):
            check_changes(values, {"args": {"sku": "A"}}, schemas)


class TestActionLogReader:
    """The log is read without writing, linked to runs and steps, and its chain is checked."""

    def test_links_filters_and_chain(self, tmp_path: Path) -> None:
        path = tmp_path / "zapi.db"
        log = ActionLog(SqliteStore(path))
        for i, key in enumerate(["run-a/3", "run-b/1", "run-a/3/undo"]):
            call = f"c{i}"
            log.emit(
                AttemptStarted(
                    call_id=call, tool="erp_set_stock", ts=1000.0 + i, attempt=1, method="PUT",
                    url="http://127.0.0.1/api/items/A-1/stock", headers={}, idempotency_key=key,
                )
            )  # fmt: skip
            log.emit(
                AttemptFinished(
                    call_id=call, tool="erp_set_stock", ts=1000.5 + i, attempt=1, intent_id=1,
                    status=504 if i == 0 else 200, elapsed_ms=3.0,
                    outcome="ambiguous" if i == 0 else "ok",
                )
            )  # fmt: skip
        log.close()
        size = path.stat().st_size
        reader = LogReader(path)
        try:
            assert reader.verify().ok
            records = reader.records()
            assert [link_of(r) for r in records[:2]] == [("run-a", 3, False), None]
            grouped = reader.for_run("run-a")
            assert sorted(grouped) == ["run-a/3", "run-a/3/undo"]
            assert len(reader.select(LogFilter(run="run-a"))) == 4
            assert [r.seq for r in reader.select(LogFilter(outcome="ambiguous"))] == [2]
            assert len(reader.select(LogFilter(since=1001.0))) == 4
            with pytest.raises(PermissionError):
                reader.log.store.append("{}")
        finally:
            reader.close()
        assert path.stat().st_size == size


class TestAssets:
    """Every asset ships inside the package: no CDN, no external URL, no build step."""

    def test_static_references_resolve_and_nothing_is_external(self) -> None:
        pkg = REPO / "runtime" / "console"
        texts = {
            f.relative_to(pkg).as_posix(): f.read_text(encoding="utf-8")
            for f in sorted((pkg / "templates").iterdir()) + sorted((pkg / "static").iterdir())
        }
        assert "templates/run.html" in texts and "static/console.js" in texts
        for name, text in texts.items():
            assert not re.search(r"(src|href)=\"(https?:)?//", text), name
            assert "@import" not in text and "url(http" not in text, name
            for ref in re.findall(r'"/static/([^"]+)"', text):
                assert (pkg / "static" / ref).is_file(), (name, ref)


# -- security -------------------------------------------------------------------------------


class TestSecurity:
    """Bind, sign-in, CSRF and redaction, against a real console process."""

    def test_refuses_non_loopback_bind_without_token(self, tmp_path: Path) -> None:
        """0.0.0.0 without a token is a usage error naming the fix; nothing listens."""
        r = subprocess.run(
            [sys.executable, "-m", "zapi", "console", "--db", str(tmp_path / "r.db"),
             "--host", "0.0.0.0", "--port", "0"],
            capture_output=True, text=True, cwd=REPO, timeout=120,
            env={k: v for k, v in __import__("os").environ.items() if k != "ZAPI_CONSOLE_TOKEN"},
        )  # fmt: skip
        assert r.returncode == 2, r.stderr
        assert "refusing to serve the console on 0.0.0.0" in r.stderr
        assert "--token" in r.stderr and "Traceback" not in r.stderr
        assert not (tmp_path / "r.db").exists()

    def test_token_is_required_when_set(self, stage: Stage) -> None:
        """With a token every page needs a session; a wrong token is refused."""
        url = stage.start_console("--token", "t0ps3cret-console")
        with httpx.Client(base_url=url, timeout=30) as http:
            r = http.get("/")
            assert r.status_code == 303 and r.headers["location"].startswith("/login")
            assert http.get("/log").status_code == 303
            page = http.get("/login")
            csrf = _csrf(page.text)
            bad = http.post("/login", data={"csrf": csrf, "operator": "al", "token": "nope"})
            assert bad.status_code == 400 and "wrong token" in bad.text
            ok = http.post(
                "/login", data={"csrf": csrf, "operator": "al", "token": "t0ps3cret-console"}
            )
            assert ok.status_code == 303
            home = http.get("/")
            assert home.status_code == 200 and ">al<" in home.text
        r = httpx.get(url, headers={"Authorization": "Bearer t0ps3cret-console"}, timeout=30)
        assert r.status_code == 200

    def test_post_without_csrf_is_rejected_and_sends_nothing(self, stage: Stage) -> None:
        """No token, a forged token, a foreign Origin: 403, and the run still waits."""
        stage.start_worker()
        run_id = stage.start_py("approve_then_write", sku="C-5", quantity=3)
        assert stage.client.wait(run_id, timeout_s=WAIT).status == "waiting_approval"
        url = stage.start_console("--operator", "mallory")
        with httpx.Client(base_url=url, timeout=30) as http:
            csrf = _csrf(http.get(f"/runs/{run_id}").text)
            target = f"/runs/{run_id}/decide"
            assert http.post(target, data={"action": "reject"}).status_code == 403
            forged = http.post(target, data={"action": "reject", "csrf": "0" * 64})
            assert forged.status_code == 403
            foreign = http.post(
                target,
                data={"action": "reject", "csrf": csrf},
                headers={"Origin": "http://evil.example"},
            )
            assert foreign.status_code == 403
            fresh = httpx.post(url + target.lstrip("/"), data={"action": "reject", "csrf": csrf})
            assert fresh.status_code == 403  # the token is bound to this browser's cookie
            rebinding = http.get("/", headers={"Host": "evil.example"})
            assert rebinding.status_code == 400
        time.sleep(1.0)
        info = stage.client.get(run_id)
        assert info.status == "waiting_approval"
        assert not [s for s in stage.client.steps(run_id) if s["function_name"] == "zapi.decision"]

    def test_planted_secrets_are_never_rendered(self, stage: Stage, tmp_path: Path) -> None:
        """Secrets in run inputs, results, error text and raw log records never reach a page."""
        secret_key = "sk_live_PLANTED0123456789"
        secret_pw = "hunter2-planted-pw"
        stage.start_worker()
        run_id = stage.start_py(
            "approve_then_write",
            sku="C-6",
            quantity=3,
            credentials={"password": secret_pw, "note": f"uses {secret_key}"},
        )
        stage.client.wait(run_id, timeout_s=WAIT, parked_ok=False)  # fails: unexpected input
        state = tmp_path / "zapi.db"
        store = SqliteStore(state)  # a raw record, as an older writer might have left it
        raw = {
            "schema_version": "1", "kind": "attempt_started", "call_id": "x1", "tool": "erp_login",
            "ts": time.time(), "code": "ok", "attempt": 1, "method": "POST",
            "url": f"http://127.0.0.1/login?api_key={secret_key}",
            "headers": {"Authorization": f"Bearer {secret_pw}"},
            "body": {"password": secret_pw, "echo": f"pw is {secret_pw}"},
            "idempotency_key": f"{run_id}/1", "run_id": None, "step": None,
            "parent_call_id": None,
        }  # fmt: skip
        store.append(json.dumps(raw, sort_keys=True, separators=(",", ":")))
        store.close()
        url = stage.start_console("--state", str(state), "--operator", "ops")
        pages = ["", "?q=C-6", "runs/table", f"runs/{run_id}", f"runs/{run_id}/state.json"]
        pages += ["log", f"log?run={run_id}", "tools"]
        seen = []
        with httpx.Client(base_url=url, timeout=60) as http:
            for page in pages:
                r = http.get("/" + page)
                assert r.status_code == 200, (page, r.text[:500])
                assert secret_key not in r.text, page
                assert secret_pw not in r.text, page
                seen.append(r.text)
        detail = seen[3]
        assert "[REDACTED" in detail and run_id in detail
        assert "erp_login" in seen[5] and "[REDACTED" in seen[5]


class TestPostgres:
    """The console reads a Postgres runs database the same way."""

    def test_runs_and_run_page_on_postgres(self, tmp_path: Path) -> None:
        import os

        url = os.environ.get("ZAPI_TEST_PG_URL")
        if not url:
            if os.environ.get("CI") == "true":
                pytest.fail("ZAPI_TEST_PG_URL is not set: .ci/services should start Postgres")
            pytest.skip("ZAPI_TEST_PG_URL is not set (source .ci/services to start Postgres)")
        stage = Stage(tmp_path, db_url=url)
        try:
            stage.start_worker()
            run_id = stage.start_py("approve_then_write", sku="C-7", quantity=4)
            assert stage.client.wait(run_id, timeout_s=WAIT).status == "waiting_approval"
            console = stage.start_console("--operator", "pg-ops")
            with httpx.Client(base_url=console, timeout=60) as http:
                assert run_id in http.get("/?status=waiting_approval").text
                page = http.get(f"/runs/{run_id}")
                csrf = _csrf(page.text)
                r = http.post(
                    f"/runs/{run_id}/decide",
                    data={"csrf": csrf, "action": "approve", "value.quantity": "2"},
                )
                assert r.status_code == 303
            info = stage.client.wait(run_id, timeout_s=WAIT, parked_ok=False)
            assert info.status == "succeeded" and info.output["output"]["after"] == 2
        finally:
            stage.close()


# -- in a real browser ----------------------------------------------------------------------


@pytest.fixture
def page(chromium_path: str | None) -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    from zapi.browser import LAUNCH_ARGS

    expect.set_options(timeout=90_000)

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path, headless=True, args=list(LAUNCH_ARGS)
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(90_000)
        pg = context.new_page()
        yield pg
        context.close()
        browser.close()


@pytest.mark.browser
class TestInBrowser:
    """An operator at a real Chromium: resume, approve with a change, reject, refusals."""

    def test_resume_the_504_demo(self, stage: Stage, page: Any) -> None:
        """The README demo: paused on the ERP's 504, Resume, reconciled, verified, one write."""
        from playwright.sync_api import expect

        order = stage.paid_order()
        sku, qty = order.to_json()["items"][0]["sku"], order.to_json()["items"][0]["quantity"]
        start = stage.erp.store.item(sku).quantity  # type: ignore[union-attr]
        stage.erp.injector.configure(Faults(commit_then_504=1.0))
        stage.start_worker()
        run_id = stage.start_plan(order.id, run_id="demo-1")
        assert stage.client.wait(run_id, timeout_s=WAIT).status == "paused"
        stage.erp.injector.configure(Faults())  # the ERP is back online
        url = stage.start_console("--operator", "ops")

        page.goto(url + "?status=paused")
        page.get_by_role("link", name=run_id).click()
        expect(page.locator("#run-status")).to_have_text("paused")
        context = page.locator("#error-context")
        expect(context).to_contain_text('"status": 504')
        expect(context).to_contain_text("erp_set_stock")
        expect(page.locator("#wait")).to_contain_text("may have landed")
        page.locator("#resume-form button[type=submit]").click()
        expect(page.locator("#run-status")).to_have_text("succeeded")
        step3 = page.locator('li.ev.step[data-step="3"]')
        expect(step3.locator(".badge.reconciled")).to_be_visible()
        expect(step3.locator("tr.att-reconcile")).to_contain_text("landed")
        verify = page.locator("li.ev.verification")
        expect(verify).to_contain_text("verified")
        expect(verify.locator("table.expect")).to_contain_text(str(start - qty))
        expect(page.locator("li.ev.decision")).to_contain_text("resume")
        expect(page.locator("li.ev.decision .by")).to_have_text("ops")
        assert stage.writes_of(run_id) == {f"{run_id}/3": 1}
        assert stage.erp.store.item(sku).quantity == start - qty  # type: ignore[union-attr]

    def test_approve_with_a_changed_quantity_while_no_worker_runs(
        self, stage: Stage, page: Any
    ) -> None:
        """Approve 77 → 5 with no worker up: shown pending; a worker applies it; recorded."""
        from playwright.sync_api import expect

        stage.start_worker()
        run_id = stage.start_py("approve_then_write", sku="C-1", quantity=77)
        assert stage.client.wait(run_id, timeout_s=WAIT).status == "waiting_approval"
        stage.stop_workers()
        url = stage.start_console()
        page.goto(url + f"runs/{run_id}")
        expect(page.locator("#approve-form")).to_have_count(0)  # who decides is not known yet
        page.click("#sign-in-to-decide")
        page.fill("input[name=operator]", "alice")
        page.click("button[type=submit]")
        expect(page.locator("#operator-name")).to_have_text("alice")
        expect(page.locator("#run-status")).to_have_text("waiting approval")
        page.fill("input[name='value.quantity']", "5")
        page.fill("#approve-form input[name=note]", "narrowed to 5")
        page.click("#approve-form button[type=submit]")
        expect(page.locator("#pending")).to_contain_text("approve")
        expect(page.locator("#pending")).to_contain_text('{"quantity": 5}')
        page.goto(url + "?status=waiting_approval")
        expect(page.locator(f'tr[data-run="{run_id}"] .badge.pending')).to_be_visible()
        stage.start_worker()
        page.goto(url + f"runs/{run_id}")
        expect(page.locator("#run-status")).to_have_text("succeeded")
        decision = page.locator("li.ev.decision")
        expect(decision.locator(".by")).to_have_text("alice")
        expect(decision).to_contain_text("narrowed to 5")
        expect(decision.locator("table.changes tr.changed")).to_contain_text("77")
        expect(decision.locator("table.changes tr.changed")).to_contain_text("5")
        expect(page.locator("#output")).to_contain_text('"after": 5')
        assert stage.erp.store.item("C-1").quantity == 5  # type: ignore[union-attr]
        assert stage.writes_of(run_id) == {f"{run_id}/3": 1}

    def test_reject_shows_the_compensations(self, stage: Stage, page: Any) -> None:
        """Reject after three writes: each is compensated, shown, and the ERP is as before."""
        from playwright.sync_api import expect

        skus = ["D-1", "D-2", "D-3"]
        before = {s: stage.erp.store.item(s).quantity for s in skus}  # type: ignore[union-attr]
        stage.start_worker()
        run_id = stage.start_py("writes_then_approval", skus=skus, quantity=4242)
        assert stage.client.wait(run_id, timeout_s=WAIT).status == "waiting_approval"
        url = stage.start_console("--operator", "carol")
        page.goto(url + f"runs/{run_id}")
        page.fill("#reject-form input[name=note]", "wrong warehouse")
        page.click("#reject-form button[type=submit]")
        expect(page.locator("#run-status")).to_have_text("rejected")
        comps = page.locator("#compensations li")
        expect(comps).to_have_count(3)
        expect(comps.first).to_contain_text("erp_set_stock")
        expect(page.locator("li.ev.compensation.out-ok")).to_have_count(3)
        expect(page.locator("li.ev.decision")).to_contain_text("wrong warehouse")
        assert {s: stage.erp.store.item(s).quantity for s in skus} == before  # type: ignore[union-attr]

    def test_invalid_value_is_refused_and_nothing_is_sent(self, stage: Stage, page: Any) -> None:
        """A non-integer quantity: a message, the run still waits, no decision recorded."""
        from playwright.sync_api import expect

        stage.start_worker()
        run_id = stage.start_py("approve_then_write", sku="C-2", quantity=7)
        assert stage.client.wait(run_id, timeout_s=WAIT).status == "waiting_approval"
        url = stage.start_console("--operator", "dave")
        page.goto(url + f"runs/{run_id}")
        page.fill("input[name='value.quantity']", "lots")
        page.click("#approve-form button[type=submit]")
        expect(page.locator("#problem")).to_contain_text("quantity")
        expect(page.locator("#problem")).to_contain_text("is not of type 'integer'")
        expect(page.locator("input[name='value.quantity']")).to_have_value("lots")
        expect(page.locator("#pending")).to_have_count(0)
        time.sleep(1.0)
        assert stage.client.get(run_id).status == "waiting_approval"
        assert not [s for s in stage.client.steps(run_id) if s["function_name"] == "zapi.decision"]
        assert stage.writes_of(run_id) == {}

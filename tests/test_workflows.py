"""Durable workflows: real DBOS on SQLite files, real sample servers, real worker processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runtime.workflows import (
    RunsClient,
    RunSpec,
    WorkerConfig,
    spawn_worker,
    wait_ready,
)
from samples.erp.app import ErpServer, Faults
from samples.erp.app import make_server as make_erp
from samples.storefront.app import make_server as make_shop

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]
WAIT = 180.0
"""Ceiling for one run to settle: generous, so a busy 2-core machine only makes tests slower."""
QUEUE_WAIT = 900.0
QUEUE_QUANTITY_BASE = 100_000  # above any stock the ERP sample seeds or other tests write


@pytest.fixture(scope="module")
def erp() -> Iterator[ErpServer]:
    with make_erp(seed=0) as server:
        yield server


@pytest.fixture(scope="module")
def shop() -> Iterator[Any]:
    with make_shop() as server:
        yield server


def ledger(erp: ErpServer) -> list[dict[str, Any]]:
    return list(erp.store.ledger_snapshot()["writes"])


def writes_of(erp: ErpServer, run_id: str) -> dict[str, int]:
    """Committed ERP writes per step key of ``run_id`` (the runner sends the key as request id)."""
    out: dict[str, int] = {}
    for w in ledger(erp):
        if str(w.get("request_id", "")).startswith(run_id + "/"):
            out[w["request_id"]] = out.get(w["request_id"], 0) + 1
    return out


class Workers:
    """Starts and kills real worker processes on one database."""

    def __init__(self, tmp: Path, db_url: str, runner_args: dict[str, Any]) -> None:
        self.tmp, self.db_url, self.runner_args = tmp, db_url, runner_args
        self.procs: list[subprocess.Popen[str]] = []
        self.n = 0

    def config(self, **over: Any) -> WorkerConfig:
        base: dict[str, Any] = {
            "database_url": self.db_url,
            "runner": "samples.plans.runner:make_runner",
            "runner_args": self.runner_args,
            "modules": ["samples.plans.flows"],
            "poll_interval_s": 0.05,
            "wait_chunk_s": 30.0,
        }
        base.update(over)
        return WorkerConfig(**base)

    def start(self, env: dict[str, str] | None = None, **over: Any) -> subprocess.Popen[str]:
        self.n += 1
        full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
        proc = spawn_worker(
            self.config(**over), str(self.tmp / f"worker{self.n}.json"), env=full_env
        )
        wait_ready(proc)
        self.procs.append(proc)
        return proc

    def app_version(self) -> str:
        """The tool-set version these workers run (pin runs to it on a shared database)."""
        from runtime.workflows import app_version_for
        from samples.plans.runner import make_runner

        runner = make_runner(**self.runner_args)
        try:
            return app_version_for(runner.fingerprint())
        finally:
            runner.close()

    def kill(self, proc: subprocess.Popen[str]) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(60)

    def stop(self, proc: subprocess.Popen[str]) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(60)

    def close(self) -> None:
        for proc in self.procs:
            self.kill(proc)
            if proc.stdout is not None:
                proc.stdout.close()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'runs.db'}"


@pytest.fixture
def client(db_url: str) -> Iterator[RunsClient]:
    c = RunsClient(db_url)
    yield c
    c.close()


@pytest.fixture
def workers(tmp_path: Path, db_url: str, erp: ErpServer, shop: Any) -> Iterator[Workers]:
    w = Workers(tmp_path, db_url, {"erp_url": erp.url, "shop_url": shop.url})
    yield w
    w.close()


def py(workflow: str, **inputs: Any) -> RunSpec:
    return RunSpec(kind="python", workflow=workflow, inputs=inputs)


class TestCrashResume:
    """A worker killed with SIGKILL mid-write resumes the run exactly once per step."""

    @pytest.mark.parametrize("point", ["before_step", "intent_begun", "sent", "finished"])
    def test_killed_inside_step_three(
        self, point: str, workers: Workers, client: RunsClient, erp: ErpServer, tmp_path: Path
    ) -> None:
        """The run completes after restart; the ledger has one write per step; none ran twice."""
        base = 1000 + 10 * ["before_step", "intent_begun", "sent", "finished"].index(point)
        marker = tmp_path / "killed"
        first = workers.start(
            probe="samples.plans.runner:kill_probe",
            probe_args={"point": point, "step": 3, "marker": str(marker)},
        )
        run_id = client.start(py("five_writes", skus=["B-1", "B-2", "B-3"], base=base))
        assert first.wait(WAIT) == -signal.SIGKILL
        assert marker.exists()
        mid = writes_of(erp, run_id)
        assert all(n == 1 for n in mid.values())
        workers.start()
        info = client.wait(run_id, timeout_s=WAIT)
        assert info.status == "succeeded", info.summary()
        counts = writes_of(erp, run_id)
        assert counts == {f"{run_id}/{i}": 1 for i in range(1, 6)}
        steps = [s for s in client.steps(run_id) if s["function_name"] == "zapi.step"]
        assert [s["output"]["step"] for s in steps] == [1, 2, 3, 4, 5]
        third = steps[2]["output"]
        if point in ("sent", "finished", "intent_begun"):
            # the restarted worker found the intent and did not blindly resend
            actions = [a["action"] for a in third["attempts"]]
            assert actions[0] == "send"
            assert "reconcile" in actions or point == "finished"
        assert erp.store.item("B-1") is not None


@pytest.fixture(scope="module")
def cards(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Tool cards analysed from the committed ERP HAR (once per module)."""
    import zapi

    out = tmp_path_factory.mktemp("rt-cards") / "out"
    zapi.analyze([str(REPO / "samples/hars/erp_session.har")], str(out))
    return str(out)


class TestCrashResumeThroughTheRuntime:
    """Killed inside a write that goes through the real runtime, a run still writes once."""

    @pytest.mark.parametrize(
        ("point", "step"), [("intent_begun", 1), ("sent", 1), ("intent_begun", 2), ("sent", 2)]
    )
    def test_kill_inside_write(
        self,
        point: str,
        step: int,
        cards: str,
        workers: Workers,
        client: RunsClient,
        erp: ErpServer,
        tmp_path: Path,
    ) -> None:
        """A PUT settled by its verification read, a POST by its client_ref list read."""
        quantity = 7000 + step * 10 + ["intent_begun", "sent"].index(point)
        plan = {
            "name": "rt_chaos",
            "inputs": {"sku": {}},
            "steps": [
                {
                    "id": "stock",
                    "tool": "update_item_stock",
                    "args": {
                        "item_id": "${inputs.sku}",
                        "quantity": quantity,
                        "reason": "chaos",
                        "warehouse": "WH-1",
                    },
                },
                {
                    "id": "order",
                    "tool": "create_order",
                    "args": {"sku": "${inputs.sku}", "quantity": 2, "customer": "chaos"},
                },
            ],
        }
        runtime_runner = {
            "runner": "samples.plans.runner:make_runtime_runner",
            "runner_args": {"erp_url": erp.url, "cards": cards},
        }
        marker = tmp_path / "killed"
        first = workers.start(
            probe="samples.plans.runner:kill_probe",
            probe_args={"point": point, "step": step, "marker": str(marker)},
            **runtime_runner,
        )
        run_id = client.start(
            RunSpec(kind="plan", workflow="rt_chaos", plan=plan, inputs={"sku": "C-4"})
        )
        assert first.wait(WAIT) == -signal.SIGKILL and marker.exists()
        workers.start(**runtime_runner)
        info = client.wait(run_id, timeout_s=WAIT)
        assert info.status == "succeeded", info.summary()
        writes = erp.store.ledger_snapshot()["writes"]
        stock = [w for w in writes if w["kind"] == "stock" and w.get("quantity") == quantity]
        orders = httpx.get(
            erp.url + "/api/orders",
            params={"client_ref": f"{run_id}/2"},
            cookies=_erp_login(erp),
            timeout=5,
        ).json()["orders"]
        assert (len(stock), len(orders)) == (1, 1)
        steps = [s["output"] for s in client.steps(run_id) if s["function_name"] == "zapi.step"]
        assert [s["step"] for s in steps] == [1, 2]
        if point == "sent":
            assert "reconcile" in [a["action"] for a in steps[step - 1]["attempts"]]


def _erp_login(erp: ErpServer) -> dict[str, str]:
    r = httpx.post(
        erp.url + "/login", data={"username": "alice", "password": "wonderland"}, timeout=5
    )
    return dict(r.cookies)


class TestApprovals:
    """Approvals park a run durably and apply each decision exactly once."""

    def test_survives_ten_restarts_and_applies_once(
        self, workers: Workers, client: RunsClient, erp: ErpServer
    ) -> None:
        """Ten kills while parked; an approval sent with no worker up; a duplicate is ignored."""
        w = workers.start()
        run_id = client.start(py("approve_then_write", sku="C-1", quantity=77))
        info = client.wait(run_id, timeout_s=WAIT)
        assert info.status == "waiting_approval"
        assert info.state is not None and info.state.wait is not None
        assert info.state.wait.values == {"quantity": 77}
        for _ in range(10):
            workers.kill(w)
            w = workers.start()
            assert client.wait(run_id, timeout_s=WAIT).status == "waiting_approval"
        workers.kill(w)
        client.approve(run_id, by="alice", note="narrowed", changes={"quantity": 5})
        client.approve(run_id, by="alice", note="narrowed", changes={"quantity": 5})
        client.approve(run_id, by="bob", changes={"quantity": 9})
        workers.start()
        info = client.wait(run_id, timeout_s=WAIT, parked_ok=False)
        assert info.status == "succeeded", info.summary()
        assert info.output["output"]["after"] == 5
        assert info.output["output"]["approved_by"] == "alice"
        assert writes_of(erp, run_id) == {f"{run_id}/3": 1}
        decisions = [
            s["output"] for s in client.steps(run_id) if s["function_name"] == "zapi.decision"
        ]
        assert len(decisions) == 1
        assert decisions[0]["decision"]["by"] == "alice"
        assert decisions[0]["decision"]["changes"] == {"quantity": 5}

    def test_bad_decisions_are_refused(self, workers: Workers, client: RunsClient) -> None:
        """Unknown values, wrong verbs and runs not waiting are refused before sending."""
        from zapi.errors import WorkflowError

        workers.start()
        run_id = client.start(py("approve_then_write", sku="C-2", quantity=3))
        client.wait(run_id, timeout_s=WAIT)
        with pytest.raises(WorkflowError, match="no value warehouse"):
            client.approve(run_id, by="al", changes={"warehouse": "x"})
        with pytest.raises(WorkflowError, match="accepts approve, reject, cancel, not resume"):
            client.resume(run_id, by="al")
        d = client.reject(run_id, by="al", note="no")
        info = client.wait(run_id, timeout_s=WAIT, past=d)
        assert info.status == "rejected"
        with pytest.raises(WorkflowError, match="not waiting"):
            client.approve(run_id, by="al")

    def test_rejection_cannot_be_swallowed(
        self, workers: Workers, client: RunsClient, erp: ErpServer
    ) -> None:
        """A workflow's ``except Exception`` around an approval does not turn a reject into a go."""
        workers.start()
        run_id = client.start(py("swallowing", sku="C-5", quantity=4))
        assert client.wait(run_id, timeout_s=WAIT).status == "waiting_approval"
        d = client.reject(run_id, by="zoe")
        info = client.wait(run_id, timeout_s=WAIT, past=d)
        assert info.status == "rejected", info.summary()
        assert writes_of(erp, run_id) == {}

    def test_durable_deadline_times_out(self, workers: Workers, client: RunsClient) -> None:
        """An approval not given before its deadline rejects the run, across a restart."""
        w = workers.start()
        run_id = client.start(py("approve_then_write", sku="C-3", quantity=3, timeout_s=10))
        info = client.wait(run_id, timeout_s=WAIT)
        assert info.state is not None and info.state.wait is not None
        assert info.state.wait.deadline is not None
        workers.kill(w)
        workers.start()
        info = client.wait(run_id, timeout_s=WAIT, parked_ok=False)
        assert info.status == "rejected"
        assert "timed out by deadline" in info.output["message"]


class TestCompensation:
    """A rejection rolls committed steps back in reverse order, each at most once."""

    SKUS = ["D-1", "D-2", "D-3"]

    def test_reject_after_three_steps(
        self, workers: Workers, client: RunsClient, erp: ErpServer
    ) -> None:
        """Net effect zero, compensations in reverse order."""
        before = {s: erp.store.item(s).quantity for s in self.SKUS}  # type: ignore[union-attr]
        workers.start()
        run_id = client.start(py("writes_then_approval", skus=self.SKUS, quantity=4242))
        assert client.wait(run_id, timeout_s=WAIT).status == "waiting_approval"
        d = client.reject(run_id, by="carol", note="wrong")
        info = client.wait(run_id, timeout_s=WAIT, past=d)
        assert info.status == "rejected"
        assert {s: erp.store.item(s).quantity for s in self.SKUS} == before  # type: ignore[union-attr]
        mine = [w for w in ledger(erp) if str(w["request_id"]).startswith(run_id)]
        assert [w["request_id"].removeprefix(run_id) for w in mine] == [
            "/2",
            "/4",
            "/6",
            "/6/undo",
            "/4/undo",
            "/2/undo",
        ]

    @pytest.mark.parametrize("point", ["intent_begun", "sent"])
    def test_kill_during_compensation(
        self, point: str, workers: Workers, client: RunsClient, erp: ErpServer, tmp_path: Path
    ) -> None:
        """A worker killed inside a compensation resumes the rollback; each undo lands once."""
        skus = ["D-4", "D-5", "D-6"]
        before = {s: erp.store.item(s).quantity for s in skus}  # type: ignore[union-attr]
        w = workers.start(
            probe="samples.plans.runner:kill_probe",
            probe_args={
                "point": point,
                "step": 4,
                "marker": str(tmp_path / "k"),
                "role": "compensation",
            },
        )
        run_id = client.start(py("writes_then_approval", skus=skus, quantity=3131))
        client.wait(run_id, timeout_s=WAIT)
        d = client.reject(run_id, by="dave")
        assert w.wait(WAIT) == -signal.SIGKILL
        workers.start()
        assert client.wait(run_id, timeout_s=WAIT, past=d).status == "rejected"
        assert {s: erp.store.item(s).quantity for s in skus} == before  # type: ignore[union-attr]
        assert writes_of(erp, run_id) == {
            f"{run_id}/{k}": 1 for k in ("2", "4", "6", "6/undo", "4/undo", "2/undo")
        }

    def test_missing_compensation_stops_rollback(
        self, workers: Workers, client: RunsClient, erp: ErpServer
    ) -> None:
        """A write without a compensation parks the rollback with an operator message."""
        workers.start()
        run_id = client.start(
            py("writes_then_approval", skus=["D-7", "D-8"], quantity=1, undo=False)
        )
        client.wait(run_id, timeout_s=WAIT)
        d = client.reject(run_id, by="erin")
        info = client.wait(run_id, timeout_s=WAIT, past=d)
        assert info.status == "paused"
        assert info.state is not None and info.state.wait is not None
        assert info.state.wait.name == "rollback blocked"
        assert "declares no compensation" in info.state.message
        client.cancel(run_id, by="erin")
        info = client.wait(run_id, timeout_s=WAIT, parked_ok=False)
        assert info.status == "rejected"
        assert "rollback stopped at step 4 by erin" in info.output["message"]


class TestPermissions:
    """The policy refuses calls before any network I/O."""

    def test_denied_call_sends_nothing(
        self, workers: Workers, client: RunsClient, erp: ErpServer, tmp_path: Path
    ) -> None:
        """A denied write reaches no server and is recorded as denied."""
        policy = tmp_path / "policy.yaml"
        policy.write_text(
            "grants:\n  - workflow: five_writes\n    tools: [erp_get_item]\n    access: [read]\n"
        )
        workers.start(policy=str(policy))
        seen = erp.injector._requests
        run_id = client.start(py("five_writes", skus=["A-9"], base=1))
        info = client.wait(run_id, timeout_s=WAIT)
        assert info.status == "failed"
        assert "denied" in info.output["message"]
        assert erp.injector._requests == seen
        assert writes_of(erp, run_id) == {}
        step = next(s["output"] for s in client.steps(run_id) if s["function_name"] == "zapi.step")
        assert step["outcome"] == "denied"
        assert step["error"]["code"] == "scope_denied"

    def test_destructive_needs_approval(
        self, workers: Workers, client: RunsClient, shop: Any, tmp_path: Path
    ) -> None:
        """``require_approval: [destructive]`` parks before a destructive call."""
        policy = tmp_path / "policy.yaml"
        policy.write_text("default: allow\nrequire_approval: [destructive]\n")
        plan = {
            "name": "cancel_order",
            "inputs": {"order_id": {}},
            "steps": [
                {
                    "id": "cancel",
                    "tool": "shop_cancel_order",
                    "args": {"order_id": "${inputs.order_id}"},
                }
            ],
        }
        workers.start(policy=str(policy))
        order = shop.store.orders("paid", 1, 1)[0][0]
        run_id = client.start(
            RunSpec(kind="plan", workflow="cancel_order", plan=plan, inputs={"order_id": order.id})
        )
        info = client.wait(run_id, timeout_s=WAIT)
        assert info.status == "waiting_approval"
        assert info.state is not None and info.state.wait is not None
        assert info.state.wait.name == "allow shop_cancel_order"
        assert shop.store.order(order.id).status == "paid"
        d = client.approve(run_id, by="frank")
        assert client.wait(run_id, timeout_s=WAIT, past=d).status == "succeeded"
        assert shop.store.order(order.id).status == "cancelled"


class TestPlans:
    """Declarative plans: validation, references, verification and the inventory demo."""

    def test_plan_validation(self, tmp_path: Path) -> None:
        """Unknown references and duplicate ids are refused when the plan is loaded."""
        from runtime.workflows import load_plan
        from zapi.errors import WorkflowError

        bad = tmp_path / "bad.yaml"
        bad.write_text(
            "name: x\nsteps:\n  - id: a\n    tool: t\n    args: {v: '${steps.b.output}'}\n"
        )
        with pytest.raises(WorkflowError, match="earlier step"):
            load_plan(bad)
        bad.write_text("name: x\nsteps:\n  - {id: a, tool: t}\n  - {id: a, tool: t}\n")
        with pytest.raises(WorkflowError, match="used twice"):
            load_plan(bad)
        plan = load_plan(REPO / "samples/plans/inventory_sync.yaml")
        assert plan.tools() == ["erp_get_item", "erp_set_stock", "shop_get_order"]

    def test_approval_gate_narrows(
        self, workers: Workers, client: RunsClient, erp: ErpServer, shop: Any
    ) -> None:
        """The README's approval syntax: a widening --set is refused, a narrowing one runs."""
        from runtime.workflows import load_plan
        from zapi.errors import WorkflowError

        plan = load_plan(REPO / "samples/plans/approved_sync.yaml")
        order = shop.store.orders("paid", 1, 1)[0][0]
        line = order.to_json()["items"][0]
        start = erp.store.item(line["sku"]).quantity  # type: ignore[union-attr]
        workers.start()
        run_id = client.start(
            RunSpec(
                kind="plan",
                workflow=plan.name,
                plan=plan.model_dump(mode="json"),
                inputs={"order_id": order.id},
            )
        )
        info = client.wait(run_id, timeout_s=WAIT)
        assert info.status == "waiting_approval", info.summary()
        assert info.state is not None and info.state.wait is not None
        assert info.state.wait.narrow == ["quantity"]
        with pytest.raises(WorkflowError, match="widens the request"):
            client.approve(run_id, by="lee", changes={"quantity": line["quantity"] + 1})
        d = client.approve(run_id, by="lee", changes={"quantity": 0})
        info = client.wait(run_id, timeout_s=WAIT, past=d)
        assert info.status == "succeeded", info.summary()
        assert info.output["output"] == {"sku": line["sku"], "taken": 0, "approved_by": "lee"}
        assert erp.store.item(line["sku"]).quantity == start  # type: ignore[union-attr]

    def test_inventory_sync_pauses_on_504_and_resumes(
        self, workers: Workers, client: RunsClient, erp: ErpServer, shop: Any
    ) -> None:
        """The seed demo: a 504 pauses with context; resume completes without re-reading."""
        from runtime.workflows import load_plan

        plan = load_plan(REPO / "samples/plans/inventory_sync.yaml")
        order = shop.store.orders("paid", 1, 1)[0][0]
        line = order.to_json()["items"][0]
        sku, qty = line["sku"], line["quantity"]
        start = erp.store.item(sku).quantity  # type: ignore[union-attr]
        erp.injector.configure(Faults(commit_then_504=1.0))
        try:
            w = workers.start()
            run_id = client.start(
                RunSpec(
                    kind="plan",
                    workflow=plan.name,
                    plan=plan.model_dump(mode="json"),
                    inputs={"order_id": order.id},
                )
            )
            info = client.wait(run_id, timeout_s=WAIT)
            assert info.status == "paused"
            assert info.state is not None and info.state.wait is not None
            assert info.state.wait.error is not None
            assert info.state.wait.error["context"]["status"] == 504
            assert info.state.wait.error["code"] == "outcome_unknown"
            assert info.state.wait.error["tool"] == "erp_set_stock"
        finally:
            erp.injector.configure(Faults())
        workers.kill(w)
        shop_requests = shop.injector._requests
        d = client.resume(run_id, by="ops")
        workers.start()
        info = client.wait(run_id, timeout_s=WAIT, past=d)
        assert info.status == "succeeded", info.output
        assert info.output["output"] == {
            "order": order.id,
            "sku": sku,
            "before": start,
            "after": start - qty,
        }
        assert shop.injector._requests == shop_requests  # the order was not fetched again
        assert writes_of(erp, run_id) == {f"{run_id}/3": 1}
        assert erp.store.item(sku).quantity == start - qty  # type: ignore[union-attr]
        erp.store.set_stock(sku, start, warehouse=None, region_id=None, request_id="reset")


class TestAudit:
    """``export`` tells the complete story from the durable state alone."""

    def test_export_after_rejection(
        self, workers: Workers, client: RunsClient, erp: ErpServer
    ) -> None:
        """Inputs, steps with attempts, the decision and the compensations are all there."""
        from runtime.workflows.audit import export_run

        workers.start()
        run_id = client.start(py("writes_then_approval", skus=["B-7", "B-8", "B-9"], quantity=8))
        client.wait(run_id, timeout_s=WAIT)
        d = client.reject(run_id, by="gina", note="audit me")
        client.wait(run_id, timeout_s=WAIT, past=d)
        lines = export_run(client, run_id)
        kinds = [line["type"] for line in lines]
        assert kinds[0] == "run" and lines[0]["inputs"]["quantity"] == 8
        assert kinds.count("step") == 6
        assert kinds.count("compensation") == 3
        assert kinds.count("decision") == 1
        assert kinds[-1] == "result" and lines[-1]["status"] == "rejected"
        decision = lines[kinds.index("decision")]["decision"]
        assert decision["by"] == "gina" and decision["note"] == "audit me"
        writes = [
            line for line in lines if line["type"] == "step" and line["tool"] == "erp_set_stock"
        ]
        assert all(line["attempts"][0]["action"] == "send" for line in writes)
        assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))


class TestReplay:
    """A resumed run whose code now makes another call stops with ReplayMismatch."""

    def test_changed_code_is_refused(self, workers: Workers, client: RunsClient) -> None:
        """The mismatch fails the run with a clear message instead of mixing results."""
        w = workers.start()
        run_id = client.start(py("shifting", sku="A-2"))
        assert client.wait(run_id, timeout_s=WAIT).status == "waiting_approval"
        workers.kill(w)
        workers.start(env={"ZAPI_FLOW_TOOL": "erp_list_orders"})
        d = client.approve(run_id, by="h")
        info = client.wait(run_id, timeout_s=WAIT, past=d)
        assert info.status == "failed"
        assert "resume it with the code and plan it started with" in info.output["message"]
        assert info.output["error"]["code"] == "replay_mismatch"


def run_queue(
    workers: Workers,
    client: RunsClient,
    erp: ErpServer,
    *,
    n_workers: int,
    n_runs: int,
    timeout_s: float,
    app_version: str | None = None,
) -> dict[str, int]:
    """Queue ``n_runs`` one-write runs to ``n_workers`` workers; check each ran exactly once."""
    import time

    for i in range(n_workers):
        workers.start(executor_id=f"w{i + 1}", worker_concurrency=16)
    # Each run's quantity is one no SKU ever held before (seeded stock is 0-250, other
    # tests write small numbers): a call whose send was ambiguous settles by reading the
    # stock back, and only this run's own write can show this value.  With ``i`` itself a
    # run could find its quantity already there and rightly settle as landed, with no
    # write of its own in the ledger (seen once in a full run).
    ids = [
        client.start(
            py("one_write", sku=f"A-{i % 10 + 1}", quantity=QUEUE_QUANTITY_BASE + i),
            app_version=app_version,
        )
        for i in range(n_runs)
    ]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        statuses = client.statuses(ids)
        if sorted(statuses.values()) == ["SUCCESS"] * n_runs:
            break
        time.sleep(0.5)
    assert sorted(client.statuses(ids).values()) == ["SUCCESS"] * n_runs
    per_run: dict[str, int] = {}
    for w in ledger(erp):
        rid = str(w["request_id"]).split("/")[0]
        per_run[rid] = per_run.get(rid, 0) + 1
    wrong = {rid: n for rid in ids if (n := per_run.get(rid, 0)) != 1}
    assert not wrong, {rid: (n, client.steps(rid)) for rid, n in wrong.items()}
    by_worker: dict[str, int] = {}
    for executor in client.executors(ids).values():
        by_worker[executor] = by_worker.get(executor, 0) + 1
    return by_worker


class TestQueue:
    """Several workers share one queue and run each queued run exactly once."""

    def test_two_workers_on_one_sqlite_file(
        self, workers: Workers, client: RunsClient, erp: ErpServer
    ) -> None:
        """1,000 queued runs, two worker processes, each run exactly once, both workers busy."""
        by_worker = run_queue(workers, client, erp, n_workers=2, n_runs=1000, timeout_s=QUEUE_WAIT)
        assert set(by_worker) == {"w1", "w2"}, by_worker


@pytest.fixture
def pg_url() -> str:
    url = os.environ.get("ZAPI_TEST_PG_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("ZAPI_TEST_PG_URL is not set: .ci/services should have started Postgres")
        pytest.skip("ZAPI_TEST_PG_URL is not set (source .ci/services to start Postgres)")
    return url


def pg_workers(tmp_path: Path, pg_url: str, erp: ErpServer, shop: Any) -> Workers:
    """Workers on the shared Postgres, isolated by a tool set of their own.

    The database may be shared (other test sessions on this machine): workers only take
    queued runs of their own tool set (app version), so a unique ``tool_set`` keeps them
    and their runs apart without dropping anything another session is using.
    """
    import uuid

    runner_args = {"erp_url": erp.url, "shop_url": shop.url, "tool_set": uuid.uuid4().hex}
    return Workers(tmp_path, pg_url, runner_args)


class TestPostgres:
    """Three worker processes on Postgres (started by .ci/services from Debian's package)."""

    def test_three_workers_thousand_runs(
        self, pg_url: str, tmp_path: Path, erp: ErpServer, shop: Any
    ) -> None:
        """1,000 queued runs, three workers, each run exactly once, all three workers busy."""
        workers = pg_workers(tmp_path, pg_url, erp, shop)
        client = RunsClient(pg_url)
        try:
            by_worker = run_queue(
                workers,
                client,
                erp,
                n_workers=3,
                n_runs=1000,
                timeout_s=QUEUE_WAIT,
                app_version=workers.app_version(),
            )
            assert set(by_worker) == {"w1", "w2", "w3"}, by_worker
        finally:
            client.close()
            workers.close()

    def test_crash_resume_on_postgres(
        self, pg_url: str, tmp_path: Path, erp: ErpServer, shop: Any
    ) -> None:
        """The write protocol holds on Postgres too: kill after send, restart, exact ledger."""
        workers = pg_workers(tmp_path, pg_url, erp, shop)
        client = RunsClient(pg_url)
        try:
            w = workers.start(
                probe="samples.plans.runner:kill_probe",
                probe_args={"point": "sent", "step": 2, "marker": str(tmp_path / "k")},
            )
            run_id = client.start(
                py("five_writes", skus=["C-7", "C-8"], base=7000),
                app_version=workers.app_version(),
            )
            assert w.wait(WAIT) == -signal.SIGKILL
            workers.start()
            assert client.wait(run_id, timeout_s=WAIT).status == "succeeded"
            assert writes_of(erp, run_id) == {f"{run_id}/{i}": 1 for i in range(1, 6)}
        finally:
            client.close()
            workers.close()


class TestCli:
    """``zapi run`` and ``zapi runs ...`` drive the demo end to end."""

    def test_commands_document_themselves(self) -> None:
        """Every workflow command has help text with an Example: line."""
        from zapi.cli.workflows import COMMANDS, runs_group

        commands = [c for c in COMMANDS if c is not runs_group] + list(runs_group.commands.values())
        for command in [*commands, runs_group]:
            assert "Example:" in (command.help or ""), command.name

    def test_demo_from_the_readme(
        self, tmp_path: Path, erp: ErpServer, shop: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """504 on: the run pauses with context; `runs resume` completes it; export tells all."""
        from zapi.cli import main

        order = shop.store.orders("paid", 1, 1)[0][0]
        sku = order.to_json()["items"][0]["sku"]
        start = erp.store.item(sku).quantity  # type: ignore[union-attr]
        db = str(tmp_path / "runs.db")
        runner = [
            "--runner",
            "samples.plans.runner:make_runner",
            "--runner-arg",
            f"erp_url={erp.url}",
            "--runner-arg",
            f"shop_url={shop.url}",
        ]
        erp.injector.configure(Faults(commit_then_504=1.0))
        try:
            code = main(
                [
                    "run",
                    str(REPO / "samples/plans/inventory_sync.yaml"),
                    "--input",
                    f"order_id={order.id}",
                    "--db",
                    db,
                    "--run-id",
                    "demo-1",
                    *runner,
                ]
            )
        finally:
            erp.injector.configure(Faults())
        out = capsys.readouterr().out
        assert code == 3, out  # paused for a decision
        assert "run demo-1: paused" in out
        assert '"status": 504' in out
        assert f"next: zapi runs resume | cancel demo-1 --by NAME --db {db} --runner" in out
        assert main(["runs", "list", "--db", db]) == 0
        assert "demo-1  paused" in capsys.readouterr().out
        assert main(["runs", "resume", "demo-1", "--by", "ops", "--db", db, *runner]) == 0
        out = capsys.readouterr().out
        assert "run demo-1: succeeded" in out, out
        assert erp.store.item(sku).quantity < start  # type: ignore[union-attr]
        export = tmp_path / "demo.jsonl"
        assert main(["runs", "export", "demo-1", "--db", db, "-o", str(export)]) == 0
        lines = [json.loads(line) for line in export.read_text().splitlines()]
        kinds = [line["type"] for line in lines]
        steps = [line for line in lines if line["type"] == "step"]
        # order, item, stock (504: unknown), stock again after resume, the verify read
        assert [(x["step"], x["outcome"]) for x in steps] == [
            (1, "ok"),
            (2, "ok"),
            (3, "unknown"),
            (3, "ok"),
            (4, "ok"),
        ]
        assert steps[3]["reconciled"] is True
        assert [(a["action"], a["outcome"]) for a in steps[3]["attempts"]] == [
            ("send", "unknown"),
            ("reconcile", "landed"),
        ]
        assert "verification" in kinds and "decision" in kinds
        assert lines[-1]["status"] == "succeeded"
        erp.store.set_stock(sku, start, warehouse=None, region_id=None, request_id="reset")

    def test_decisions_on_the_command_line(
        self,
        tmp_path: Path,
        workers: Workers,
        client: RunsClient,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """approve --set narrows a value; errors are one line with exit code 1."""
        from zapi.cli import main

        workers.start()
        run_id = client.start(py("approve_then_write", sku="C-9", quantity=50))
        client.wait(run_id, timeout_s=WAIT)
        db = workers.db_url
        assert main(["runs", "show", run_id, "--db", db]) == 0
        assert '"quantity": 50' in capsys.readouterr().out
        assert main(["runs", "approve", run_id, "--by", "ann", "--set", "nope=1", "--db", db]) == 1
        assert "has no value nope" in capsys.readouterr().err
        assert (
            main(["runs", "approve", run_id, "--by", "a", "--set", "quantity=abc", "--db", db]) == 1
        )
        assert "is not of type 'integer'" in capsys.readouterr().err
        assert (
            main(["runs", "approve", run_id, "--by", "a", "--set", "quantity=5000", "--db", db])
            == 1
        )
        assert "widens the request" in capsys.readouterr().err
        assert (
            main(
                [
                    "runs",
                    "approve",
                    run_id,
                    "--by",
                    "ann",
                    "--set",
                    "quantity=7",
                    "--note",
                    "smaller",
                    "--db",
                    db,
                ]
            )
            == 0
        )
        info = client.wait(run_id, timeout_s=WAIT, parked_ok=False)
        assert info.output["output"]["after"] == 7
        assert main(["runs", "cancel", run_id, "--db", db]) == 1
        assert "already succeeded" in capsys.readouterr().err


class TestCliExitCodes:
    """Scripts can tell a run's end from ``zapi run``'s exit code; hints name the right db."""

    def test_exit_codes_and_python_workflows(
        self,
        tmp_path: Path,
        erp: ErpServer,
        shop: Any,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """0 succeeded, 3 parked, 4 denied, 1 failed; MODULE:FUNCTION starts a @workflow."""
        from zapi.cli import main

        db = str(tmp_path / "runs.db")
        runner = ["--runner", "samples.plans.runner:make_runner", "--runner-arg"]
        runner += [f"erp_url={erp.url}", "--db", db]
        ok = ["run", "samples.plans.flows:one_write", "--input", "sku=A-3"]
        assert main([*ok, "--input", "quantity=31", *runner]) == 0
        assert "succeeded" in capsys.readouterr().out
        parked = ["run", "samples.plans.flows:approve_then_write", "--input", "sku=A-3"]
        assert main([*parked, "--input", "quantity=3", "--run-id", "p-1", *runner]) == 3
        assert "waiting_approval" in capsys.readouterr().out
        policy = tmp_path / "deny.yaml"
        policy.write_text("default: deny\n")
        code = main([*ok, "--input", "quantity=32", "--policy", str(policy), *runner])
        assert code == 4, capsys.readouterr()
        capsys.readouterr()
        bad = ["run", "samples.plans.flows:one_write", "--input", "sku=NO-SUCH", "--input"]
        assert main([*bad, "quantity=1", *runner]) == 1
        assert "failed" in capsys.readouterr().out
        assert main(["run", "samples.plans.flows:nothing_here", *runner]) == 2
        assert "cannot import the workflow" in capsys.readouterr().err

    def test_decision_pending_and_where_the_runs_are(
        self,
        tmp_path: Path,
        workers: Workers,
        client: RunsClient,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """A decision sent with no worker up shows as pending; wrong dbs and ids say so."""
        from zapi.cli import main

        w = workers.start()
        run_id = client.start(py("approve_then_write", sku="C-6", quantity=9))
        assert client.wait(run_id, timeout_s=WAIT).status == "waiting_approval"
        workers.kill(w)
        db = workers.db_url
        assert (
            main(["runs", "approve", run_id, "--by", "kim", "--set", "quantity=4", "--db", db]) == 0
        )
        assert "pending until a worker resumes the run" in capsys.readouterr().out
        assert main(["runs", "show", run_id, "--db", db]) == 0
        out = capsys.readouterr().out
        assert "decision pending: approve by kim" in out and "next:" not in out
        assert main(["runs", "resume", "run-nope", "--db", db]) == 1
        assert "no such run 'run-nope'" in capsys.readouterr().err
        elsewhere = tmp_path / "elsewhere" / "zapi-runs.db"
        assert main(["runs", "list", "--db", str(elsewhere)]) == 1
        assert f"no runs database at {elsewhere}" in capsys.readouterr().err
        assert not elsewhere.exists()
        assert main(["runs", "list", "--db", db]) == 0
        out = capsys.readouterr().out
        assert out.startswith("runs in ") and "RUN" in out and run_id in out
        workers.start()
        info = client.wait(run_id, timeout_s=WAIT, parked_ok=False)
        assert info.output["output"]["after"] == 4

    def test_postgres_connection_failure_is_one_line(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Nobody listens on the port: one line naming the database, no driver pages."""
        from zapi.cli import main

        url = "postgresql://zapi:secret@127.0.0.1:9/nowhere"
        assert main(["runs", "list", "--db", url]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: cannot open the runs database postgresql://***@127.0.0.1:9/")
        assert len(err.strip().splitlines()) == 1, err
        assert "secret" not in err


class TestOptionalDependencies:
    """A missing optional dependency is one line naming the extra that installs it."""

    def test_postgres_without_its_driver(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """No psycopg: ``pip install 'zapi[postgres]'``, before any connection is tried."""
        import sys

        from zapi.cli import main

        monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now fails
        assert main(["runs", "list", "--db", "postgresql://zapi@127.0.0.1:9/x"]) == 1
        err = capsys.readouterr().err
        assert err.strip().splitlines() == [
            "error: a postgresql:// runs database needs the Postgres driver: "
            "pip install 'zapi[postgres]'"
        ]


def _chaos() -> Any:
    import importlib
    import sys

    sys.path.insert(0, str(REPO / "bench"))
    try:
        return importlib.import_module("chaos")
    finally:
        sys.path.remove(str(REPO / "bench"))


class TestChaos:
    """The chaos harness (bench/chaos.py): short here, the full trials behind --chaos."""

    def test_short_chaos(self) -> None:
        """Kill points, random-time kills and a kill right after an operator's answer: exact."""
        import io

        chaos = _chaos()
        out = io.StringIO()
        figures = chaos.run_chaos(
            trials=1,
            random_kills=2,
            parallel=2,
            out=out,
            points=[("sent", 2), ("finished", 4), ("intent_begun", 5), ("before_step", 3)],
            operator_trials=1,
            operator_points=[("intent_begun", "sent")],
        )
        assert figures["trials"] == 7 and figures["exact"] == 7, out.getvalue()
        aimed = {k: c for k, c in figures["by_point"].items() if k != "random"}
        assert sum(c["killed"] for c in aimed.values()) == 5, out.getvalue()
        assert figures["by_point"]["random"]["killed"] <= 2

    @pytest.mark.chaos
    def test_full_chaos(self) -> None:
        """50 trials at every kill point plus 200 random kills: every run exact."""
        import io

        chaos = _chaos()
        out = io.StringIO()
        figures = chaos.run_chaos(
            trials=50,
            random_kills=200,
            operator_trials=5,
            parallel=os.cpu_count() or 2,
            out=out,
        )
        print(out.getvalue())
        assert figures["failures"] == [], out.getvalue()
        total = 50 * len(chaos.POINTS) + 200 + 5 * len(chaos.OPERATOR_POINTS)
        assert figures["exact"] == figures["trials"] == total

    @pytest.mark.chaos
    def test_postgres_queue_and_sqlite_queue_at_scale(
        self, pg_url: str, tmp_path: Path, erp: ErpServer, shop: Any
    ) -> None:
        """The multi-worker figures again, 3,000 runs on Postgres."""
        workers = pg_workers(tmp_path, pg_url, erp, shop)
        client = RunsClient(pg_url)
        try:
            run_queue(
                workers,
                client,
                erp,
                n_workers=3,
                n_runs=3000,
                timeout_s=QUEUE_WAIT,
                app_version=workers.app_version(),
            )
        finally:
            client.close()
            workers.close()


class TestImportGraph:
    """runtime/workflows is a DAG, DBOS is imported in one module, no import is hidden."""

    def test_no_cycle_and_one_dbos_module(self) -> None:
        """Every import (module level, in functions, under TYPE_CHECKING) counts."""
        import ast

        pkg = REPO / "runtime" / "workflows"
        graph: dict[str, set[str]] = {}
        dbos_users = []
        nested = []
        for path in sorted(pkg.glob("*.py")):
            name = path.stem
            tree = ast.parse(path.read_text(encoding="utf-8"))
            deps: set[str] = set()
            top = set(map(id, tree.body))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    mods = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    mods = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                else:
                    continue
                if any(m == "dbos" or m.startswith("dbos.") for m in mods):
                    dbos_users.append(name)
                ours = {m.split(".")[2] for m in mods if m.startswith("runtime.workflows.")}
                ours &= {p.stem for p in pkg.glob("*.py")}
                if ours and id(node) not in top:
                    nested.append(f"{name}: {sorted(ours)}")
                deps |= ours - {name}
            graph[name] = deps
        assert sorted(set(dbos_users)) == ["durable"]
        assert nested == []
        state: dict[str, int] = {}

        def visit(node: str, trail: list[str]) -> None:
            state[node] = 1
            for dep in sorted(graph.get(node, ())):
                if state.get(dep) == 1:
                    raise AssertionError("import cycle: " + " -> ".join([*trail, node, dep]))
                if dep not in state:
                    visit(dep, [*trail, node])
            state[node] = 2

        for module in sorted(graph):
            if module not in state and module != "__init__":
                visit(module, [])


class TestToolSetPinning:
    """A run is pinned to the tool set it started with."""

    def test_resume_with_other_tools_is_refused_unless_adopted(
        self,
        workers: Workers,
        client: RunsClient,
        erp: ErpServer,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Another tool set is refused with a clear message; --adopt continues the run."""
        from zapi.cli import main

        erp.injector.configure(Faults(commit_then_504=1.0))
        try:
            w = workers.start()
            run_id = client.start(py("five_writes", skus=["D-9"], base=900))
            assert client.wait(run_id, timeout_s=WAIT).status == "paused"
        finally:
            erp.injector.configure(Faults())
        workers.kill(w)
        runner = [
            "--runner",
            "samples.plans.runner:make_runner",
            "--runner-arg",
            f"erp_url={erp.url}",
            "--runner-arg",
            "tool_set=v2",
            "--db",
            workers.db_url,
            "--module",
            "samples.plans.flows",
        ]
        assert main(["runs", "resume", run_id, "--by", "ivy", *runner]) == 1
        err = capsys.readouterr().err
        assert "was started with tool set zapi-" in err and "--adopt" in err
        assert client.get(run_id).status == "paused"
        assert main(["runs", "resume", run_id, "--by", "ivy", "--adopt", *runner]) == 0
        assert "succeeded" in capsys.readouterr().out
        assert writes_of(erp, run_id) == {f"{run_id}/{i}": 1 for i in range(1, 6)}


class TestRealRuntime:
    """The zapi runtime (cards from the committed ERP HAR) as the workflow's tool runner."""

    def test_plan_through_the_runtime(self, tmp_path: Path, erp: ErpServer) -> None:
        """Reads, a verified PUT and a reconcilable POST run durably through RuntimeRunner."""
        import httpx

        import zapi
        from runtime import ActionLog, Runtime
        from runtime.workflows import Engine, EngineConfig
        from runtime.workflows.adapters import RuntimeRunner
        from toolgen.cards import load_cards

        zapi.analyze([str(REPO / "samples/hars/erp_session.har")], str(tmp_path / "out"))
        http = httpx.Client(timeout=10)
        http.post(erp.url + "/login", data={"username": "alice", "password": "wonderland"})
        cards = load_cards(tmp_path / "out")

        def named(method: str, path_end: str) -> str:
            return next(
                c.name for c in cards.values() if c.method == method and c.path.endswith(path_end)
            )

        put_stock = named("PUT", "/stock")
        post_order = named("POST", "/api/orders")
        get_item = next(
            c.name
            for c in cards.values()
            if c.method == "GET" and c.path.startswith("/api/items/") and c.path.count("/") == 3
        )
        rt = Runtime(cards, client=http, log=ActionLog(), base_url=erp.url)
        runner = RuntimeRunner(rt, credential="alice")
        info = runner.info(post_order)
        assert (info.method, info.access, info.reconcilable) == ("POST", "write", True)
        plan = {
            "name": "rt",
            "inputs": {"sku": {}},
            "steps": [
                {"id": "item", "tool": get_item, "args": {"item_id": "${inputs.sku}"}},
                {
                    "id": "stock",
                    "tool": put_stock,
                    "args": {
                        "item_id": "${inputs.sku}",
                        "quantity": 4321,
                        "reason": "wf",
                        "warehouse": "${steps.item.output.warehouse}",
                    },
                },
                {
                    "id": "order",
                    "tool": post_order,
                    "args": {"sku": "${inputs.sku}", "quantity": 1, "customer": "wf"},
                },
            ],
        }
        db = f"sqlite:///{tmp_path / 'rt.db'}"
        engine = Engine(EngineConfig(db, poll_interval_s=0.05), runner).launch()
        client = RunsClient(db)
        try:
            rid = client.start(
                RunSpec(kind="plan", workflow="rt", plan=plan, inputs={"sku": "B-5"})
            )
            result = client.wait(rid, timeout_s=WAIT, parked_ok=False)
            from runtime.workflows.audit import export_run

            story = export_run(client, rid)
        finally:
            client.close()
            engine.shutdown()
            rt.close()
            http.close()
        assert result.status == "succeeded", result.output
        stock_step = next(e for e in story if e["type"] == "step" and e.get("tool") == put_stock)
        assert stock_step["verification"]["ok"] is True  # the runtime's read-after-write
        assert stock_step["drift"] == []
        assert erp.store.item("B-5").quantity == 4321  # type: ignore[union-attr]
        order = result.output["output"]["order"]
        assert order["client_ref"] == f"{rid}/3"  # derived from the step's intent key

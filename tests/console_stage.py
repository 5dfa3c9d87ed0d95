"""A stage for console tests and screenshots: sample apps, real workers, a real console process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from runtime.workflows import RunsClient, RunSpec, WorkerConfig, load_plan, spawn_worker, wait_ready
from samples.erp.app import ErpServer
from samples.erp.app import make_server as make_erp
from samples.storefront.app import make_server as make_shop

REPO = Path(__file__).resolve().parents[1]
PLAN = REPO / "samples" / "plans" / "inventory_sync.yaml"


class Stage:
    """ERP + storefront on 127.0.0.1, a runs database, workers and consoles as processes."""

    def __init__(self, tmp: Path, db_url: str | None = None) -> None:
        self.tmp = tmp
        self.db_url = db_url or f"sqlite:///{tmp / 'runs.db'}"
        self.erp: ErpServer = make_erp(seed=0)
        self.erp.__enter__()
        self.shop: Any = make_shop()
        self.shop.__enter__()
        self.client = RunsClient(self.db_url)
        self.workers: list[subprocess.Popen[str]] = []
        self.consoles: list[subprocess.Popen[str]] = []
        self.env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.app_version: str | None = None

    # -- workers ------------------------------------------------------------------------------

    def start_worker(self) -> subprocess.Popen[str]:
        config = WorkerConfig(
            database_url=self.db_url,
            runner="samples.plans.runner:make_runner",
            runner_args={"erp_url": self.erp.url, "shop_url": self.shop.url},
            modules=["samples.plans.flows"],
            poll_interval_s=0.05,
            wait_chunk_s=30.0,
        )
        proc = spawn_worker(config, str(self.tmp / f"worker{len(self.workers)}.json"), env=self.env)
        # Runs are pinned to this tool set, so a shared database holding newer tool sets
        # (other tests' workers) cannot leave them queued.
        self.app_version = wait_ready(proc).split()[-1]
        self.workers.append(proc)
        return proc

    def stop_workers(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait(20)
            if proc.stdout is not None:
                proc.stdout.close()
        self.workers = []

    # -- consoles -----------------------------------------------------------------------------

    def start_console(self, *args: str, db: str | None = None) -> str:
        """Run ``zapi console --port 0 ARGS`` and return its URL (ends with ``/``)."""
        argv = [sys.executable, "-m", "zapi", "console", "--db", db or self.db_url, "--port", "0"]
        proc = subprocess.Popen(
            [*argv, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            cwd=str(self.tmp),
        )
        self.consoles.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if " on http" not in line:
            proc.kill()
            err = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"console did not start: {line!r} {err[-2000:]}")
        return line.split(" on ", 1)[1].split()[0]

    # -- runs ---------------------------------------------------------------------------------

    def paid_order(self, n: int = 0) -> Any:
        return self.shop.store.orders("paid", 1, n + 1)[0][n]

    def start_plan(self, order_id: str, run_id: str | None = None) -> str:
        plan = load_plan(PLAN)
        spec = RunSpec(
            kind="plan",
            workflow=plan.name,
            plan=plan.model_dump(mode="json"),
            inputs={"order_id": order_id},
        )
        return self.client.start(spec, run_id=run_id, app_version=self.app_version)

    def start_py(self, workflow: str, run_id: str | None = None, **inputs: Any) -> str:
        spec = RunSpec(kind="python", workflow=workflow, inputs=inputs)
        return self.client.start(spec, run_id=run_id, app_version=self.app_version)

    def writes_of(self, run_id: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for w in self.erp.store.ledger_snapshot()["writes"]:
            rid = str(w.get("request_id", ""))
            if rid.startswith(run_id + "/"):
                out[rid] = out.get(rid, 0) + 1
        return out

    def close(self) -> None:
        for proc in self.consoles:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        self.stop_workers()
        self.client.close()
        self.shop.__exit__(None, None, None)
        self.erp.__exit__(None, None, None)

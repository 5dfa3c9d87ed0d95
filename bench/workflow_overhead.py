"""Per-step overhead of durable workflow steps, on SQLite and Postgres, against bare calls.

One run of N read steps and one run of N write steps against the ERP sample, timed inside
the run, compared with N bare calls of the same tool through the same runner:

    python bench/workflow_overhead.py --steps 200 [--pg postgresql://...]

``--pg`` defaults to ``$ZAPI_TEST_PG_URL`` (set by ``.ci/services``); without it only SQLite
is measured.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from runtime.workflows import (  # noqa: E402
    Engine,
    EngineConfig,
    Registry,
    RunsClient,
    RunSpec,
    WorkflowContext,
    workflow,
)
from samples.erp.app import make_server as make_erp  # noqa: E402
from samples.plans.runner import SampleAppsRunner  # noqa: E402

REGISTRY = Registry()


@workflow(name="bench_steps", registry=REGISTRY)
def bench_steps(ctx: WorkflowContext, n: int, write: bool) -> dict[str, float]:
    """``n`` steps of one tool; returns the time they took (measured inside the run)."""
    t0 = time.perf_counter()
    for i in range(n):
        if write:
            ctx.call("erp_set_stock", sku=f"A-{i % 10 + 1}", quantity=10_000 + i)
        else:
            ctx.call("erp_get_item", sku=f"A-{i % 10 + 1}")
    return {"seconds": time.perf_counter() - t0}


def bare(runner: SampleAppsRunner, n: int, write: bool) -> float:
    """Seconds for ``n`` plain calls through the runner."""
    t0 = time.perf_counter()
    for i in range(n):
        if write:
            runner.call(
                "erp_set_stock",
                {"sku": f"A-{i % 10 + 1}", "quantity": 20_000 + i},
                idempotency_key=f"bare/{i}",
            )
        else:
            runner.call("erp_get_item", {"sku": f"A-{i % 10 + 1}"})
    return time.perf_counter() - t0


def measure(db_url: str, erp_url: str, n: int) -> dict[str, Any]:
    """Per-step milliseconds for reads and writes, durable vs bare, on ``db_url``."""
    runner = SampleAppsRunner(erp_url=erp_url)
    engine = Engine(EngineConfig(db_url, poll_interval_s=0.05), runner, registry=REGISTRY)
    engine.launch()
    client = RunsClient(db_url)
    out: dict[str, Any] = {}
    try:
        bare(runner, 20, False)  # warm up the connection and login
        for write in (False, True):
            base = bare(runner, n, write)
            rid = client.start(
                RunSpec(kind="python", workflow="bench_steps", inputs={"n": n, "write": write})
            )
            info = client.wait(rid, timeout_s=600, parked_ok=False)
            durable = info.output["output"]["seconds"]
            kind = "write" if write else "read"
            out[kind] = {
                "bare_ms": 1000 * base / n,
                "step_ms": 1000 * durable / n,
                "overhead_ms": 1000 * (durable - base) / n,
            }
    finally:
        client.close()
        engine.shutdown()
        runner.close()
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--pg", default=os.environ.get("ZAPI_TEST_PG_URL"))
    args = parser.parse_args(argv)
    with make_erp() as erp, tempfile.TemporaryDirectory() as tmp:
        targets = [("sqlite", f"sqlite:///{tmp}/bench.db")]
        if args.pg:
            targets.append(("postgres", args.pg))
        print(
            f"{'database':<10}{'kind':<7}{'bare ms':>9}{'step ms':>9}{'overhead ms':>13}"
            f"   ({args.steps} steps per run)"
        )
        for name, url in targets:
            for kind, row in measure(url, erp.url, args.steps).items():
                print(
                    f"{name:<10}{kind:<7}{row['bare_ms']:>9.2f}{row['step_ms']:>9.2f}"
                    f"{row['overhead_ms']:>13.2f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())

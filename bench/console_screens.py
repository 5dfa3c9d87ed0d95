"""Screenshots of the operator console's main pages, and render times at scale.

Stages real runs on the sample apps (a run paused on the ERP's 504, one resumed to
success, one waiting for approval, one rejected with compensations, one run through the
zapi runtime so its HTTP attempts are in the action log), serves ``zapi console`` and
screenshots each page with headless Chromium into ``--out``. Then fills a runs database
with ``--runs`` finished runs and an action log with ``--records`` records and times the
pages against the data reads they are built on (measured in the same run):

    python bench/console_screens.py --out console-screens --runs 1000 --records 10000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for extra in (REPO, REPO / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import httpx  # noqa: E402
from console_stage import Stage  # noqa: E402

from samples.erp.app import Faults  # noqa: E402


def _stage_runs(stage: Stage, out: Path) -> dict[str, str]:
    """The runs the screenshots show; returns name -> run id."""
    runs: dict[str, str] = {}
    stage.erp.injector.configure(Faults(commit_then_504=1.0))
    stage.start_worker()
    runs["paused"] = stage.start_plan(stage.paid_order(0).id, run_id="demo-1")
    runs["resumed"] = stage.start_plan(stage.paid_order(1).id, run_id="demo-2")
    for rid in (runs["paused"], runs["resumed"]):
        stage.client.wait(rid, timeout_s=120)
    stage.erp.injector.configure(Faults())
    d = stage.client.resume(runs["resumed"], by="ops", note="ERP is back")
    stage.client.wait(runs["resumed"], timeout_s=120, past=d)
    runs["approval"] = stage.start_py(
        "approve_then_write", run_id="restock-7", sku="C-1", quantity=77
    )
    runs["rejected"] = stage.start_py(
        "writes_then_approval", run_id="bulk-3", skus=["D-1", "D-2", "D-3"], quantity=4242
    )
    stage.client.wait(runs["approval"], timeout_s=120)
    stage.client.wait(runs["rejected"], timeout_s=120)
    d = stage.client.reject(runs["rejected"], by="carol", note="wrong warehouse")
    stage.client.wait(runs["rejected"], timeout_s=120, past=d)
    stage.stop_workers()
    runs["runtime"] = _runtime_run(stage, out)
    return runs


def _runtime_run(stage: Stage, out: Path) -> str:
    """A plan run through the zapi runtime (action log in OUT/zapi.db), 504 then reconciled."""
    import zapi
    from runtime import ActionLog, Runtime
    from runtime.workflows import Engine, EngineConfig, RunSpec
    from runtime.workflows.adapters import RuntimeRunner
    from toolgen.cards import load_cards

    zapi.analyze([str(REPO / "samples/hars/erp_session.har")], str(out))
    cards = load_cards(out)
    put = next(c.name for c in cards.values() if c.method == "PUT" and c.path.endswith("/stock"))
    get = next(
        c.name
        for c in cards.values()
        if c.method == "GET" and c.path.startswith("/api/items/") and c.path.count("/") == 3
    )
    http = httpx.Client(timeout=10)
    http.post(stage.erp.url + "/login", data={"username": "alice", "password": "wonderland"})
    rt = Runtime(cards, client=http, log=ActionLog.open(out / "zapi.db"), base_url=stage.erp.url)
    plan = {
        "name": "restock_through_runtime",
        "inputs": {"sku": {}},
        "steps": [
            {"id": "item", "tool": get, "args": {"item_id": "${inputs.sku}"}},
            {
                "id": "stock",
                "tool": put,
                "args": {
                    "item_id": "${inputs.sku}",
                    "quantity": 321,
                    "reason": "console demo",
                    "warehouse": "${steps.item.output.warehouse}",
                },
            },
        ],
    }
    stage.erp.injector.configure(Faults(commit_then_504=1.0))
    engine = Engine(EngineConfig(stage.db_url, poll_interval_s=0.05), RuntimeRunner(rt)).launch()
    try:
        rid = stage.client.start(
            RunSpec(kind="plan", workflow=plan["name"], plan=plan, inputs={"sku": "B-5"}),
            run_id="rt-1",
            app_version=engine.app_version,
        )
        stage.client.wait(rid, timeout_s=120, parked_ok=False)
    finally:
        stage.erp.injector.configure(Faults())
        engine.shutdown()
        rt.close()
        http.close()
    return rid


def screenshots(out_dir: Path, chromium: str | None) -> None:
    """Stage the runs, serve the console and screenshot each main page."""
    from playwright.sync_api import sync_playwright

    from zapi.browser import LAUNCH_ARGS

    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="zapi-console-"))
    stage = Stage(tmp)
    try:
        tools = tmp / "out"
        runs = _stage_runs(stage, tools)
        url = stage.start_console(
            "--state", str(tools / "zapi.db"), "--tools", str(tools), "--operator", "ops"
        )
        pages = {
            "runs": "",
            "runs_waiting": "?status=waiting_approval",
            "run_paused": f"runs/{runs['paused']}",
            "run_resumed": f"runs/{runs['resumed']}",
            "run_approval": f"runs/{runs['approval']}",
            "run_rejected": f"runs/{runs['rejected']}",
            "run_runtime": f"runs/{runs['runtime']}",
            "log": "log",
            "tools": "tools",
            "record": "log/record/5",
        }
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=chromium, headless=True, args=list(LAUNCH_ARGS)
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            for name, path in pages.items():
                page.goto(url + path)
                if name.startswith("run_"):
                    for d in page.locator("li.ev details").all():
                        d.evaluate("el => el.open = true")
                page.screenshot(path=str(out_dir / f"{name}.png"), full_page=True)
                print(f"  {name:<14} {out_dir / (name + '.png')}")
            browser.close()
    finally:
        stage.close()


def _fill_runs(stage: Stage, n: int) -> float:
    from runtime.workflows import RunSpec

    for proc in [stage.start_worker(), stage.start_worker()]:
        assert proc.poll() is None
    t0 = time.perf_counter()
    ids = [
        stage.client.start(
            RunSpec(kind="python", workflow="noop_read", inputs={"sku": "A-1", "n": i})
        )
        for i in range(n)
    ]
    for rid in ids:
        stage.client.wait(rid, timeout_s=600, parked_ok=False, poll_s=0.05)
    stage.stop_workers()
    return time.perf_counter() - t0


def _fill_log(path: Path, n: int) -> None:
    from runtime.actionlog import ActionLog, AttemptFinished, AttemptStarted, CallFinished

    log = ActionLog.open(path)
    ts = time.time() - n
    for i in range(0, n, 3):
        call = f"call-{i}"
        url = f"http://127.0.0.1:8001/api/items/A-{i % 50}/stock"
        events: list[Any] = [
            AttemptStarted(
                call_id=call, tool="erp_set_stock", ts=ts + i, attempt=1, method="PUT", url=url,
                headers={"content-type": "application/json"}, body={"quantity": i % 90},
                idempotency_key=f"run-bench/{i}",
            ),
            AttemptFinished(
                call_id=call, tool="erp_set_stock", ts=ts + i + 0.01, attempt=1, intent_id=i,
                status=200, elapsed_ms=4.2, outcome="ok", response={"quantity": i % 90},
            ),
            CallFinished(
                call_id=call, tool="erp_set_stock", ts=ts + i + 0.02, ok=True, status=200,
                attempts=1,
            ),
        ]  # fmt: skip
        for e in events[: n - i]:
            log.emit(e)
    log.close()


def _time(http: httpx.Client, path: str, repeat: int) -> tuple[float, float, int]:
    """First request, median of the following ones (ms), and the page size."""
    times, size = [], 0
    for _ in range(repeat + 1):
        t0 = time.perf_counter()
        r = http.get(path)
        times.append(time.perf_counter() - t0)
        r.raise_for_status()
        size = len(r.content)
    return times[0] * 1000, statistics.median(times[1:]) * 1000, size


def timings(n_runs: int, n_records: int, repeat: int) -> None:
    """Render times of the runs page, a run page and the log page at scale."""
    from runtime.console.logview import LogReader

    tmp = Path(tempfile.mkdtemp(prefix="zapi-console-scale-"))
    stage = Stage(tmp)
    try:
        filled = _fill_runs(stage, n_runs)
        print(f"  staged {n_runs} finished runs in {filled:.1f}s")
        t0 = time.perf_counter()
        _fill_log(tmp / "zapi.db", n_records)
        print(f"  wrote {n_records} log records in {time.perf_counter() - t0:.1f}s")
        url = stage.start_console("--state", str(tmp / "zapi.db"), "--operator", "bench")
        one = stage.client.list_runs(limit=1)[0].run_id
        # peers: the data reads each page is built on, in this process
        t0 = time.perf_counter()
        for _ in range(repeat):
            stage.client.list_runs(limit=n_runs)
        peer_runs = (time.perf_counter() - t0) / repeat * 1000
        t0 = time.perf_counter()
        for _ in range(repeat):
            reader = LogReader(tmp / "zapi.db")
            reader.verify()
            reader.records()
            reader.close()
        peer_log = (time.perf_counter() - t0) / repeat * 1000
        rows = [
            (f"runs page, {n_runs} runs", f"/?limit={n_runs}", peer_runs),
            ("runs page, first 200", "/", peer_runs),
            ("runs table refresh", f"/runs/table?limit={n_runs}", peer_runs),
            ("run page (one run)", f"/runs/{one}", None),
            (f"log page, {n_records} records, newest 200", "/log", peer_log),
            (f"log page, all {n_records} rendered", f"/log?limit={n_records}", peer_log),
            ("log page, filtered by tool+outcome", "/log?tool=erp_set_stock&outcome=ok", peer_log),
        ]
        head = f"{'page':<44} {'first ms':>9} {'median ms':>10} {'KB':>6} {'data read ms':>13}"
        print(f"\n  {head} {'ratio':>6}")
        with httpx.Client(base_url=url, timeout=600) as http:
            for label, path, peer in rows:
                first, ms, size = _time(http, path, repeat)
                ratio = f"{ms / peer:.2f}" if peer else "-"
                peer_s = f"{peer:.0f}" if peer else "-"
                print(
                    f"  {label:<44} {first:>9.0f} {ms:>10.0f} {size / 1024:>6.0f} {peer_s:>13} "
                    f"{ratio:>6}"
                )
        print(
            "  (data read: RunsClient.list_runs for the runs pages; opening the log, checking "
            "its chain and parsing every record for the log pages; ratio = median / data read)"
        )
    finally:
        stage.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="console-screens", help="folder for the PNGs")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--records", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--browser", default=os.environ.get("ZAPI_BROWSER", "/usr/bin/chromium"))
    parser.add_argument("--no-screens", action="store_true")
    parser.add_argument("--no-timings", action="store_true")
    args = parser.parse_args()
    browser = args.browser if args.browser and os.path.exists(args.browser) else None
    if not args.no_screens:
        print(f"screenshots -> {args.out}/")
        screenshots(Path(args.out), browser)
    if not args.no_timings:
        print(f"\nrender times (first request, then median of {args.repeat}; zapi console)")
        timings(args.runs, args.records, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())

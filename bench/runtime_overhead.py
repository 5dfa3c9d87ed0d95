"""Per-call overhead of ``Runtime.call`` (durable SQLite action log) over raw httpx, on loopback.

Run: python bench/runtime_overhead.py [N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from runtime import ActionLog, Runtime, SqliteStore
from samples.erp.app import make_server
from toolgen.cards import Binding, Provenance, ToolCard


def get_item_card(origin: str) -> ToolCard:
    """The ERP item read, as the analyzer would describe it."""
    return ToolCard(
        name="get_item",
        description="GET /api/items/{sku}",
        method="GET",
        origin=origin,
        path="/api/items/{sku}",
        safety="read_only",
        input_schema={
            "type": "object",
            "properties": {"sku": {"type": "string"}},
            "required": ["sku"],
            "additionalProperties": False,
        },
        output_schema={
            "type": "object",
            "properties": {
                "sku": {"type": "string"},
                "quantity": {"type": "integer"},
                "name": {"type": "string"},
            },
            "required": ["quantity", "sku"],
        },
        bindings=[Binding(arg="sku", location="path", name="sku")],
        responses={"200": "seen"},
        auth=["cookie:erp_session"],
        csrf={"cookie": "XSRF-TOKEN", "header": "X-XSRF-TOKEN"},
        confidence=1.0,
        reasons=[],
        provenance=Provenance(sources={}, entries=[], samples=1),
    )


def timed(fn: Callable[[], None], n: int) -> list[float]:
    """Milliseconds of ``n`` calls of ``fn`` after a short warm-up."""
    for _ in range(20):
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def p95(xs: list[float]) -> float:
    """95th percentile."""
    return statistics.quantiles(xs, n=20)[-1]


def main(n: int = 500) -> None:
    """Measure and print medians, p95, ratio and added milliseconds."""
    with make_server() as server, tempfile.TemporaryDirectory() as tmp, httpx.Client() as client:
        client.post(server.url + "/login", data={"username": "alice", "password": "wonderland"})
        token = client.cookies["XSRF-TOKEN"]
        url = server.url + "/api/items/A-1"

        def raw() -> None:
            r = client.get(url, headers={"X-XSRF-TOKEN": token})
            r.raise_for_status()
            r.json()

        log = ActionLog(SqliteStore(Path(tmp) / "zapi.db"))
        rt = Runtime([get_item_card(server.url)], client=client, log=log)

        def zapi() -> None:
            rt.call("get_item", sku="A-1")

        raw_ms, rt_ms = [], []
        for _ in range(2):  # interleave to share any drift in machine load
            raw_ms += timed(raw, n // 2)
            rt_ms += timed(zapi, n // 2)
        records = len(log.records())
        rt.close()
    med_raw, med_rt = statistics.median(raw_ms), statistics.median(rt_ms)
    print(f"N={n} each, loopback ERP sample, SQLite WAL synchronous=NORMAL")
    print(f"raw httpx   median {med_raw:.3f} ms  p95 {p95(raw_ms):.3f} ms")
    print(f"rt.call     median {med_rt:.3f} ms  p95 {p95(rt_ms):.3f} ms  ({records} log records)")
    print(f"ratio {med_rt / med_raw:.2f}x, added {med_rt - med_raw:.3f} ms per call (median)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)

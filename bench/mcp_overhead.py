"""Per-call overhead of a tool call through ``zapi serve`` (MCP, stdio and HTTP) vs ``rt.call``.

Both paths run the same cards (from the bundled ERP recording) against the ERP sample on
loopback, with a durable SQLite action log: one read (``get_item``) and one verified write
(``update_item_stock``). Figures are medians in milliseconds, measured in the same run.

Run: python bench/mcp_overhead.py [N]
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from mcp import Client
from mcp.client.stdio import StdioServerParameters

import runtime
from samples.erp.app import make_server
from zapi.api import analyze

ROOT = Path(__file__).resolve().parent.parent
WRITE = {"item_id": "A-1", "reason": "bench", "warehouse": "WH-NORTH"}


def _creds(url: str, tmp: Path) -> str:
    with httpx.Client(base_url=url) as c:
        c.post("/login", data={"username": "alice", "password": "wonderland"})
        cookies = [
            {"name": k, "value": v, "domain": "127.0.0.1", "path": "/"}
            for k, v in c.cookies.items()
        ]
    (tmp / "login.json").write_text(json.dumps({"cookies": cookies}))
    (tmp / "creds.json").write_text(json.dumps({"storage_state": str(tmp / "login.json")}))
    return str(tmp / "creds.json")


def _median(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def bench_rt(out: str, url: str, creds: str, state: str, n: int) -> tuple[float, float]:
    reads, writes = [], []
    with runtime.open(out, credentials=creds, base_url=url, state=state) as rt:
        for i in range(n + 5):
            t = time.perf_counter()
            rt.call("get_item", item_id="A-1")
            t2 = time.perf_counter()
            rt.call("update_item_stock", quantity=i, **WRITE)
            t3 = time.perf_counter()
            if i >= 5:
                reads.append(t2 - t)
                writes.append(t3 - t2)
    return _median(reads), _median(writes)


async def _bench_mcp(client: Client, n: int) -> tuple[float, float]:
    reads, writes = [], []
    async with client as c:
        for i in range(n + 5):
            t = time.perf_counter()
            r = await c.call_tool("get_item", {"item_id": "A-1"})
            t2 = time.perf_counter()
            w = await c.call_tool("update_item_stock", {"quantity": i, **WRITE})
            t3 = time.perf_counter()
            assert not r.is_error and not w.is_error, (r, w)
            if i >= 5:
                reads.append(t2 - t)
                writes.append(t3 - t2)
    return _median(reads), _median(writes)


def _serve_args(out: str, url: str, creds: str, state: str, *extra: str) -> list[str]:
    return ["-m", "zapi", "serve", out, "--base-url", url, "--credentials", creds] + [
        "--state",
        state,
        "--allow-writes",
        *extra,
    ]


def bench_stdio(out: str, url: str, creds: str, state: str, n: int) -> tuple[float, float]:
    params = StdioServerParameters(command=sys.executable, args=_serve_args(out, url, creds, state))
    return asyncio.run(_bench_mcp(Client(params), n))


def bench_http(out: str, url: str, creds: str, state: str, n: int) -> tuple[float, float]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = _serve_args(out, url, creds, state, "--http", "--port", str(port))
    proc = subprocess.Popen([sys.executable, *args], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        return asyncio.run(_bench_mcp(Client(f"http://127.0.0.1:{port}/mcp"), n))
    finally:
        proc.terminate()
        proc.wait(30)


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 200
    with tempfile.TemporaryDirectory() as tmp_name, make_server(0) as erp:
        tmp = Path(tmp_name)
        out = str(tmp / "out")
        analyze([str(ROOT / "samples/hars/erp_session.har")], out)
        creds = _creds(erp.url, tmp)
        rows: list[tuple[str, Any]] = [
            ("rt.call", bench_rt(out, erp.url, creds, str(tmp / "rt.db"), n)),
            ("MCP stdio", bench_stdio(out, erp.url, creds, str(tmp / "stdio.db"), n)),
            ("MCP HTTP", bench_http(out, erp.url, creds, str(tmp / "http.db"), n)),
        ]
    base_read, base_write = rows[0][1]
    print(f"{n} calls each, medians (ms); overhead = path - rt.call")
    print(f"{'path':<10} {'read':>8} {'write':>8} {'read +':>8} {'write +':>8}")
    for name, (read, write) in rows:
        print(
            f"{name:<10} {read:8.2f} {write:8.2f} {read - base_read:8.2f} {write - base_write:8.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Fault trials of generated write cards against a real app (JupyterLab's contents API).

Not part of the test run. ``python bench/real_app_faults.py`` installs jupyter_server
from PyPI into a cache venv, serves it on 127.0.0.1 with a token, records a scripted
session with ``zapi record --headless --script`` (headless Chromium), analyses it with
``zapi analyze``, then sends >= 300 calls of the generated write cards (create, save,
rename, delete) through ``runtime.open(...).call`` and a fault proxy that, per write
request, drops the answer after the server committed, answers 504 after commit, or
answers 429 without forwarding. Reads pass untouched (the read path is healthy).

Every write the server answered is counted in the proxy's ledger, and the files are
checked on disk after each call, so the figures are the server's truth:

- duplicated: one call applied a create more than once (two files for one call);
- lost: the call reported success but the server/disk does not show the write;
- falsely verified: verification said ok but the disk does not show the write;
- false "not applied": the call said nothing was applied but a send had committed;
- unsettled: the call ended "outcome unknown" (nothing could settle it);
- verified: the share of landed writes whose verification read confirmed them.

A second, fault-free pass gives the share of writes verified on a healthy server.

Workflow trials with kills (``zapi run``/``zapi runs`` with SIGKILL at step boundaries,
inside writes and after operator decisions) are not run here yet: ``workflow_trials``
is the hook (see its docstring).

Options: ``--calls N`` (default 320), ``--seed S``, ``--cache DIR`` (the venv; default
``~/.cache/zapi-bench``), ``--keep DIR`` (keep the HAR, cards and action log there).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import runtime  # noqa: E402 - after the path setup, as every bench script
from runtime.credentials import Credentials  # noqa: E402
from runtime.policy import RetryPolicy  # noqa: E402
from toolgen.cards import ToolCard  # noqa: E402
from toolgen.plans import match_pattern  # noqa: E402
from zapi.errors import (  # noqa: E402
    ExecutionError,
    OutcomeUnknown,
    RetryExhausted,
    VerificationFailed,
)

APP = "jupyter_server>=2.14,<3"
DIR = "work"

DRIVE = '''
import json

def drive(page):
    def call(method, path, body=None):
        js = """async ([m, p, b]) => {
            const r = await fetch(p, {method: m,
                headers: b === null ? {} : {'Content-Type': 'application/json'},
                body: b === null ? undefined : b});
            return [r.status, await r.text()];
        }"""
        data = None if body is None else json.dumps(body)
        status, text = page.evaluate(js, [method, path, data])
        assert status < 400, (method, path, status, text)
        return json.loads(text) if text else None

    base = "/api/contents/WORKDIR"
    call("GET", "/api/contents?content=1")
    call("PUT", base, {"type": "directory"})
    for i in range(4):
        made = call("POST", base, {"type": "file", "ext": ".txt"})
        call("GET", "/api/contents/" + made["path"] + "?content=1&type=file")
        name = base + f"/report{i}.txt"
        call("PUT", name, {"type": "file", "format": "text", "content": f"draft {i}"})
        call("GET", name + "?content=1&type=file")
        call("PUT", name, {"type": "file", "format": "text", "content": f"final {i}"})
        new = f"WORKDIR/renamed{i}.txt"
        call("PATCH", name, {"path": new})
        call("GET", "/api/contents/" + new + "?content=1&type=file")
        call("GET", base + "?content=1")
        call("DELETE", "/api/contents/" + made["path"])
        call("DELETE", "/api/contents/" + new)
        call("GET", base + "?content=1")
'''.replace("WORKDIR", DIR)


# -- the app -------------------------------------------------------------------------


def ensure_app(cache: Path) -> Path:
    """A venv with jupyter_server (created once, reused)."""
    venv = cache / "jupyter-server-venv"
    exe = venv / "bin" / "jupyter-server"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", APP], check=True, stdout=subprocess.DEVNULL
        )
    return venv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_app(venv: Path, root: Path, token: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen(
        [
            str(venv / "bin" / "jupyter-server"),
            "--allow-root",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("jupyter_server did not start within 60 s")


def zapi(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "zapi", *args], check=True, cwd=ROOT)


# -- the fault proxy -----------------------------------------------------------------


@dataclass
class Commit:
    """One write request the server answered (so it was applied, if 2xx)."""

    method: str
    path: str
    status: int


@dataclass
class FaultProxy:
    """An HTTP/1.1 proxy on 127.0.0.1 that injects faults into write requests."""

    upstream: int
    rng: random.Random
    faults_on: bool = True
    ledger: list[Commit] = field(default_factory=list)
    injected: Counter[str] = field(default_factory=Counter)
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None

    def pick(self, method: str) -> str:
        if not self.faults_on or method in ("GET", "HEAD", "OPTIONS"):
            return "pass"
        r = self.rng.random()
        return (
            "drop_after_commit"
            if r < 0.25
            else "504_after_commit"
            if r < 0.45
            else "429"
            if r < 0.65
            else "pass"
        )

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = [ln for ln in lines[1:] if ln]
            length = 0
            for ln in headers:
                k, _, v = ln.partition(":")
                if k.strip().lower() == "content-length":
                    length = int(v.strip())
            body = await reader.readexactly(length) if length else b""
            fault = self.pick(method)
            self.injected[fault] += 1
            if fault == "429":
                writer.write(
                    b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\n"
                    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
                )
                await writer.drain()
                return
            kept = [
                ln
                for ln in headers
                if ln.split(":", 1)[0].strip().lower() not in ("connection", "keep-alive")
            ]
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream)
            req = "\r\n".join([lines[0], *kept, "Connection: close", "", ""]).encode("latin-1")
            up_w.write(req + body)
            await up_w.drain()
            raw = await up_r.read()
            up_w.close()
            rhead, _, rbody = raw.partition(b"\r\n\r\n")
            rlines = rhead.decode("latin-1").split("\r\n")
            status = int(rlines[0].split(" ", 2)[1])
            if method not in ("GET", "HEAD", "OPTIONS"):
                self.ledger.append(Commit(method, target.split("?", 1)[0], status))
            if fault == "drop_after_commit":
                writer.transport.abort()
                return
            if fault == "504_after_commit":
                writer.write(
                    b"HTTP/1.1 504 Gateway Timeout\r\n"
                    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
                )
                await writer.drain()
                return
            out = [
                ln
                for ln in rlines[1:]
                if ln.split(":", 1)[0].strip().lower() not in ("connection", "keep-alive")
            ]
            writer.write(
                "\r\n".join([rlines[0], *out, "Connection: close", "", ""]).encode("latin-1")
                + rbody
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            if not writer.transport.is_closing():
                writer.close()

    def start(self) -> None:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            server = loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        ready.wait(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


# -- the trials ----------------------------------------------------------------------


@dataclass
class Tally:
    """Per-pass outcome counts."""

    calls: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    duplicated: int = 0
    lost: int = 0
    falsely_verified: int = 0
    false_not_applied: int = 0
    unsettled: int = 0
    landed: int = 0
    verified: int = 0
    notes: list[str] = field(default_factory=list)


def find_cards(cards: dict[str, ToolCard]) -> dict[str, ToolCard]:
    """The generated write cards of the contents API, by what they do."""
    out: dict[str, ToolCard] = {}
    for c in sorted(cards.values(), key=lambda c: c.name):
        if not c.path.startswith("/api/contents") or not c.is_write:
            continue
        has_param = "{" in c.path
        body = {b.name for b in c.bindings if b.location == "body"}
        if c.method == "POST" and not has_param:
            out.setdefault("create", c)
        elif c.method == "PUT" and has_param and "content" in body:
            out.setdefault("save", c)
        elif c.method == "PATCH" and has_param:
            out.setdefault("rename", c)
        elif c.method == "DELETE" and has_param:
            out.setdefault("delete", c)
    missing = {"create", "save", "rename", "delete"} - set(out)
    if missing:
        raise SystemExit(f"the analysis made no card for {sorted(missing)}; see the cards folder")
    return out


def path_args(card: ToolCard, file_path: str) -> dict[str, Any] | None:
    """The card's path arguments that address ``file_path`` (e.g. ``work/a.txt``)."""
    found = match_pattern(card.path, "/api/contents/" + file_path)
    if found is None:
        return None
    wire = {b.name: b.arg for b in card.bindings if b.location == "path"}
    return {wire[k]: v for k, v in found.items() if k in wire}


class Trials:
    """Drives the write cards through the runtime and judges each call by the server."""

    def __init__(
        self, rt: runtime.Runtime, cards: dict[str, ToolCard], proxy: FaultProxy, root: Path
    ):
        self.rt, self.cards, self.proxy, self.root = rt, cards, proxy, root

    def files(self) -> set[str]:
        d = self.root / DIR
        return {p.name for p in d.iterdir() if p.is_file()} if d.is_dir() else set()

    def call(self, tally: Tally, kind: str, args: dict[str, Any], applied_on_disk: Any) -> Any:
        card = self.cards[kind]
        mark = len(self.proxy.ledger)
        before = self.files()
        result = None
        outcome = "ok"
        try:
            result = self.rt.call(card.name, **args)
        except OutcomeUnknown:
            outcome = "unknown"
        except RetryExhausted:
            outcome = "not_applied"
        except VerificationFailed:
            outcome = "verification_failed"
        except ExecutionError as exc:
            outcome = f"error:{exc.code}"
        commits = [
            c for c in self.proxy.ledger[mark:] if c.method == card.method and 200 <= c.status < 300
        ]
        landed = bool(applied_on_disk(before, self.files()))
        tally.calls += 1
        tally.by_kind[kind] += 1
        tally.outcomes[f"{kind}:{outcome}"] += 1
        verified = result is not None and result.verification is not None and result.verification.ok
        if kind == "create" and len(commits) > 1:
            tally.duplicated += 1
            tally.notes.append(f"duplicate create: {len(commits)} commits")
        if outcome == "ok" and not landed:
            tally.lost += 1
            tally.notes.append(f"lost {kind} {args}: reported ok, disk does not show it")
        if verified and not landed:
            tally.falsely_verified += 1
        if outcome == "not_applied" and commits:
            tally.false_not_applied += 1
        if outcome == "unknown":
            tally.unsettled += 1
        if landed:
            tally.landed += 1
            tally.verified += verified
        return result

    def round(self, tally: Tally, r: int) -> None:
        c = self.cards
        created = self.call(
            tally,
            "create",
            {"type": "file", "ext": ".txt"},
            lambda before, after: after - before,
        )
        doc = f"doc{r}.txt"
        for version in ("v1", "v2"):
            text = f"{version} of doc {r}"
            args = path_args(c["save"], f"{DIR}/{doc}")
            if args is None:
                raise SystemExit(f"{c['save'].name}: cannot address {DIR}/{doc}")
            self.call(
                tally,
                "save",
                {**args, "type": "file", "format": "text", "content": text},
                lambda before, after, t=text: (
                    (self.root / DIR / doc).is_file() and (self.root / DIR / doc).read_text() == t
                ),
            )
        moved = f"moved{r}.txt"
        if doc in self.files():
            args = path_args(c["rename"], f"{DIR}/{doc}")
            assert args is not None
            self.call(
                tally,
                "rename",
                {**args, "path": f"{DIR}/{moved}"},
                lambda before, after: moved in after and doc not in after,
            )
        for name in (moved, *self._created_names(created)):
            if name in self.files():
                args = path_args(c["delete"], f"{DIR}/{name}")
                if args is None:
                    continue
                self.call(tally, "delete", args, lambda before, after, n=name: n not in after)

    def _created_names(self, created: Any) -> list[str]:
        if created is not None and isinstance(created.data, dict):
            return [str(created.data.get("name", ""))]
        return sorted(n for n in self.files() if n.startswith("untitled"))

    def run(self, calls: int) -> Tally:
        tally = Tally()
        r = 0
        while tally.calls < calls:
            self.round(tally, r)
            r += 1
        return tally


def workflow_trials() -> None:
    """Hook: workflow trials with kills (not run yet).

    The plan: a YAML plan create -> save -> rename -> delete over the same cards, run
    with ``zapi run`` under a private worker, SIGKILL at every step boundary, inside
    each write (the proxy holds the answer) and right after each ``zapi runs resume
    --set landed=...``; after each trial compare the run's final state with the
    proxy's ledger and the disk (duplicated / lost / falsely succeeded).
    """


def report(title: str, t: Tally, proxy: FaultProxy | None = None) -> None:
    share = (t.verified / t.landed * 100) if t.landed else 0.0
    print(f"\n== {title}")
    print(f"calls {t.calls} ({dict(sorted(t.by_kind.items()))})")
    print(f"outcomes {dict(sorted(t.outcomes.items()))}")
    if proxy is not None:
        print(f"faults injected on requests {dict(sorted(proxy.injected.items()))}")
    print(
        f"duplicated {t.duplicated} | lost {t.lost} | falsely verified {t.falsely_verified} | "
        f"false 'not applied' {t.false_not_applied} | unsettled {t.unsettled}"
    )
    print(f"landed writes {t.landed}, verified {t.verified} ({share:.1f}%)")
    for n in t.notes[:10]:
        print("  -", n)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=320)
    ap.add_argument("--healthy-calls", type=int, default=60)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/zapi-bench"))
    ap.add_argument("--keep", default="")
    opts = ap.parse_args(argv)
    venv = ensure_app(Path(opts.cache))
    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="zapi-real-app-") as tmp:
        work = Path(opts.keep) if opts.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        root = Path(tmp) / "root"
        root.mkdir()
        app, port = start_app(venv, root, token)
        try:
            script = work / "drive.py"
            script.write_text(DRIVE)
            har, out = work / "session.har", work / "out"
            shutil.rmtree(out, ignore_errors=True)
            zapi(
                "record", f"http://127.0.0.1:{port}/", "--headless", "--script", str(script),
                "--header", f"Authorization: token {token}", "-o", str(har),
            )  # fmt: skip
            zapi("analyze", str(har), "-o", str(out))
            for p in (root / DIR).iterdir() if (root / DIR).is_dir() else ():
                if p.is_file():
                    p.unlink()
            proxy = FaultProxy(port, random.Random(opts.seed))
            proxy.start()
            rt = runtime.open(
                out,
                credentials=Credentials(secrets={"header:Authorization": f"token {token}"}),
                state=str(work / "zapi.db") if opts.keep else None,
                base_url=proxy.url,
                policy=RetryPolicy(initial_interval_s=0.0, jitter=0.0, verify_interval_s=0.05),
                sleep=lambda s: None,
            )
            cards = find_cards(rt.cards)
            print("cards:", {k: c.name for k, c in sorted(cards.items())})
            for k, c in sorted(cards.items()):
                v, rc = c.verification, c.reconcile
                print(
                    f"  {k}: verification "
                    + (f"{v.kind} via {v.tool} {v.args}" if v else "none")
                    + "; reconcile "
                    + (f"{rc.kind} via {rc.tool}" if rc else "none")
                )
            trials = Trials(rt, cards, proxy, root)
            faulty = trials.run(opts.calls)
            report("fault-injected writes (reads healthy)", faulty, proxy)
            proxy.faults_on = False
            healthy = trials.run(opts.healthy_calls)
            report("healthy server", healthy)
            ok = (
                faulty.duplicated == 0
                and faulty.lost == 0
                and faulty.falsely_verified == 0
                and faulty.calls >= 300
            )
            print(
                "\nRESULT",
                json.dumps(
                    {
                        "calls": faulty.calls,
                        "duplicated": faulty.duplicated,
                        "lost": faulty.lost,
                        "falsely_verified": faulty.falsely_verified,
                        "false_not_applied": faulty.false_not_applied,
                        "unsettled": faulty.unsettled,
                        "verified_share_faults": round(faulty.verified / max(faulty.landed, 1), 3),
                        "verified_share_healthy": round(
                            healthy.verified / max(healthy.landed, 1), 3
                        ),
                        "workflow_trials": "not run (hook: workflow_trials)",
                    },
                    sort_keys=True,
                ),
            )
            return 0 if ok else 1
        finally:
            app.terminate()
            app.wait(10)


if __name__ == "__main__":
    raise SystemExit(main())

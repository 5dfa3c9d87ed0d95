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

``--workflow-trials N`` also runs N workflow trials as a user would: a create -> save
-> rename -> delete plan with ``zapi run``, SIGKILLed inside one write (after the server
committed it, before it reached the server, or after its answer, during the step's
verification read), 0-40 ms after the step's verification read (about the step boundary:
while the step is recorded or the next one starts), or inside the create while another
writer adds files to the same folder; the run is continued with ``zapi run --run-id``
after a crash and, when it parks, ``zapi runs resume`` with a correct operator's answer
to what it asks (``landed=`` from the ledger for that write since the operator's previous answer,
``output=`` from a GET of the resource), and killed again right after a decision,
inside the next write. Every trial must end ``succeeded`` with the disk holding what one
run leaves (one created file; no doc/moved file), no create committed twice.

Options: ``--calls N`` (default 320), ``--healthy-calls N`` (60), ``--seed S``,
``--cache DIR`` (the venv; default ``~/.cache/zapi-bench``), ``--keep DIR`` (keep the
HAR, cards, runs database and action log there), ``--workflow-trials N`` (0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
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
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import runtime  # noqa: E402 - after the path setup, as every bench script
from runtime.credentials import Credentials  # noqa: E402
from runtime.policy import RetryPolicy  # noqa: E402
from toolgen.cards import ToolCard  # noqa: E402
from toolgen.plans import match_pattern, path_pattern  # noqa: E402
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
    made: str = ""  # a create's answer: the path the server gave the new resource


@dataclass
class FaultProxy:
    """An HTTP/1.1 proxy on 127.0.0.1 that injects faults into write requests."""

    upstream: int
    rng: random.Random
    faults_on: bool = True
    ledger: list[Commit] = field(default_factory=list)
    injected: Counter[str] = field(default_factory=Counter)
    port: int = 0
    kill_after_commits: int = 0  # workflow trials: SIGKILL this process group at the Nth write
    kill_mode: str = "commit"  # "commit": after the server committed it; "before": unsent;
    # "answered": the Nth write is answered, the kill comes with the next request (the step's
    # verification read: the write landed, its outcome is not yet recorded)
    # "boundary": the first read after the Nth write (its verification) is answered, then
    # the kill comes 0-40 ms later: while the step is recorded or the next one starts
    kill_next: bool = False
    kill_after_read: bool = False
    kill_pgid: int = 0
    kills: int = 0
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
            if self.kill_pgid and self.kill_next:
                self.kill_next = False
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.kill_pgid, signal.SIGKILL)
                self.kill_pgid = 0
                self.kills += 1
                writer.transport.abort()
                return
            if self.kill_pgid and self.kill_mode == "before" and method not in ("GET", "HEAD"):
                self.kill_after_commits -= 1
                if self.kill_after_commits <= 0:
                    # inside the write: intent recorded by the client, never reached the server
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self.kill_pgid, signal.SIGKILL)
                    self.kill_pgid = 0
                    self.kills += 1
                    writer.transport.abort()
                    return
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
                made = ""
                if method == "POST" and 200 <= status < 300:
                    with contextlib.suppress(ValueError, AttributeError):
                        made = str(json.loads(rbody.decode()).get("path", ""))
                self.ledger.append(Commit(method, target.split("?", 1)[0], status, made))
                if (
                    self.kill_pgid
                    and self.kill_mode in ("answered", "boundary")
                    and (200 <= status < 300)
                ):
                    self.kill_after_commits -= 1
                    if self.kill_after_commits <= 0:
                        if self.kill_mode == "answered":
                            self.kill_next = True
                        else:
                            self.kill_after_read = True
                if self.kill_pgid and self.kill_mode == "commit" and 200 <= status < 300:
                    self.kill_after_commits -= 1
                    if self.kill_after_commits <= 0:
                        # inside the write: committed at the server, never answered
                        with contextlib.suppress(ProcessLookupError):
                            os.killpg(self.kill_pgid, signal.SIGKILL)
                        self.kill_pgid = 0
                        self.kills += 1
                        writer.transport.abort()
                        return
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
            if self.kill_pgid and self.kill_after_read and method == "GET":
                self.kill_after_read = False
                delay = self.rng.uniform(0.0, 0.04)  # spread over recording the step
                asyncio.get_running_loop().call_later(delay, self._kill, self.kill_pgid)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            if not writer.transport.is_closing():
                writer.close()

    def _kill(self, pgid: int) -> None:
        if self.kill_pgid != pgid:
            return  # that process already ended
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        self.kill_pgid = 0
        self.kills += 1

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
    found = match_pattern(path_pattern(card), "/api/contents/" + file_path)
    return dict(found) if found is not None else None


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


PLAN_HEAD = """
schema_version: "1"
name: file_flow
inputs:
  n: {type: string}
steps:
"""


def _plan(cards: dict[str, ToolCard]) -> str:
    """create -> save -> rename -> delete, each addressed through its card's own path
    arguments (a template like ``/api/contents/{path*}`` takes ``work/doc<n>.txt``)."""
    mark = "NNN"  # stands for ${inputs.n} while the path arguments are worked out

    def where(kind: str, file: str) -> dict[str, Any]:
        found = path_args(cards[kind], f"{DIR}/{file}")
        if found is None:
            raise SystemExit(f"{cards[kind].name}: cannot address {DIR}/{file}")
        return found

    steps = [
        ("create", "create", {"type": "file", "ext": ".txt"}),
        ("save", "save", {**where("save", f"doc{mark}.txt"), "type": "file", "format": "text",
                          "content": f"hello {mark}"}),
        ("rename", "rename", {**where("rename", f"doc{mark}.txt"),
                              "path": f"{DIR}/moved{mark}.txt"}),
        ("delete", "delete", where("delete", f"moved{mark}.txt")),
    ]  # fmt: skip
    lines = [PLAN_HEAD.strip("\n")]
    for sid, kind, args in steps:
        lines.append(f"  - id: {sid}\n    tool: {cards[kind].name}")
        lines.append("    args: " + json.dumps(args).replace(mark, "${inputs.n}"))
    return "\n".join(lines) + "\n"


MODES = ("commit", "before", "answered", "boundary", "contended")
"""Where a trial's first kill lands (see :class:`FaultProxy`; ``contended``: a create
killed while another writer adds files to the same folder)."""


@dataclass
class WorkflowTally:
    """Outcomes of workflow trials with kills."""

    trials: int = 0
    kills: int = 0
    operator_decisions: int = 0
    succeeded: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    decisions: Counter[str] = field(default_factory=Counter)
    duplicated: int = 0
    lost: int = 0
    false_success: int = 0
    wrong_answers: int = 0
    notes: list[str] = field(default_factory=list)
    stories: list[str] = field(default_factory=list)


def _concrete(card: ToolCard, args: dict[str, Any]) -> str:
    """The request path a call of ``card`` with ``args`` is sent to."""
    path = card.path
    for b in card.bindings:
        if b.location == "path" and b.arg in args:
            for form in ("{" + b.name + "*}", "{" + b.name + "}"):
                path = path.replace(form, str(args[b.arg]))
    return path


class Operator:
    """A correct operator: answers what the parked run asks with the server's truth.

    For "outcome unknown" it looks at the proxy's ledger for THAT write (method and
    path) since its previous answer about the step; for "output needed" it gives what
    the server holds (a GET of the resource, straight to the app).
    """

    def __init__(
        self, cards: dict[str, ToolCard], proxy: FaultProxy, root: Path, app: str, token: str
    ) -> None:
        self.by_name = {c.name: c for c in cards.values()}
        self.proxy, self.root, self.app, self.token = proxy, root, app, token
        self.seen: dict[tuple[int, str], int] = {}

    def start_trial(self) -> None:
        self.mark = len(self.proxy.ledger)
        self.seen = {}
        d = self.root / DIR
        self.before = {p.name for p in d.iterdir()} if d.is_dir() else set()

    def answer(self, wait: dict[str, Any]) -> tuple[list[str], str]:
        """``--set`` values for the decision, and a short note for the story."""
        name = str(wait.get("name", ""))
        err = wait.get("error") or {}
        card = self.by_name.get(str(err.get("tool", "")))
        if name == "outcome unknown" and card is not None:
            target = (card.method.upper(), _concrete(card, dict(err.get("args") or {})))
            key = (int(wait.get("step", 0)), f"{target[0]} {target[1]}")
            commits = [
                c
                for c in self.proxy.ledger[self.mark :]
                if (c.method, unquote(c.path)) == target and 200 <= c.status < 300
            ]
            landed = len(commits) > self.seen.get(key, 0)
            self.seen[key] = len(commits)
            return [f"landed={str(landed).lower()}"], f"landed={str(landed).lower()}"
        if name == "output needed" and card is not None:
            out = self._held(card, dict(err.get("args") or {}))
            return [f"output={json.dumps(out)}"], "output=<GET>"
        return [], "resume"

    def _held(self, card: ToolCard, args: dict[str, Any]) -> Any:
        """What the server holds for the write's resource (its answer, as the app gives it)."""
        import httpx

        if card.method.upper() == "DELETE":
            return None
        if card.method.upper() == "POST":
            made = [
                c.made
                for c in self.proxy.ledger[self.mark :]
                if c.method == "POST" and 200 <= c.status < 300 and c.made
            ]
            path = made[-1] if len(made) == 1 else ""
        elif card.method.upper() == "PATCH":
            path = str(args.get("path", ""))
        else:
            path = _concrete(card, args).removeprefix("/api/contents/")
        if not path:
            return None
        r = httpx.get(
            f"{self.app}/api/contents/{path}",
            params={"content": "0"},
            headers={"Authorization": f"token {self.token}"},
        )
        return r.json() if r.status_code == 200 else None


def workflow_trials(
    work: Path, out: Path, cards: dict[str, ToolCard], proxy: FaultProxy, root: Path, token: str,
    trials: int, app: str, modes: tuple[str, ...] = MODES,
) -> WorkflowTally:  # fmt: skip
    """Run a create -> save -> rename -> delete plan with ``zapi run`` as a user would.

    Each trial SIGKILLs the run's process group inside one write (write 1..4 in turn;
    after the server committed it but before the answer, or before it reached the
    server), then continues the run the way an operator would: ``zapi run --run-id``
    again after a crash, and when the run parks, ``zapi runs resume`` with the answer
    to what it asks (:class:`Operator`), killing again right after the first decision,
    inside the next write.
    """
    (work / "plan.yaml").write_text(_plan(cards))
    (work / "cred.json").write_text(
        json.dumps({"auth": {"header:Authorization": "env:ZAPI_BENCH_TOKEN"}})
    )
    env = {**os.environ, "ZAPI_BENCH_TOKEN": f"token {token}", "PYTHONPATH": str(ROOT)}
    db = str(work / "runs.db")
    tools = ["--tools", str(out), "--base-url", proxy.url, "--credentials", str(work / "cred.json")]
    tally = WorkflowTally()
    operator = Operator(cards, proxy, root, app, token)

    def cli(
        args: list[str], kill_after: int = 0, mode: str = "commit"
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "zapi", *args],
            cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        proxy.kill_next = proxy.kill_after_read = False
        if kill_after:
            proxy.kill_after_commits, proxy.kill_mode = kill_after, mode
            proxy.kill_pgid = proc.pid
        text, _ = proc.communicate(timeout=180)
        proxy.kill_pgid, proxy.kill_next, proxy.kill_after_read = 0, False, False
        return subprocess.CompletedProcess(proc.args, proc.returncode, text, "")

    def status(run_id: str) -> dict[str, Any]:
        r = cli(["runs", "show", run_id, "--db", db, "--json"])
        try:
            data: dict[str, Any] = json.loads(r.stdout)
        except ValueError:
            return {"status": "unreadable", "raw": r.stdout[-300:]}
        return data

    proxy.faults_on = False
    for t in range(trials):
        run_id = f"trial-{t}"
        operator.start_trial()
        mark = len(proxy.ledger)
        before = set(operator.before)
        kills_before = proxy.kills
        point, mode = t % 4 + 1, modes[(t // 4) % len(modes)]
        others: list[str] = []
        if mode == "contended":  # another writer creates in the folder while the create is out
            point, mode = 1, ("commit", "before")[t % 2]
            others = [f"other{t}-{i}.txt" for i in range(1 + t % 2)]
        run = ["run", str(work / "plan.yaml"), "--input", f"n={t}", "--run-id", run_id,
               "--db", db, "--timeout", "60", *tools]  # fmt: skip
        cli(run, kill_after=point, mode=mode)
        for name in others:
            (root / DIR / name).write_text("another writer")
        state: dict[str, Any] = {}
        story = [
            f"{run_id}: kill {mode} write {point}" + (f" +{len(others)} other" if others else "")
        ]
        decided = 0
        armed = True  # kill right after a decision, inside the next write, once per trial
        for _round in range(8):
            state = status(run_id)
            st = str(state.get("status", ""))
            story.append(st)
            if st in ("succeeded", "failed", "cancelled", "rejected", "rolled_back"):
                break
            if st == "paused":
                wait = state.get("wait") or {}
                sets, note = operator.answer(wait)
                decided += 1
                tally.operator_decisions += 1
                tally.decisions[f"{wait.get('name', '?')}: {note.split('=')[0]}"] += 1
                story.append(f"{wait.get('name', '?')}: {note}")
                action = ["runs", "resume", run_id, "--db", db]
                if str(wait.get("name", "")) in ("rollback blocked", "compensation failed"):
                    action = ["runs", "cancel", run_id, "--db", db]
                    sets = []
                args = [*action, *(x for s_ in sets for x in ("--set", s_))]
                if action[1] == "resume":
                    args += ["--wait", "--timeout", "60", *tools]
                # killed right after a decision, inside the next write (once per trial)
                kills = proxy.kills
                cli(args, kill_after=1 if armed else 0)
                if proxy.kills > kills:
                    armed = False
                    story.append("killed")
                continue
            cli(run)  # crashed (pending): start it again under the same run id
        tally.trials += 1
        tally.kills += proxy.kills - kills_before
        tally.stories.append(" -> ".join(story) + f" (kills {proxy.kills - kills_before})")
        final = str(state.get("status", "?"))
        tally.statuses[final] += 1
        commits = [c for c in proxy.ledger[mark:] if 200 <= c.status < 300]
        creates = [c for c in commits if c.method == "POST"]
        after = {p.name for p in (root / DIR).iterdir()}
        new_files = after - before - set(others)
        if len(creates) > 1:
            tally.duplicated += 1
            tally.notes.append(f"{run_id}: {len(creates)} creates committed")
        if final == "succeeded":
            tally.succeeded += 1
            if f"moved{t}.txt" in after or f"doc{t}.txt" in after or len(new_files) != 1:
                tally.false_success += 1
                tally.notes.append(f"{run_id}: succeeded but disk shows {sorted(new_files)}")
        else:
            tally.notes.append(f"{run_id}: ended {final}: {str(state.get('message', ''))[:300]}")
        for name in new_files | set(others):  # leave the folder as it was for the next trial
            if (root / DIR / name).is_file():
                (root / DIR / name).unlink()
    return tally


def report_workflows(w: WorkflowTally) -> None:
    print("\n== workflow trials (zapi run / zapi runs, SIGKILL inside writes and after decisions)")
    print(
        f"trials {w.trials}, kills {w.kills}, operator decisions {w.operator_decisions}, "
        f"final {dict(sorted(w.statuses.items()))}"
    )
    print(f"operator decisions by question {dict(sorted(w.decisions.items()))}")
    print(f"duplicated {w.duplicated} | falsely succeeded {w.false_success}")
    for story in w.stories:
        print("  ", story)
    for n in w.notes[:10]:
        print("  -", n)


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
    ap.add_argument("--workflow-trials", type=int, default=0)
    ap.add_argument(
        "--workflow-modes",
        default=",".join(MODES),
        help=f"where the trials' first kills land, cycled (default {','.join(MODES)})",
    )
    opts = ap.parse_args(argv)
    unknown = set(opts.workflow_modes.split(",")) - set(MODES)
    if unknown:
        ap.error(f"--workflow-modes: unknown {sorted(unknown)}; use some of {','.join(MODES)}")
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
            wf = None
            if opts.workflow_trials:
                wf = workflow_trials(
                    work, out, cards, proxy, root, token, opts.workflow_trials,
                    f"http://127.0.0.1:{port}", tuple(opts.workflow_modes.split(",")),
                )  # fmt: skip
                report_workflows(wf)
            ok = (
                faulty.duplicated == 0
                and faulty.lost == 0
                and faulty.falsely_verified == 0
                and faulty.calls >= 300
                and faulty.verified >= 0.95 * faulty.landed
                and (
                    wf is None
                    or (
                        wf.duplicated == 0
                        and wf.false_success == 0
                        and wf.statuses.get("paused", 0) == 0
                        and wf.trials >= 40
                    )
                )
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
                        "workflow_trials": (
                            {
                                "trials": wf.trials,
                                "kills": wf.kills,
                                "operator_decisions": wf.operator_decisions,
                                "succeeded": wf.succeeded,
                                "final": dict(sorted(wf.statuses.items())),
                                "duplicated": wf.duplicated,
                                "falsely_succeeded": wf.false_success,
                            }
                            if wf is not None
                            else "not run (--workflow-trials N)"
                        ),
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

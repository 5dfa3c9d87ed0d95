"""README.md is executable: every shell and Python snippet runs, in order, against the samples.

The walk runs in one scratch folder (with ``samples/`` linked in, as in a clone), so
a snippet may use what an earlier one wrote (``session.har``, ``out/``, ``login.json``).
Rules the README source can rely on:

- Every port ``8000``-``8999`` (in ``127.0.0.1:PORT`` and ``--port PORT``) is replaced by a
  free port, the same one everywhere, so the walk never meets a running server.
- A shell line ``python -m samples.NAME ... &`` or ``zapi console|serve|worker ... &`` is
  started here, in the background, and (with ``--port``) awaited until its port answers;
  it is stopped when the walk ends.
- ``pip install ... &&`` is dropped: the test already runs inside the installed package.
- ``<!-- readme-test: file NAME -->`` before a block writes the block to ``NAME``.
- ``<!-- readme-test: skip (REASON) -->`` before a block exempts it; REASON is required
  and the exemptions are counted (see ``MAX_SKIPS``).
- ``yaml`` and ``json`` blocks must parse.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MAX_SKIPS = 5
SHELL = {"", "sh", "bash", "shell", "console"}

_BLOCK = re.compile(
    r"(?:<!--\s*readme-test:\s*(?P<directive>[^>]*?)\s*-->\s*\n)?"
    r"^```(?P<lang>[A-Za-z]*)\n(?P<body>.*?)^```\s*$",
    re.M | re.S,
)
_PORT = re.compile(r"(?<=127\.0\.0\.1:)(8\d\d\d)\b|(?<=--port )(8\d\d\d)\b")
_SERVER = re.compile(
    r"^\s*((?:python -m samples\.\w+|zapi (?:console|serve|worker)) [^&]*?)\s*&\s*$"
)
_PIP = re.compile(r"^\s*pip install [^&]*&&\s*", re.M)


@dataclass(frozen=True)
class Snippet:
    """One fenced block of README.md."""

    line: int
    lang: str
    body: str
    directive: str

    @property
    def id(self) -> str:
        return f"L{self.line}-{self.lang or 'sh'}"


def snippets(text: str) -> list[Snippet]:
    """The fenced blocks of a Markdown text, with the directive comment before each."""
    return [
        Snippet(
            line=text.count("\n", 0, m.start("lang")) + 1,
            lang=m.group("lang").lower(),
            body=m.group("body"),
            directive=(m.group("directive") or "").strip(),
        )
        for m in _BLOCK.finditer(text)
    ]


SNIPPETS = snippets(README.read_text(encoding="utf-8"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"background server exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing answered on port {port} within {timeout_s:.0f} s")


class Walk:
    """The scratch folder, the port map and the background servers of one README walk."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ports: dict[str, str] = {}
        self.servers: list[subprocess.Popen[bytes]] = []
        (folder / "samples").symlink_to(ROOT / "samples")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ZAPI_RUNS")}
        self.env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + self.env["PATH"]
        self.env["PYTHONUNBUFFERED"] = "1"
        (folder / "tmp").mkdir()
        self.env["TMPDIR"] = str(folder / "tmp")  # `zapi demo` without -o writes a temp folder

    def substitute(self, text: str) -> str:
        def port(m: re.Match[str]) -> str:
            readme_port = m.group(0)
            if readme_port not in self.ports:
                self.ports[readme_port] = str(_free_port())
            return self.ports[readme_port]

        return _PORT.sub(port, text)

    def start_server(self, command: str) -> None:
        args = shlex.split(command)
        if args[0] == "python":
            args[0] = sys.executable
        port = int(args[args.index("--port") + 1]) if "--port" in args else None
        name = f"server-{port or len(self.servers)}.log"
        log = open(self.folder / name, "wb")  # noqa: SIM115 - lives with the server
        proc = subprocess.Popen(
            args, cwd=self.folder, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self.servers.append(proc)
        if port is not None:
            _wait_for_port(port, proc)

    def run_shell(self, body: str) -> subprocess.CompletedProcess[str]:
        lines = []
        for line in _PIP.sub("", self.substitute(body)).splitlines():
            m = _SERVER.match(line)
            if m:
                self.start_server(m.group(1))
            else:
                lines.append(line)
        script = "set -euo pipefail\n" + "\n".join(lines) + "\n"
        return subprocess.run(
            ["bash", "-c", script],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    def run_python(self, body: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", self.substitute(body)],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    def close(self) -> None:
        for proc in self.servers:
            proc.send_signal(signal.SIGTERM)
        for proc in self.servers:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walk]:
    w = Walk(tmp_path_factory.mktemp("readme"))
    try:
        yield w
    finally:
        w.close()


def _needs_browser(snippet: Snippet) -> bool:
    return "zapi record" in snippet.body or "launch_browser" in snippet.body


class TestReadme:
    """Every snippet of README.md does what the README says, in order."""

    def test_the_readme_has_snippets_and_few_exemptions(self) -> None:
        """The parser sees the blocks; exemptions are rare and each gives its reason."""
        assert len([s for s in SNIPPETS if s.lang in SHELL | {"python"}]) >= 10
        skips = [s for s in SNIPPETS if s.directive.startswith("skip")]
        assert len(skips) <= MAX_SKIPS, [s.id for s in skips]
        for s in skips:
            assert re.fullmatch(r"skip \(.{10,}\)", s.directive), f"{s.id}: skip needs (reason)"

    def test_parser_reads_directives(self) -> None:
        """A directive belongs to the block right after it, and only to that one."""
        text = "x\n<!-- readme-test: file a.py -->\n```python\nA = 1\n```\n\n```\nls\n```\n"
        got = snippets(text)
        assert [(s.lang, s.directive, s.body) for s in got] == [
            ("python", "file a.py", "A = 1\n"),
            ("", "", "ls\n"),
        ]

    @pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.id for s in SNIPPETS])
    def test_snippet(self, snippet: Snippet, walk: Walk) -> None:
        """The snippet runs (exit 0) in the walk's folder."""
        if snippet.directive.startswith("skip"):
            pytest.skip(f"README exempts this block: {snippet.directive[4:].strip()}")
        if snippet.directive.startswith("file "):
            name = snippet.directive[5:].strip()
            (walk.folder / name).write_text(walk.substitute(snippet.body), encoding="utf-8")
            return
        assert snippet.directive == "", f"{snippet.id}: unknown directive {snippet.directive!r}"
        if snippet.lang == "yaml":
            yaml.safe_load(snippet.body)
            return
        if snippet.lang == "json":
            json.loads(snippet.body)
            return
        if _needs_browser(snippet):
            _require_browser()
        if snippet.lang == "python":
            result = walk.run_python(snippet.body)
        elif snippet.lang in SHELL:
            result = walk.run_shell(snippet.body)
        else:
            pytest.fail(f"{snippet.id}: no runner for ```{snippet.lang} blocks")
        assert result.returncode == 0, (
            f"README.md line {snippet.line} failed ({result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )


def _require_browser() -> None:
    from zapi.errors import RecordingError
    from zapi.recorder import find_browser

    try:
        find_browser(None)
    except RecordingError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"no Chromium here: {exc.message}")

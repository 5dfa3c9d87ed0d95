"""The command line as a user meets it: exit codes, one-line errors, hints that point right."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import factories
import pytest

from zapi.cli import main
from zapi.cli.codes import ExitCode

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "samples" / "hars" / "erp_session.har"


class _Handler(BaseHTTPRequestHandler):
    """A small API: a redirect to another host, a 503 that never ends, file paths."""

    seen: list[str] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.seen.append(self.path)
        port = self.server.server_address[1]
        if self.path.startswith("/moved"):
            self._json(302, {}, {"Location": f"http://localhost:{port}/api/elsewhere"})
        elif self.path.startswith("/queue/busy/status"):
            self._json(503, {"error": "busy"}, {"Retry-After": "0"})
        elif self.path.startswith("/files/"):
            self._json(200, {"name": self.path.rsplit("/", 1)[-1], "size": 3})
        else:
            self._json(404, {"error": "no such thing"})


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _har(path: Path, entries: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(factories.har(entries)))
    return path


@pytest.fixture(scope="module")
def api_out(api: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("api")
    entries = [
        factories.entry("GET", f"{api}/moved", resp={"ok": True}),
        factories.entry("GET", f"{api}/queue/busy/status", resp={"ok": True}),
    ]
    entries += [
        factories.entry("GET", f"{api}/files/docs/r{i}/readme.txt", resp={"name": "x", "size": i})
        for i in range(4)
    ]
    har = _har(base / "api.har", entries)
    rules = base / "rules.yaml"
    rules.write_text('force: ["/files/{path+}"]\nforbid: ["/users/{user_id}"]\n')
    assert main(["analyze", str(har), "-o", str(base / "out"), "--rules", str(rules)]) == 0
    return base / "out"


@pytest.fixture(scope="module")
def erp_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("erp") / "out"
    assert main(["analyze", str(BUNDLED), "-o", str(out)]) == 0
    return out


def _run_zapi(*args: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    code = f"{prelude}\nimport sys\nfrom zapi.cli import main\nsys.exit(main({list(args)!r}))"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )


class TestMissingDependency:
    """Item 1: a missing optional dependency is one line naming what to install."""

    def test_runs_without_dbos(self, tmp_path: Path) -> None:
        """`zapi runs list` without DBOS: exit 1, one line, no traceback."""
        block = "import sys; sys.modules['dbos'] = None"  # as if DBOS were not installed
        r = _run_zapi("runs", "list", "--db", str(tmp_path / "r.db"), prelude=block)
        assert r.returncode == 1, r.stderr
        assert "Traceback" not in r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "'dbos'" in lines[0] and "pip install" in lines[0], lines

    def test_message_names_the_extra(self) -> None:
        """An extra's module names the extra; a base dependency says reinstall; others: None."""
        from zapi.cli.extras import missing_dependency_message

        psycopg = missing_dependency_message("psycopg.pq")
        assert psycopg is not None and "zapi[" in psycopg
        httpx = missing_dependency_message("httpx")
        assert httpx is not None and "pip install" in httpx
        assert missing_dependency_message("no_such_module_anywhere") is None


class TestLog:
    """Item 2: `zapi log verify --state` as the README writes it; unreadable records."""

    def _log(self, tmp_path: Path) -> Path:
        from runtime import ActionLog, SqliteStore
        from runtime.actionlog import CallFinished

        db = tmp_path / "zapi.db"
        log = ActionLog(SqliteStore(db))
        for i in range(3):
            log.emit(
                CallFinished(
                    ts=1_700_000_000.0 + i,
                    call_id=f"c{i}",
                    tool="get_item",
                    code="ok",
                    ok=True,
                    attempts=1,
                    message="",
                )
            )
        log.close()
        return db

    def test_verify_takes_state_after_the_subcommand(self, tmp_path: Path) -> None:
        """`zapi log verify --state DIR` checks the chain of DIR/zapi.db."""
        self._log(tmp_path)
        assert main(["log", "verify", "--state", str(tmp_path)]) == 0

    def test_non_json_payload_is_one_line_not_a_crash(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A record whose payload is not JSON: the others print, one error line, exit 1."""
        db = self._log(tmp_path)
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE zapi_actions SET payload = 'not json {' WHERE seq = 2")
        assert main(["log", "--state", str(db)]) == ExitCode.ERROR
        out, err = capsys.readouterr()
        assert len(out.strip().splitlines()) == 2
        assert err.strip().count("\n") == 0 and "record 2" in err and "not JSON" in err
        assert main(["log", "verify", "--state", str(db)]) == ExitCode.ERROR
        assert "broken at record 2" in capsys.readouterr().err


class TestExitCodes:
    """Item 3: the documented table, through `main` (which used to drop returned codes)."""

    def test_usage_error_is_2(self, tmp_path: Path) -> None:
        """A missing folder or an unknown option is a usage error."""
        assert main(["tools", str(tmp_path / "missing")]) == ExitCode.USAGE
        assert main(["analyze", "--no-such-option"]) == ExitCode.USAGE

    def test_operational_error_is_1(self, tmp_path: Path) -> None:
        """A file that is not a HAR is an operational error."""
        bad = tmp_path / "x.har"
        bad.write_text("not json")
        assert main(["analyze", str(bad), "-o", str(tmp_path / "o")]) == ExitCode.ERROR

    def test_denied_is_4(self, api: str, api_out: Path, tmp_path: Path) -> None:
        """A redirect to another host is refused by scope: exit 4."""
        code = main(["call", str(api_out), "get_moved", "--state", str(tmp_path / "s.db")])
        assert code == ExitCode.DENIED

    def test_a_returned_code_is_passed_on(self, tmp_path: Path) -> None:
        """`main` returns what the command returns (here `zapi log` on a damaged log)."""
        db = tmp_path / "zapi.db"
        TestLog()._log(tmp_path)
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE zapi_actions SET payload = 'x' WHERE seq = 1")
        assert main(["log", "--state", str(db)]) == 1

    @pytest.mark.parametrize(
        ("argv", "code"),
        [
            (["export", "{empty}", "--format", "mcp"], ExitCode.ERROR),
            (["export", "{empty}", "--format", "yaml"], ExitCode.USAGE),
            (["record", "http://127.0.0.1:9/", "-o", "{empty}/x.har", "--headless"], 2),
            (["demo", "-o", "{empty}/d", "--browser-path", "{empty}/no-chrome"], 1),
            (["log", "--state", "{empty}"], ExitCode.ERROR),
            (["log", "verify", "--state", "{empty}", "--bogus"], ExitCode.USAGE),
            (["tools", "{empty}"], ExitCode.ERROR),
            (["call", "{empty}", "x"], ExitCode.ERROR),
        ],
        ids=lambda v: "-".join(v[:2]) if isinstance(v, list) else str(int(v)),
    )
    def test_every_command(self, argv: list[str], code: int, tmp_path: Path) -> None:
        """Each non-workflow command answers bad input with the table's code."""
        assert main([a.replace("{empty}", str(tmp_path)) for a in argv]) == code

    def test_debug_after_the_subcommand(self, erp_out: Path) -> None:
        """`--debug` is accepted anywhere on the line."""
        assert main(["tools", str(erp_out), "--debug"]) == 0


class TestHints:
    """Item 7: the hint after a failed call names the state the call used."""

    def test_log_hint_reads_the_calls_state(
        self, api: str, api_out: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The `zapi log ...` in the error, run as written, shows that call's records."""
        assert main(["call", str(api_out), "get_status"]) == ExitCode.ERROR
        err = capsys.readouterr().err
        assert "`zapi log --state" in err, err
        hint = err.split("`zapi log ", 1)[1].split("`", 1)[0]
        import shlex

        assert main(["log", *shlex.split(hint)]) == 0
        out = capsys.readouterr().out
        assert "get_status" in out and "attempt_finished" in out


class TestRules:
    """Item 8: the README's rules example analyses, and greedy paths are sent unescaped."""

    def test_force_greedy_rule(self, api: str, api_out: Path, tmp_path: Path) -> None:
        card = json.loads((api_out / "cards" / "get_file.json").read_text())
        assert card["path"] == "/files/{path}"
        assert card["input_schema"]["properties"]["path"]["x-greedy"] is True
        doc = json.loads((api_out / "openapi.json").read_text())
        assert "/files/{path}" in doc["paths"]
        _Handler.seen.clear()
        args = ["--arg", "path=docs/x/a.txt", "--state", str(tmp_path / "s.db")]
        assert main(["call", str(api_out), "get_file", *args]) == 0
        assert _Handler.seen == ["/files/docs/x/a.txt"]

    def test_a_rule_that_matches_nothing_says_so(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        rules = tmp_path / "rules.yaml"
        rules.write_text('force: ["/files/{path+}"]\n')
        out = tmp_path / "out"
        assert main(["analyze", str(BUNDLED), "-o", str(out), "--rules", str(rules)]) == 0
        assert "rule 'force /files/{path+}' matched no path" in capsys.readouterr().err


class TestSmaller:
    """Item 9: origins, repr, export, help example, --json, completion."""

    def test_tools_show_the_origin_when_hosts_share_a_path(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        entries = [
            factories.entry("GET", f"https://{h}.example.com/api/bins/{i}", resp={"id": i})
            for h in ("eu", "us")
            for i in (1, 2, 3)
        ]
        har = _har(tmp_path / "two.har", entries)
        assert main(["analyze", str(har), "-o", str(tmp_path / "o")]) == 0
        capsys.readouterr()
        assert main(["tools", str(tmp_path / "o")]) == 0
        out = capsys.readouterr().out
        assert "https://eu.example.com/api/bins/" in out
        assert "https://us.example.com/api/bins/" in out

    def test_analyze_result_repr_is_short(self, tmp_path: Path) -> None:
        import zapi

        text = repr(zapi.analyze([str(BUNDLED)], str(tmp_path)))
        assert text.startswith("<AnalyzeResult ") and len(text) < 200, text

    def test_analyze_json(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["analyze", str(BUNDLED), "-o", str(tmp_path), "--json"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["tools"] == len(summary["cards"]) > 0

    def test_python_export_is_importable(self, erp_out: Path, tmp_path: Path) -> None:
        target = tmp_path / "erp_tools.py"
        assert main(["export", str(erp_out), "--format", "python", "-o", str(target)]) == 0
        r = subprocess.run(
            [sys.executable, "-c", "import erp_tools; print(erp_tools.Client.get_item.__name__)"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0 and r.stdout.strip() == "get_item", r.stderr

    def test_call_help_example_names_a_real_tool(self, erp_out: Path) -> None:
        """The Example of `zapi call --help` uses a tool and arguments the ERP sample has."""
        from zapi.cli import cli

        help_text = cli.commands["call"].help or ""
        words = help_text.split("Example:", 1)[1].split()
        tool = words[3]
        card = json.loads((erp_out / "cards" / f"{tool}.json").read_text())
        args = [w.split("=")[0] for w in words if "=" in w and not w.startswith("-")]
        assert args and set(args) <= set(card["input_schema"]["properties"])

    def test_shell_completion(self) -> None:
        import os
        import shutil

        exe = shutil.which("zapi", path=os.path.dirname(sys.executable))
        assert exe is not None
        env = {**os.environ, "_ZAPI_COMPLETE": "bash_source"}
        r = subprocess.run([exe], env=env, capture_output=True, text=True)
        assert r.returncode == 0 and "_zapi_completion" in r.stdout


class TestRunsList:
    """`zapi runs list` has a header and aligned columns."""

    def test_a_missing_database_is_named_not_created(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        db = tmp_path / "runs.db"
        assert main(["runs", "list", "--db", str(db)]) == 1  # a missing database is not created
        assert not db.exists()
        assert "no runs database" in capsys.readouterr().err

"""Action log: typed events, hash chain, SQLite WAL store, JSONL sink, tamper detection."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from runtime import ActionLog, CallFinished, JsonlSink, SqliteStore
from runtime.actionlog import AttemptStarted


def _event(i: int, tool: str = "t") -> CallFinished:
    return CallFinished(call_id=f"c{i}", tool=tool, ts=1000.0 + i, ok=True, attempts=1)


def _filled(path: Path, n: int = 5) -> ActionLog:
    log = ActionLog(SqliteStore(path))
    for i in range(n):
        log.emit(_event(i, tool="a" if i % 2 else "b"))
    return log


class TestChain:
    """Every record chains to the one before; edits and deletions are detected."""

    def test_intact_chain(self, tmp_path: Path) -> None:
        log = _filled(tmp_path / "l.db")
        report = log.verify()
        assert report.ok and report.checked == 5
        recs = log.records()
        assert [r.seq for r in recs] == [1, 2, 3, 4, 5]
        assert recs[1].prev_hash == recs[0].hash

    def test_edited_row_is_named(self, tmp_path: Path) -> None:
        _filled(tmp_path / "l.db").close()
        db = sqlite3.connect(tmp_path / "l.db")
        payload = db.execute("SELECT payload FROM zapi_actions WHERE seq = 3").fetchone()[0]
        db.execute(
            "UPDATE zapi_actions SET payload = ? WHERE seq = 3",
            (payload.replace('"ok":true', '"ok":false'),),
        )
        db.commit()
        db.close()
        report = ActionLog(SqliteStore(tmp_path / "l.db")).verify()
        assert not report.ok and report.broken_at == 3 and "modified" in report.reason

    def test_deleted_row_is_detected(self, tmp_path: Path) -> None:
        _filled(tmp_path / "l.db").close()
        db = sqlite3.connect(tmp_path / "l.db")
        db.execute("DELETE FROM zapi_actions WHERE seq = 2")
        db.commit()
        db.close()
        report = ActionLog(SqliteStore(tmp_path / "l.db")).verify()
        assert not report.ok and report.broken_at == 3

    def test_rehashed_row_breaks_the_next_link(self, tmp_path: Path) -> None:
        from runtime.actionlog import chain_hash

        _filled(tmp_path / "l.db").close()
        db = sqlite3.connect(tmp_path / "l.db")
        seq, payload, prev = db.execute(
            "SELECT seq, payload, prev_hash FROM zapi_actions WHERE seq = 2"
        ).fetchone()
        forged = payload.replace('"attempts":1', '"attempts":9')
        db.execute(
            "UPDATE zapi_actions SET payload = ?, hash = ? WHERE seq = 2",
            (forged, chain_hash(seq, prev, forged)),
        )
        db.commit()
        db.close()
        report = ActionLog(SqliteStore(tmp_path / "l.db")).verify()
        assert not report.ok and report.broken_at == 3

    def test_cli_verify_names_the_record(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        from zapi.cli import main

        _filled(tmp_path / "l.db").close()
        assert main(["log", "--state", str(tmp_path / "l.db"), "verify"]) == 0
        db = sqlite3.connect(tmp_path / "l.db")
        db.execute(
            "UPDATE zapi_actions SET payload = replace(payload, '1004', '1005') WHERE seq = 5"
        )
        db.commit()
        db.close()
        assert main(["log", "--state", str(tmp_path / "l.db"), "verify"]) == 1
        assert "record 5" in capsys.readouterr().err


class TestStore:
    """SQLite in WAL mode, shared across handles, filters, JSONL fan-out."""

    def test_wal_and_reopen_continues_chain(self, tmp_path: Path) -> None:
        _filled(tmp_path / "l.db", 2).close()
        log = ActionLog(SqliteStore(tmp_path / "l.db"))
        assert log.emit(_event(9)).seq == 3 and log.verify().ok
        mode = sqlite3.connect(tmp_path / "l.db").execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"

    def test_two_handles_interleave(self, tmp_path: Path) -> None:
        a = ActionLog(SqliteStore(tmp_path / "l.db"))
        b = ActionLog(SqliteStore(tmp_path / "l.db"))
        for i in range(4):
            (a if i % 2 else b).emit(_event(i))
        assert a.verify().ok and [r.seq for r in b.records()] == [1, 2, 3, 4]

    def test_filters(self, tmp_path: Path) -> None:
        log = _filled(tmp_path / "l.db")
        assert {r.event.tool for r in log.records(tool="a")} == {"a"}
        assert [r.seq for r in log.records(since=1003.0)] == [4, 5]
        assert [r.seq for r in log.records(call_id="c0")] == [1]

    def test_jsonl_sink_and_records_are_frozen(self, tmp_path: Path) -> None:
        log = ActionLog(sinks=[JsonlSink(tmp_path / "l.jsonl")])
        rec = log.emit(
            AttemptStarted(
                call_id="c",
                tool="t",
                ts=1.0,
                attempt=1,
                method="GET",
                url="https://x.test/?api_key=abcdef123",
                headers={"Authorization": "Bearer abcdefgh12345"},
            )
        )
        lines = (tmp_path / "l.jsonl").read_text().splitlines()
        assert len(lines) == 1 and json.loads(lines[0])["seq"] == 1
        assert "abcdefgh12345" not in lines[0] and "abcdef123" not in lines[0]
        with pytest.raises(ValueError):
            rec.event.tool = "x"  # type: ignore[misc]

    def test_open_by_suffix(self, tmp_path: Path) -> None:
        assert isinstance(ActionLog.open(tmp_path / "x.db").store, SqliteStore)
        log = ActionLog.open(tmp_path / "x.jsonl")
        assert isinstance(log.sinks[0], JsonlSink)


def test_excerpt_is_bounded_and_redacted() -> None:
    """Big bodies are cut before they reach the log; secrets never do."""
    from runtime.actionlog import excerpt
    from zapi.redact import Redactor

    big = {
        "items": [{"n": i, "password": "hunter2-secret"} for i in range(500)],
        "blob": "x" * 10_000,
    }
    out = excerpt(big, Redactor())
    text = json.dumps(out)
    assert len(text) < 6000 and "hunter2-secret" not in text
    assert excerpt(b"\x00\x01", Redactor()) == "<2 bytes>"


class TestAnchor:
    """The head lives outside the log: truncation, wiping and rewriting are detected (defect 10)."""

    def _rewrite(self, path: Path, keep: int) -> None:
        """Forge a valid chain of ``keep`` records (what an attacker with the file can do)."""
        from runtime.actionlog import GENESIS, chain_hash

        db = sqlite3.connect(path)
        rows = db.execute("SELECT seq, payload FROM zapi_actions ORDER BY seq").fetchall()
        db.execute("DELETE FROM zapi_actions")
        prev = GENESIS
        for seq, payload in rows[:keep]:
            forged = payload.replace('"ok":true', '"ok":false')
            digest = chain_hash(seq, prev, forged)
            db.execute(
                "INSERT INTO zapi_actions VALUES (?, 0, 'call_finished', 'c', 't', ?, ?, ?)",
                (seq, forged, prev, digest),
            )
            prev = digest
        db.commit()
        db.close()

    def test_intact_log_is_anchored(self, tmp_path: Path) -> None:
        report = _filled(tmp_path / "l.db").verify()
        assert report.ok and report.anchored and (tmp_path / "l.db.anchor").exists()

    def test_tail_truncation(self, tmp_path: Path) -> None:
        """Old: deleting the last records left a valid chain and verify said intact."""
        _filled(tmp_path / "l.db").close()
        db = sqlite3.connect(tmp_path / "l.db")
        db.execute("DELETE FROM zapi_actions WHERE seq > 3")
        db.commit()
        db.close()
        report = ActionLog(SqliteStore(tmp_path / "l.db")).verify()
        assert not report.ok and "removed from the end" in report.reason

    def test_all_records_deleted(self, tmp_path: Path) -> None:
        """Old: an empty log verified as intact."""
        _filled(tmp_path / "l.db").close()
        db = sqlite3.connect(tmp_path / "l.db")
        db.execute("DELETE FROM zapi_actions")
        db.commit()
        db.close()
        report = ActionLog(SqliteStore(tmp_path / "l.db")).verify()
        assert not report.ok and "empty" in report.reason

    def test_rewritten_chain_without_anchor_update(self, tmp_path: Path) -> None:
        """Old: a chain recomputed from scratch verified as intact."""
        _filled(tmp_path / "l.db").close()
        self._rewrite(tmp_path / "l.db", keep=5)
        report = ActionLog(SqliteStore(tmp_path / "l.db")).verify()
        assert not report.ok and "rewritten" in report.reason

    def test_rewritten_chain_and_anchor_caught_with_key(self, tmp_path: Path) -> None:
        """With ZAPI_LOG_KEY, forging the anchor too is detected; without it, not (README)."""
        from runtime.actionlog import Anchor

        log = ActionLog(SqliteStore(tmp_path / "l.db", key="k3y-for-tests"))
        for i in range(5):
            log.emit(_event(i))
        log.close()
        self._rewrite(tmp_path / "l.db", keep=4)
        db = sqlite3.connect(tmp_path / "l.db")
        seq, digest = db.execute(
            "SELECT seq, hash FROM zapi_actions ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        db.close()
        forged = Anchor(str(tmp_path / "l.db.anchor"))  # no key
        forged.write(seq, digest)
        forged.close()
        keyed = ActionLog(SqliteStore(tmp_path / "l.db", key="k3y-for-tests")).verify()
        assert not keyed.ok and "signed" in keyed.reason
        forged = Anchor(str(tmp_path / "l.db.anchor"), b"wrong-key")
        forged.write(seq, digest)
        forged.close()
        keyed = ActionLog(SqliteStore(tmp_path / "l.db", key="k3y-for-tests")).verify()
        assert not keyed.ok and "signature" in keyed.reason

    def test_cli_verify_names_the_problem(self, tmp_path: Path) -> None:
        import subprocess
        import sys

        _filled(tmp_path / "l.db").close()
        ok = subprocess.run(
            [sys.executable, "-m", "zapi", "log", "--state", str(tmp_path / "l.db"), "verify"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert ok.returncode == 0 and "anchor" in ok.stdout
        (tmp_path / "l.db.anchor").unlink()
        bad = subprocess.run(
            [sys.executable, "-m", "zapi", "log", "--state", str(tmp_path / "l.db"), "verify"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert bad.returncode == 1 and "anchor" in bad.stderr and "Traceback" not in bad.stderr

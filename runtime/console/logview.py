"""The action log as the console browses it: read-only, filtered, linked to runs and steps."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runtime.actionlog import ActionLog, ChainReport, LogRecord

__all__ = [
    "LogFilter",
    "LogReader",
    "ReadOnlyStore",
    "describe",
    "link_of",
    "match_steps",
    "outcome_of",
    "parse_since",
]

_KEY = re.compile(r"^(?P<run>.+)/(?P<step>\d+)(?P<undo>/undo)?$")
_SINCE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class ReadOnlyStore:
    """A :class:`runtime.actionlog.Store` over an existing SQLite log, opened read-only.

    The console never writes the log (a running runtime may be appending to it); ``append``
    is refused.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Open ``path`` read-only.

        Raises:
            FileNotFoundError: there is no log at ``path``.
        """
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(self.path)
        self._db = sqlite3.connect(
            f"file:{self.path}?mode=ro", uri=True, check_same_thread=False, timeout=30
        )

    def append(self, payload: str) -> tuple[int, str, str]:
        """Refused: the console only reads."""
        raise PermissionError("the console opens the action log read-only")

    def rows(self) -> list[tuple[int, str, str, str]]:
        """Every ``(seq, payload, prev_hash, hash)`` in order (none before the table exists)."""
        try:
            return list(
                self._db.execute(
                    "SELECT seq, payload, prev_hash, hash FROM zapi_actions ORDER BY seq"
                )
            )
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise

    def close(self) -> None:
        """Close the connection."""
        self._db.close()


def parse_since(text: str, *, now: float | None = None) -> float | None:
    """``"15m"``, ``"2h"``, ``"1d"`` or epoch seconds to an epoch time (``None`` for ``""``).

    Raises:
        ValueError: none of those forms.
    """
    text = text.strip()
    if not text:
        return None
    m = _SINCE.match(text)
    if m:
        return (time.time() if now is None else now) - float(m.group(1)) * _UNITS[m.group(2)]
    return float(text)


def link_of(record: LogRecord) -> tuple[str, int, bool] | None:
    """The workflow run and step a record belongs to: ``(run_id, step, is_undo)`` or ``None``.

    Taken from the event's own ``run_id``/``step``, else from the idempotency key a workflow
    step passes to the runtime (``RUN/STEP`` or ``RUN/STEP/undo``).
    """
    event = record.event
    if event.run_id and event.step is not None:
        return event.run_id, event.step, False
    key = getattr(event, "idempotency_key", None)
    if isinstance(key, str):
        m = _KEY.match(key)
        if m:
            return m.group("run"), int(m.group("step")), bool(m.group("undo"))
    return None


@dataclass(frozen=True)
class LogFilter:
    """What the log page shows."""

    tool: str = ""
    since: float | None = None
    until: float | None = None
    outcome: str = ""
    drift: bool = False
    run: str = ""
    kind: str = ""
    call: str = ""


def outcome_of(record: LogRecord) -> str:
    """A one-word outcome for filtering: an attempt's outcome, a call's ok/failed, etc."""
    e = record.event
    if e.kind == "attempt_finished":
        return e.outcome
    if e.kind == "call_finished" or e.kind == "verification":
        return "ok" if e.ok else "failed"
    if e.kind == "reconciled":
        return e.result
    return "started"


class LogReader:
    """Reads an action-log file for the console (records, links, chain check)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Open the log at ``path`` read-only.

        Raises:
            FileNotFoundError: there is no log at ``path``.
        """
        self.path = os.fspath(path)
        self.log = ActionLog(ReadOnlyStore(path))
        self._parsed: dict[int, LogRecord] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the file."""
        self.log.close()

    def verify(self) -> ChainReport:
        """Recompute the whole hash chain (cheap: hashes only, nothing is parsed)."""
        with self._lock:
            return self.log.verify()

    def records(self) -> list[LogRecord]:
        """Every record, oldest first.

        The log is append-only: a record already parsed with the same hash is reused, so a
        page load parses only what was appended since the last one.
        """
        with self._lock:
            rows = self.log.store.rows()
            out = []
            for seq, payload, prev, digest in rows:
                known = self._parsed.get(seq)
                if known is None or known.hash != digest:
                    known = LogRecord.model_validate(
                        {
                            "seq": seq,
                            "prev_hash": prev,
                            "hash": digest,
                            "event": json.loads(payload),
                        }
                    )
                    self._parsed[seq] = known
                out.append(known)
            return out

    def select(self, f: LogFilter, records: list[LogRecord] | None = None) -> list[LogRecord]:
        """Records matching ``f``, newest first (from ``records`` when already read).

        A run filter keeps every record of the calls linked to that run, including the
        verification and reconcile reads made on their behalf.
        """
        records = self.records() if records is None else records
        run_calls: set[str] = set()
        if f.run:
            for r in records:
                link = link_of(r)
                if link is not None and link[0] == f.run:
                    run_calls.add(r.event.call_id)
        out = []
        for r in reversed(records):
            e = r.event
            if f.tool and e.tool != f.tool:
                continue
            if f.since is not None and e.ts < f.since:
                continue
            if f.until is not None and e.ts > f.until:
                continue
            if f.kind and e.kind != f.kind:
                continue
            if f.call and f.call not in (e.call_id, e.parent_call_id):
                continue
            if f.outcome and outcome_of(r) != f.outcome:
                continue
            if f.drift and not (e.kind == "attempt_finished" and e.drift):
                continue
            if f.run and not (
                e.call_id in run_calls or (e.parent_call_id and e.parent_call_id in run_calls)
            ):
                continue
            out.append(r)
        return out

    def for_run(self, run_id: str) -> dict[str, list[LogRecord]]:
        """The run's records grouped by step key (``RUN/STEP`` or ``RUN/STEP/undo``), in order.

        Child calls (verification and reconcile reads) go with the step whose call made them.
        """
        records = self.records()
        call_key: dict[str, str] = {}
        for r in records:
            link = link_of(r)
            if link is not None and link[0] == run_id:
                key = f"{run_id}/{link[1]}" + ("/undo" if link[2] else "")
                call_key.setdefault(r.event.call_id, key)
        out: dict[str, list[LogRecord]] = {}
        for r in records:
            e = r.event
            found = call_key.get(e.call_id) or (
                call_key.get(e.parent_call_id) if e.parent_call_id else None
            )
            if found is not None:
                out.setdefault(found, []).append(r)
        return out


def describe(record: LogRecord) -> dict[str, Any]:
    """A plain dict of one record for the templates (secrets are cleaned by the caller)."""
    e = record.event
    data = e.model_dump(mode="json")
    link = link_of(record)
    return {
        "seq": record.seq,
        "hash": record.hash[:12],
        "kind": e.kind,
        "tool": e.tool,
        "ts": e.ts,
        "call_id": e.call_id,
        "parent_call_id": e.parent_call_id,
        "outcome": outcome_of(record),
        "run_id": link[0] if link else None,
        "step": link[1] if link else None,
        "undo": link[2] if link else False,
        "event": data,
    }


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def match_steps(
    records: list[LogRecord],
    run_id: str,
    steps: list[tuple[str, str, str | None, str | None]],
    *,
    slack_s: float = 0.5,
) -> tuple[dict[str, list[LogRecord]], set[str]]:
    """The log records of each step of a run, by step key.

    ``steps`` are ``(key, tool, started_at, finished_at)``. A record belongs to a step when
    it names the run and step (``run_id``/``step`` or the ``RUN/STEP`` idempotency key);
    a step nothing names gets the top-level calls of its tool made while it ran (a runner
    that does not pass the run to the runtime). Child calls (verification and reconcile
    reads) go with their parent. Returns the grouping and the keys matched by time.
    """
    call_key: dict[str, str] = {}
    for r in records:
        link = link_of(r)
        if link is not None and link[0] == run_id:
            call_key.setdefault(
                r.event.call_id, f"{run_id}/{link[1]}" + ("/undo" if link[2] else "")
            )
    named = set(call_key.values())
    by_time: set[str] = set()
    claimed = set(call_key)
    for key, tool, started, finished in steps:
        if key in named:
            continue
        lo, hi = _epoch(started), _epoch(finished)
        if lo is None or hi is None:
            continue
        for r in records:
            e = r.event
            if (
                e.kind == "attempt_started"
                and e.tool == tool
                and not e.parent_call_id
                and e.call_id not in claimed
                and lo - slack_s <= e.ts <= hi + slack_s
            ):
                call_key[e.call_id] = key
                claimed.add(e.call_id)
                by_time.add(key)
    out: dict[str, list[LogRecord]] = {}
    for r in records:
        e = r.event
        found = call_key.get(e.call_id) or (
            call_key.get(e.parent_call_id) if e.parent_call_id else None
        )
        if found is not None:
            out.setdefault(found, []).append(r)
    return out, by_time

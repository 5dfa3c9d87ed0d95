"""The action log: typed, hash-chained events in SQLite (WAL) with optional JSONL/memory sinks."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from runtime.drift import Finding
from runtime.verify import Mismatch
from zapi.redact import Redactor

__all__ = [
    "GENESIS",
    "ActionLog",
    "Anchor",
    "AttemptFinished",
    "AttemptStarted",
    "CallFinished",
    "ChainReport",
    "Event",
    "JsonlSink",
    "LogRecord",
    "MemoryStore",
    "Reconciled",
    "Sink",
    "SqliteStore",
    "Store",
    "Verified",
]

SCHEMA_VERSION: Literal["1"] = "1"
GENESIS = "0" * 64
_EXCERPT_CHARS = 4096
_EXCERPT_ITEMS = 20
_EXCERPT_DEPTH = 8


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal["1"] = SCHEMA_VERSION
    call_id: str
    tool: str
    ts: float
    code: str = "ok"
    run_id: str | None = None
    step: int | None = None
    parent_call_id: str | None = None


class AttemptStarted(_Event):
    """Intent: written before the request is sent."""

    kind: Literal["attempt_started"] = "attempt_started"
    attempt: int
    method: str
    url: str
    headers: dict[str, str]
    body: Any = None
    idempotency_key: str | None = None


class AttemptFinished(_Event):
    """Outcome of one attempt: status or wire error, timing and what the runtime made of it."""

    kind: Literal["attempt_finished"] = "attempt_finished"
    attempt: int
    intent_id: int
    status: int | None
    elapsed_ms: float
    outcome: Literal["ok", "not_applied", "ambiguous", "failed"]
    response: Any = None
    error: str | None = None
    retry_in_s: float | None = None
    drift: list[Finding] = Field(default_factory=list)


class Reconciled(_Event):
    """How an ambiguous write was resolved by reading the API."""

    kind: Literal["reconciled"] = "reconciled"
    intent_id: int
    result: Literal["landed", "not_landed", "unknown"]
    action: Literal["accept", "resend", "raise"]
    detail: str
    evidence: Any = None


class Verified(_Event):
    """Result of read-after-write verification."""

    kind: Literal["verification"] = "verification"
    ok: bool
    reads: int
    mismatches: list[Mismatch] = Field(default_factory=list)


class CallFinished(_Event):
    """End of one tool call."""

    kind: Literal["call_finished"] = "call_finished"
    ok: bool
    status: int | None = None
    attempts: int
    message: str = ""
    result: Any = None


Event = Annotated[
    AttemptStarted | AttemptFinished | Reconciled | Verified | CallFinished,
    Field(discriminator="kind"),
]
_EVENT: TypeAdapter[Event] = TypeAdapter(Event)


class LogRecord(BaseModel):
    """One sealed log entry: the event, its sequence number and its place in the hash chain."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int
    prev_hash: str
    hash: str
    event: Event


class ChainReport(BaseModel):
    """Result of checking the hash chain."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ok: bool
    checked: int
    broken_at: int | None = None
    reason: str = ""
    anchored: bool = False
    note: str = ""


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(seq: int, prev_hash: str, payload: str) -> str:
    """Hash of one record: binds its number, its predecessor and its canonical payload."""
    return hashlib.sha256(f"{seq}\n{prev_hash}\n{payload}".encode()).hexdigest()


def _check(rows: Iterable[tuple[int, str, str, str]]) -> ChainReport:
    prev, expected_seq, n = GENESIS, None, 0
    for seq, payload, prev_hash, digest in rows:
        n += 1
        if expected_seq is not None and seq != expected_seq:
            return ChainReport(
                ok=False,
                checked=n,
                broken_at=seq,
                reason=f"record {expected_seq} is missing before {seq}",
            )
        if prev_hash != prev:
            return ChainReport(
                ok=False,
                checked=n,
                broken_at=seq,
                reason=f"record {seq} does not follow the record before it",
            )
        if chain_hash(seq, prev_hash, payload) != digest:
            return ChainReport(
                ok=False,
                checked=n,
                broken_at=seq,
                reason=f"record {seq} was modified after it was written",
            )
        prev, expected_seq = digest, seq + 1
    return ChainReport(ok=True, checked=n)


class Store(Protocol):
    """Where sealed records live; it assigns sequence numbers and chains hashes."""

    def append(self, payload: str) -> tuple[int, str, str]:
        """Store a canonical payload; return ``(seq, prev_hash, hash)``."""
        ...

    def rows(self) -> list[tuple[int, str, str, str]]:
        """Every ``(seq, payload, prev_hash, hash)`` in order."""
        ...

    def close(self) -> None:
        """Release resources."""
        ...


class MemoryStore:
    """An in-process store (no durability), for tests and ``state=None``."""

    def __init__(self) -> None:
        """Create an empty store."""
        self._rows: list[tuple[int, str, str, str]] = []
        self._lock = threading.Lock()

    def append(self, payload: str) -> tuple[int, str, str]:
        """Seal and keep ``payload``."""
        with self._lock:
            seq = len(self._rows) + 1
            prev = self._rows[-1][3] if self._rows else GENESIS
            digest = chain_hash(seq, prev, payload)
            self._rows.append((seq, payload, prev, digest))
            return seq, prev, digest

    def rows(self) -> list[tuple[int, str, str, str]]:
        """All rows."""
        with self._lock:
            return list(self._rows)

    def close(self) -> None:
        """Nothing to release."""


_ANCHOR_SIZE = 256  # bytes: seq, a 64-hex hash and a 64-hex MAC fit with room to spare


def anchor_mac(key: bytes, seq: int, digest: str) -> str:
    """HMAC-SHA256 of an anchor (the log's head) under ``key``."""
    return hmac.new(key, f"zapi-anchor\n{seq}\n{digest}".encode(), hashlib.sha256).hexdigest()


class Anchor:
    """The log's head (last sequence number and hash) kept outside the log itself.

    A file next to the database (``zapi.db.anchor`` by default), rewritten
    atomically with every append while the database write lock is held. With a
    ``key`` (``ZAPI_LOG_KEY``) the head is also HMAC-signed, so whoever can
    rewrite the database and the anchor but lacks the key cannot forge a head.
    """

    def __init__(self, path: str, key: bytes | None = None) -> None:
        """Use the anchor file at ``path``; sign and check with ``key`` when given."""
        self.path = path
        self.key = key
        self._fd: int | None = None

    def write(self, seq: int, digest: str) -> None:
        """Record ``(seq, digest)`` as the head: one fixed-size overwrite in place.

        Called under the database write lock, so heads never go back; a fixed-size
        record written with one ``pwrite`` costs microseconds, not a file rename.
        """
        mac = anchor_mac(self.key, seq, digest) if self.key else ""
        data = json.dumps({"seq": seq, "hash": digest, "mac": mac}, sort_keys=True)
        record = data.ljust(_ANCHOR_SIZE - 1).encode() + b"\n"
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.pwrite(self._fd, record, 0)

    def close(self) -> None:
        """Close the anchor file."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def read(self) -> dict[str, Any] | None:
        """The stored head, ``None`` when there is no anchor file.

        Raises:
            ValueError: the anchor file is not an anchor.
        """
        try:
            with open(self.path, encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ValueError(f"anchor {self.path} is unreadable ({exc})") from exc
        if not (
            isinstance(data, dict)
            and isinstance(data.get("seq"), int)
            and isinstance(data.get("hash"), str)
        ):
            raise ValueError(f"anchor {self.path} is not an anchor")
        return data

    def check(self, rows: Sequence[tuple[int, str, str, str]], chain: ChainReport) -> ChainReport:
        """Compare a chain-checked log with its head; catch truncation and rewrites."""
        try:
            head = self.read()
        except ValueError as exc:
            return ChainReport(ok=False, checked=chain.checked, reason=str(exc))
        last = rows[-1] if rows else None
        if head is None:
            if last is None:
                return chain
            return ChainReport(
                ok=False,
                checked=chain.checked,
                reason=f"the anchor {self.path} is missing: the head cannot be checked "
                "(deleted, or a log written before anchors existed)",
            )
        seq, digest, mac = head["seq"], head["hash"], str(head.get("mac") or "")
        note = ""
        if self.key is not None:
            if not mac:
                return ChainReport(
                    ok=False, checked=chain.checked, reason="the anchor is not signed"
                )
            if not hmac.compare_digest(mac, anchor_mac(self.key, seq, digest)):
                return ChainReport(
                    ok=False,
                    checked=chain.checked,
                    reason="the anchor's signature does not match (forged, or another key)",
                )
        elif mac:
            note = "anchor signed; set ZAPI_LOG_KEY to check the signature"
        if last is None:
            return ChainReport(
                ok=False,
                checked=0,
                reason=f"the log is empty but the anchor says {seq} records were written",
            )
        by_seq = {r[0]: r[3] for r in rows}
        if last[0] < seq:
            return ChainReport(
                ok=False,
                checked=chain.checked,
                broken_at=last[0],
                reason=f"the log ends at record {last[0]} but the anchor says {seq}: "
                "records were removed from the end",
            )
        if by_seq.get(seq) != digest:
            return ChainReport(
                ok=False,
                checked=chain.checked,
                broken_at=seq,
                reason=f"record {seq} is not the one the anchor recorded: the chain was rewritten",
            )
        if last[0] > seq + 1:
            return ChainReport(
                ok=False,
                checked=chain.checked,
                broken_at=seq + 1,
                reason=f"records {seq + 1}..{last[0]} are not covered by the anchor "
                "(added outside zapi)",
            )
        if last[0] == seq + 1:
            note = (note + "; " if note else "") + (
                f"record {last[0]} is past the anchor (a crash between write and anchor)"
            )
        return ChainReport(ok=True, checked=chain.checked, anchored=True, note=note)


class SqliteStore:
    """Records in table ``zapi_actions`` of a SQLite file in WAL mode (shareable with workflows).

    Each append is its own ``BEGIN IMMEDIATE`` transaction, committed before it returns, so
    an intent record is on disk before the request it describes is sent. The head of the
    chain is also kept in an :class:`Anchor` file the log alone cannot rewrite.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: str = "NORMAL",
        anchor: str | os.PathLike[str] | None = None,
        key: bytes | str | None = None,
    ) -> None:
        """Open (and create) the store.

        Args:
            path: the SQLite file.
            synchronous: SQLite ``synchronous`` level; ``NORMAL`` survives process crashes,
                ``FULL`` also power loss.
            anchor: where the head is kept (default: ``PATH.anchor``).
            key: HMAC key that signs the head (the CLI reads ``ZAPI_LOG_KEY``).
        """
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"unknown synchronous level {synchronous!r}")
        self.path = os.fspath(path)
        raw_key = key.encode() if isinstance(key, str) else key
        self.anchor = Anchor(
            os.fspath(anchor) if anchor is not None else self.path + ".anchor", raw_key or None
        )
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS zapi_actions (seq INTEGER PRIMARY KEY, ts REAL NOT NULL, "
            "kind TEXT NOT NULL, call_id TEXT NOT NULL, tool TEXT NOT NULL, payload TEXT NOT NULL, "
            "prev_hash TEXT NOT NULL, hash TEXT NOT NULL)"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS zapi_actions_call ON zapi_actions(call_id)")

    def append(self, payload: str) -> tuple[int, str, str]:
        """Seal ``payload`` after the last stored record, in one immediate transaction."""
        meta = json.loads(payload)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                last = self._db.execute(
                    "SELECT seq, hash FROM zapi_actions ORDER BY seq DESC LIMIT 1"
                ).fetchone()
                seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
                digest = chain_hash(seq, prev, payload)
                self._db.execute(
                    "INSERT INTO zapi_actions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        seq,
                        meta["ts"],
                        meta["kind"],
                        meta["call_id"],
                        meta["tool"],
                        payload,
                        prev,
                        digest,
                    ),
                )
                self.anchor.write(seq, digest)  # under the write lock: heads never go back
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            try:
                self._db.execute("COMMIT")
            except BaseException:
                if last:
                    self.anchor.write(last[0], last[1])
                raise
        return seq, prev, digest

    def rows(self) -> list[tuple[int, str, str, str]]:
        """All rows in sequence order."""
        with self._lock:
            return list(
                self._db.execute(
                    "SELECT seq, payload, prev_hash, hash FROM zapi_actions ORDER BY seq"
                )
            )

    def close(self) -> None:
        """Close the connection and the anchor file."""
        with self._lock:
            self._db.close()
            self.anchor.close()


class Sink(Protocol):
    """Receives every sealed record (JSONL file, console, ...)."""

    def write(self, record: LogRecord) -> None:
        """Handle one record."""
        ...


class JsonlSink:
    """Appends each record as one JSON line (greppable)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Append to ``path``."""
        self.path = os.fspath(path)

    def write(self, record: LogRecord) -> None:
        """Append ``record``."""
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(_canonical(record.model_dump(mode="json")) + "\n")


def _trim(data: Any, depth: int = 0) -> Any:
    """Cut long lists, long strings and deep nesting before the (costlier) redaction."""
    if isinstance(data, dict):
        if depth >= _EXCERPT_DEPTH:
            return f"<object of {len(data)} fields>"
        return {k: _trim(v, depth + 1) for k, v in data.items()}
    if isinstance(data, list):
        if depth >= _EXCERPT_DEPTH:
            return f"<list of {len(data)} items>"
        head = [_trim(v, depth + 1) for v in data[:_EXCERPT_ITEMS]]
        if len(data) > _EXCERPT_ITEMS:
            head.append(f"<{len(data) - _EXCERPT_ITEMS} more items>")
        return head
    if isinstance(data, str) and len(data) > _EXCERPT_CHARS:
        return data[:_EXCERPT_CHARS] + f"<{len(data) - _EXCERPT_CHARS} more chars>"
    return data


def excerpt(data: Any, redactor: Redactor) -> Any:
    """A redacted, size-bounded copy of a request or response body for the log."""
    if data is None:
        return None
    if isinstance(data, bytes):
        return f"<{len(data)} bytes>"
    clean = redactor.json(_trim(data))
    text = _canonical(clean)
    if len(text) <= _EXCERPT_CHARS:
        return clean
    return {"truncated": True, "chars": len(text), "head": text[:_EXCERPT_CHARS]}


class ActionLog:
    """Append-only, hash-chained event log. The executor emits; the store and sinks listen.

    Every event is run through the redactor once more before it is sealed.
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        sinks: Sequence[Sink] = (),
        redactor: Redactor | None = None,
    ) -> None:
        """Log into ``store`` (in memory when ``None``) and fan out to ``sinks``."""
        self.store: Store = store if store is not None else MemoryStore()
        self.sinks = list(sinks)
        self.redactor = redactor or Redactor()

    @classmethod
    def open(
        cls, path: str | os.PathLike[str] | None, *, key: bytes | str | None = None, **kwargs: Any
    ) -> ActionLog:
        """A log on a SQLite file (``*.jsonl`` paths get a memory store plus a JSONL sink).

        ``key`` signs the anchor of a SQLite log (see :class:`Anchor`).
        """
        if path is None:
            return cls(**kwargs)
        if os.fspath(path).endswith(".jsonl"):
            return cls(sinks=[JsonlSink(path)], **kwargs)
        return cls(SqliteStore(path, key=key), **kwargs)

    def emit(
        self, event: AttemptStarted | AttemptFinished | Reconciled | Verified | CallFinished
    ) -> LogRecord:
        """Redact, seal, store and fan out one event; return the sealed record."""
        data = self.redactor.json(event.model_dump(mode="json"))
        if isinstance(data.get("url"), str):
            data["url"] = self.redactor.url(data["url"])
        payload = _canonical(data)
        seq, prev, digest = self.store.append(payload)
        record = LogRecord(seq=seq, prev_hash=prev, hash=digest, event=_EVENT.validate_python(data))
        for sink in self.sinks:
            sink.write(record)
        return record

    def records(
        self,
        *,
        tool: str | None = None,
        since: float | None = None,
        call_id: str | None = None,
        kinds: Iterable[str] | None = None,
    ) -> list[LogRecord]:
        """Stored records, oldest first, optionally filtered."""
        wanted = set(kinds) if kinds is not None else None
        out = []
        for seq, payload, prev, digest in self.store.rows():
            event = _EVENT.validate_json(payload)
            if tool is not None and event.tool != tool:
                continue
            if since is not None and event.ts < since:
                continue
            if call_id is not None and call_id not in (event.call_id, event.parent_call_id):
                continue
            if wanted is not None and event.kind not in wanted:
                continue
            out.append(LogRecord(seq=seq, prev_hash=prev, hash=digest, event=event))
        return out

    def verify(self) -> ChainReport:
        """Recompute the hash chain and compare its head with the anchor, if the store has one.

        Detects a modified, removed or inserted record, records removed from the end
        (or all of them) and, with a signing key, a chain rewritten from scratch.
        """
        rows = self.store.rows()
        chain = _check(rows)
        anchor = getattr(self.store, "anchor", None)
        if not chain.ok or not isinstance(anchor, Anchor):
            return chain
        return anchor.check(rows, chain)

    def close(self) -> None:
        """Close the store."""
        self.store.close()

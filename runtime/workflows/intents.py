"""The intent log (a write's intent, committed before it is sent) and the decisions sent to runs."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from zapi.errors import WorkflowError

__all__ = ["DecisionLog", "Intent", "IntentLog", "make_engine", "require_driver"]

IntentState = Literal["in_flight", "done", "failed"]

_META = sa.MetaData()
_INTENTS = sa.Table(
    "zapi_wf_intents",
    _META,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("run_id", sa.String(200), nullable=False, index=True),
    sa.Column("tool", sa.String(200), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("record", sa.Text, nullable=True),
)

_DECISIONS = sa.Table(
    "zapi_wf_decisions",
    _META,
    sa.Column("run_id", sa.String(200), primary_key=True),
    sa.Column("wait_id", sa.String(50), primary_key=True),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("by", sa.String(200), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
)


def require_driver(url: str) -> None:
    """Check that the database driver ``url`` needs is installed.

    Raises:
        WorkflowError: a ``postgresql://`` URL without the ``postgres`` extra installed.
    """
    if url.startswith("postgres") and importlib.util.find_spec("psycopg") is None:
        raise WorkflowError(
            "a postgresql:// runs database needs the Postgres driver: pip install 'zapi[postgres]'"
        )


def make_engine(url: str) -> sa.Engine:
    """A SQLAlchemy engine for ``url`` (SQLite: immediate transactions, long busy timeout).

    Raises:
        WorkflowError: the driver for ``url`` is not installed.
    """
    require_driver(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = "IMMEDIATE"
            dbapi_conn.execute("PRAGMA busy_timeout=30000")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return sa.create_engine(url, pool_size=4, max_overflow=4, pool_pre_ping=True)


@dataclass(frozen=True)
class Intent:
    """One write's durable intent: its state, attempt count and final record, if any."""

    key: str
    state: IntentState
    attempts: int
    record: dict[str, Any] | None


class IntentLog:
    """Intents in table ``zapi_wf_intents`` of the workflow database (SQLite or Postgres).

    Each method is one committed transaction, so ``begin`` is on disk before the request
    it announces is sent, and ``finish`` before the step's checkpoint is written.
    """

    def __init__(self, engine: sa.Engine) -> None:
        """Use ``engine`` (owned by the caller) and create the table if needed."""
        self.engine = engine
        _META.create_all(engine, checkfirst=True)

    def get(self, key: str) -> Intent | None:
        """The intent stored under ``key``, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(_INTENTS).where(_INTENTS.c.key == key)).first()
        if row is None:
            return None
        record = json.loads(row.record) if row.record else None
        return Intent(key=row.key, state=row.state, attempts=row.attempts, record=record)

    def begin(self, key: str, run_id: str, tool: str, attempt: int) -> None:
        """Mark ``key`` in flight for ``attempt`` (insert or update), committed on return."""
        with self.engine.begin() as conn:
            updated = conn.execute(
                sa.update(_INTENTS)
                .where(_INTENTS.c.key == key)
                .values(state="in_flight", attempts=attempt)
            ).rowcount
            if not updated:
                conn.execute(
                    sa.insert(_INTENTS).values(
                        key=key, run_id=run_id, tool=tool, state="in_flight", attempts=attempt
                    )
                )

    def finish(self, key: str, state: IntentState, record: dict[str, Any] | None) -> None:
        """Record the outcome of the attempt in flight."""
        text = json.dumps(record, sort_keys=True, default=str) if record is not None else None
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(_INTENTS).where(_INTENTS.c.key == key).values(state=state, record=text)
            )

    def for_run(self, run_id: str) -> list[Intent]:
        """Every intent of ``run_id`` (for the audit export)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(_INTENTS).where(_INTENTS.c.run_id == run_id).order_by(_INTENTS.c.key)
            ).all()
        return [
            Intent(
                key=r.key,
                state=r.state,
                attempts=r.attempts,
                record=json.loads(r.record) if r.record else None,
            )
            for r in rows
        ]


class DecisionLog:
    """Decisions sent to parked runs (table ``zapi_wf_decisions``), first one per wait.

    A decision is a durable message that a worker applies when it resumes the run; until
    then ``runs show`` uses this log to say that one is pending, and by whom.
    """

    def __init__(self, engine: sa.Engine) -> None:
        """Use ``engine`` (owned by the caller) and create the table if needed."""
        self.engine = engine
        _META.create_all(engine, checkfirst=True)

    def sent(self, run_id: str, wait_id: str, action: str, by: str, at: str) -> None:
        """Remember a decision for ``wait_id`` (the first one sent is the one applied)."""
        with self.engine.begin() as conn:
            found = conn.execute(
                sa.select(_DECISIONS.c.run_id).where(
                    (_DECISIONS.c.run_id == run_id) & (_DECISIONS.c.wait_id == wait_id)
                )
            ).first()
            if found is None:
                conn.execute(
                    sa.insert(_DECISIONS).values(
                        run_id=run_id, wait_id=wait_id, action=action, by=by, at=at
                    )
                )

    def pending(self, run_id: str, wait_id: str) -> tuple[str, str, str] | None:
        """``(action, by, at)`` of the decision sent for ``wait_id``, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(_DECISIONS).where(
                    (_DECISIONS.c.run_id == run_id) & (_DECISIONS.c.wait_id == wait_id)
                )
            ).first()
        return (row.action, row.by, row.at) if row is not None else None

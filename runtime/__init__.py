"""Runtime: execute tool cards safely (scope, credentials, safe retries, verification, log)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

import httpx

from runtime.actionlog import (
    ActionLog,
    AttemptFinished,
    AttemptStarted,
    CallFinished,
    ChainReport,
    JsonlSink,
    LogRecord,
    MemoryStore,
    Reconciled,
    SqliteStore,
    Verified,
)
from runtime.credentials import Credentials, LoginSpec, load_credentials
from runtime.drift import Finding
from runtime.executor import (
    AttemptHook,
    CallContext,
    CallResult,
    ReconcileResult,
    Runtime,
    VerificationReport,
)
from runtime.outcomes import Decision, Outcome
from runtime.policy import RetryPolicy, Scope, check_base_url
from runtime.verify import Mismatch, check
from toolgen.cards import load_cards

__all__ = [
    "ActionLog",
    "AttemptFinished",
    "AttemptHook",
    "AttemptStarted",
    "CallContext",
    "CallFinished",
    "CallResult",
    "ChainReport",
    "Credentials",
    "Decision",
    "Finding",
    "JsonlSink",
    "LogRecord",
    "LoginSpec",
    "MemoryStore",
    "Mismatch",
    "Outcome",
    "ReconcileResult",
    "Reconciled",
    "RetryPolicy",
    "Runtime",
    "Scope",
    "SqliteStore",
    "VerificationReport",
    "Verified",
    "check",
    "default_state",
    "load_credentials",
    "open",
]


def default_state(out_dir: str | os.PathLike[str]) -> str:
    """Where the action log of a tool set lives unless told otherwise: ``OUT/zapi.db``."""
    return os.path.join(os.fspath(out_dir), "zapi.db")


def open(  # noqa: A001 - ``runtime.open`` mirrors ``sqlite3.connect``-style entry points
    out_dir: str | os.PathLike[str],
    *,
    credentials: Credentials | str | None = None,
    state: str | os.PathLike[str] | None = "",
    base_url: str | None = None,
    client: httpx.Client | None = None,
    policy: RetryPolicy | None = None,
    scope: Scope | None = None,
    environ: Mapping[str, str] | None = None,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
    files_root: str | os.PathLike[str] | None = None,
    send_credentials_to: Sequence[str] = (),
) -> Runtime:
    """Load the tool set of an analyzer output folder and return a :class:`Runtime`.

    Args:
        out_dir: the ``zapi analyze`` output folder (or its ``cards/``).
        credentials: resolved :class:`Credentials`, or the path of a credentials file
            whose ``env:``/``file:`` references are resolved from ``environ``.
        state: the action-log SQLite file; ``""`` means ``OUT/zapi.db``, ``None`` in memory.
        base_url: call this origin instead of the recorded one.
        client: the HTTP client to use (created and owned by the runtime if omitted).
        policy: the retry policy.
        scope: hosts, tools and safety classes allowed.
        environ: environment for credential references (``os.environ`` if omitted).
        clock: wall clock (``time.time`` if omitted).
        sleep: wait function (a real sleep if omitted).
        files_root: multipart file arguments must lie under this directory (the current
            directory if omitted).
        send_credentials_to: hosts or origins (e.g. ``base_url``) trusted with the
            credentials of cards recorded on another host; none by default.

    Raises:
        ToolCardError: the folder holds no readable cards.
        ExecutionError: the credentials cannot be resolved, or ``base_url`` is not an
            ``http(s)://`` URL (checked before anything is opened).
    """
    if base_url:
        base_url = check_base_url(base_url)
    cards = load_cards(out_dir)
    creds = (
        credentials
        if isinstance(credentials, Credentials)
        else (load_credentials(credentials, environ=environ) if credentials else None)
    )
    if creds is not None:
        creds.check(cards.values())
        creds = creds.trusting(*send_credentials_to)
    elif send_credentials_to:
        creds = Credentials().trusting(*send_credentials_to)
    path = default_state(out_dir) if state == "" else state
    return Runtime(
        cards,
        client=client,
        log=ActionLog.open(
            path, key=(os.environ if environ is None else environ).get("ZAPI_LOG_KEY")
        ),
        credentials=creds,
        base_url=base_url,
        policy=policy,
        scope=scope,
        clock=clock,
        sleep=sleep,
        files_root=files_root,
    )

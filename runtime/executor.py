"""The executor: the runtime's configuration and public API (call, prepare, reconcile, login).

One call runs in :mod:`runtime.attempts` (the attempt loop and every record it writes);
the wire request comes from the pure builder in :mod:`runtime.request`; outcomes and
decisions use one vocabulary (:mod:`runtime.outcomes`); settling by reading lives in
:mod:`runtime.settle`.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import httpx

from runtime.actionlog import ActionLog
from runtime.attempts import Attempts
from runtime.calls import AttemptHook, CallContext, CallResult, CallState
from runtime.credentials import Credentials, normalise_origin
from runtime.policy import RetryPolicy, Scope, check_base_url
from runtime.request import build_request
from runtime.session import Session, absorb, expired, needs_login, refresh, refresh_tool
from runtime.settle import ReconcileResult, VerificationReport
from runtime.transport import Transport
from runtime.validate import Validators
from toolgen.cards import ToolCard
from zapi.errors import ExecutionError, InvalidArguments
from zapi.redact import Redactor

__all__ = [
    "AttemptHook",
    "CallContext",
    "CallResult",
    "ReconcileResult",
    "Runtime",
    "VerificationReport",
]


class _Tools:
    """``rt.tools.NAME(**args)``: attribute access to the tools."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt

    def __getattr__(self, name: str) -> Callable[..., CallResult]:
        if name.startswith("_") or name not in self._rt.cards:
            raise AttributeError(f"no tool named {name!r}")

        def call(**args: Any) -> CallResult:
            return self._rt.call(name, **args)

        call.__name__ = name
        call.__doc__ = self._rt.cards[name].description
        return call

    def __dir__(self) -> list[str]:
        return sorted(self._rt.cards)


class Runtime:
    """Runs tool cards against the live API: safe retries, reconcile, verification, action log.

    Everything it touches is injected; it keeps no global state. Not thread-safe: use one
    runtime per thread.
    """

    def __init__(
        self,
        cards: Mapping[str, ToolCard] | Iterable[ToolCard],
        *,
        client: httpx.Client | None = None,
        log: ActionLog | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        credentials: Credentials | None = None,
        base_url: str | None = None,
        policy: RetryPolicy | None = None,
        scope: Scope | None = None,
        redactor: Redactor | None = None,
        rand: Callable[[], float] = random.random,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        files_root: str | os.PathLike[str] | None = None,
    ) -> None:
        """Create a runtime.

        Args:
            cards: the tool cards, by name or as an iterable.
            client: the HTTP client (one is created, and closed by :meth:`close`, if omitted).
            log: where events go (in memory if omitted).
            clock: wall clock in seconds (``Retry-After`` dates, timings, record times);
                ``time.time`` if omitted.
            sleep: how to wait between attempts (a real sleep if omitted).
            credentials: resolved secrets, storage-state cookies and a login tool.
            base_url: send to this origin instead of each card's recorded origin.
            policy: retry and verification policy.
            scope: hosts, tools and safety classes allowed (``base_url`` is added to it).
            redactor: the redactor for everything logged (the log's own if omitted).
            rand: jitter source.
            new_id: call-id and idempotency-key factory.
            files_root: multipart file arguments must lie under this directory (the
                current directory, when the runtime is created, if omitted).

        Raises:
            ExecutionError: ``base_url`` is not an ``http(s)://host`` URL.
        """
        self.cards = dict(cards) if isinstance(cards, Mapping) else {c.name: c for c in cards}
        self._own_client = client is None
        self.client = client if client is not None else httpx.Client(timeout=30.0)
        self.transport = Transport(self.client)
        self.log = log if log is not None else ActionLog()
        self.redactor = redactor or self.log.redactor
        self.log.redactor = self.redactor
        self.clock = clock if clock is not None else time.time
        # The one real sleep in runtime/: the default of the injected one.
        self.sleep = sleep if sleep is not None else time.sleep  # noqa: TID251
        self.rand, self.new_id = rand, new_id
        self.files_root = os.path.abspath(files_root if files_root is not None else os.getcwd())
        # Secrets given without an origin go to the tool set's only origin (or are refused).
        self.credentials = (credentials or Credentials()).bind(
            c.origin for c in self.cards.values()
        )
        self.base_url = check_base_url(base_url) if base_url else None
        self.policy = policy or RetryPolicy()
        self.scope = (scope or Scope()).with_origin(self.base_url)
        self.tools = _Tools(self)
        self._validators = Validators()
        self.logged_in = False
        self.session = Session()
        for secret in self.credentials.values():
            self.redactor.learn(secret)
        self.credentials.install_cookies(self.client.cookies)

    # -- public API ---------------------------------------------------------------------

    def call(self, tool: str, /, **args: Any) -> CallResult:
        """Call ``tool`` with keyword arguments; see :meth:`execute`."""
        return self.execute(tool, args)

    def call_detailed(
        self, tool: str, args: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Execute for a workflow step: the data, and what the step record keeps.

        The extras are ``verification`` (a JSON report or ``None``) and ``drift`` (JSON
        findings). Raises what :meth:`execute` raises.
        """
        result = self.execute(tool, dict(args), idempotency_key=idempotency_key)
        report = result.verification
        return result.data, {
            "verification": report.model_dump(mode="json") if report is not None else None,
            "drift": [f.model_dump(mode="json") for f in result.drift],
        }

    def prepare(
        self, tool: str, args: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """The effective arguments of a call: client-id fields filled in for writes.

        A write whose card names client-id fields (``client_ref``...) gets one when the
        caller gave none: ``idempotency_key`` if given (deterministic, for workflows), else a
        fresh id. Persist the result before :meth:`execute` if you may need
        :meth:`reconcile` after a crash.
        """
        card = self._card(tool)
        out = dict(args)
        if card.is_write:
            props = card.input_schema.get("properties", {})
            for name in card.idempotency.client_ids:
                sch = props.get(name, {})
                if name not in out and sch.get("type", "string") == "string":
                    out[name] = idempotency_key or f"zapi-{self.new_id()}"
        return out

    def execute(
        self,
        tool: str,
        args: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        attempt_hook: AttemptHook | None = None,
        call_id: str | None = None,
        run_id: str | None = None,
        step: int | None = None,
        verify: bool = True,
        _parent: str | None = None,
    ) -> CallResult:
        """Run one tool call to a definite result, or raise with everything that is known.

        Args:
            tool: card name.
            args: flat arguments (validated against the card's input schema).
            idempotency_key: reuse this key (and client id) instead of a fresh one, e.g.
                ``f"{run_id}:{step}"`` from a workflow, so a resumed step is recognised.
            attempt_hook: called with each intent record before its request is sent.
            call_id: id tying this call's records together (fresh if omitted).
            run_id: workflow run, recorded on every event.
            step: workflow step, recorded on every event.
            verify: run the card's read-after-write verification.

        Returns:
            The result; ``intent_ids`` are the action-log ids of the intent records.

        Raises:
            InvalidArguments: the arguments do not match the schema, or a value may not go
                on the wire; nothing was sent.
            ScopeDenied: host, tool or class outside the scope; nothing was sent.
            UpstreamStatusError: a non-retryable error status.
            SchemaDrift: the API now requires a field the card does not know.
            RetryExhausted: every attempt failed and nothing was applied.
            OutcomeUnknown: a write may have landed and no read could tell.
            VerificationFailed: the read after the write did not show the written values.
        """
        ctx = CallContext(run_id, step, _parent, attempt_hook, verify)
        return self._run(tool, args, idempotency_key, call_id, ctx)

    def reconcile(
        self,
        tool: str,
        args: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        call_id: str | None = None,
        run_id: str | None = None,
        step: int | None = None,
        snapshot: Sequence[Any] | None = None,
    ) -> ReconcileResult:
        """Find out, by reading, whether a write with these arguments landed.

        Pass the ``idempotency_key`` given to :meth:`execute` (the client id is derived
        from it the same way), or arguments already completed by :meth:`prepare`. Uses the
        card's reconcile plan (list and match, keyed by a client id), or for PUT/PATCH its
        verification plan (the written fields are in place). The reads are logged under
        ``call_id``. ``unknown`` when the card has no usable plan or the read fails; never
        raises for an API error. ``snapshot``: for a create the server names, the identities
        its list showed before the send (``runtime.settle.snapshot_identities``).

        Raises:
            InvalidArguments: unknown tool.
        """
        card = self._card(tool)
        full = dict(args)
        if idempotency_key:
            full = self.prepare(tool, args, idempotency_key=idempotency_key)
        call = CallState(card, full, call_id or self.new_id(), None, CallContext(run_id, step))
        call.snapshot = list(snapshot) if snapshot is not None else None
        return Attempts(self, call).reconcile()

    def login(self) -> CallResult:
        """Run the credentials' login tool now and keep what it yields.

        Session cookies land in the client's jar; an access token (``card.login``'s
        token pointer) is sent as the card's token scheme from now on; a refresh token
        is kept for :meth:`reauth`; a CSRF token from a response header or a page's
        ``<meta>``/``<input>`` is kept for the writes that need it.

        Raises:
            ExecutionError: no login tool is configured, or the login failed.
        """
        login = self.credentials.login
        if login is None:
            raise ExecutionError("no login tool configured; add 'login' to the credentials file")
        card = self.cards.get(login.tool)
        if card is None:
            raise ExecutionError(
                f"{self.credentials.source}: login tool {login.tool!r} is not among the tools; "
                "run `zapi auth init` again to name the right one",
                tool=login.tool,
            )
        result = self.execute(login.tool, login.args, verify=False)
        absorb(self, card, result)
        self.logged_in = True
        return result

    def reauth(self, card: ToolCard) -> bool:
        """After a 401 or an expired session: refresh the token, else log in again.

        Returns ``False`` when there is nothing to renew (no login tool, or ``card``
        is the login or refresh tool itself).

        Raises:
            ExecutionError: the login failed.
        """
        login = self.credentials.login
        lcard = self.cards.get(login.tool) if login is not None else None
        if login is None or lcard is None or card.name == login.tool:
            return False
        if normalise_origin(lcard.origin) != normalise_origin(card.origin):
            return False  # that login gives no session on this card's origin
        renew = refresh_tool(self.cards.values(), lcard)
        if renew is not None and card.name == renew[0].name:
            return False
        if renew is not None and refresh(self, lcard, *renew):
            return True
        self.login()
        return True

    def session_expired(self, card: ToolCard, response: httpx.Response) -> bool:
        """Whether ``response`` sends ``card``'s call to the login page (an expired session)."""
        return expired(self, card, response)

    def close(self) -> None:
        """Close the client (if this runtime created it) and the log."""
        if self._own_client:
            self.client.close()
        self.log.close()

    def __enter__(self) -> Runtime:
        """Use as a context manager."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close on exit."""
        self.close()

    # -- one call -----------------------------------------------------------------------

    def _card(self, tool: str) -> ToolCard:
        card = self.cards.get(tool)
        if card is None:
            known = ", ".join(sorted(self.cards)[:20])
            raise InvalidArguments(f"unknown tool {tool!r}; known tools: {known}", tool=tool)
        return card

    def _run(
        self,
        tool: str,
        args: Mapping[str, Any],
        idempotency_key: str | None,
        call_id: str | None,
        ctx: CallContext,
    ) -> CallResult:
        card = self._card(tool)
        effective = self.prepare(tool, args, idempotency_key=idempotency_key)
        key = (
            (idempotency_key or self.new_id())
            if card.is_write and card.idempotency.header
            else None
        )
        call = CallState(card, effective, call_id or self.new_id(), key, ctx)
        attempts = Attempts(self, call)
        try:
            self._validators.check(card, effective)
            self.scope.check(card, (self.base_url or card.origin).rstrip("/") + card.path)
            if self.credentials.login is not None and not self.logged_in:
                # Refuse bad path, header or cookie values before a login's I/O; otherwise
                # the first attempt's build refuses them, still before anything is sent.
                build_request(card, effective, base_url=self.base_url)
            self._ensure_session(card)
            return attempts.run()
        except ExecutionError as exc:
            attempts.failed(exc)
            raise

    def _ensure_session(self, card: ToolCard) -> None:
        """Log in first when the card needs a session, token or CSRF token we lack."""
        if needs_login(self, card):
            self.login()

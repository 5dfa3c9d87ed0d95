"""The executor: validate, scope, authenticate, send with safe retries, reconcile, verify, log."""

from __future__ import annotations

import copy
import mimetypes
import os
import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

import httpx
import jsonschema
from pydantic import BaseModel, ConfigDict, Field

from runtime.actionlog import (
    ActionLog,
    AttemptFinished,
    AttemptStarted,
    CallFinished,
    LogRecord,
    Reconciled,
    Verified,
    excerpt,
)
from runtime.credentials import Credentials
from runtime.drift import Finding, diff_response, error_findings, unknown_required_field
from runtime.policy import (
    AMBIGUOUS_STATUSES,
    IDEMPOTENT_METHODS,
    NOT_APPLIED_STATUSES,
    RetryPolicy,
    Scope,
    parse_retry_after,
)
from runtime.settle import (
    Reader,
    ReconcileResult,
    VerificationReport,
    reconcile_write,
    verify_write,
)
from runtime.transport import Transport, was_sent
from toolgen.cards import ToolCard
from zapi.errors import (
    ExecutionError,
    InvalidArguments,
    OutcomeUnknown,
    RetryExhausted,
    SchemaDrift,
    TransportError,
    UpstreamStatusError,
    VerificationFailed,
)
from zapi.redact import Redactor

__all__ = ["AttemptHook", "CallResult", "ReconcileResult", "Runtime", "VerificationReport"]

AttemptHook = Callable[[LogRecord], None]
"""Called with each intent record right after it is stored and before the request is sent."""
Outcome = Literal["ok", "not_applied", "ambiguous", "failed"]


class CallResult(BaseModel):
    """The result of one tool call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: str
    call_id: str
    ok: bool = True
    status: int | None
    data: Any
    args: dict[str, Any]
    attempts: int
    intent_ids: list[int]
    record_ids: list[int]
    idempotency_key: str | None = None
    reconciled: Literal["landed"] | None = None
    verification: VerificationReport | None = None
    drift: list[Finding] = Field(default_factory=list)


@dataclass
class _Call:
    """Mutable bookkeeping of one call in flight."""

    card: ToolCard
    args: dict[str, Any]
    call_id: str
    key: str | None
    run_id: str | None
    step: int | None
    parent: str | None
    records: list[int] = field(default_factory=list)
    intents: list[int] = field(default_factory=list)
    known: list[str] = field(default_factory=list)
    last_request: dict[str, Any] = field(default_factory=dict)


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
        # Secrets given without an origin go to the tool set's only origin (or are refused).
        self.credentials = (credentials or Credentials()).bind(
            c.origin for c in self.cards.values()
        )
        self.base_url = base_url.rstrip("/") if base_url else None
        self.policy = policy or RetryPolicy()
        scope = scope or Scope()
        if self.base_url:
            scope = Scope(
                origins=scope.origins | Scope.for_origins([self.base_url]).origins,
                tools=scope.tools,
                safety=scope.safety,
            )
        self.scope = scope
        self.tools = _Tools(self)
        self._validators: dict[str, jsonschema.protocols.Validator] = {}
        self._logged_in = False
        for secret in self.credentials.values():
            self.redactor.learn(secret)
        self.credentials.install_cookies(self.client.cookies)

    # -- public API ---------------------------------------------------------------------

    def call(self, tool: str, /, **args: Any) -> CallResult:
        """Call ``tool`` with keyword arguments; see :meth:`execute`."""
        return self.execute(tool, args)

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
            InvalidArguments: the arguments do not match the schema; nothing was sent.
            ScopeDenied: host, tool or class outside the scope; nothing was sent.
            UpstreamStatusError: a non-retryable error status.
            SchemaDrift: the API now requires a field the card does not know.
            RetryExhausted: every attempt failed and nothing was applied.
            OutcomeUnknown: a write may have landed and no read could tell.
            VerificationFailed: the read after the write did not show the written values.
        """
        card = self._card(tool)
        effective = self.prepare(tool, args, idempotency_key=idempotency_key)
        key = None
        if card.is_write and card.idempotency.header:
            key = idempotency_key or self.new_id()
        call = _Call(card, effective, call_id or self.new_id(), key, run_id, step, _parent)
        try:
            self._validate(card, effective)
            parts = self._parts(card, effective)
            self.scope.check(card, parts["url"])
            self._ensure_session(card)
            result = self._attempts(call, parts, attempt_hook, verify)
        except ExecutionError as exc:
            exc.context.setdefault("call_id", call.call_id)
            if call.intents:
                exc.context.setdefault("intent_ids", list(call.intents))
            self._emit(
                call,
                CallFinished,
                ok=False,
                code=exc.code,
                attempts=len(call.intents),
                message=exc.message,
            )
            raise
        return result

    def reconcile(
        self,
        tool: str,
        args: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        call_id: str | None = None,
        run_id: str | None = None,
        step: int | None = None,
    ) -> ReconcileResult:
        """Find out, by reading, whether a write with these arguments landed.

        Pass the ``idempotency_key`` given to :meth:`execute` (the client id is derived
        from it the same way), or arguments already completed by :meth:`prepare`. Uses the
        card's reconcile plan (list and match, keyed by a client id), or for PUT/PATCH its
        verification plan (the written fields are in place). The reads are logged under
        ``call_id``. ``unknown`` when the card has no usable plan or the read fails; never
        raises for an API error.

        Raises:
            InvalidArguments: unknown tool.
        """
        card = self._card(tool)
        full = (
            self.prepare(tool, args, idempotency_key=idempotency_key)
            if idempotency_key
            else dict(args)
        )
        call = _Call(card, full, call_id or self.new_id(), None, run_id, step, None)
        return self._reconcile(call)

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

    # -- preparing a request ------------------------------------------------------------

    def _card(self, tool: str) -> ToolCard:
        card = self.cards.get(tool)
        if card is None:
            known = ", ".join(sorted(self.cards)[:20])
            raise InvalidArguments(f"unknown tool {tool!r}; known tools: {known}", tool=tool)
        return card

    def _validate(self, card: ToolCard, args: Mapping[str, Any]) -> None:
        validator = self._validators.get(card.name)
        if validator is None:
            cls = jsonschema.validators.validator_for(
                card.input_schema, default=jsonschema.Draft202012Validator
            )
            validator = cls(card.input_schema)
            self._validators[card.name] = validator
        error = jsonschema.exceptions.best_match(validator.iter_errors(dict(args)))
        if error is None:
            return
        where = "/".join(str(p) for p in error.absolute_path)
        if error.validator == "required":
            missing = [r for r in error.validator_value if r not in (error.instance or {})]
            msg, fld = f"missing required argument {missing[0]!r}", missing[0]
        elif error.validator == "additionalProperties":
            extra = sorted(set(error.instance or {}) - set(card.input_schema.get("properties", {})))
            msg, fld = f"unknown argument {extra[0]!r}", extra[0]
        else:
            fld = where or "(arguments)"
            msg = f"argument {fld!r}: {error.message}"
        raise InvalidArguments(
            f"{card.name}: {msg}; see `zapi tools` for the schema", tool=card.name, field=fld
        )

    def _parts(self, card: ToolCard, args: Mapping[str, Any]) -> dict[str, Any]:
        path = card.path
        params: list[tuple[str, Any]] = []
        headers: dict[str, str] = {}
        cookies: dict[str, str] = {}
        body: Any = copy.deepcopy(card.body_template) if card.body_template else None
        for b in card.bindings:
            if b.arg not in args:
                continue
            value = args[b.arg]
            if b.location == "path":
                text = str(value)
                greedy = bool(
                    card.input_schema.get("properties", {}).get(b.arg, {}).get("x-greedy")
                )
                pieces = text.split("/") if greedy else [text]
                if any(p in ("", ".", "..") for p in pieces):
                    raise InvalidArguments(
                        f"{card.name}: argument {b.arg!r} cannot be {text!r}",
                        tool=card.name,
                        field=b.arg,
                    )
                # A greedy (file path) parameter keeps its '/'; nothing else may add segments.
                path = path.replace("{" + b.name + "}", quote(text, safe="/" if greedy else ""))
            elif b.location == "query":
                values = value if b.array and isinstance(value, list) else [value]
                params += [(b.name, _scalar(v)) for v in values]
            elif b.location == "header":
                headers[b.name] = str(_scalar(value))
            elif b.location == "cookie":
                cookies[b.name] = str(_scalar(value))
            elif b.whole_body:
                body = value
            else:
                body = body if isinstance(body, dict) else {}
                names = b.name.split(".") if card.protocol != "rest" else [b.name]
                target = body
                for part in names[:-1]:
                    target = target.setdefault(part, {})
                target[names[-1]] = value
        base = self.base_url or card.origin.rstrip("/")
        return {
            "method": card.method.upper(),
            "url": base + path,
            "params": params,
            "headers": headers,
            "cookies": cookies,
            "body": body,
        }

    def _request(self, call: _Call, parts: Mapping[str, Any]) -> httpx.Request:
        card = call.card
        headers = dict(parts["headers"])
        params = list(parts["params"])
        cookies = dict(parts["cookies"])
        self.credentials.apply(
            card.auth,
            headers,
            params,
            cookies,
            tool=card.name,
            origin=card.origin,
            target=parts["url"],
        )
        if card.csrf:
            token = self.client.cookies.get(card.csrf.get("cookie", ""))
            if token:
                self.redactor.learn(token)
                headers[card.csrf.get("header", "X-CSRF-Token")] = token
        if call.key and card.idempotency.header:
            headers[card.idempotency.header] = call.key
        kwargs: dict[str, Any] = {}
        body = parts["body"]
        media = card.body_media.lower()
        if body is not None:
            if "multipart" in media and isinstance(body, dict):
                kwargs["data"], kwargs["files"] = _multipart(card, body)
            elif "form" in media and isinstance(body, dict):
                kwargs["data"] = {k: str(_scalar(v)) for k, v in body.items()}
            elif isinstance(body, str) and media and "json" not in media:
                kwargs["content"] = body.encode()
                headers.setdefault("Content-Type", card.body_media)
            else:
                kwargs["json"] = body
        return self.client.build_request(
            parts["method"],
            parts["url"],
            params=params or None,
            headers=headers,
            cookies=cookies or None,
            **kwargs,
        )

    def _ensure_session(self, card: ToolCard) -> None:
        """Log in first when the card needs a cookie session (or CSRF cookie) we lack."""
        login = self.credentials.login
        if login is None or self._logged_in or card.name == login.tool:
            return
        wanted = [s.partition(":")[2] for s in card.auth if s.startswith("cookie:")]
        have = all(
            f"cookie:{n}" in self.credentials.secrets or self.client.cookies.get(n) for n in wanted
        )
        csrf_missing = bool(card.csrf) and not self.client.cookies.get(
            (card.csrf or {}).get("cookie", "")
        )
        if not have or csrf_missing:
            self.login()

    def login(self) -> CallResult:
        """Run the credentials' login tool now; session cookies land in the client's jar.

        Raises:
            ExecutionError: no login tool is configured, or the login failed.
        """
        login = self.credentials.login
        if login is None:
            raise ExecutionError("no login tool configured; add 'login' to the credentials file")
        result = self.execute(login.tool, login.args, verify=False)
        for cookie in self.client.cookies.jar:
            if cookie.value:
                self.redactor.learn(cookie.value)
        self._logged_in = True
        return result

    # -- attempts -----------------------------------------------------------------------

    def _emit(self, call: _Call, cls: type[Any], **fields: Any) -> LogRecord:
        event = cls(
            call_id=call.call_id,
            tool=call.card.name,
            ts=self.clock(),
            run_id=call.run_id,
            step=call.step,
            parent_call_id=call.parent,
            **fields,
        )
        record = self.log.emit(event)
        call.records.append(record.seq)
        return record

    def _attempts(
        self, call: _Call, parts: Mapping[str, Any], hook: AttemptHook | None, verify: bool
    ) -> CallResult:
        card, policy = call.card, self.policy
        idempotent = card.method.upper() in IDEMPOTENT_METHODS or card.safety in (
            "read_only",
            "idempotent",
        )
        relogged = False
        attempt = 0
        while True:
            attempt += 1
            request = self._request(call, parts)
            call.last_request = {
                "method": request.method,
                "url": self.redactor.url(str(request.url)),
                "body": excerpt(parts["body"], self.redactor),
            }
            intent = self._emit(
                call,
                AttemptStarted,
                attempt=attempt,
                method=request.method,
                url=call.last_request["url"],
                headers=dict(self.redactor.headers(request.headers.multi_items())),
                body=call.last_request["body"],
                idempotency_key=call.key,
            )
            call.intents.append(intent.seq)
            if hook is not None:
                hook(intent)
            started = self.clock()
            response: httpx.Response | None = None
            error: TransportError | None = None
            try:
                response = self.transport.send(request, tool=card.name)
            except TransportError as exc:
                error = exc
            elapsed_ms = (self.clock() - started) * 1000
            outcome = _classify(response, error)
            status = response.status_code if response is not None else None
            data = _decode(response) if response is not None else None
            if outcome == "ok":
                assert response is not None
                drift = diff_response(card.output_schema, data) if response.is_success else []
                self._emit(
                    call,
                    AttemptFinished,
                    attempt=attempt,
                    intent_id=intent.seq,
                    status=status,
                    elapsed_ms=elapsed_ms,
                    outcome=outcome,
                    response=excerpt(data, self.redactor),
                    drift=drift,
                )
                return self._succeed(call, status, data, drift, verify, None)
            if outcome == "failed":
                assert response is not None
                findings = error_findings(card, response.status_code, data)
                self._emit(
                    call,
                    AttemptFinished,
                    attempt=attempt,
                    intent_id=intent.seq,
                    status=status,
                    elapsed_ms=elapsed_ms,
                    outcome=outcome,
                    response=excerpt(data, self.redactor),
                    drift=findings,
                    code="upstream_status",
                )
                if (
                    status == 401
                    and not relogged
                    and self.credentials.login is not None
                    and (card.name != self.credentials.login.tool)
                ):
                    relogged = True
                    self.login()
                    continue
                raise self._status_error(call, response.status_code, data)
            retry_after = parse_retry_after(
                response.headers.get("retry-after") if response is not None else None, self.clock()
            )
            wait = policy.delay(attempt, retry_after, self.rand)
            more = attempt < policy.max_attempts
            what = (
                f"status {status}"
                if status is not None
                else (error.context.get("kind", "transport error") if error else "?")
            )
            call.known.append(f"attempt {attempt} (record {intent.seq}): {what}, {outcome}")
            self._emit(
                call,
                AttemptFinished,
                attempt=attempt,
                intent_id=intent.seq,
                status=status,
                elapsed_ms=elapsed_ms,
                outcome=outcome,
                response=excerpt(data, self.redactor),
                error=error.message if error else None,
                retry_in_s=wait
                if more and (outcome == "not_applied" or not card.is_write)
                else None,
                code=error.code if error else "retryable_status",
            )
            if outcome == "ambiguous" and card.is_write:
                resolved = self._resolve_ambiguous(call, intent.seq, idempotent, more)
                if resolved is not None:
                    return self._succeed(call, None, resolved.evidence, [], verify, resolved)
            if not more:
                raise RetryExhausted(
                    f"{card.name}: {attempt} attempt(s) failed ({what}); nothing was applied "
                    f"as far as the API says; see `zapi log --tool {card.name}`",
                    tool=card.name,
                    status=status,
                    record_id=intent.seq,
                )
            self.sleep(wait)

    def _resolve_ambiguous(
        self, call: _Call, intent_id: int, idempotent: bool, more: bool
    ) -> ReconcileResult | None:
        """Decide after an ambiguous write: accept (returned), resend (``None``) or raise."""
        card = call.card
        if call.key:
            if more:
                self._emit(
                    call,
                    Reconciled,
                    intent_id=intent_id,
                    result="unknown",
                    action="resend",
                    detail=f"resending with the same {card.idempotency.header} key",
                )
                return None
            self._unknown(call, intent_id, "retries exhausted with the idempotency key")
        found = self._reconcile(call)
        if found.result == "landed":
            self._emit(
                call,
                Reconciled,
                intent_id=intent_id,
                result="landed",
                action="accept",
                detail=found.detail,
                evidence=excerpt(found.evidence, self.redactor),
            )
            return found
        if found.result == "not_landed" or idempotent:
            why = (
                found.detail
                if found.result == "not_landed"
                else (f"{found.detail}; {card.method} is idempotent")
            )
            if more:
                self._emit(
                    call,
                    Reconciled,
                    intent_id=intent_id,
                    result=found.result,
                    action="resend",
                    detail=why,
                )
                return None
            if found.result == "not_landed":
                self._emit(
                    call,
                    Reconciled,
                    intent_id=intent_id,
                    result=found.result,
                    action="raise",
                    detail=why,
                )
                return None  # the caller raises RetryExhausted: nothing was applied
        self._unknown(call, intent_id, found.detail)
        return None  # pragma: no cover - _unknown raises

    def _unknown(self, call: _Call, intent_id: int, detail: str) -> None:
        card = call.card
        self._emit(
            call,
            Reconciled,
            intent_id=intent_id,
            result="unknown",
            action="raise",
            detail=detail,
            code="outcome_unknown",
        )
        raise OutcomeUnknown(
            f"{card.name}: the write may or may not have landed ({'; '.join(call.known)}); "
            f"reconcile: {detail}. Check the API before retrying; the intent is record "
            f"{intent_id} (`zapi log --tool {card.name}`)",
            tool=card.name,
            record_id=intent_id,
            sent=call.last_request,
            known=list(call.known),
            args=excerpt(call.args, self.redactor),
            reconcile=detail,
        )

    def _status_error(self, call: _Call, status: int, data: Any) -> ExecutionError:
        card = call.card
        fld = unknown_required_field(card, data) if 400 <= status < 500 else None
        if fld is not None:
            return SchemaDrift(
                f"{card.name}: the API now requires field {fld!r}, which the card does not "
                f"know (status {status}); re-record and re-run zapi analyze",
                tool=card.name,
                field=fld,
                status=status,
                body=excerpt(data, self.redactor),
                record_id=call.intents[-1] if call.intents else None,
            )
        return UpstreamStatusError(
            f"{card.name}: the API answered {status}: {_short(data)}",
            tool=card.name,
            status=status,
            body=excerpt(data, self.redactor),
            record_id=call.intents[-1] if call.intents else None,
        )

    # -- success, verification, reconcile -----------------------------------------------

    def _succeed(
        self,
        call: _Call,
        status: int | None,
        data: Any,
        drift: list[Finding],
        verify: bool,
        reconciled: ReconcileResult | None,
    ) -> CallResult:
        card = call.card
        report = None
        if verify and card.is_write and card.verification is not None:
            report = self._verify(call, data)
        self._emit(
            call,
            CallFinished,
            ok=True,
            status=status,
            attempts=len(call.intents),
            result=excerpt(data, self.redactor),
            message="write confirmed by reconcile" if reconciled else "",
        )
        return CallResult(
            tool=card.name,
            call_id=call.call_id,
            status=status,
            data=data,
            args=call.args,
            attempts=len(call.intents),
            intent_ids=list(call.intents),
            record_ids=list(call.records),
            idempotency_key=call.key,
            reconciled="landed" if reconciled else None,
            verification=report,
            drift=drift,
        )

    def _read(self, call: _Call) -> Reader:
        """A read on behalf of ``call`` (logged under it, never itself verified)."""

        def read(tool: str, args: dict[str, Any]) -> Any:
            return self.execute(
                tool, args, verify=False, _parent=call.call_id, run_id=call.run_id, step=call.step
            ).data

        return read

    def _verify(self, call: _Call, data: Any) -> VerificationReport | None:
        card = call.card
        outcome = verify_write(card, call.args, data, self._read(call), self.policy, self.sleep)
        if outcome is None:
            self._emit(call, Verified, ok=True, reads=0, code="verification_skipped")
            return None
        mismatches, reads = outcome
        self._emit(
            call,
            Verified,
            ok=not mismatches,
            reads=reads,
            mismatches=mismatches,
            code="ok" if not mismatches else "verification_failed",
        )
        plan = card.verification
        assert plan is not None
        if mismatches:
            exp = {m.pointer: m.expected for m in mismatches}
            obs = {m.pointer: m.observed for m in mismatches}
            raise VerificationFailed(
                f"{card.name}: the API acknowledged the write but {plan.tool} shows "
                + ", ".join(
                    f"{m.pointer}={m.observed!r} (expected {m.expected!r})" for m in mismatches[:5]
                ),
                tool=card.name,
                expected=exp,
                observed=obs,
                record_id=call.records[-1],
            )
        return VerificationReport(ok=True, read_tool=plan.tool, reads=reads)

    def _reconcile(self, call: _Call) -> ReconcileResult:
        return reconcile_write(call.card, call.args, self._read(call), self.policy, self.sleep)


def _classify(response: httpx.Response | None, error: TransportError | None) -> Outcome:
    if error is not None:
        return "ambiguous" if was_sent(error) else "not_applied"
    assert response is not None
    status = response.status_code
    if status < 400:
        return "ok"
    if status in NOT_APPLIED_STATUSES:
        return "not_applied"
    if status in AMBIGUOUS_STATUSES:
        return "ambiguous"
    return "failed"


def _decode(response: httpx.Response) -> Any:
    if not response.content:
        return None
    ctype = response.headers.get("content-type", "")
    text = response.text
    if "json" in ctype or text[:1] in ("{", "["):
        try:
            return response.json()
        except ValueError:
            pass
    return text


def _multipart(
    card: ToolCard, body: Mapping[str, Any]
) -> tuple[dict[str, str], dict[str, tuple[str, bytes, str]]]:
    """Split a multipart body into fields and files; a file argument is a local path."""
    props = card.input_schema.get("properties", {})
    binary = {
        b.name: b.arg
        for b in card.bindings
        if b.location == "body" and props.get(b.arg, {}).get("format") == "binary"
    }
    data: dict[str, str] = {}
    files: dict[str, tuple[str, bytes, str]] = {}
    for name, value in body.items():
        if name not in binary:
            data[name] = str(_scalar(value))
            continue
        path = str(value)
        try:
            with open(path, "rb") as fh:
                content = fh.read()
        except OSError as exc:
            raise InvalidArguments(
                f"{card.name}: argument {binary[name]!r} must be the path of a readable file "
                f"({exc.strerror}: {path})",
                tool=card.name,
                field=binary[name],
            ) from exc
        ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
        files[name] = (os.path.basename(path), content, ctype)
    return data, files


def _scalar(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _short(data: Any) -> str:
    text = str(data)
    return text if len(text) <= 200 else text[:200] + "..."

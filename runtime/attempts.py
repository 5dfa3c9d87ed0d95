"""One call in flight: build each attempt, send it, record it, decide, settle, verify.

The attempt loop owns every record a call writes (intent, attempt end, reconcile
decision, verification, call end), so each kind is emitted in exactly one place.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx

from runtime import failures
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
from runtime.calls import CallResult, CallState, Sent, decode
from runtime.credentials import Credentials, normalise_origin
from runtime.drift import Finding, diff_response, error_findings
from runtime.outcomes import Decision, Outcome, classify_error, classify_status, decide
from runtime.policy import IDEMPOTENT_METHODS, RetryPolicy, parse_retry_after
from runtime.request import AuthMaterial, Fresh, WireRequest, build_request
from runtime.session import Session
from runtime.settle import (
    Reader,
    ReconcileResult,
    VerificationReport,
    reconcile_write,
    snapshot_identities,
    verify_write,
)
from runtime.transport import Transport
from runtime.uploads import read_files
from toolgen.cards import ToolCard
from zapi.errors import (
    ExecutionError,
    InvalidArguments,
    RetryExhausted,
    ScopeDenied,
    TransportError,
    UpstreamStatusError,
)
from zapi.redact import Redactor

__all__ = ["Attempts", "Services"]


class Services(Protocol):
    """What one call needs from its runtime (:class:`runtime.Runtime` provides it)."""

    client: httpx.Client
    transport: Transport
    log: ActionLog
    redactor: Redactor
    credentials: Credentials
    policy: RetryPolicy
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    rand: Callable[[], float]
    base_url: str | None
    files_root: str
    session: Session

    def reauth(self, card: ToolCard) -> bool:
        """Refresh the token or log in again; ``False`` when nothing can be renewed."""
        ...

    def session_expired(self, card: ToolCard, response: httpx.Response) -> bool:
        """Whether the answer sends the call to the login page."""
        ...

    def execute(
        self,
        tool: str,
        args: Mapping[str, Any],
        *,
        verify: bool = True,
        run_id: str | None = None,
        step: int | None = None,
        _parent: str | None = None,
    ) -> CallResult:
        """Run another call (the reads that settle or verify this one)."""
        ...


class Attempts:
    """Runs one call of ``rt`` to a result, recording every step in ``rt.log``."""

    def __init__(self, rt: Services, call: CallState) -> None:
        """Drive ``call`` with the runtime's client, log, policy, clock and credentials."""
        self.rt = rt
        self.call = call

    def wire(self) -> tuple[WireRequest, httpx.Request]:
        """Build this attempt's request: fresh cache-busters, current credentials and CSRF."""
        card = self.call.card
        headers: dict[str, str] = {}
        params: list[tuple[str, Any]] = []
        cookies: dict[str, str] = {}
        self.rt.credentials.apply(
            card.auth,
            headers,
            params,
            cookies,
            tool=card.name,
            origin=card.origin,
            target=self.rt.base_url or card.origin,
        )
        body: dict[str, str] = {}
        if card.csrf:
            token = self.rt.client.cookies.get(card.csrf.get("cookie", "")) or (
                self.rt.session.csrf_tokens.get(normalise_origin(card.origin), "")
            )
            if token:
                self.rt.redactor.learn(token)
                if card.csrf.get("field"):
                    body[card.csrf["field"]] = token
                if card.csrf.get("header") or not card.csrf.get("field"):
                    headers[card.csrf.get("header", "X-CSRF-Token")] = token
        fresh = (
            Fresh(self.rt.clock(), uuid.uuid4().hex)
            if any(f.generate for f in card.fixed)
            else None
        )
        wire = build_request(
            card,
            self.call.args,
            base_url=self.rt.base_url,
            auth=AuthMaterial(headers, params, cookies, body),
            idempotency_key=self.call.key,
            fresh=fresh,
        )
        files = read_files(card.name, wire.files, self.rt.files_root) if wire.files else None
        return wire, self.rt.transport.build(wire, files, tool=card.name)

    def emit(self, cls: type[Any], **fields: Any) -> LogRecord:
        """Record one event of this call (with its run, step and parent)."""
        ctx = self.call.ctx
        event = cls(
            call_id=self.call.call_id,
            tool=self.call.card.name,
            ts=self.rt.clock(),
            run_id=ctx.run_id,
            step=ctx.step,
            parent_call_id=ctx.parent,
            **fields,
        )
        record = self.rt.log.emit(event)
        self.call.records.append(record.seq)
        return record

    def run(self) -> CallResult:
        """Send attempts until a definite result, a decision to stop, or the policy's limit.

        Raises:
            ExecutionError: what the call came to when it did not succeed.
        """
        card, policy = self.call.card, self.rt.policy
        idempotent = card.method.upper() in IDEMPOTENT_METHODS or card.safety in (
            "read_only",
            "idempotent",
        )
        relogged = False
        attempt = 0
        if card.is_write and not self.call.key and self.call.snapshot is None:
            # a create the server names: what its list shows before anything is sent
            self.call.snapshot = snapshot_identities(card, self.call.args, self.read())
        while True:
            attempt += 1
            try:
                wire, request = self.wire()
            except InvalidArguments as exc:  # refused now, but an earlier send may have landed
                return self.give_up(exc)
            intent = self.intent(attempt, wire, request)
            sent = self.send(request)
            more = attempt < policy.max_attempts
            expired = (
                sent.response is not None
                and sent.outcome is Outcome.OK
                and self.rt.session_expired(card, sent.response)
            )
            if expired:
                # Sent to the login page: the session is gone and the call was not applied.
                self.finished(attempt, intent, sent)
                if not relogged:
                    relogged = True
                    if self.rt.reauth(card):
                        continue
                return self.give_up(
                    failures.status_error(
                        card, 401, "redirected to the login page", self.rt.redactor, intent.seq
                    )
                )
            if sent.outcome is Outcome.OK and not expired:
                assert sent.response is not None
                ok = sent.response.is_success
                self.call.response_headers = dict(sent.response.headers)
                drift = diff_response(card.output_schema, sent.data) if ok else []
                self.finished(attempt, intent, sent, drift=drift)
                headers = dict(sent.response.headers)
                return self.succeed(sent.status, sent.data, drift, None, headers=headers)
            if sent.outcome is not Outcome.NOT_APPLIED and sent.outcome is not Outcome.AMBIGUOUS:
                findings = (
                    error_findings(card, sent.status, sent.data) if sent.status is not None else []
                )
                self.finished(attempt, intent, sent, drift=findings)
                stale_csrf = (
                    sent.status == 403 and bool(card.csrf) and "csrf" in str(sent.data).lower()
                )
                if (sent.status == 401 or stale_csrf) and not relogged:
                    # A 401 (or a refused CSRF token) means the API did not apply the call:
                    # renew the session once, send once more.
                    relogged = True
                    if self.rt.reauth(card):
                        continue
                error = sent.error or failures.status_error(
                    card, sent.status or 0, sent.data, self.rt.redactor, intent.seq
                )
                return self.give_up(error)
            retry_after = parse_retry_after(
                sent.response.headers.get("retry-after") if sent.response else None, self.rt.clock()
            )
            wait = policy.delay(attempt, retry_after, self.rt.rand)
            what = f"status {sent.status}" if sent.status is not None else "transport error"
            if isinstance(sent.error, TransportError):
                what = str(sent.error.context.get("kind", what))
            self.call.known.append(
                f"attempt {attempt} (record {intent.seq}): {what}, {sent.outcome}"
            )
            resend_now = more and (sent.outcome is Outcome.NOT_APPLIED or not card.is_write)
            self.finished(attempt, intent, sent, retry_in_s=wait if resend_now else None)
            if sent.outcome is Outcome.AMBIGUOUS and card.is_write:
                self.call.unsettled.append(intent.seq)
                decision = self.decide(idempotent, more)
                accepted = self.act(intent.seq, decision)
                if accepted is not None:
                    return accepted
            if not more:
                return self.give_up(
                    RetryExhausted(
                        f"{card.name}: {attempt} attempt(s) failed ({what}); nothing was "
                        f"applied as far as the API says; see `zapi log --tool {card.name}`",
                        tool=card.name,
                        status=sent.status,
                        record_id=intent.seq,
                    ),
                )
            self.rt.sleep(wait)

    def intent(self, attempt: int, wire: WireRequest, request: httpx.Request) -> LogRecord:
        """Record the intent of one attempt (before it is sent) and tell the hook."""
        self.call.last_request = {
            "method": request.method,
            "url": self.rt.redactor.url(str(request.url)),
            "body": excerpt(wire.body, self.rt.redactor),
        }
        intent = self.emit(
            AttemptStarted,
            attempt=attempt,
            method=request.method,
            url=self.call.last_request["url"],
            headers=dict(self.rt.redactor.headers(request.headers.multi_items())),
            body=self.call.last_request["body"],
            idempotency_key=self.call.key,
        )
        self.call.intents.append(intent.seq)
        if self.call.ctx.hook is not None:
            self.call.ctx.hook(intent)
        return intent

    def send(self, request: httpx.Request) -> Sent:
        """Send one request and classify what came back (a redirect loop ends it as failed)."""
        started = self.rt.clock()
        try:
            response = self.rt.transport.send(request, tool=self.call.card.name)
        except TransportError as exc:
            ms = (self.rt.clock() - started) * 1000
            return Sent(classify_error(exc), None, exc, None, ms)
        except InvalidArguments as exc:  # refused before sending: nothing left
            return Sent(Outcome.REFUSED, None, exc, None, (self.rt.clock() - started) * 1000)
        except (UpstreamStatusError, ScopeDenied) as exc:  # a redirect loop or to another host
            return Sent(Outcome.FAILED, None, exc, None, (self.rt.clock() - started) * 1000)
        elapsed_ms = (self.rt.clock() - started) * 1000
        data = decode(response)
        return Sent(classify_status(response.status_code), response, None, data, elapsed_ms)

    def finished(self, attempt: int, intent: LogRecord, sent: Sent, **fields: Any) -> None:
        """The one place an attempt's end is recorded."""
        error = sent.error
        codes = {
            Outcome.FAILED: error.code if error else "upstream_status",
            Outcome.REFUSED: "refused",
            Outcome.NOT_APPLIED: error.code if error else "retryable_status",
            Outcome.AMBIGUOUS: error.code if error else "retryable_status",
        }
        self.emit(
            AttemptFinished,
            attempt=attempt,
            intent_id=intent.seq,
            status=sent.status,
            elapsed_ms=sent.elapsed_ms,
            outcome=Outcome.NOT_APPLIED if sent.outcome is Outcome.REFUSED else sent.outcome,
            response=excerpt(sent.data, self.rt.redactor),
            error=error.message if error else None,
            **({"code": codes[sent.outcome]} if sent.outcome in codes else {}),
            **fields,
        )

    # -- settling an ambiguous write ------------------------------------------------------

    def decide(self, idempotent: bool, more: bool) -> Decision:
        """After an ambiguous write: accept it as landed, resend it, or stop (reads if keyless)."""
        card = self.call.card
        if self.call.key:
            header = card.idempotency.header or ""
            return decide(None, "", keyed=header, idempotent=idempotent, more=more, method="")
        found = self.reconcile()
        return decide(
            found.result,
            found.detail,
            found.evidence,
            idempotent=idempotent,
            more=more,
            method=card.method,
        )

    def act(self, intent_id: int, decision: Decision) -> CallResult | None:
        """Record ``decision`` and carry it out: a result (accept), ``None`` (go on), or raise.

        Raises:
            OutcomeUnknown: the write may have landed and nothing could tell.
        """
        unknown = decision.action == "raise" and decision.verdict == "unknown"
        self.emit(
            Reconciled,
            intent_id=intent_id,
            result=decision.verdict,
            action=decision.action,
            detail=decision.detail,
            evidence=excerpt(decision.evidence, self.rt.redactor)
            if decision.action == "accept"
            else None,
            **({"code": "outcome_unknown"} if unknown else {}),
        )
        if decision.verdict != "unknown":  # a read settled every earlier send of this write
            self.call.unsettled.clear()
        if decision.action == "accept":
            found = ReconcileResult(result="landed", detail=decision.detail)
            return self.succeed(None, decision.evidence, [], found)
        if unknown:
            raise failures.outcome_unknown(
                self.call.card,
                intent_id,
                decision.detail,
                known=self.call.known,
                sent=self.call.last_request,
                args=excerpt(self.call.args, self.rt.redactor),
            )
        return None

    def give_up(self, error: ExecutionError) -> CallResult:
        """End a failed call: raise ``error``, unless an earlier send may have landed.

        Then the call's fate is unknown until a read settles it, whatever later attempts
        answered: accepted when the read finds the write, ``error`` when it finds none,
        else ``OutcomeUnknown``.

        Raises:
            ExecutionError: ``error``, or ``OutcomeUnknown``.
        """
        if not (self.call.unsettled and self.call.card.is_write):
            raise error
        first = self.call.unsettled[0]
        found = self.reconcile()  # no more sends: accept, or raise what is known
        decision = decide(
            found.result, found.detail, found.evidence, idempotent=False, more=False, method=""
        )
        accepted = self.act(first, decision)
        if accepted is not None:
            return accepted
        raise error

    # -- success, verification, reconcile -----------------------------------------------

    def failed(self, exc: ExecutionError) -> None:
        """Record the call's end with ``exc`` (the context learns the call and its intents)."""
        call = self.call
        exc.context.setdefault("call_id", call.call_id)
        if call.intents:
            exc.context.setdefault("intent_ids", list(call.intents))
        n = len(call.intents)
        self.emit(CallFinished, ok=False, code=exc.code, attempts=n, message=exc.message)

    def succeed(
        self,
        status: int | None,
        data: Any,
        drift: list[Finding],
        reconciled: ReconcileResult | None,
        *,
        headers: dict[str, str] | None = None,
    ) -> CallResult:
        """Verify (when asked and planned), record the call's end and return its result.

        ``headers`` are the write response's (a plan may read the created resource at its
        ``Location``).
        """
        call = self.call
        card = call.card
        report = None
        if call.ctx.verify and card.is_write and card.verification is not None:
            report = self.verify(data, headers)
        self.emit(
            CallFinished,
            ok=True,
            status=status,
            attempts=len(call.intents),
            result=excerpt(data, self.rt.redactor),
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
            headers=call.response_headers,
        )

    def read(self) -> Reader:
        """A read on behalf of this call (logged under it, never itself verified)."""
        call = self.call

        def read(tool: str, args: dict[str, Any]) -> Any:
            ctx = call.ctx
            return self.rt.execute(
                tool, args, verify=False, _parent=call.call_id, run_id=ctx.run_id, step=ctx.step
            ).data

        return read

    def verify(self, data: Any, headers: dict[str, str] | None = None) -> VerificationReport | None:
        """Read the write back; record what was found.

        Raises:
            VerificationFailed: the read did not show the written values.
        """
        card = self.call.card
        rt = self.rt
        outcome = verify_write(
            card, self.call.args, data, self.read(), rt.policy, rt.sleep, headers=headers
        )
        if outcome is None:
            self.emit(Verified, ok=True, reads=0, code="verification_skipped")
            return None
        mismatches, reads = outcome
        code = "ok" if not mismatches else "verification_failed"
        self.emit(Verified, ok=not mismatches, reads=reads, mismatches=mismatches, code=code)
        plan = card.verification
        assert plan is not None
        if mismatches:
            raise failures.verification_failed(card, plan.tool, mismatches, self.call.records[-1])
        return VerificationReport(ok=True, read_tool=plan.tool, reads=reads)

    def reconcile(self) -> ReconcileResult:
        """Whether this call's write landed, as far as the card's reconcile plan can read."""
        call = self.call
        return reconcile_write(
            call.card,
            call.args,
            self.read(),
            self.rt.policy,
            self.rt.sleep,
            snapshot=call.snapshot,
        )

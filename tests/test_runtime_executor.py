"""Runtime executor: validation, scope, credentials, safe retries, reconcile, verify, drift."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fakes import ORIGIN, TOKEN, FakeApi, FakeClock, card, cards

from runtime import (
    ActionLog,
    AttemptFinished,
    Credentials,
    LoginSpec,
    RetryPolicy,
    Runtime,
    SqliteStore,
)
from toolgen.cards import Binding, FixedValue, Idempotency, ToolCard
from zapi.errors import (
    ExecutionError,
    InvalidArguments,
    OutcomeUnknown,
    RetryExhausted,
    SchemaDrift,
    ScopeDenied,
    TransportError,
    UpstreamStatusError,
    VerificationFailed,
)


def make_rt(api: FakeApi, clock: FakeClock | None = None, **kw: Any) -> Runtime:
    clock = clock or FakeClock()
    kw.setdefault("credentials", Credentials(secrets={"bearer": TOKEN}))
    kw.setdefault("policy", RetryPolicy(initial_interval_s=0.5, jitter=0.0))
    ids = iter(range(1, 10_000))
    return Runtime(
        cards(),
        client=api.client(),
        clock=clock,
        sleep=clock.sleep,
        rand=lambda: 0.0,
        new_id=lambda: f"id{next(ids)}",
        **kw,
    )


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


class TestArguments:
    """Arguments are validated against the card before any I/O."""

    def test_missing_required_names_the_field(self, api: FakeApi) -> None:
        with pytest.raises(InvalidArguments, match="'quantity'") as err:
            make_rt(api).call("update_stock", sku="A-1")
        assert err.value.context["field"] == "quantity"
        assert api.requests == []

    def test_wrong_type_names_the_field(self, api: FakeApi) -> None:
        with pytest.raises(InvalidArguments, match="'quantity'"):
            make_rt(api).call("update_stock", sku="A-1", quantity="seven")
        assert api.requests == []

    def test_unknown_argument_is_refused(self, api: FakeApi) -> None:
        with pytest.raises(InvalidArguments, match="unknown argument 'colour'"):
            make_rt(api).call("get_item", sku="A-1", colour="red")

    def test_unknown_tool(self, api: FakeApi) -> None:
        with pytest.raises(InvalidArguments, match="unknown tool"):
            make_rt(api).call("nope")

    def test_path_traversal_is_refused(self, api: FakeApi) -> None:
        with pytest.raises(InvalidArguments):
            make_rt(api).call("get_item", sku="..")
        make_rt(api).call("get_item", sku="A-1/../B-2")
        assert api.requests[0].url.raw_path == b"/items/A-1%2F..%2FB-2"

    def test_attribute_access_and_dir(self, api: FakeApi) -> None:
        rt = make_rt(api)
        assert rt.tools.get_item(sku="A-1").data["quantity"] == 5
        assert "update_stock" in dir(rt.tools)
        with pytest.raises(AttributeError):
            rt.tools.nope  # noqa: B018


class TestScope:
    """Hosts outside the card origin or --base-url are refused; redirects never leave it."""

    def test_base_url_is_allowed_and_used(self, api: FakeApi) -> None:
        rt = make_rt(api, base_url=ORIGIN + "/")
        rt.call("get_item", sku="A-1")
        assert str(api.requests[0].url) == ORIGIN + "/items/A-1"

    def test_redirect_to_other_host_is_refused_without_sending(self, api: FakeApi) -> None:
        with pytest.raises(ScopeDenied, match="evil.example.net"):
            make_rt(api).call("moved")
        assert all(r.url.host == "api.example.test" for r in api.requests)

    def test_same_origin_redirect_is_followed_with_credentials(self, api: FakeApi) -> None:
        result = make_rt(api).call("old_item")
        assert result.data["sku"] == "A-1"
        assert api.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"

    def test_safety_scope(self, api: FakeApi) -> None:
        from runtime import Scope

        rt = make_rt(api, scope=Scope(safety=frozenset({"read_only"})))
        with pytest.raises(ScopeDenied, match="idempotent"):
            rt.call("update_stock", sku="A-1", quantity=1)
        assert api.requests == []


class TestRetries:
    """Retries follow the policy and never duplicate a write."""

    def test_429_retry_after_is_waited_out(self, api: FakeApi) -> None:
        clock = FakeClock()
        api.fail("GET /items", ("status", 429, {"Retry-After": "3"}), ("status", 503, {}))
        result = make_rt(api, clock).call("get_item", sku="A-1")
        assert result.attempts == 3
        assert clock.sleeps == [3.0, 1.0]  # Retry-After, then backoff 0.5 * 2

    def test_400_is_attempted_once(self, api: FakeApi) -> None:
        clock = FakeClock()
        api.fail("GET /items", ("status", 400))
        with pytest.raises(UpstreamStatusError) as err:
            make_rt(api, clock).call("get_item", sku="A-1")
        assert err.value.status == 400
        assert len(api.requests) == 1 and clock.sleeps == []

    def test_exhaustion(self, api: FakeApi) -> None:
        api.fail("GET /items", *[("status", 503)] * 4)
        with pytest.raises(RetryExhausted):
            make_rt(api).call("get_item", sku="A-1")
        assert len(api.requests) == 4

    def test_post_without_plan_is_never_resent(self, api: FakeApi) -> None:
        api.fail("POST /notes", ("commit_then", 504))
        with pytest.raises(OutcomeUnknown) as err:
            make_rt(api).call("add_note", text="hello")
        assert len(api.sent("POST", "/notes")) == 1
        ctx = err.value.context
        assert ctx["record_id"] == 1 and ctx["intent_ids"] == [1]
        assert ctx["sent"]["method"] == "POST" and ctx["sent"]["body"] == {"text": "hello"}
        assert "504" in ctx["known"][0] and ctx["reconcile"]

    def test_post_transport_drop_is_never_resent(self, api: FakeApi) -> None:
        api.fail("POST /notes", ("drop",))
        with pytest.raises(OutcomeUnknown, match="ReadTimeout"):
            make_rt(api).call("add_note", text="hello")
        assert len(api.sent("POST", "/notes")) == 1

    def test_post_not_sent_is_retried(self, api: FakeApi) -> None:
        api.fail("POST /notes", ("connect_error",), ("status", 503))
        assert make_rt(api).call("add_note", text="x").attempts == 3

    def test_reconcile_finds_landed_write(self, api: FakeApi) -> None:
        api.fail("POST /orders", ("commit_then_drop",))
        result = make_rt(api).call("create_order", sku="A-1", quantity=2)
        assert len(api.orders) == 1 and len(api.sent("POST", "/orders")) == 1
        assert result.reconciled == "landed" and result.data["client_ref"] == "zapi-id1"
        assert result.verification is not None and result.verification.ok

    def test_reconcile_resends_when_write_did_not_land(self, api: FakeApi) -> None:
        api.fail("POST /orders", ("drop",))
        result = make_rt(api).call("create_order", sku="A-1", quantity=2, client_ref="r-1")
        assert len(api.orders) == 1 and len(api.sent("POST", "/orders")) == 2
        assert result.status == 201 and result.reconciled is None

    def test_idempotency_key_resend_uses_same_key(self, api: FakeApi) -> None:
        api.fail("POST /payments", ("commit_then", 504), ("commit_then_drop",))
        result = make_rt(api).call("pay", amount=10)
        keys = {r.headers["idempotency-key"] for r in api.sent("POST", "/payments")}
        assert len(api.sent("POST", "/payments")) == 3 and len(keys) == 1
        assert len(api.payments) == 1 and result.data["amount"] == 10

    def test_put_ambiguous_is_reconciled_not_blindly_resent(self, api: FakeApi) -> None:
        api.fail("PUT /items", ("commit_then", 504))
        result = make_rt(api).call("update_stock", sku="A-1", quantity=11)
        assert len(api.sent("PUT", "/items/A-1")) == 1 and result.reconciled == "landed"

    def test_put_ambiguous_not_landed_is_resent(self, api: FakeApi) -> None:
        api.fail("PUT /items", ("drop",))
        make_rt(api).call("update_stock", sku="A-1", quantity=11)
        assert len(api.sent("PUT", "/items/A-1")) == 2 and api.items["A-1"]["quantity"] == 11


class TestLogOfAmbiguity:
    """Each ambiguous outcome and its resolution is in the log."""

    def test_reconciled_event(self, api: FakeApi) -> None:
        api.fail("POST /orders", ("drop",))
        rt = make_rt(api)
        result = rt.call("create_order", sku="A-1", quantity=2, client_ref="r-1")
        kinds = [
            (r.event.kind, getattr(r.event, "outcome", getattr(r.event, "action", "")))
            for r in rt.log.records(call_id=result.call_id)
            if r.event.tool == "create_order"
        ]
        assert ("attempt_finished", "ambiguous") in kinds
        assert ("reconciled", "resend") in kinds
        assert kinds[-1][0] == "call_finished"

    def test_attempt_hook_sees_intent_before_send(self, api: FakeApi) -> None:
        seen: list[int] = []
        rt = make_rt(api)

        def hook(record: Any) -> None:
            seen.append(len(api.requests))
            assert record.event.kind == "attempt_started"

        result = rt.execute("get_item", {"sku": "A-1"}, attempt_hook=hook)
        assert seen == [0] and result.intent_ids == [1]


class TestVerificationAndDrift:
    """Writes are read back; shape changes are findings; new required fields are drift."""

    def test_lie_is_caught(self, api: FakeApi) -> None:
        api.fail("PUT /items", ("lie",))
        clock = FakeClock()
        with pytest.raises(VerificationFailed) as err:
            make_rt(api, clock).call("update_stock", sku="A-1", quantity=42)
        assert err.value.expected == {"/quantity": 42}
        assert err.value.observed == {"/quantity": 5}
        assert clock.sleeps == [0.2, 0.2]  # bounded polling

    def test_drift_findings(self, api: FakeApi) -> None:
        api.extra_field = True
        result = make_rt(api).call("get_item", sku="A-1")
        got = {(f.kind, f.field) for f in result.drift}
        assert got == {("new_field", "region_id"), ("missing_required", "name")}

    def test_unknown_required_field_is_schema_drift(self, api: FakeApi) -> None:
        api.require_region = True
        rt = make_rt(api)
        with pytest.raises(SchemaDrift, match="region_id") as err:
            rt.call("update_stock", sku="A-1", quantity=3)
        assert err.value.context["field"] == "region_id"
        finished = [r.event for r in rt.log.records(kinds=["attempt_finished"])]
        assert isinstance(finished[-1], AttemptFinished)
        assert any(f.field == "region_id" for f in finished[-1].drift)


class TestCredentials:
    """Secrets come by reference, go only where the card says, and never into the log."""

    def test_login_cookie_session_and_csrf(self, api: FakeApi, tmp_path: Any) -> None:
        creds = Credentials(
            login=LoginSpec(
                tool="login", args={"username": "alice", "password": "pa55word-very-secret"}
            )
        )
        db = tmp_path / "log.db"
        rt = make_rt(api, credentials=creds, log=ActionLog(SqliteStore(db)))
        for name in ("update_stock", "get_item"):
            rt.cards[name] = rt.cards[name].model_copy(update={"auth": ["cookie:sid"]})
        rt.call("update_stock", sku="A-1", quantity=8)
        put = api.sent("PUT", "/items/A-1")[0]
        assert put.headers["x-xsrf-token"] == "xsrf-token-value-789"
        assert "sid=sess-cookie-value-456" in put.headers["cookie"]
        rt.close()
        raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
        for secret in (b"pa55word-very-secret", b"sess-cookie-value-456", b"xsrf-token-value-789"):
            assert secret not in raw

    def test_bearer_never_logged(self, api: FakeApi, tmp_path: Any) -> None:
        rt = make_rt(api, log=ActionLog(SqliteStore(tmp_path / "a.db")))
        rt.call("get_item", sku="A-1")
        api.fail("GET /items", ("status", 400))
        with pytest.raises(UpstreamStatusError):
            rt.call("get_item", sku="A-1")
        rt.close()
        assert api.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
        raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
        assert TOKEN.encode() not in raw and b"[REDACTED" in raw

    def test_missing_credential_is_explained(self, api: FakeApi) -> None:
        from zapi.errors import ExecutionError

        with pytest.raises(ExecutionError, match="--auth bearer=env:VAR"):
            make_rt(api, credentials=Credentials()).call("get_item", sku="A-1")

    def test_credentials_file_and_refs(self, tmp_path: Any) -> None:
        from runtime import load_credentials
        from zapi.errors import ExecutionError

        f = tmp_path / "creds.json"
        f.write_text('{"auth": {"bearer": "env:TOK", "header:X-API-Key": "literal"}}')
        creds = load_credentials(
            str(f), refs={"basic": "env:B"}, environ={"TOK": "t0k", "B": "u:p"}
        )
        assert creds.secrets == {"bearer": "t0k", "header:X-API-Key": "literal", "basic": "u:p"}
        assert "t0k" not in repr(creds)
        with pytest.raises(ExecutionError, match="never the secret"):
            load_credentials(refs={"bearer": "plain"}, environ={})
        with pytest.raises(ExecutionError, match="MISSING"):
            load_credentials(refs={"bearer": "env:MISSING"}, environ={})

    def test_storage_state_cookies(self, api: FakeApi, tmp_path: Any) -> None:
        from runtime.credentials import load_storage_state

        state = tmp_path / "state.json"
        state.write_text(
            '{"cookies": [{"name": "sid", "value": "from-state-cookie", '
            '"domain": "api.example.test", "path": "/"}], "origins": []}'
        )
        rt = make_rt(
            api,
            credentials=Credentials(
                secrets={"bearer": TOKEN}, cookies=load_storage_state(str(state))
            ),
        )
        rt.call("get_item", sku="A-1")
        assert "sid=from-state-cookie" in api.requests[0].headers["cookie"]

    def test_api_key_and_basic(self, api: FakeApi) -> None:
        creds = Credentials(secrets={"basic": "u:p", "query:api_key": "k", "header:X-K": "h"})
        rt = make_rt(api, credentials=creds)
        c = rt.cards["get_item"]
        rt.cards["get_item"] = c.model_copy(
            update={"auth": ["basic", "query:api_key", "header:X-K"]}
        )
        rt.call("get_item", sku="A-1")
        req = api.requests[0]
        assert req.headers["authorization"] == "Basic dTpw" and req.headers["x-k"] == "h"
        assert req.url.params["api_key"] == "k"


def test_transport_not_sent_for_connect_errors() -> None:
    """A ConnectError is 'not sent'; a ReadTimeout 'may have been received'."""
    from runtime.transport import Transport, was_sent

    def boom(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no", request=request)

    t = Transport(httpx.Client(transport=httpx.MockTransport(boom)))
    with pytest.raises(TransportError) as err:
        t.send(httpx.Request("GET", "http://x.test/"))
    assert not was_sent(err.value)


class TestWorkflowContract:
    """execute/reconcile with a deterministic key, as a durable workflow step uses them."""

    def test_crash_recovery_by_key(self, api: FakeApi) -> None:
        rt = make_rt(api)
        key = "run-1:3"
        assert (
            rt.reconcile("create_order", {"sku": "A-1", "quantity": 1}, idempotency_key=key).result
            == "not_landed"
        )
        first = rt.execute(
            "create_order",
            {"sku": "A-1", "quantity": 1},
            idempotency_key=key,
            run_id="run-1",
            step=3,
        )
        assert first.args["client_ref"] == key
        # the process "dies" here; a new runtime finds the write by the same key
        found = make_rt(api).reconcile(
            "create_order", {"sku": "A-1", "quantity": 1}, idempotency_key=key
        )
        assert found.result == "landed" and found.evidence["id"] == first.data["id"]
        events = [r.event for r in rt.log.records(call_id=first.call_id)]
        assert {(e.run_id, e.step) for e in events} == {("run-1", 3)}

    def test_reconcile_without_plan_is_unknown(self, api: FakeApi) -> None:
        assert make_rt(api).reconcile("add_note", {"text": "x"}).result == "unknown"

    def test_put_reconcile_by_verification_plan(self, api: FakeApi) -> None:
        rt = make_rt(api)
        assert rt.reconcile("update_stock", {"sku": "A-1", "quantity": 5}).result == "landed"
        assert rt.reconcile("update_stock", {"sku": "A-1", "quantity": 6}).result == "not_landed"


# -- this round: settled fates, refusals, redirects, userinfo, file arguments, auth -------


def keyed_order_card() -> Any:
    """create_order that also sends an idempotency key (which the fake server ignores)."""
    base = {c.name: c for c in cards()}["create_order"]
    return base.model_copy(
        update={
            "name": "create_order_keyed",
            "idempotency": Idempotency(header="Idempotency-Key", client_ids=["client_ref"]),
        }
    )


def rt_with(api: FakeApi, *extra: ToolCard, **kw: Any) -> Runtime:
    clock = kw.pop("clock", None) or FakeClock()
    kw.setdefault("credentials", Credentials(secrets={"bearer": TOKEN}))
    kw.setdefault("policy", RetryPolicy(initial_interval_s=0.5, jitter=0.0))
    return Runtime(
        [*cards(), *extra],
        client=kw.pop("client", None) or api.client(),
        clock=clock,
        sleep=clock.sleep,
        rand=lambda: 0.0,
        **kw,
    )


class TestUnsettledSendsMakeTheOutcomeUnknown:
    """Once a send may have landed, later answers cannot make the call 'nothing applied'."""

    def test_keyed_drop_then_429s_is_unknown_not_exhausted(self, api: FakeApi) -> None:
        api.fail("POST /payments", ("commit_then_drop",), *[("status", 429)] * 3)
        rt = make_rt(api)
        with pytest.raises(OutcomeUnknown) as err:
            rt.call("pay", amount=5)
        assert len(api.payments) == 1  # the first send committed
        assert "nothing was applied" not in err.value.message
        assert err.value.context["record_id"] == err.value.context["intent_ids"][0]

    def test_keyed_drop_then_429s_is_settled_by_a_read(self, api: FakeApi) -> None:
        api.fail("POST /orders", ("commit_then_drop",), *[("status", 429)] * 3)
        rt = rt_with(api, keyed_order_card())
        result = rt.call("create_order_keyed", sku="A-1", quantity=2, client_ref="r-9")
        assert result.reconciled == "landed" and len(api.orders) == 1
        reconciled = [r.event for r in rt.log.records(kinds=["reconciled"])]
        assert [(e.result, e.action) for e in reconciled][-1] == ("landed", "accept")

    def test_keyed_drop_then_409_is_settled_by_a_read(self, api: FakeApi) -> None:
        api.fail("POST /orders", ("commit_then_drop",), ("status", 409))
        rt = rt_with(api, keyed_order_card())
        result = rt.call("create_order_keyed", sku="A-1", quantity=2, client_ref="r-8")
        assert result.reconciled == "landed" and len(api.orders) == 1

    def test_keyed_drop_then_429s_with_nothing_landed_is_exhausted(self, api: FakeApi) -> None:
        api.fail("POST /orders", ("drop",), *[("status", 429)] * 3)
        rt = rt_with(api, keyed_order_card())
        with pytest.raises(RetryExhausted, match="nothing was applied"):
            rt.call("create_order_keyed", sku="A-1", quantity=2, client_ref="r-7")
        assert api.orders == []


def cookie_header_card() -> ToolCard:
    return card(
        "prefs",
        "POST",
        "/notes",
        input_schema={
            "type": "object",
            "properties": {"lang": {"type": "string"}, "trace": {"type": "string"}},
            "additionalProperties": False,
        },
        bindings=[
            Binding(arg="lang", location="cookie", name="lang"),
            Binding(arg="trace", location="header", name="X-Trace"),
        ],
    )


class TestRefusedBeforeSending:
    """Values that would inject into headers or cookies are refused before any I/O."""

    @pytest.mark.parametrize(
        "args",
        [
            {"lang": "en; session=attacker"},
            {"lang": "en\r\nX-Evil: 1"},
            {"lang": "en\x00"},
            {"trace": "a\r\nX-Evil: 1"},
            {"trace": "a\nb"},
            {"trace": "a\x00b"},
        ],
    )
    def test_injection_is_refused_and_nothing_is_sent(
        self, api: FakeApi, args: dict[str, str]
    ) -> None:
        rt = rt_with(api, cookie_header_card())
        with pytest.raises(InvalidArguments) as err:
            rt.call("prefs", **args)
        (name,) = args
        assert f"argument {name!r}" in err.value.message
        assert "refused before sending" in err.value.message and "\n" not in err.value.message
        assert err.value.context["sent"] is False
        assert api.requests == []
        kinds = [r.event.kind for r in rt.log.records()]
        assert kinds == ["call_finished"]

    def test_a_semicolon_in_a_header_is_fine(self, api: FakeApi) -> None:
        rt_with(api, cookie_header_card()).call("prefs", trace="a; b")
        assert api.requests[0].headers["x-trace"] == "a; b"

    def test_wire_refusal_is_not_sent_not_retried_not_unknown(self) -> None:
        seen: list[httpx.Request] = []

        def refuse(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            raise httpx.LocalProtocolError("Illegal header value")

        api = FakeApi()
        rt = rt_with(api, client=httpx.Client(transport=httpx.MockTransport(refuse)))
        for tool, args in (("add_note", {"text": "x"}), ("get_item", {"sku": "A-1"})):
            with pytest.raises(InvalidArguments) as err:
                rt.call(tool, **args)
            assert err.value.context["sent"] is False
            assert "refused before sending" in err.value.message
            assert "may have been received" not in err.value.message
        assert len(seen) == 2  # one attempt each
        finished = [r.event for r in rt.log.records(kinds=["attempt_finished"])]
        assert [(e.outcome, e.code) for e in finished] == [("not_applied", "refused")] * 2


class TestRedirectLoop:
    """A redirect loop stops at the first repeat, and is not retried."""

    def test_loop_stops_at_first_repeat(self) -> None:
        seen: list[str] = []

        def loop(request: httpx.Request) -> httpx.Response:
            seen.append(request.url.path)
            nxt = "/b" if request.url.path == "/a" else "/a"
            return httpx.Response(302, headers={"location": nxt})

        rt = Runtime(
            [card("loopy", "GET", "/a", auth=[])],
            client=httpx.Client(transport=httpx.MockTransport(loop)),
            sleep=lambda s: None,
        )
        with pytest.raises(UpstreamStatusError, match="loop"):
            rt.call("loopy")
        assert seen == ["/a", "/b"]


class TestUserinfoOrigin:
    """A card whose origin has user:password@ works and never sends or logs the userinfo."""

    def test_userinfo_is_never_sent_or_logged(self, api: FakeApi) -> None:
        base = {c.name: c for c in cards()}["get_item"]
        leaky = base.model_copy(
            update={"name": "get_item_ui", "origin": "https://bob:hunter2pass@api.example.test"}
        )
        rt = rt_with(api, leaky)
        assert rt.call("get_item_ui", sku="A-1").data["sku"] == "A-1"
        req = api.requests[0]
        assert "hunter2pass" not in str(req.url) and req.url.userinfo == b""
        assert req.headers["authorization"] == f"Bearer {TOKEN}"
        dumped = " ".join(r.model_dump_json() for r in rt.log.records())
        assert "hunter2pass" not in dumped and "bob:" not in dumped


def upload_card() -> ToolCard:
    return card(
        "upload",
        "POST",
        "/notes",
        input_schema={
            "type": "object",
            "properties": {"file": {"type": "string", "format": "binary"}, "title": {}},
            "required": ["file"],
            "additionalProperties": False,
        },
        bindings=[
            Binding(arg="file", location="body", name="file"),
            Binding(arg="title", location="body", name="title"),
        ],
        body_media="multipart/form-data",
    )


class TestFileArguments:
    """Multipart file arguments read only files under the allowed directory."""

    def test_inside_is_sent(self, api: FakeApi, tmp_path: Any) -> None:
        (tmp_path / "in").mkdir()
        (tmp_path / "in" / "a.txt").write_bytes(b"hello-file")
        rt = rt_with(api, upload_card(), files_root=tmp_path / "in")
        rt.call("upload", file=str(tmp_path / "in" / "a.txt"), title="t")
        body = api.requests[0].read()
        assert b"hello-file" in body and b'filename="a.txt"' in body

    def test_outside_and_symlinks_out_are_refused(self, api: FakeApi, tmp_path: Any) -> None:
        (tmp_path / "in").mkdir()
        secret = tmp_path / "id_rsa"
        secret.write_bytes(b"PRIVATE")
        (tmp_path / "in" / "link").symlink_to(secret)
        rt = rt_with(api, upload_card(), files_root=tmp_path / "in")
        for path in (secret, tmp_path / "in" / "link", tmp_path / "in" / ".." / "id_rsa"):
            with pytest.raises(InvalidArguments, match="files_root") as err:
                rt.call("upload", file=str(path))
            assert err.value.context["field"] == "file"
        assert api.requests == []

    def test_default_root_is_the_working_directory(
        self, api: FakeApi, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)
        (tmp_path / "ok.bin").write_bytes(b"x")
        rt = rt_with(api, upload_card())
        rt.call("upload", file="ok.bin")
        with pytest.raises(InvalidArguments, match="files_root"):
            rt.call("upload", file="/etc/hostname")


class TestBaseUrl:
    """A base URL without a scheme is one clear line, never a traceback."""

    @pytest.mark.parametrize(
        ("url", "expected"),
        [
            ("127.0.0.1:8001", "write http://127.0.0.1:8001 or https://127.0.0.1:8001"),
            ("localhost:8001", "has no scheme"),
            ("ftp://x.test", "must be http://"),
            ("http://u:p@x.test", "user name or password"),
            ("http://x.test:port", "invalid port"),
        ],
    )
    def test_bad_base_urls(self, api: FakeApi, url: str, expected: str) -> None:
        with pytest.raises(ExecutionError, match=expected) as err:
            rt_with(api, base_url=url)
        assert "\n" not in err.value.message and "p@" not in err.value.message

    def test_open_checks_before_loading(self, tmp_path: Any) -> None:
        import runtime

        with pytest.raises(ExecutionError, match="has no scheme"):
            runtime.open(tmp_path / "nothing-here", base_url="127.0.0.1:8001", state=None)

    def test_good_base_url_is_used(self, api: FakeApi) -> None:
        rt = rt_with(api, base_url="https://api.example.test/")
        rt.call("get_item", sku="A-1")
        assert str(api.requests[0].url) == "https://api.example.test/items/A-1"


class TestAuthFailures:
    """401/403 are auth failures that name the fix, not error-shape drift."""

    @pytest.mark.parametrize("status", [401, 403])
    def test_auth_failure_names_the_credential(self, api: FakeApi, status: int) -> None:
        api.fail("GET /items", ("status", status))
        rt = make_rt(api)
        with pytest.raises(UpstreamStatusError) as err:
            rt.call("get_item", sku="A-1")
        assert "bearer" in err.value.message and "--credentials" in err.value.message
        finished = [r.event for r in rt.log.records(kinds=["attempt_finished"])]
        assert isinstance(finished[-1], AttemptFinished)
        assert [f.kind for f in finished[-1].drift] == []


def fixed_card() -> ToolCard:
    return card(
        "search",
        "GET",
        "/orders",
        input_schema={
            "type": "object",
            "properties": {"client_ref": {"type": "string"}, "v": {"type": "string"}},
            "additionalProperties": False,
        },
        bindings=[
            Binding(arg="client_ref", location="query", name="client_ref"),
            Binding(arg="v", location="query", name="v"),
        ],
        fixed=[
            FixedValue(location="query", name="_", generate="timestamp_ms"),
            FixedValue(location="query", name="v", value="2"),
            FixedValue(location="header", name="X-Requested-With", value="XMLHttpRequest"),
            FixedValue(location="cookie", name="ui_theme", value="dark"),
        ],
    )


class TestFixedValues:
    """A card's fixed values are sent without being asked of the caller."""

    def test_constants_and_fresh_cache_busters(self, api: FakeApi) -> None:
        api.fail("GET /orders", ("status", 503))
        clock = FakeClock()
        rt = rt_with(api, fixed_card(), clock=clock)
        rt.call("search", client_ref="r-1")
        first, second = api.requests
        assert first.url.params["v"] == "2" and first.url.params["client_ref"] == "r-1"
        assert first.headers["x-requested-with"] == "XMLHttpRequest"
        assert "ui_theme=dark" in first.headers["cookie"]
        stamps = [int(r.url.params["_"]) for r in (first, second)]
        assert stamps[0] == int(1_700_000_000.0 * 1000)
        assert stamps[1] > stamps[0]  # a fresh value per request

    def test_an_argument_overrides_by_name(self, api: FakeApi) -> None:
        rt_with(api, fixed_card()).call("search", v="3")
        assert api.requests[0].url.params.get_list("v") == ["3"]


class TestCallDetailed:
    """Runtime.call_detailed is what workflow steps call: data plus verification and drift."""

    def test_extras(self, api: FakeApi) -> None:
        data, extras = make_rt(api).call_detailed(
            "update_stock", {"sku": "A-1", "quantity": 7}, idempotency_key="run:1"
        )
        assert data["quantity"] == 7
        assert extras["verification"]["ok"] is True and extras["drift"] == []

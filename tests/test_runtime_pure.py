"""Pure parts of the runtime: checks, drift diffs, retry policy, request builder, decisions."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import card, cards

from runtime import RetryPolicy, check
from runtime.drift import diff_response, error_findings, unknown_required_field
from runtime.outcomes import Outcome, classify_status, decide, may_have_landed
from runtime.policy import origin_of, parse_retry_after
from runtime.request import AuthMaterial, FilePart, Fresh, build_request
from runtime.verify import MISSING, read_args, resolve_pointer
from toolgen.cards import Binding, FixedValue


class TestCheck:
    """verify.check compares pointer expectations with an observed document."""

    def test_equal_and_numeric(self) -> None:
        assert check({"/a": 1, "/b/c": "x"}, {"a": 1.0, "b": {"c": "x"}}) == []

    def test_mismatch_and_missing(self) -> None:
        got = check({"/a": 1, "/z": 2, "/t": True}, {"a": 2, "t": 1})
        assert [(m.pointer, m.expected, m.observed) for m in got] == [
            ("/a", 1, 2),
            ("/t", True, 1),
            ("/z", 2, MISSING),
        ]

    def test_pointer_escapes_and_lists(self) -> None:
        assert resolve_pointer({"a/b": [{"~c": 3}]}, "/a~1b/0/~0c") == 3
        assert resolve_pointer([1], "/5") is MISSING

    def test_read_args(self) -> None:
        assert read_args(
            {"id": "response:/id", "s": "arg:sku", "v": "value:x"}, {"sku": "A"}, {"id": 7}
        ) == {"id": 7, "s": "A", "v": "x"}
        assert read_args({"id": "response:/nope"}, {}, {}) is None


class TestDrift:
    """Shape differences are findings; enums and formats are not."""

    SCHEMA = {
        "type": "object",
        "required": ["a", "b"],
        "properties": {
            "a": {"type": "integer"},
            "b": {"type": "string", "enum": ["x"]},
            "l": {
                "type": "array",
                "items": {"type": "object", "properties": {"n": {"type": "number"}}},
            },
        },
    }

    def test_clean(self) -> None:
        assert diff_response(self.SCHEMA, {"a": 1, "b": "other", "l": [{"n": 1}]}) == []

    def test_findings(self) -> None:
        got = {
            (f.kind, f.pointer)
            for f in diff_response(self.SCHEMA, {"a": "1", "new": 1, "l": [{"n": "s"}]})
        }
        assert got == {
            ("type_changed", "/a"),
            ("missing_required", "/b"),
            ("new_field", "/new"),
            ("type_changed", "/l/0/n"),
        }

    def test_unknown_required_field(self) -> None:
        card = next(c for c in cards() if c.name == "update_stock")
        body = {"error": "validation", "detail": "Region_ID is required", "field": "region_id"}
        assert unknown_required_field(card, body) == "region_id"
        assert unknown_required_field(card, {"detail": "quantity is required"}) is None
        assert unknown_required_field(card, {"message": "'zone' is required"}) == "zone"
        kinds = {f.kind for f in error_findings(card, 422, body)}
        assert kinds == {"unknown_required_field", "new_error_shape"}


class TestPolicy:
    """Backoff, jitter, Retry-After and origins."""

    def test_backoff(self) -> None:
        p = RetryPolicy(initial_interval_s=1, backoff_rate=2, max_interval_s=5, jitter=0.5)
        assert [p.delay(n, rand=lambda: 0.0) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
        assert p.delay(1, rand=lambda: 1.0) == 1.5
        assert p.delay(1, retry_after=30, rand=lambda: 0.0) == 5

    def test_retry_after(self) -> None:
        assert parse_retry_after("3", 0) == 3.0
        assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470.0) == 10.0
        assert parse_retry_after("soon", 0) is None and parse_retry_after(None, 0) is None

    def test_invalid(self) -> None:
        with pytest.raises(ValueError):
            RetryPolicy(max_attempts=0)

    def test_origin(self) -> None:
        assert origin_of("HTTPS://Api.X.test:443/p?q") == "https://api.x.test"
        assert origin_of("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"


class TestRequestBuilder:
    """build_request: validated arguments + card → a frozen wire request, without I/O."""

    @staticmethod
    def _card(**kw: Any) -> Any:
        base: dict[str, Any] = {
            "input_schema": {
                "type": "object",
                "properties": {"q": {"type": "string"}, "n": {"type": "integer"}},
                "additionalProperties": False,
            },
            "bindings": [
                Binding(arg="q", location="query", name="q"),
                Binding(arg="n", location="body", name="n"),
            ],
            "body_media": "application/json",
        }
        base.update(kw)
        return card("find", "POST", "/find", **base)

    def test_json_body_query_and_headers(self) -> None:
        wire = build_request(
            self._card(),
            {"q": "a b", "n": 2},
            auth=AuthMaterial(headers={"Authorization": "Bearer t"}, params=[("k", True)]),
        )
        assert wire.method == "POST"
        assert wire.url == "https://api.example.test/find?q=a+b&k=true"
        assert dict(wire.headers) == {
            "Authorization": "Bearer t",
            "Content-Type": "application/json",
        }
        assert wire.content == b'{"n":2}' and wire.body == {"n": 2}

    def test_fixed_values_constants_and_generated(self) -> None:
        fixed = [
            FixedValue(location="query", name="_", generate="timestamp_ms"),
            FixedValue(location="query", name="t", generate="timestamp_s"),
            FixedValue(location="header", name="X-Nonce", generate="random_hex"),
            FixedValue(location="cookie", name="rid", generate="uuid"),
            FixedValue(location="body", name="client", value="web"),
            FixedValue(location="query", name="q", value="default"),
        ]
        fresh = Fresh(now_s=12.5, token="0123456789abcdef" * 2)
        wire = build_request(self._card(fixed=fixed), {"n": 1}, fresh=fresh)
        assert wire.url.endswith("/find?_=12500&t=12&q=default")
        assert dict(wire.headers)["X-Nonce"] == "0123456789abcdef"
        assert dict(wire.cookies) == {"rid": "01234567-89ab-cdef-0123-456789abcdef"}
        assert wire.body == {"client": "web", "n": 1}
        overridden = build_request(self._card(fixed=fixed), {"q": "mine"}, fresh=fresh)
        assert "q=mine" in overridden.url and "default" not in overridden.url

    def test_userinfo_is_stripped_from_the_origin(self) -> None:
        leaky = self._card(origin="https://u:secret@api.example.test")
        assert build_request(leaky, {}).url == "https://api.example.test/find"

    def test_forms_and_multipart_paths(self) -> None:
        form = self._card(body_media="application/x-www-form-urlencoded")
        wire = build_request(form, {"n": 3})
        assert wire.content == b"n=3"
        assert dict(wire.headers)["Content-Type"] == "application/x-www-form-urlencoded"
        multi = self._card(
            body_media="multipart/form-data",
            input_schema={
                "type": "object",
                "properties": {"f": {"type": "string", "format": "binary"}, "n": {}},
            },
            bindings=[
                Binding(arg="f", location="body", name="file"),
                Binding(arg="n", location="body", name="n"),
            ],
        )
        wire = build_request(multi, {"f": "docs/a.pdf", "n": 1})
        assert wire.files == (FilePart("file", "f", "docs/a.pdf"),)
        assert wire.fields == (("n", "1"),) and wire.content is None


class TestDecide:
    """decide: the explicit accept / resend / raise after an ambiguous write."""

    @pytest.mark.parametrize(
        ("found", "keyed", "idempotent", "more", "expected"),
        [
            (None, "Idempotency-Key", False, True, ("resend", "unknown")),
            (None, "Idempotency-Key", False, False, ("raise", "unknown")),
            ("landed", "", False, True, ("accept", "landed")),
            ("landed", "", True, False, ("accept", "landed")),
            ("not_landed", "", False, True, ("resend", "not_landed")),
            ("not_landed", "", False, False, ("raise", "not_landed")),
            ("unknown", "", True, True, ("resend", "unknown")),
            ("unknown", "", True, False, ("raise", "unknown")),
            ("unknown", "", False, True, ("raise", "unknown")),
        ],
    )
    def test_table(
        self, found: Any, keyed: str, idempotent: bool, more: bool, expected: tuple[str, str]
    ) -> None:
        got = decide(found, "why", keyed=keyed, idempotent=idempotent, more=more, method="PUT")
        assert (got.action, got.verdict) == expected

    def test_vocabulary(self) -> None:
        assert [classify_status(s) for s in (200, 302, 400, 429, 503, 502, 504)] == [
            Outcome.OK,
            Outcome.OK,
            Outcome.FAILED,
            Outcome.NOT_APPLIED,
            Outcome.NOT_APPLIED,
            Outcome.AMBIGUOUS,
            Outcome.AMBIGUOUS,
        ]
        assert may_have_landed("ambiguous") and may_have_landed(Outcome.UNKNOWN)
        assert not may_have_landed("refused") and not may_have_landed("not_landed")

    def test_auth_errors_are_not_drift(self) -> None:
        get_item = {c.name: c for c in cards()}["get_item"]
        assert error_findings(get_item, 401, {"error": "expired"}) == []
        assert [f.kind for f in error_findings(get_item, 418, {"error": "x"})] == [
            "new_error_shape"
        ]

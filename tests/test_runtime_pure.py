"""Pure parts of the runtime: verification checks, drift diffs, the retry policy."""

from __future__ import annotations

import pytest
from fakes import cards

from runtime import RetryPolicy, check
from runtime.drift import diff_response, error_findings, unknown_required_field
from runtime.policy import origin_of, parse_retry_after
from runtime.verify import MISSING, read_args, resolve_pointer


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

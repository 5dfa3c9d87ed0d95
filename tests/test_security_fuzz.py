"""Fuzzed HARs: `zapi analyze` succeeds with valid outputs or says one `error:` line.

Never a traceback, and memory stays bounded on deep nesting (defects 4, 6, 7).
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import entry, har
from toolgen.cards import load_cards
from toolgen.openapi import validate_openapi
from zapi.cli import main

API = "http://127.0.0.1:9"

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_methods = st.one_of(
    st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "PROPFIND", "get", "", "G E T"]),
    _scalars,
)
_urls = st.one_of(
    st.builds(
        lambda seg, q: f"{API}/api/{seg}?{q}",
        st.text(max_size=12),
        st.text(max_size=12),
    ),
    st.sampled_from(
        [
            "http://[::1",
            "http://u:p@127.0.0.1:9/api/a",
            f"{API}/api/%7B%7Bid%7D%7D",
            f"{API}/api/..%2F..%2Fetc",
            f"{API}/api/a%00b%E2%80%AE",
            "http://127.0.0.1:99999/x",
            "ftp://127.0.0.1/x",
            "not a url",
            f"{API}/api/x\ud800",
        ]
    ),
    _scalars,
)
_bodies = st.one_of(
    st.none(),
    _json.map(json.dumps),
    st.text(max_size=40),
    st.sampled_from(['{"a": "\\ud800"}', "[" * 200 + "]" * 200, '{"a":1', "\\udc80"]),
)


@st.composite
def _entries(draw: st.DrawFn) -> Any:
    """A mostly-shaped HAR entry with hostile values anywhere, or any JSON at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(_json)
    e = entry("GET", f"{API}/api/items/1", resp={"id": 1})
    e["request"]["method"] = draw(_methods)
    e["request"]["url"] = draw(_urls)
    e["response"]["status"] = draw(st.one_of(st.sampled_from([200, 201, 404, 302]), _scalars))
    body = draw(_bodies)
    if body is not None:
        e["request"]["postData"] = {
            "mimeType": draw(st.sampled_from(["application/json", "text/plain", 5])),
            "text": body,
            "encoding": draw(st.one_of(st.none(), st.just("base64"), _scalars)),
        }
    e["response"]["content"]["text"] = draw(_bodies)
    e["response"]["content"]["encoding"] = draw(st.one_of(st.none(), _scalars))
    e["request"]["headers"] = draw(
        st.one_of(
            st.lists(
                st.fixed_dictionaries({"name": st.text(max_size=10), "value": _scalars}),
                max_size=3,
            ),
            _json,
        )
    )
    if draw(st.booleans()):
        e[draw(st.text(max_size=5))] = draw(_json)
    return e


def _check(tmp: Path, doc: Any) -> None:
    src = tmp / "f.har"
    src.write_text(json.dumps(doc), encoding="utf-8")  # ASCII: lone surrogates escaped
    out = tmp / "out"
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(["analyze", str(src), "-o", str(out), "--no-progress"])
    if rc == 0:
        validate_openapi(json.loads((out / "openapi.json").read_text(encoding="utf-8")))
        load_cards(out)
        (out / "report.md").read_text(encoding="utf-8")
    else:
        lines = err.getvalue().strip().splitlines()
        assert rc == 1 and len(lines) == 1 and lines[0].startswith("error: "), err.getvalue()


class TestFuzz:
    """Random structure and values: valid outputs or one error line (never an exception)."""

    @settings(
        max_examples=120,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.lists(_entries(), min_size=1, max_size=6), st.booleans())
    def test_analyze_never_crashes(
        self, tmp_path_factory: pytest.TempPathFactory, entries: list[Any], good: bool
    ) -> None:
        """Old: tracebacks (AttributeError, ValueError, RecursionError) and refused analyses."""
        tmp = tmp_path_factory.mktemp("fuzz")
        if good:
            entries = entries + [entry("GET", f"{API}/api/items/{i}") for i in (1, 2)]
        _check(tmp, har(entries))

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_json)
    def test_any_json_document(self, doc: Any) -> None:
        """Any JSON document at all, as the whole file."""
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            _check(Path(d), doc)


def _deep(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


_LIMITED = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from zapi.cli import main
sys.exit(main(sys.argv[1:]))
"""


class TestBoundedMemory:
    """Deep nesting in any field costs linear memory under a 1 GB address-space cap (defect 4)."""

    @pytest.mark.parametrize("levels", [100, 50_000])
    @pytest.mark.parametrize("where", ["entry", "creator", "body"])
    def test_deep_nesting(self, tmp_path: Path, levels: int, where: str) -> None:
        """Old: 50,000 levels peaked at several GB (MemoryError under the cap) or recursed."""
        good = [entry("GET", f"{API}/api/items/{i}", resp={"id": i}) for i in (1, 2, 3)]
        doc = har([{"placeholder": 0}, *good])
        text = json.dumps(doc)
        bad = entry("GET", f"{API}/api/deep", resp={"ok": True})
        if where == "body":
            bad["response"]["content"]["text"] = _deep(levels)
            deep_entry = json.dumps(bad)
        elif where == "entry":
            deep_entry = json.dumps(bad)[:-1] + ', "_ignored": ' + _deep(levels) + "}"
        else:
            deep_entry = json.dumps(bad)
            text = text.replace('"creator": {', '"creator": {"_deep": ' + _deep(levels) + ", ", 1)
        src = tmp_path / "deep.har"
        src.write_text(text.replace('{"placeholder": 0}', deep_entry), encoding="utf-8")
        proc = subprocess.run(
            [sys.executable, "-c", _LIMITED, "analyze", str(src), "-o", str(tmp_path / "out")],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr, proc.stderr
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / "out" / "cards" / "get_item.json").exists()

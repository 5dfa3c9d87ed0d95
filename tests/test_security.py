"""Hostile input: one odd HAR entry never costs the analysis, and nothing hostile leaks out.

Every test builds its hostile HAR (or argument) itself; each one fails on the code
before issue 11 was worked (the failure it guarded against is named in its docstring).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from runtime.request import build_request
from tests.factories import entry, har
from toolgen.cards import ToolCard
from toolgen.openapi import validate_openapi
from zapi.api import analyze
from zapi.har import HarEntry, SkippedEntry, iter_har

API = "http://127.0.0.1:9"
GOOD = [entry("GET", f"{API}/api/items/{i}", resp={"id": i, "name": "n"}) for i in range(1, 4)]


def _write(tmp_path: Path, entries: list[dict[str, Any]], name: str = "h.har") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(har(entries)), encoding="utf-8")
    return p


def _analyze(tmp_path: Path, entries: list[dict[str, Any]]) -> tuple[Path, str]:
    """Analyze; return the output folder and report.md (outputs must be valid)."""
    src = _write(tmp_path, entries)
    out = tmp_path / "out"
    analyze([str(src)], str(out))
    doc = json.loads((out / "openapi.json").read_text(encoding="utf-8"))
    validate_openapi(doc)
    assert (out / "cards" / "get_item.json").exists(), "the good entries were lost"
    return out, (out / "report.md").read_text(encoding="utf-8")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zapi", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )


class TestOddEntriesAreSkippedNotFatal:
    """Methods, statuses and paths OpenAPI cannot express skip one entry, reported (defect 6)."""

    @pytest.mark.parametrize("method", ["PROPFIND", "G E T\n", "x" * 40])
    def test_method(self, tmp_path: Path, method: str) -> None:
        """Old: 'generated OpenAPI is invalid' refused the whole analysis."""
        bad = entry("GET", f"{API}/api/dav/x")
        bad["request"]["method"] = method
        _, report = _analyze(tmp_path, [bad, *GOOD])
        assert "Unreadable entries (1)" in report

    @pytest.mark.parametrize("status", [-5, 10**30, 1.5, "abc", True, 99, 600])
    def test_status(self, tmp_path: Path, status: Any) -> None:
        """Old: -5 made the OpenAPI invalid; 10**30 was a parse error for the whole file."""
        bad = entry("GET", f"{API}/api/odd")
        bad["response"]["status"] = status
        _, report = _analyze(tmp_path, [bad, *GOOD])
        assert "response.status is not an HTTP status" in report
        assert "/api/odd" not in report.split("## Operations")[1].split("##")[0]

    def test_literal_braces_in_path(self, tmp_path: Path) -> None:
        """Old: '%7B%7Bid%7D%7D' became a path template with an unresolved parameter."""
        out, report = _analyze(tmp_path, [entry("GET", f"{API}/api/%7B%7Bid%7D%7D"), *GOOD])
        assert "literal '{' or '}'" in report
        assert "{{" not in (out / "openapi.json").read_text(encoding="utf-8")


class TestNoTraceback:
    """Malformed values give a skipped entry or one error line, never a traceback (defect 7)."""

    def test_non_string_encoding(self, tmp_path: Path) -> None:
        """Old: AttributeError: 'int' object has no attribute 'lower'."""
        bad = entry("GET", f"{API}/api/items/9", resp={"id": 9})
        bad["response"]["content"]["encoding"] = 5
        bad2 = entry("POST", f"{API}/api/things", body={"a": 1})
        bad2["request"]["postData"]["encoding"] = ["base64"]
        _analyze(tmp_path, [bad, bad2, *GOOD])

    def test_broken_ipv6_url(self, tmp_path: Path) -> None:
        """Old: ValueError: Invalid IPv6 URL (traceback)."""
        _, report = _analyze(tmp_path, [entry("GET", "http://[::1"), *GOOD])
        assert "not a valid URL" in report

    @pytest.mark.parametrize("where", ["request", "response"])
    def test_deep_json_body(self, tmp_path: Path, where: str) -> None:
        """Old: RecursionError from json.loads on a body nested 1000 levels."""
        deep = "[" * 1000 + "]" * 1000
        bad = (
            entry("POST", f"{API}/api/deep", body=deep)
            if where == "request"
            else entry("GET", f"{API}/api/deep", resp=deep)
        )
        _, report = _analyze(tmp_path, [bad, *GOOD])
        assert "nests JSON deeper than" in report

    def test_repeated_deep_body_is_skipped_each_time_under_its_own_side(
        self, tmp_path: Path
    ) -> None:
        """Vetting is remembered per text: a deep body seen again, on the other side, still
        skips its entry and says which side nested too deep."""
        deep = "[" * 1500 + "]" * 1500  # large enough to be remembered
        src = _write(
            tmp_path,
            [
                entry("POST", f"{API}/api/deep", body=deep),
                entry("GET", f"{API}/api/deep", resp=deep),
                entry("POST", f"{API}/api/deep", body=deep),
            ],
        )
        items = list(iter_har(src))
        reasons = [i.reason for i in items if isinstance(i, SkippedEntry)]
        assert len(reasons) == 3, items
        assert [r.split()[0] for r in reasons] == ["request", "response", "request"], reasons

    def test_lone_surrogate(self, tmp_path: Path) -> None:
        """A lone surrogate in body JSON, a header and the URL does not break writing."""
        bad = entry(
            "POST",
            f"{API}/api/notes/x\ud800y",
            body='{"note": "a\\ud800b", "n": 1}',
            req_headers={"X-Thing": "v\udc80"},
            resp='{"ok": "\\udfff"}',
        )
        src = tmp_path / "s.har"
        src.write_text(json.dumps(har([bad, *GOOD])), encoding="utf-8")  # ASCII escapes
        proc = _cli("analyze", str(src), "-o", str(tmp_path / "out"), "--no-progress", cwd=tmp_path)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert proc.returncode == 0, proc.stderr

    def test_deep_har_structure_is_skipped(self, tmp_path: Path) -> None:
        """An entry whose own JSON nests 5000 levels is skipped, the rest kept (defect 4)."""
        bad = entry("GET", f"{API}/api/x")
        node: Any = {}
        bad["_deep"] = node
        for _ in range(5000):
            node["a"] = {}
            node = node["a"]
        p = tmp_path / "d.har"
        # json.dumps recurses; write the nesting by hand.
        text = json.dumps(har([{"placeholder": 1}, *GOOD]))
        bad.pop("_deep")
        deep_entry = json.dumps(bad)[:-1] + ', "_deep": ' + '{"a":' * 5000 + "{}" + "}" * 5001
        p.write_text(text.replace('{"placeholder": 1}', deep_entry), encoding="utf-8")
        items = list(iter_har(p))
        assert isinstance(items[0], SkippedEntry) and "deeper than" in items[0].reason
        assert all(isinstance(i, HarEntry) for i in items[1:]) and len(items) == 4


class TestBoundedBodies:
    """A huge body is dropped (noted), the entry kept (defect 8)."""

    def test_huge_body_dropped(self, tmp_path: Path) -> None:
        """Old: the whole body was kept and parsed (a 150 MB one took minutes)."""
        from zapi.har import MAX_BODY_CHARS

        big = entry("GET", f"{API}/api/items/7", resp="x" * (MAX_BODY_CHARS + 1))
        p = _write(tmp_path, [big, *GOOD])
        first = next(iter(iter_har(p)))
        assert isinstance(first, HarEntry) and first.response_text_raw is None
        assert "dropped" in first.notes[0]


class TestUserinfo:
    """URL userinfo never reaches an origin, server, description or report (defect 3)."""

    def test_userinfo_stripped_everywhere(self, tmp_path: Path) -> None:
        """Old: 'bob:hunter2pass@' appeared in card origins, servers and report.md."""
        es = [
            entry("GET", f"http://bob:hunter2pass@127.0.0.1:9/api/items/{i}", resp={"id": i})
            for i in range(1, 4)
        ]
        es.append(entry("GET", "http://eve:s3cr3tpw@127.0.0.1:9/static/app.css", resp="x"))
        out, report = _analyze(tmp_path, es)
        blob = report + "".join(
            p.read_text(encoding="utf-8") for p in out.rglob("*") if p.is_file()
        )
        for secret in ("hunter2pass", "bob:", "s3cr3tpw", "eve:"):
            assert secret not in blob
        doc = json.loads((out / "openapi.json").read_text(encoding="utf-8"))
        assert doc["servers"] == [{"url": "http://127.0.0.1:9"}]


class TestReport:
    """Hostile path text is escaped in report.md (defect 12)."""

    def test_control_and_bidi_escaped(self, tmp_path: Path) -> None:
        """Old: NUL, CR and U+202E were copied raw into report.md."""
        _, report = _analyze(tmp_path, [entry("GET", f"{API}/api/a%00b%E2%80%AEc%0Dd"), *GOOD])
        assert "\x00" not in report and "\u202e" not in report and "\r" not in report
        assert "\\x00" in report and "\\u202e" in report


class TestWirePath:
    """Card paths keep the wire form (defect 11)."""

    def test_encoded_slash_kept(self, tmp_path: Path) -> None:
        """'..%2F..%2Fetc' must not become '../../etc' in the card, nor on the wire."""
        out, _ = _analyze(tmp_path, [entry("GET", f"{API}/api/files/..%2F..%2Fetc"), *GOOD])
        cards = [json.loads(p.read_text(encoding="utf-8")) for p in out.glob("cards/*.json")]
        paths = [c["path"] for c in cards]
        assert not any("../" in p for p in paths), paths
        files = [c for c in cards if c["path"].startswith("/api/files/")]
        assert [c["path"] for c in files] == ["/api/files/..%2F..%2Fetc"]
        wire = build_request(ToolCard.model_validate(files[0]), {})
        assert httpx.URL(wire.url).raw_path == b"/api/files/..%2F..%2Fetc"

    def test_other_escapes_decode(self, tmp_path: Path) -> None:
        """Escapes that do not change the meaning decode ('caf%C3%A9'); '%25' stays."""
        out, _ = _analyze(tmp_path, [entry("GET", f"{API}/api/files/caf%C3%A9%25x"), *GOOD])
        paths = {
            json.loads(p.read_text(encoding="utf-8"))["path"] for p in out.glob("cards/*.json")
        }
        assert "/api/files/caf\u00e9%25x" in paths, paths


class TestCredentialQueryIsNotAnInput:
    """A credential in the query (``?key=``) is the card's auth, never an argument."""

    def test_query_key_not_an_argument(self, tmp_path: Path) -> None:
        """Old: ``key`` was in card.auth and also an argument carrying the recorded value."""
        calls = [
            entry("GET", f"{API}/api/maps?key=AIzaPLANTED{i}&q=place{i}", resp={"id": i})
            for i in range(4)
        ]
        out, _ = _analyze(tmp_path, [*calls, *GOOD])
        card = json.loads((out / "cards" / "list_maps.json").read_text(encoding="utf-8"))
        assert "query:key" in card["auth"]
        assert [b["name"] for b in card["bindings"] if b["location"] == "query"] == ["q"]
        assert "AIzaPLANTED" not in (out / "openapi.json").read_text(encoding="utf-8")


class TestPlainWordsUnderPairNames:
    """``?state=queued`` is an enum, not an OAuth state: it never scrubs paths or bodies."""

    def test_enum_state_keeps_routes_and_values(self, tmp_path: Path) -> None:
        base = "https://app.example"
        entries = [
            entry("GET", f"{base}/api/runs?state=queued", resp={"runs": [{"state": "queued"}]}),
            entry("GET", f"{base}/api/assets/queuedEvents", resp={"events": []}),
            entry("GET", f"{base}/cb?state=xY7kq2Lm9PzR4t&code=SplxlOBeZQQYbYS6WxSbIA"),
        ]
        src = _write(tmp_path, entries)
        out = tmp_path / "out"
        analyze([str(src)], str(out))
        spec = (out / "openapi.json").read_text(encoding="utf-8")
        assert "/api/assets/queuedEvents" in spec
        assert "REDACTED:word" not in spec
        everything = spec + "".join(p.read_text() for p in (out / "cards").glob("*.json"))
        assert "xY7kq2Lm9PzR4t" not in everything and "SplxlOBeZQQYbYS6WxSbIA" not in everything

    def test_recorder_keeps_enum_state_out_of_its_secrets(self) -> None:
        """The recorder's writer learns no plain word from ``?state=`` (Airflow's UI sends it)."""
        from zapi.har_writer import Exchange, build_har
        from zapi.redact import Redactor

        base = "https://app.example"
        seen = [
            Exchange(
                0.0,
                "GET",
                f"{base}/api/runs?state=queued",
                status=200,
                response_headers=[("Content-Type", "application/json")],
                response_body=b'{"runs": [{"state": "queued", "title": "nightly"}]}',
            ),
            Exchange(
                1.0,
                "GET",
                f"{base}/api/assets/queuedEvents",
                status=200,
                response_headers=[("Content-Type", "application/json")],
                response_body=b'{"events": []}',
            ),
            Exchange(2.0, "GET", f"{base}/cb?state=xY7kq2Lm9PzR4t", status=200),
        ]
        doc, _ = build_har(seen, redactor=Redactor())
        text = json.dumps(doc)
        assert "/api/assets/queuedEvents" in text and '\\"state\\": \\"queued\\"' in text
        assert "xY7kq2Lm9PzR4t" not in text


class TestAuthLikeWordsThatAreNoSecrets:
    """``authorized_menu_items`` lists what a user may see, ``author`` names a person:
    words that begin like ``auth`` without proving anything keep their values."""

    def test_permission_lists_and_authors_are_kept_and_tokens_are_not(self) -> None:
        from zapi.redact import Redactor

        body = {
            "authorized_menu_items": ["Dags", "Assets", "Browse"],
            "authorizedMenuItems": ["Admin"],
            "author": "Ada Lovelace",
            "authorize_token": "tok_9fQ2xZ7LmPq4RtY8vW3n",
            "authToken": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl",
            "authorization": "Basic dXNlcjpwYXNz",
        }
        out = Redactor().json(body)
        assert out["authorized_menu_items"] == ["Dags", "Assets", "Browse"]
        assert out["authorizedMenuItems"] == ["Admin"]
        assert out["author"] == "Ada Lovelace"
        for key in ("authorize_token", "authToken", "authorization"):
            assert out[key] != body[key] and "REDACTED" in str(out[key]), key


class TestUndeclaredBodies:
    """A body without a declared type (a request still in flight when the HAR is written has
    no headers; ``fetch`` sends strings as ``text/plain``) is redacted by its structure."""

    def test_json_and_form_bodies_without_a_type_lose_their_secrets(self) -> None:
        from zapi.har_writer import Exchange, build_har
        from zapi.redact import Redactor

        planted = ("Zq8vW2nP4xL7", "Hk3mT9rB6yD1", "Vc5sJ2gF8wQ4")
        seen = [
            Exchange(
                0.0,
                "PUT",
                "https://app.example/api/items/A-1/notes",
                request_body=json.dumps({"password": planted[0], "note": "ok"}).encode(),
            ),
            Exchange(
                1.0,
                "POST",
                "https://app.example/legacy/update.do",
                request_headers=[("Content-Type", "text/plain;charset=UTF-8")],
                request_body=f"pin={planted[1]}&passphrase={planted[2]}&qty=3".encode(),
                status=200,
            ),
        ]
        doc, _ = build_har(seen, redactor=Redactor())
        text = json.dumps(doc)
        assert "/api/items/A-1/notes" in text and "qty=3" in text and '\\"note\\"' in text
        for secret in planted:
            assert secret not in text, secret

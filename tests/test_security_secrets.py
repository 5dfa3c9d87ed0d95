"""Planted secrets: every name and value class is absent from every artifact zapi writes.

Covers cards, openapi.json, report.md, every export format, the recorder's HAR and
the action log; and that redaction keeps JSON types (issue 12).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import entry, har
from toolgen.cards import load_cards
from toolgen.render import FORMATS, render
from zapi.analyzer.auth import auth_keys
from zapi.api import analyze
from zapi.har import HarEntry
from zapi.har_writer import Exchange, build_har
from zapi.redact import Redactor

API = "http://127.0.0.1:9"
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAv3JkQ9pemBodyLine0001\n"
    "pemBodyLine0002xYz\n-----END RSA PRIVATE KEY-----"
)
JWT_NEUTRAL = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.Zm9vYmFyYmF6cXV4cXV1eA"
JWT_BEARER = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.YmVhcmVyU2lnbmF0dXJl"
SECRETS = {
    "header Ocp-Apim-Subscription-Key": "ocpKey9f8e7d6c5b4a",
    "header X-Functions-Key": "fnKeyA1b2C3d4E5f6",
    "header X-Key": "xKeyZ9y8X7w6V5u4",
    "header X-Client-Key": "xClientQ1w2E3r4T5",
    "header Authorization": JWT_BEARER,
    "high-entropy X- header": "Zx8Qp2Lr7Vt4Nk9Ws3Hy6Bd1",
    "high-entropy query *_hash": "Hq7Lm2Np9Rs4Tv6Wx1Yz3",
    "query key": "qKeyM1n2B3v4C5x6",
    "query code": "oauthCodeP0o9I8u7",
    "query sig": "sigL1k2J3h4G5f6",
    "query hmac": "hmacD4s5A6q7W8e9",
    "form pin": "482913",
    "form pass": "passR4t5Y6u7I8",
    "form passphrase": "phraseO9p0A1s2D3",
    "form code": "formCodeZ2x3C4v5",
    "json password": "jsonPwE3r4T5y6U7",
    "json hmac": "jsonHmacK8l9M0n1",
    "json pin": "739164",
    "PEM under a neutral name": "MIIEowIBAAKCAQEAv3JkQ9pemBodyLine0001",
    "PEM second line": "pemBodyLine0002xYz",
    "JWT under a neutral name": JWT_NEUTRAL,
    "code inside a URL in JSON": "inUrlCode1q2w3e4",
    "code in Location": "locCode5t6y7u8i",
    "userinfo password": "uiPass7u6y5t4r",
    "response access_token": "respTok9i8u7y6t5r4e",
}


def _s(label: str) -> str:
    return SECRETS[label]


def _entries() -> list[dict[str, Any]]:
    q = (
        f"key={_s('query key')}&code={_s('query code')}&sig={_s('query sig')}"
        f"&hmac={_s('query hmac')}&verify_hash={_s('high-entropy query *_hash')}"
    )
    headers = {
        "Ocp-Apim-Subscription-Key": _s("header Ocp-Apim-Subscription-Key"),
        "X-Functions-Key": _s("header X-Functions-Key"),
        "X-Key": _s("header X-Key"),
        "X-Client-Key": _s("header X-Client-Key"),
        "Authorization": f"Bearer {JWT_BEARER}",
        "X-Request-Nonce": _s("high-entropy X- header"),
    }
    es = [
        entry(
            "GET",
            f"http://bob:{_s('userinfo password')}@127.0.0.1:9/api/items/{i}?{q}"
            if i == 1
            else f"{API}/api/items/{i}?{q}",
            req_headers=headers,
            resp={"id": i, "csrf_enabled": True, "token_count": 3, "password": None},
        )
        for i in range(1, 4)
    ]
    form = (
        f"user=alice&pin={_s('form pin')}&pass={_s('form pass')}"
        f"&passphrase={_s('form passphrase')}&code={_s('form code')}"
    )
    es.append(
        entry(
            "POST",
            f"{API}/api/session",
            302,
            body=form,
            body_mime="application/x-www-form-urlencoded",
            resp="",
            resp_headers={"Location": f"https://app.example/cb?code={_s('code in Location')}"},
        )
    )
    profile = {
        "cert": PEM,
        "note": JWT_NEUTRAL,
        "callback": f"https://app.example/cb?state=x&code={_s('code inside a URL in JSON')}",
        "password": _s("json password"),
        "hmac": _s("json hmac"),
        "pin": _s("json pin"),
        "csrf_enabled": True,
        "retries": 2,
    }
    for _ in range(2):
        es.append(
            entry(
                "POST",
                f"{API}/api/profile",
                body=profile,
                req_headers=headers,
                resp={
                    "access_token": _s("response access_token"),
                    "csrf_enabled": True,
                    "token_count": 3,
                },
            )
        )
    return es


def _exchanges() -> list[Exchange]:
    """The planted capture as the recorder sees it (plain exchanges)."""
    out = []
    for i, e in enumerate(_entries()):
        req = e["request"]
        post = req.get("postData") or {}
        body = post.get("text")
        out.append(
            Exchange(
                started_ms=1000.0 + i,
                method=req["method"],
                url=req["url"],
                request_headers=[
                    (h["name"], h["value"])
                    for h in req["headers"]
                    + ([{"name": "content-type", "value": post["mimeType"]}] if post else [])
                ],
                request_body=body.encode() if body is not None else None,
                status=e["response"]["status"],
                response_headers=[(h["name"], h["value"]) for h in e["response"]["headers"]]
                + [{"name": "content-type", "value": "application/json"}.values()],  # type: ignore[list-item]
                response_body=(e["response"]["content"].get("text") or "").encode(),
                resource_type="fetch",
            )
        )
    return out


def _leaks(text: str) -> list[str]:
    return [label for label, value in SECRETS.items() if value in text]


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("planted")
    src = tmp / "planted.har"
    src.write_text(json.dumps(har(_entries())), encoding="utf-8")
    analyze([str(src)], str(tmp / "out"))
    return tmp / "out"


class TestAnalysisOutputs:
    """No planted secret in cards, openapi.json, report.md or any export."""

    def test_cards_openapi_report(self, out: Path) -> None:
        """Old: API-key headers, query key/code/sig, form pin/pass, PEM and userinfo leaked."""
        for p in sorted(out.rglob("*")):
            if p.is_file():
                assert _leaks(p.read_text(encoding="utf-8")) == [], p.name

    @pytest.mark.parametrize("fmt", FORMATS)
    def test_exports(self, out: Path, fmt: str) -> None:
        """Every render format is built from the cards: nothing to leak."""
        assert _leaks(render(load_cards(out).values(), fmt)) == []

    def test_types_survive(self, tmp_path: Path) -> None:
        """Old: the recorder wrote csrf_enabled: true as '[REDACTED:word]' (schema: string)."""
        exchanges = [e for e in _exchanges() if "@" not in e.url]
        doc, _ = build_har(exchanges, redactor=Redactor(), stable_times=True)
        src = tmp_path / "recorded.har"
        src.write_text(json.dumps(doc), encoding="utf-8")
        analyze([str(src)], str(tmp_path / "out"))
        cards = load_cards(tmp_path / "out")
        profile = next(c for c in cards.values() if c.path == "/api/profile")
        props = profile.output_schema["properties"]
        assert props["csrf_enabled"]["type"] == "boolean"
        assert props["token_count"]["type"] == "integer"
        inputs = profile.input_schema["properties"]
        assert inputs["csrf_enabled"]["type"] == "boolean"

    def test_detected_credentials_are_not_inputs_with_values(self, out: Path) -> None:
        """What the auth detector calls a credential never appears with its value."""
        cards = load_cards(out)
        item = next(c for c in cards.values() if c.path.startswith("/api/items"))
        assert "header:Ocp-Apim-Subscription-Key" in item.auth
        assert "query:key" in item.auth
        dumped = item.dump()
        assert _s("query key") not in dumped
        assert _s("header Ocp-Apim-Subscription-Key") not in dumped


class TestOneClassifier:
    """The redactor redacts everything the auth detector classifies as a credential."""

    def test_detector_subset_of_redactor(self) -> None:
        """Old: Ocp-Apim-Subscription-Key, X-Functions-Key and query key were kept."""
        names = [
            "Ocp-Apim-Subscription-Key",
            "X-Functions-Key",
            "X-Api-Token",
            "X-Token",
            "Private-Token",
            "X-Key",
            "X-Client-Key",
        ]
        e = HarEntry(
            source="t",
            index=0,
            method="GET",
            url=f"{API}/x?key=v1secretA&apikey=v2secretB&appid=v3secretC&access_token=v4secretD",
            status=200,
            request_headers=[(n, f"value-for-{n}") for n in names],
        )
        red = Redactor()
        detected = auth_keys(e)
        for key in detected:
            kind, _, name = key.partition(":")
            if kind == "header":
                value = e.header(name) or ""
                assert value not in str(red.headers([(name, value)])), key
            elif kind == "query":
                value = dict(e.query)[name]
                assert value not in str(red.pairs([(name, value)])), key
        assert {f"header:{n}" for n in names} <= set(detected)

    def test_types_are_kept(self) -> None:
        """Only secret-shaped strings are replaced; booleans, numbers and nulls stay."""
        red = Redactor()
        data = {
            "csrf_enabled": True,
            "token_count": 5,
            "private": False,
            "password": None,
            "pin": 1234,
            "session": {"csrf": False, "auth": "yes"},
            "api_key": "true",
            "secret": "s3cr3t-value",
        }
        got = red.json(data)
        assert got["csrf_enabled"] is True and got["private"] is False
        assert got["token_count"] == 5 and got["pin"] == 1234 and got["password"] is None
        assert got["session"] == {"csrf": False, "auth": "yes"} and got["api_key"] == "true"
        assert got["secret"].startswith("[REDACTED")

    def test_deep_json_is_fine(self) -> None:
        """The redactor is iterative: any nesting depth, no RecursionError."""
        red = Redactor()
        node: Any = {"password": "deep-secret-1"}
        for _ in range(5000):
            node = {"a": [node]}
        out = red.json(node)
        for _ in range(5000):
            out = out["a"][0]
        assert out["password"].startswith("[REDACTED")


class TestRecorderHar:
    """The recorder's HAR writer: no planted secret, no crash, no lost session."""

    def test_no_secret_in_recorded_har(self) -> None:
        """Old: the userinfo marker was parsed as IPv6 and the whole session was lost."""
        doc, kept = build_har(_exchanges(), redactor=Redactor(), stable_times=True)
        text = json.dumps(doc, ensure_ascii=False)
        assert len(kept) == len(_entries()) == len(doc["log"]["entries"])
        assert _leaks(text) == []
        bodies = [
            json.loads(e["response"]["content"]["text"])
            for e in doc["log"]["entries"]
            if e["response"]["content"].get("text", "").startswith("{")
        ]
        assert all(b["csrf_enabled"] is True and b["token_count"] == 3 for b in bodies)

    def test_hostile_exchanges_do_not_lose_the_session(self) -> None:
        """Old: deep JSON (RecursionError) or an unparsable URL (ValueError) lost everything."""
        good = Exchange(started_ms=1.0, method="GET", url=f"{API}/api/ok", status=200)
        deep = Exchange(
            started_ms=2.0,
            method="POST",
            url=f"{API}/api/deep",
            request_headers=[("content-type", "application/json")],
            request_body=("[" * 3000 + "]" * 3000).encode(),
            response_headers=[("content-type", "application/json")],
            response_body=("{" + '"a":{' * 3000 + "}" * 3001).encode(),
            status=200,
        )
        ipv6 = Exchange(started_ms=3.0, method="GET", url="http://[::1", status=0)
        userinfo = Exchange(
            started_ms=4.0, method="GET", url="https://u:pw-secret-9@127.0.0.1:9/x", status=200
        )
        doc, kept = build_har([good, deep, ipv6, userinfo], redactor=Redactor())
        urls = [e["request"]["url"] for e in doc["log"]["entries"]]
        assert len(urls) == 4 and urls[0] == f"{API}/api/ok"
        assert urls[3] == "https://127.0.0.1:9/x"
        assert "pw-secret-9" not in json.dumps(doc)


class TestActionLog:
    """Arguments, credentials and responses are redacted before they are sealed."""

    def test_no_secret_in_log(self, out: Path, tmp_path: Path) -> None:
        from runtime import ActionLog, Credentials, JsonlSink, Runtime, SqliteStore

        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(
                200,
                json={
                    "access_token": _s("response access_token"),
                    "csrf_enabled": True,
                    "note": JWT_NEUTRAL,
                    "cert": PEM,
                },
            )

        cards = load_cards(out)
        profile = next(c for c in cards.values() if c.path == "/api/profile")
        secrets = {
            k: _s(f"header {v}")
            for k, v in {
                "header:Ocp-Apim-Subscription-Key": "Ocp-Apim-Subscription-Key",
                "header:X-Functions-Key": "X-Functions-Key",
                "header:X-Key": "X-Key",
                "header:X-Client-Key": "X-Client-Key",
            }.items()
        }
        secrets["bearer"] = JWT_BEARER
        scoped = {k: v for k, v in secrets.items() if k in profile.auth}
        log = ActionLog(SqliteStore(tmp_path / "log.db"), sinks=[JsonlSink(tmp_path / "l.jsonl")])
        rt = Runtime(
            cards,
            client=httpx.Client(transport=httpx.MockTransport(handler)),
            credentials=Credentials(by_origin={API: scoped}),
            log=log,
            sleep=lambda s: None,
        )
        args = {
            "cert": PEM,
            "note": JWT_NEUTRAL,
            "callback": f"https://app.example/cb?code={_s('code inside a URL in JSON')}",
            "password": _s("json password"),
            "hmac": _s("json hmac"),
            "pin": _s("json pin"),
            "csrf_enabled": True,
            "retries": 2,
            "x_request_nonce": _s("high-entropy X- header"),
        }
        schema_props = profile.input_schema.get("properties", {})
        rt.call(profile.name, **{k: v for k, v in args.items() if k in schema_props})
        rt.close()
        raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
        assert b"[REDACTED" in raw and b"attempt_started" in raw  # the call was logged
        assert _leaks(raw.decode("utf-8", "replace")) == []


@pytest.mark.browser
class TestRecorderBrowser:
    """A real headless Chromium session: planted request secrets never reach the HAR file."""

    def test_recorded_har_has_no_planted_secret(
        self, tmp_path: Path, erp_server: Any, chromium_path: str | None
    ) -> None:
        """Old: X-Client-Key, query code/sig/hmac, form pin/pass and the PEM were written."""
        from zapi.recorder import RecordOptions, launch_browser

        headers = {
            "X-Key": _s("header X-Key"),
            "X-Client-Key": _s("header X-Client-Key"),
            "X-Functions-Key": _s("header X-Functions-Key"),
            "Ocp-Apim-Subscription-Key": _s("header Ocp-Apim-Subscription-Key"),
            "X-Request-Nonce": _s("high-entropy X- header"),
        }
        query = (
            f"key={_s('query key')}&code={_s('query code')}&sig={_s('query sig')}"
            f"&hmac={_s('query hmac')}&verify_hash={_s('high-entropy query *_hash')}"
        )
        body = {
            "cert": PEM,
            "note": JWT_NEUTRAL,
            "callback": f"https://app.example/cb?code={_s('code inside a URL in JSON')}",
            "password": _s("json password"),
            "pin": _s("json pin"),
            "hmac": _s("json hmac"),
            "csrf_enabled": True,
            "token_count": 3,
        }
        form = (
            f"pin={_s('form pin')}&pass={_s('form pass')}"
            f"&passphrase={_s('form passphrase')}&code={_s('form code')}"
        )
        options = RecordOptions(headless=True, browser_path=chromium_path)
        with launch_browser(erp_server.url + "/login", options) as session:
            session.page.evaluate(
                """async ([h, q, b, f]) => {
                    await fetch('/api/items?' + q, {headers: h});
                    await fetch('/api/items/A-1/notes?' + q, {method: 'PUT', headers:
                        {...h, 'Content-Type': 'application/json'}, body: JSON.stringify(b)});
                    await fetch('/legacy/bin_update.do', {method: 'POST', headers:
                        {'Content-Type': 'application/x-www-form-urlencoded'}, body: f});
                }""",
                [headers, query, body, form],
            )
            session.dump_logs(tmp_path / "s.har")
        text = (tmp_path / "s.har").read_text(encoding="utf-8")
        assert "/api/items/A-1/notes" in text and "bin_update.do" in text
        assert _leaks(text) == []
        doc = json.loads(text)
        put = next(e for e in doc["log"]["entries"] if e["request"]["method"] == "PUT")
        sent = json.loads(put["request"]["postData"]["text"])
        assert sent["csrf_enabled"] is True and sent["token_count"] == 3

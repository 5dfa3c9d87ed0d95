"""Requests without a response are evidence of their route; a 405/501 route is no operation."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import factories
import pytest

from toolgen.openapi import validate_openapi
from zapi.analyzer.filters import Reason
from zapi.api import AnalyzeResult, analyze
from zapi.cli import main

APP = "http://app.example.test"
ABORTED = {"_error": "net::ERR_ABORTED"}
ALLOW_GET = {"content-type": "application/json", "allow": "GET, HEAD"}


def _call(method: str, path: str, status: int = 200, **kw: Any) -> dict[str, Any]:
    headers = {"Origin": kw.pop("origin", APP), "Accept": "application/json"}
    return factories.entry(method, kw.pop("base", APP) + path, status, req_headers=headers, **kw)


def _unanswered(method: str, path: str, **kw: Any) -> dict[str, Any]:
    """A request the browser sent and then cut off (a navigation moved on)."""
    extra = {**ABORTED, **kw.pop("extra", {})}
    return _call(method, path, 0, extra=extra, **kw)


def _analyze(tmp_path: Path, entries: list[dict[str, Any]]) -> AnalyzeResult:
    har = tmp_path / "app.har"
    har.write_text(json.dumps(factories.har(entries)))
    return analyze([str(har)], str(tmp_path / "out"))


def _cards(result: AnalyzeResult) -> dict[str, dict[str, Any]]:
    cards = [json.loads(Path(p).read_text()) for p in result.card_paths]
    return {f"{c['method']} {c['path']}": c for c in cards}


def _doc(result: AnalyzeResult) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(Path(result.openapi_path).read_text())
    return doc


def _listed() -> list[dict[str, Any]]:
    return [
        _call("GET", "/api/projects", resp=[{"name": "main"}, {"name": "lab"}]),
        _call("GET", "/api/projects", resp=[{"name": "main"}, {"name": "lab"}]),
    ]


class TestUnanswered:
    """A first-party request with no response becomes an operation, never a status 0."""

    def test_an_aborted_post_is_an_operation(self, tmp_path: Path) -> None:
        """Inputs from the request body; no output schema; a lowered confidence that says why."""
        result = _analyze(
            tmp_path,
            [*_listed(), _unanswered("POST", "/api/gpus/list", body={"group_by": ["gpu"]})],
        )
        card = _cards(result)["POST /api/gpus/list"]
        assert card["responses"] == {}
        assert card["output_schema"] == {}
        assert "group_by" in card["input_schema"]["properties"]
        assert card["confidence"] <= 0.5
        assert any("no response was recorded" in r for r in card["reasons"]), card["reasons"]
        assert "no response was recorded" in card["description"]
        assert card["seen_working"] is True  # never seen failing either: offered
        # safety from method and route, as for any POST: 'list' names a read
        assert card["safety"] == "read_only"
        assert any("'list'" in r for r in card["safety_reasons"]), card["safety_reasons"]

    def test_openapi_has_a_default_response_and_validates(self, tmp_path: Path) -> None:
        """OpenAPI 3.1 needs real codes: an operation with no answer gets ``default``."""
        result = _analyze(
            tmp_path, [*_listed(), _unanswered("GET", "/api/eventLogs?limit=50&offset=0")]
        )
        doc = _doc(result)
        op = doc["paths"]["/api/eventLogs"]["get"]
        assert list(op["responses"]) == ["default"]
        assert "no response was recorded" in op["responses"]["default"]["description"]
        assert {p["name"] for p in op.get("parameters", [])} >= {"limit", "offset"}
        for item in doc["paths"].values():
            for method_op in item.values():
                assert "0" not in method_op["responses"]
        validate_openapi(doc)

    def test_an_answered_call_keeps_its_codes_and_counts_the_silent_one(
        self, tmp_path: Path
    ) -> None:
        """Answered twice, cut off once: responses are the answers; the request still counts."""
        result = _analyze(
            tmp_path,
            [
                *_listed(),
                _call("GET", "/api/runs?limit=10", resp=[{"id": 1}]),
                _call("GET", "/api/runs?limit=20", resp=[{"id": 2}]),
                _unanswered("GET", "/api/runs?limit=30&state=queued"),
            ],
        )
        card = _cards(result)["GET /api/runs"]
        assert list(card["responses"]) == ["200"]
        assert card["provenance"]["samples"] == 3
        assert "1 without a response" in card["description"]
        assert "state" in card["input_schema"]["properties"]  # only the cut-off request sent it
        assert card["output_schema"]  # the answers' schema
        assert list(_doc(result)["paths"]["/api/runs"]["get"]["responses"]) == ["200"]

    def test_a_cut_off_sibling_joins_the_answered_template(self, tmp_path: Path) -> None:
        """``/summaries/beta`` cut off beside an answered ``/summaries/alpha`` takes its
        template: a request with no answer says nothing against behaving alike."""
        dags = [{"dag_id": "alpha"}, {"dag_id": "beta"}, {"dag_id": "gamma"}]
        entries = [
            _call("GET", "/api/dags", resp=dags),
            _call("GET", "/api/dags", resp=dags),
            _call("GET", "/api/summaries/alpha?run=1", resp={"dag_id": "alpha", "n": 1}),
            _call("GET", "/api/summaries/alpha?run=2", resp={"dag_id": "alpha", "n": 2}),
            _unanswered("GET", "/api/summaries/beta?run=3"),
            _unanswered("GET", "/api/summaries/gamma?run=4"),
        ]
        cards = _cards(_analyze(tmp_path, entries))
        summaries = [k for k in cards if "/summaries" in k]
        assert len(summaries) == 1 and summaries[0].endswith("_id}"), sorted(cards)
        assert cards[summaries[0]]["provenance"]["samples"] == 4

    def test_blocked_requests_are_still_dropped(self, tmp_path: Path) -> None:
        """A request the browser refused to send (an ad blocker) is no evidence."""
        blocked = _call("GET", "/api/ads/config", 0, extra={"_error": "net::ERR_BLOCKED_BY_CLIENT"})
        result = _analyze(tmp_path, [*_listed(), blocked])
        assert "GET /api/ads/config" not in _cards(result)
        assert result.analysis.dropped[Reason.BLOCKED] == 1

    def test_playwright_failed_requests_read_as_unanswered(self, tmp_path: Path) -> None:
        """Playwright's exports write status -1 and ``response._failureText``."""

        def failed(method: str, path: str, text: str) -> dict[str, Any]:
            e = _call(method, path, 0, body={"group_by": ["gpu"]} if method == "POST" else None)
            e["response"]["status"] = -1
            e["response"]["_failureText"] = text
            return e

        entries = [
            *_listed(),
            failed("POST", "/api/gpus/list", "net::ERR_ABORTED"),
            failed("GET", "/api/ads/config", "net::ERR_BLOCKED_BY_CLIENT"),
        ]
        result = _analyze(tmp_path, entries)
        cards = _cards(result)
        assert "POST /api/gpus/list" in cards and "GET /api/ads/config" not in cards
        assert result.analysis.dropped[Reason.BLOCKED] == 1

    def test_unanswered_third_party_calls_stay_out(self, tmp_path: Path) -> None:
        """Scoping still decides: another site's unanswered calls are third-party, even when
        they outnumber the app's own."""
        other = "http://telemetry.vendor.test"
        silent = [_unanswered("POST", f"/v1/events/{i}", base=other) for i in range(8)]
        result = _analyze(tmp_path, [*_listed(), *silent])
        assert set(_cards(result)) == {"GET /api/projects"}
        assert result.analysis.dropped[Reason.THIRD_PARTY] == 8

    def test_aborted_navigations_and_beacons_are_still_noise(self, tmp_path: Path) -> None:
        """An aborted page load or ping says nothing about the API."""
        page = _call("GET", "/dags", 0, resource_type="document", extra=ABORTED)
        ping = _call("POST", "/log/?explode=events", 0, resource_type="ping", extra=ABORTED)
        result = _analyze(tmp_path, [*_listed(), page, ping])
        assert set(_cards(result)) == {"GET /api/projects"}
        assert result.analysis.dropped[Reason.DOCUMENT] == 1
        assert result.analysis.dropped[Reason.BEACON] == 1

    def test_an_untyped_beacon_is_noise_but_a_cut_off_read_is_not(self, tmp_path: Path) -> None:
        """No resource type (Firefox): a POST to a reporting path left unanswered is a beacon;
        a GET of a job's log cut off the same way is a read of the app."""
        beacon = _unanswered("POST", "/api/analytics/ping", resource_type="", body={"e": 1})
        log = _unanswered("GET", "/api/jobs/log", resource_type="")
        result = _analyze(tmp_path, [*_listed(), beacon, log])
        assert set(_cards(result)) == {"GET /api/projects", "GET /api/jobs/log"}
        assert result.analysis.dropped[Reason.BEACON] == 1


class TestNotAllowed:
    """A route that answers 405/501 to a method has no such operation."""

    def test_405_every_time_is_dropped_with_a_reason(self, tmp_path: Path) -> None:
        """Sent 20 times, refused 20 times (and cut off twice): no tool, a report line."""
        refused = [
            _call(
                "POST",
                "/api/user/admin/billing/info",
                405,
                resp={"detail": "Method Not Allowed"},
                resp_headers=ALLOW_GET,
            )
            for _ in range(20)
        ]
        cut = [_unanswered("POST", "/api/user/admin/billing/info") for _ in range(2)]
        result = _analyze(tmp_path, [*_listed(), *refused, *cut])
        assert set(_cards(result)) == {"GET /api/projects"}
        assert result.analysis.dropped[Reason.NOT_ALLOWED] == 22
        examples = result.analysis.dropped_examples[Reason.NOT_ALLOWED]
        assert examples == ["POST " + APP + "/api/user/admin/billing/info"]
        assert Reason.NOT_ALLOWED in Path(result.report_path).read_text()

    def test_501_is_refused_too_and_other_methods_stay(self, tmp_path: Path) -> None:
        """A 501 on PATCH drops PATCH only; the GET of the same route is an operation."""
        entries = [
            *_listed(),
            _call("GET", "/api/settings", resp={"theme": "dark"}),
            _call("PATCH", "/api/settings", 501, body={"theme": "light"}),
        ]
        result = _analyze(tmp_path, entries)
        assert set(_cards(result)) == {"GET /api/projects", "GET /api/settings"}
        assert result.analysis.dropped[Reason.NOT_ALLOWED] == 1

    def test_a_405_without_allow_is_an_api_error(self, tmp_path: Path) -> None:
        """No ``Allow`` header (RFC 9110 requires one): the API's own error (an invalid
        body), so the operation stays, never seen working."""
        entries = [
            *_listed(),
            *(_call("POST", "/api/pets", 405, body={"name": i}) for i in range(3)),
        ]
        result = _analyze(tmp_path, entries)
        card = _cards(result)["POST /api/pets"]
        assert card["seen_working"] is False
        assert Reason.NOT_ALLOWED not in result.analysis.dropped

    def test_a_2xx_elsewhere_on_the_template_keeps_it(self, tmp_path: Path) -> None:
        """405 for one id, 200 for the others: the route serves the method."""
        entries = [*_listed()]
        for i in (101, 102, 103, 104):
            entries.append(_call("GET", f"/api/items/{i}", resp={"id": i, "name": f"n{i}"}))
            status = 405 if i == 101 else 200
            entries.append(
                _call(
                    "POST",
                    f"/api/items/{i}/archive",
                    status,
                    resp={"ok": True},
                    resp_headers=ALLOW_GET,
                )
            )
        result = _analyze(tmp_path, entries)
        cards = _cards(result)
        assert "POST /api/items/{item_id}/archive" in cards, sorted(cards)
        assert Reason.NOT_ALLOWED not in result.analysis.dropped


class _Handler(BaseHTTPRequestHandler):
    """Answers the call the recording never saw answered."""

    seen: list[tuple[str, str, bytes]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append(("POST", self.path, body))
        self._answer({"gpus": [{"name": "a100", "count": 2}]})

    def do_GET(self) -> None:
        self.seen.append(("GET", self.path, b""))
        self._answer([{"name": "main"}])


@pytest.fixture(scope="module")
def live() -> Iterator[str]:
    with ThreadingHTTPServer(("127.0.0.1", 0), _Handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()


class TestRuntime:
    """A card with no recorded answer (no output schema) runs like any other."""

    def test_zapi_call_runs_the_unanswered_card(
        self, live: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """``zapi call`` sends it from its inputs and hands back the answer it never saw."""
        entries = [
            _call("GET", "/api/projects", base=live, origin=live, resp=[{"name": "main"}]),
            _call("GET", "/api/projects", base=live, origin=live, resp=[{"name": "main"}]),
            _unanswered("POST", "/api/gpus/list", base=live, origin=live, body={"group_by": "x"}),
        ]
        result = _analyze(tmp_path, entries)
        card = _cards(result)["POST /api/gpus/list"]
        assert card["output_schema"] == {}
        _Handler.seen.clear()
        args = ["--arg", "group_by=gpu", "--state", str(tmp_path / "s.db")]
        capsys.readouterr()
        assert main(["call", result.out_dir, card["name"], *args]) == 0
        assert "a100" in capsys.readouterr().out
        assert len(_Handler.seen) == 1
        method, path, body = _Handler.seen[0]
        assert (method, path) == ("POST", "/api/gpus/list")
        assert json.loads(body) == {"group_by": "gpu"}

"""Cards on real apps' kinds of traffic: static files dropped, safety from evidence, generic names.

Every case is a synthetic capture written here from HTTP semantics (status
codes, headers, response shapes), not copied from any app's recording.
"""

from __future__ import annotations

from typing import Any

from factories import entry

from toolgen.build import build_cards
from toolgen.cards import ToolCard
from zapi.analyzer.filters import Reason, drop_reason
from zapi.analyzer.pipeline import analyze_entries
from zapi.har import HarEntry, entry_from_raw

H = "http://127.0.0.1:8000"
JSON = {"content-type": "application/json"}


def _cards(raw: list[dict[str, Any]]) -> dict[str, ToolCard]:
    entries = [entry_from_raw(e, "mem.har", i) for i, e in enumerate(raw)]
    analysis = analyze_entries([e for e in entries if isinstance(e, HarEntry)])
    return {c.name: c for c in build_cards(analysis)}


def _created_state(route: str) -> list[dict[str, Any]]:
    """Two POSTs under an item that each answer 201 with a new key."""
    return [
        entry("POST", f"{H}/api/boards/{n}/{route}", 201, body={"v": 1}, resp={"token": f"k{n}Q"})
        for n in (3, 4)
    ]


def _by_route(cards: dict[str, ToolCard], method: str, path: str) -> ToolCard:
    for c in cards.values():
        if c.method == method and c.path == path:
            return c
    raise AssertionError(f"no card for {method} {path}: {sorted(cards)}")


def _entry(raw: dict[str, Any]) -> HarEntry:
    got = entry_from_raw(raw, "mem.har", 0)
    assert isinstance(got, HarEntry), got
    return got


FILE_SERVER = {"accept-ranges": "bytes", "etag": '"5f1c"', "last-modified": "Mon, 02 Jan 2026"}


class TestServedFiles:
    """Files a file server answered are dropped by how they were served, not by their MIME type."""

    def test_data_file_with_byte_ranges_and_a_validator_is_dropped(self) -> None:
        raw = entry(
            "GET",
            f"{H}/ui-files/lang/fr/labels.json?v=1.2",
            resp={"hello": "bonjour"},
            resp_headers={**JSON, **FILE_SERVER},
        )
        assert drop_reason(_entry(raw)) == Reason.SERVED_FILE

    def test_immutable_or_long_cached_file_is_dropped(self) -> None:
        for cache in ("public, max-age=31536000, immutable", "max-age=604800"):
            raw = entry(
                "GET",
                f"{H}/cfg/features.json",
                resp={"a": 1},
                resp_headers={**JSON, "cache-control": cache},
            )
            assert drop_reason(_entry(raw)) == Reason.SERVED_FILE, cache

    def test_file_with_a_validator_under_a_file_directory_is_dropped(self) -> None:
        raw = entry(
            "GET", f"{H}/app/static/cfg/x.json", resp={}, resp_headers={**JSON, "etag": '"1"'}
        )
        assert drop_reason(_entry(raw)) == Reason.SERVED_FILE

    def test_api_document_named_like_a_file_stays(self) -> None:
        """An API answering with a JSON model of a document: validators, no ranges, no cache."""
        api = {**JSON, "etag": '"9d1"', "last-modified": "Mon, 02 Jan 2026 03:04:05 GMT"}
        for path in ("/api/documents/report.json", "/api/documents/notes/plan.ipynb"):
            raw = entry("GET", f"{H}{path}", resp={"name": path, "content": {}}, resp_headers=api)
            assert drop_reason(_entry(raw)) is None, path
        private = {**JSON, "cache-control": "private, max-age=604800"}
        raw = entry("GET", f"{H}/api/me/prefs.json", resp={}, resp_headers=private)
        assert drop_reason(_entry(raw)) is None

    def test_api_document_in_a_folder_named_like_a_file_directory_stays(self) -> None:
        """A user's folder called ``public`` or ``static`` under an API stays the API's document."""
        api = {**JSON, "etag": '"9d1"', "last-modified": "Mon, 02 Jan 2026 03:04:05 GMT"}
        for path in ("/api/contents/public/data.json", "/api/contents/static/x.ipynb"):
            raw = entry("GET", f"{H}{path}", resp={"name": path, "content": {}}, resp_headers=api)
            assert drop_reason(_entry(raw)) is None, path

    def test_capture_keeps_the_api_and_drops_the_files(self) -> None:
        raw = [
            entry(
                "GET",
                f"{H}/ui-files/lang/en/{ns}.json",
                resp={"k": ns},
                resp_headers={**JSON, **FILE_SERVER},
            )
            for ns in ("common", "admin", "browse", "dags", "tasks")
        ]
        api = {**JSON, "etag": '"9d1"'}
        raw += [
            entry("GET", f"{H}/api/documents/{n}.json", resp={"name": n}, resp_headers=api)
            for n in ("a", "b", "c")
        ]
        paths = {c.path for c in _cards(raw).values()}
        assert not any(p.startswith("/ui-files") for p in paths), paths
        assert any(p.startswith("/api/documents/") for p in paths), paths

    def test_script_brackets_are_no_json_nesting(self) -> None:
        """A bundled script full of brackets is read (and dropped as static), not unreadable."""
        js = "function f(){" * 300 + "}" * 300
        raw = entry("GET", f"{H}/app.js", resp=js, resp_mime="text/javascript")
        assert drop_reason(_entry(raw)) == Reason.STATIC


class TestSafetyWordsAndCreation:
    """A read word decides only as the whole last segment; creation evidence outweighs it."""

    def test_compound_name_with_a_read_word_that_creates_is_a_write(self) -> None:
        raw = _created_state("search_state")
        card = _by_route(_cards(raw), "POST", "/api/boards/{board_id}/search_state")
        assert card.safety == "write", card.safety_reasons

    def test_compound_read_word_without_evidence_stays_a_write(self) -> None:
        raw = [
            entry("POST", f"{H}/api/widgets/{n}/count_cache", 200, body={"on": True}, resp={})
            for n in (1, 2)
        ]
        card = _by_route(_cards(raw), "POST", "/api/widgets/{widget_id}/count_cache")
        assert card.safety == "write", card.safety_reasons

    def test_whole_segment_read_word_is_a_read(self) -> None:
        raw = [
            entry("POST", f"{H}/api/widgets/_search", 200, body={"q": q}, resp={"hits": []})
            for q in ("a", "b")
        ]
        card = _by_route(_cards(raw), "POST", "/api/widgets/_search")
        assert card.safety == "read_only", card.safety_reasons

    def test_a_compound_led_by_a_pure_verb_is_a_read(self) -> None:
        raw = [
            entry("POST", f"{H}/api/teams/{t}/pools/get_plan", 200, body={"n": n}, resp={"cost": n})
            for t, n in (("red", 1), ("blue", 2))
        ]
        raw += [entry("POST", f"{H}/rpc/listWidgets", 200, body={"p": p}, resp=[]) for p in (1, 2)]
        cards = _cards(raw)
        for card in cards.values():
            assert card.safety == "read_only", (card.path, card.safety_reasons)

    def test_a_compound_with_a_write_word_stays_a_write(self) -> None:
        raw = [
            entry("POST", f"{H}/api/tags/get_or_create", 200, body={"t": t}, resp={"t": t})
            for t in ("a", "b")
        ]
        card = _by_route(_cards(raw), "POST", "/api/tags/get_or_create")
        assert card.safety == "write", card.safety_reasons

    def test_a_compound_answered_alike_is_a_read(self) -> None:
        raw = [
            entry("POST", f"{H}/api/widgets/search_facets", 200, body={"q": 1}, resp={"f": []})
            for _ in range(3)
        ]
        card = _by_route(_cards(raw), "POST", "/api/widgets/search_facets")
        assert card.safety == "read_only", card.safety_reasons

    def test_a_read_answering_the_thing_with_its_id_stays_a_read(self) -> None:
        """Reads hand back ids too: only a small receipt with a new id is evidence of a write."""
        raw = [
            entry(
                "POST",
                f"{H}/api/members/get_member",
                200,
                body={"login": who},
                resp={"id": f"u-{who}", "login": who, "email": f"{who}@x.org", "role": "user"},
            )
            for who in ("ann", "bob")
        ]
        card = _by_route(_cards(raw), "POST", "/api/members/get_member")
        assert card.safety == "read_only", card.safety_reasons

    def test_a_minted_key_outweighs_a_read_route_word(self) -> None:
        raw = [
            entry(
                "POST",
                f"{H}/api/reports/query",
                200,
                body={"sql": f"select {n}"},
                resp={"query_id": f"q-{n}9f2"},
            )
            for n in (1, 2)
        ]
        card = _by_route(_cards(raw), "POST", "/api/reports/query")
        assert card.safety == "write", card.safety_reasons
        assert any("query_id" in r for r in card.safety_reasons)

    def test_201_created_outweighs_a_read_route_word(self) -> None:
        raw = [
            entry("POST", f"{H}/api/boards/{n}/search", 201, body={"q": "x"}, resp={"ok": 1})
            for n in (1, 2)
        ]
        card = _by_route(_cards(raw), "POST", "/api/boards/{board_id}/search")
        assert card.safety == "write", card.safety_reasons
        assert any("201" in r for r in card.safety_reasons)

    def test_a_location_header_outweighs_a_read_route_word(self) -> None:
        raw = [
            entry(
                "POST",
                f"{H}/api/exports/filter",
                200,
                body={"state": "x"},
                resp={"ok": True},
                resp_headers={**JSON, "Location": f"/api/exports/{n}"},
            )
            for n in (1, 2)
        ]
        card = _by_route(_cards(raw), "POST", "/api/exports/filter")
        assert card.safety == "write", card.safety_reasons
        assert any("Location" in r and "outweighs" in r for r in card.safety_reasons)

    def test_an_id_echoed_from_the_url_is_not_a_new_one(self) -> None:
        raw = [
            entry("POST", f"{H}/api/runs/run-{n}a/history", 200, body={}, resp={"id": f"run-{n}a"})
            for n in (1, 2, 3)
        ]
        cards = _cards(raw)
        card = next(c for c in cards.values() if c.path.endswith("/history"))
        assert card.safety == "read_only", card.safety_reasons


class TestGenericNames:
    """Names follow the route's structure: collections list, created sub-resources are created."""

    def test_collection_beside_its_item_route_lists(self) -> None:
        raw = [entry("GET", f"{H}/api/board/", 200, resp={"result": [{"id": 1}, {"id": 2}]})]
        raw += [entry("GET", f"{H}/api/board/{n}", 200, resp={"id": n}) for n in (1, 2, 3)]
        cards = _cards(raw)
        assert _by_route(cards, "GET", "/api/board/").name == "list_boards"
        assert _by_route(cards, "GET", "/api/board/{board_id}").name == "get_board"

    def test_created_sub_resource_is_named_create(self) -> None:
        raw = _created_state("search_state")
        card = _by_route(_cards(raw), "POST", "/api/boards/{board_id}/search_state")
        assert card.name == "create_board_search_state"

    def test_verb_sub_route_stays_an_action(self) -> None:
        raw = [
            entry("POST", f"{H}/api/runs/{n}/set_state", 201, body={"state": "x"}, resp={"id": n})
            for n in (1, 2)
        ]
        card = _by_route(_cards(raw), "POST", "/api/runs/{run_id}/set_state")
        assert card.name == "set_state_run"

    def test_paged_collection_lists(self) -> None:
        raw = [
            entry("GET", f"{H}/api/audit/entry/?__page={p}&__page_size=9", 200, resp={"rows": []})
            for p in (1, 2)
        ]
        assert _by_route(_cards(raw), "GET", "/api/audit/entry/").name == "list_entries"
        raw = [entry("GET", f"{H}/api/runs/nightly?limit=5", 200, resp={"rows": []})]
        assert _by_route(_cards(raw), "GET", "/api/runs/nightly").name == "get_nightly"

    def test_a_get_led_by_a_write_verb_is_no_action(self) -> None:
        raw = [entry("GET", f"{H}/api/v3/importFailures", 200, resp={"items": []})]
        raw += [entry("GET", f"{H}/api/v3/exportCsv", 200, resp="a,b", resp_mime="text/csv")]
        cards = _cards(raw)
        assert _by_route(cards, "GET", "/api/v3/importFailures").name == "list_import_failures"
        assert _by_route(cards, "GET", "/api/v3/exportCsv").name == "export_csv"

    def test_rpc_style_routes_are_named_by_their_verb(self) -> None:
        raw = [
            entry("POST", f"{H}/api/groups/{g}/get", 200, body={}, resp={"name": g, "size": 3})
            for g in ("g-1a", "g-2b", "g-3c")
        ]
        raw += [
            entry("POST", f"{H}/api/pools/apply", 200, body={"spec": n}, resp={"name": n})
            for n in ("p1", "p2")
        ]
        cards = _cards(raw)
        get = next(c for c in cards.values() if c.path.endswith("/get"))
        assert get.name == "get_group" and get.safety == "read_only", get.safety_reasons
        assert _by_route(cards, "POST", "/api/pools/apply").name == "apply_pool"

    def test_a_listing_answer_lists(self) -> None:
        """An envelope with one array of objects and no id of its own is a listing."""
        listing = {"count": 2, "ids": [1, 2], "result": [{"id": 1}, {"id": 2}]}
        raw = [entry("GET", f"{H}/api/v1/alert_status/", resp=listing)]
        item = {"id": 5, "tags": [{"name": "x"}]}
        raw += [entry("GET", f"{H}/api/v1/profile/", resp=item)]
        cards = _cards(raw)
        assert _by_route(cards, "GET", "/api/v1/alert_status/").name == "list_alert_statuses"
        assert _by_route(cards, "GET", "/api/v1/profile/").name == "get_profile"

    def test_status_is_read_and_put_beside_patch_replaces(self) -> None:
        raw = [entry("GET", f"{H}/svc/status", resp={"ok": True})]
        doc = {"name": "a", "content": "x"}
        raw += [entry(m, f"{H}/api/docs/{n}", resp=doc) for m in ("PUT", "PATCH") for n in "abc"]
        cards = _cards(raw)
        assert _by_route(cards, "GET", "/svc/status").name == "get_status"
        assert _by_route(cards, "PATCH", "/api/docs/{doc_id}").name == "update_doc"
        assert _by_route(cards, "PUT", "/api/docs/{doc_id}").name == "replace_doc"


class TestRequiredInputs:
    """A UI sending a key every time makes it required, except keys servers default."""

    def test_paging_sorting_and_range_keys_are_not_required_by_presence(self) -> None:
        raw = [
            entry(
                "GET",
                f"{H}/api/events?limit=10&order_by=-ts&ts_gte=2026-01-0{d}&source=s{d}",
                resp={"events": []},
            )
            for d in range(1, 7)
        ]
        card = _by_route(_cards(raw), "GET", "/api/events")
        assert card.input_schema.get("required") == ["source"], card.input_schema

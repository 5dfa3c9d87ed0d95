"""Path templating failure classes found on real apps, rebuilt from first principles.

Each test builds its own small capture; none copies a recording.
"""

from __future__ import annotations

import random
import re
from typing import Any

from factories import entry
from hypothesis import given, settings
from hypothesis import strategies as st

from zapi.analyzer.model import Analysis
from zapi.analyzer.pipeline import Collector, analyze_entries
from zapi.har import HarEntry, entry_from_raw

H = "http://127.0.0.1:8000"


def _analyze(raw: list[dict[str, Any]]) -> Analysis:
    items = []
    for i, e in enumerate(raw):
        item = entry_from_raw(e, "mem.har", i)
        assert isinstance(item, HarEntry)
        items.append(item)
    return analyze_entries(items)


def _ops(raw: list[dict[str, Any]]) -> set[str]:
    """Templates with parameter names erased (names are not what is being tested)."""
    ops = {f"{op.method} {op.template.path}" for op in _analyze(raw).operations}
    return {re.sub(r"\{[^}]+\}", "{}", o) for o in ops}


class TestSiblingCollections:
    """Collections right under a version share continuations but are distinct resources."""

    def _capture(self) -> list[dict[str, Any]]:
        # Every collection answers the same envelope (the same top-level keys) and has the
        # same continuations; some are visited once or twice, as a user clicking through does.
        envelope = ["count", "ids", "list_columns", "order_columns", "result"]
        kinds = {
            "report": ("title", "layout"),
            "source": ("table", "schema_name"),
            "engine": ("driver", "host"),
            "template": ("css", "label"),
            "alert": ("crontab", "recipients"),
            "query": ("sql", "rows"),
        }
        raw = []
        for i, (kind, fields) in enumerate(kinds.items()):
            page = dict.fromkeys(envelope, 1) | {"result": [dict.fromkeys(fields, "x")]}
            raw.append(entry("GET", f"{H}/api/v1/{kind}/?q=(page:0)", resp=page))
            raw.append(entry("GET", f"{H}/api/v1/{kind}/_info", resp={"permissions": ["read"]}))
            if i < 2:  # two collections also show one item and are listed again
                raw.append(entry("GET", f"{H}/api/v1/{kind}/?q=(page:1)", resp=page))
                raw.append(entry("GET", f"{H}/api/v1/{kind}/{i + 1}", resp={"id": i + 1}))
        return raw

    def test_collections_under_a_version_stay_literal(self) -> None:
        got = _ops(self._capture())
        assert "GET /api/v1/{}/_info" not in got
        assert {"GET /api/v1/report/_info", "GET /api/v1/alert", "GET /api/v1/query"} <= got
        assert "GET /api/v1/report/{}" in got

    def test_listed_names_under_a_version_are_ids(self) -> None:
        """Provenance still wins: names the API itself listed are ids, even under ``v1``."""
        names = ["alpha", "bravo", "charlie"]
        raw = [entry("GET", f"{H}/v1", resp={"tenants": [{"name": n} for n in names]})]
        raw += [entry("GET", f"{H}/v1/{n}/usage", resp={"units": 3}) for n in names]
        assert _ops(raw) == {"GET /v1", "GET /v1/{}/usage"}


class TestCodes:
    """A code the parent listed (a language, a currency) is the id of its item."""

    def test_codes_listed_by_the_parent(self) -> None:
        langs = [
            {"language_name": n, "language_code": c}
            for n, c in (("English", "en"), ("Dutch", "nl"))
        ]
        raw = [entry("GET", f"{H}/public/translations/", resp={"translations": langs})]
        raw += [entry("GET", f"{H}/public/translations/en/", resp={"language_code": "en"})]
        raw += [entry("GET", f"{H}/public/meta/", resp={"site_name": "x"})]
        assert _ops(raw) == {
            "GET /public/translations",
            "GET /public/translations/{}",
            "GET /public/meta",
        }


class TestWildcardIds:
    """A value that is not a word (``~``) where ids go is a value of the same parameter."""

    def test_tilde_among_listed_ids(self) -> None:
        names = ["nightly_export", "weekly_cleanup", "hourly_sync"]
        listing = {"jobs": [{"job_id": n, "paused": False} for n in names], "total": 3}
        raw = [entry("GET", f"{H}/api/v2/jobs", resp=listing)]
        for n in names:
            runs = {"runs": [{"run_id": f"manual__{n}", "job_id": n}], "total": 1}
            raw.append(entry("GET", f"{H}/api/v2/jobs/{n}/runs", resp=runs))
            raw.append(entry("GET", f"{H}/api/v2/jobs/{n}/runs/manual__{n}/steps", resp=[]))
        # The page polls the runs of every job, and their steps, through the wildcard.
        for _ in range(4):
            raw.append(entry("GET", f"{H}/api/v2/jobs/~/runs?limit=5", resp={"runs": []}))
            raw.append(entry("GET", f"{H}/api/v2/jobs/~/runs/~/steps?state=ok", resp=[]))
        assert _ops(raw) == {
            "GET /api/v2/jobs",
            "GET /api/v2/jobs/{}/runs",
            "GET /api/v2/jobs/{}/runs/{}/steps",
        }

    def test_lone_wildcard_after_a_collection_word(self) -> None:
        """``/runs/~/steps`` is the only use of that position: ``~`` is still an id there."""
        raw = [entry("GET", f"{H}/api/jobs/{n}/runs/~/steps", resp={"steps": []}) for n in (3, 4)]
        raw += [entry("GET", f"{H}/api/jobs/{n}/runs", resp={"runs": []}) for n in (3, 4)]
        assert _ops(raw) == {"GET /api/jobs/{}/runs", "GET /api/jobs/{}/runs/{}/steps"}

    def test_separator_after_a_value_stays(self) -> None:
        """``-`` after a project id with no id beside it (a route separator) stays literal."""
        raw = [entry("GET", f"{H}/projects/{n}/-/issues", resp=[{"iid": 1}]) for n in (5, 6)]
        raw += [entry("GET", f"{H}/projects/{n}/-/tree", resp={"entries": []}) for n in (5, 6)]
        raw += [entry("GET", f"{H}/projects/{n}/members", resp=[{"username": "a"}]) for n in (5, 6)]
        assert _ops(raw) == {
            "GET /projects/{}/-/issues",
            "GET /projects/{}/-/tree",
            "GET /projects/{}/members",
        }


class TestNamedWordsSideBySide:
    """Several plain words that bodies name as ids, with shared continuations, are ids."""

    def test_named_words_that_share_continuations(self) -> None:
        names = ["nightly_export", "tutorial", "weekly_cleanup"]
        raw = []
        for n in names:  # no listing of the parent: the names come from other routes' bodies
            raw.append(entry("GET", f"{H}/ui/summaries/{n}", resp={"flow_id": n, "tasks": []}))
            for _ in range(3):  # the page polls
                raw.append(entry("GET", f"{H}/api/flows/{n}", resp={"flow_id": n, "paused": True}))
                raw.append(entry("GET", f"{H}/api/flows/{n}/runs", resp={"runs": [], "total": 0}))
            raw.append(entry("GET", f"{H}/api/flows/{n}/details", resp={"flow_id": n, "doc": ""}))
        assert _ops(raw) == {
            "GET /ui/summaries/{}",
            "GET /api/flows/{}",
            "GET /api/flows/{}/runs",
            "GET /api/flows/{}/details",
        }

    def test_named_verbs_side_by_side_stay_literal(self) -> None:
        """Command names in a body (``restart``, ``interrupt``) are verbs, not ids."""
        commands = [{"name": "restart"}, {"name": "interrupt"}]
        raw = [entry("GET", f"{H}/settings", resp={"commands": commands})]
        raw += [entry("POST", f"{H}/kernels/{n}/restart", resp={"id": n}) for n in (1, 2)]
        raw += [entry("POST", f"{H}/kernels/{n}/interrupt", status=204) for n in (1, 2)]
        assert _ops(raw) == {
            "GET /settings",
            "POST /kernels/{}/restart",
            "POST /kernels/{}/interrupt",
        }

    def test_named_items_that_answer_alike_are_ids(self) -> None:
        """Pool names named in a task's body, each read once, answer alike: ids."""
        raw = [entry("GET", f"{H}/tasks/1", resp={"id": 1, "pool_name": "gpu"})]
        raw += [entry("GET", f"{H}/tasks/2", resp={"id": 2, "pool_name": "highmem"})]
        raw += [
            entry("GET", f"{H}/pools/{n}", resp={"slots": 4, "used": 1}) for n in ("gpu", "highmem")
        ]
        assert _ops(raw) == {"GET /tasks/{}", "GET /pools/{}"}


class TestStaticFiles:
    """Files under ``/static/`` are the web server's, whatever their media type."""

    def test_static_json_is_an_asset(self) -> None:
        raw = [entry("GET", f"{H}/static/i18n/{n}.json", resp={"Save": "Save"}) for n in "ab"]
        raw += [entry("GET", f"{H}/api/config", resp={"page_size": 50})]
        assert _ops(raw) == {"GET /api/config"}


def _opaque(rnd: random.Random, prefix: str, digits: bool) -> str:
    letters = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
    tail = "".join(rnd.choice(letters) for _ in range(12))
    return f"{prefix}_{tail[:-1]}{rnd.randint(2, 9) if digits else tail[-1]}"


class TestCrowds:
    """Deep routes used once, under slugs that a crowd of siblings shares."""

    def _capture(self, odd_tail: str) -> list[dict[str, Any]]:
        rnd = random.Random(7)
        raw = []
        for i in range(30):  # 30 workspace/repo pairs, each used twice
            ws, repo = f"team-{i}x", f"repo_{i}y"
            base = f"{H}/2.0/repositories/{ws}/{repo}"
            raw.append(entry("GET", base, resp={"slug": repo, "size": i}))
            issue = _opaque(rnd, "iss", digits=True)
            if i % 3:
                raw.append(entry("GET", f"{base}/issues/{issue}", resp={"id": issue, "n": 1}))
            else:
                raw.append(entry("GET", f"{base}/issues", resp={"values": []}))
        # One more pair, seen once, on a route no other pair used, with a digit-less id tail.
        tail = f"/issues/{odd_tail}/vote"
        raw.append(entry("PUT", f"{H}/2.0/repositories/lone-ws/lone_repo{tail}", status=204))
        return raw

    def test_rare_pair_on_a_unique_deep_route_joins_the_crowd(self) -> None:
        got = _ops(self._capture("iss_duFRThRwgFec"))
        assert got == {
            "GET /2.0/repositories/{}/{}",
            "GET /2.0/repositories/{}/{}/issues",
            "GET /2.0/repositories/{}/{}/issues/{}",
            "PUT /2.0/repositories/{}/{}/issues/{}/vote",
        }

    def test_camel_case_word_is_not_an_opaque_id(self) -> None:
        """``api_bulkUpdateItems`` is a word with a prefix, not a random tail."""
        got = _ops(self._capture("api_bulkUpdateItems"))
        assert "PUT /2.0/repositories/{}/{}/issues/api_bulkUpdateItems/vote" in got


class TestListedBySiblingEndpoint:
    """Names a collection's own query endpoint returned (``POST /pools/filter``) are its ids."""

    def test_names_from_a_filter_endpoint(self) -> None:
        pools = [{"name": "default-pool", "type": "a"}, {"name": "gpu-pool", "type": "b"}]
        queues = [{"name": "default", "priority": 1}, {"name": "urgent", "priority": 2}]
        raw = [
            entry("POST", f"{H}/api/work_pools/filter", body={"limit": 5}, resp=pools),
            entry("POST", f"{H}/api/work_pools/count", body={}, resp=2),
            entry("GET", f"{H}/api/work_pools/default-pool", resp=pools[0]),
            entry("POST", f"{H}/api/work_pools/default-pool/queues/filter", body={}, resp=queues),
            entry("GET", f"{H}/api/work_pools/default-pool/queues/urgent", resp=queues[1]),
            entry("POST", f"{H}/api/reports/filter", body={}, resp=[{"key": "daily-sales"}]),
            entry("GET", f"{H}/api/reports/daily-sales/latest", resp={"key": "daily-sales"}),
        ]
        assert _ops(raw) == {
            "POST /api/work_pools/filter",
            "POST /api/work_pools/count",
            "GET /api/work_pools/{}",
            "POST /api/work_pools/{}/queues/filter",
            "GET /api/work_pools/{}/queues/{}",
            "POST /api/reports/filter",
            "GET /api/reports/{}/latest",
        }

    def test_listing_survives_many_other_mentions(self) -> None:
        """A name that many deep routes' bodies also mention is still listed by its parent."""
        raw = [entry("GET", f"{H}/api/pools", resp=[{"name": "batch"}, {"name": "etl"}])]
        for route in ("alerts", "audits", "backups", "builds", "events", "jobs"):
            raw.append(entry("GET", f"{H}/api/a/{route}", resp=[{"pool_name": "batch"}]))
        raw.append(entry("GET", f"{H}/api/pools/batch", resp={"slots": 3}))
        assert "GET /api/pools/{}" in _ops(raw)


class TestEmptySegments:
    """A refused path with an empty segment (a missing id) does not shift a route."""

    def test_refused_double_slash_is_not_a_route(self) -> None:
        raw = [entry("GET", f"{H}/api/jobs/{n}/runs/{n}0/steps", resp=[]) for n in (1, 2, 3)]
        raw.append(entry("GET", f"{H}/api/jobs/1/runs//steps", 404, resp={"error": "not found"}))
        assert _ops(raw) == {"GET /api/jobs/{}/runs/{}/steps"}


class TestRareCollectionsBesideFrequentOnes:
    """RPC style: a rare collection word beside frequent literal ones on the same actions."""

    def _capture(self) -> list[dict[str, Any]]:
        raw = []
        # The page polls three collections' listings and reads or writes items by body.
        for kind, fields in (("orders", "total"), ("invoices", "due"), ("shipments", "eta")):
            for _ in range(6):
                raw.append(entry("POST", f"{H}/rpc/{kind}/list", body={}, resp=[{fields: 1}]))
            raw.append(entry("POST", f"{H}/rpc/{kind}/get", body={"n": 1}, resp={fields: 1}))
        raw.append(entry("POST", f"{H}/rpc/orders/create", body={"total": 3}, resp={"n": 2}))
        # Three other collections are visited once each, on the same action, all empty.
        for kind in ("carts", "coupons", "refunds"):
            raw.append(entry("POST", f"{H}/rpc/{kind}/list", body={}, resp=[]))
        return raw

    def test_rare_collections_stay_literal(self) -> None:
        got = _ops(self._capture())
        assert "POST /rpc/{}/list" not in got
        assert {"POST /rpc/carts/list", "POST /rpc/coupons/list", "POST /rpc/refunds/list"} <= got

    def test_named_rare_values_are_still_ids(self) -> None:
        """Provenance says otherwise: the rare values were named as keys by a body."""
        raw = self._capture()
        keys = [{"key": k} for k in ("carts", "coupons", "refunds")]
        raw.append(entry("POST", f"{H}/rpc/catalog", body={}, resp={"queues": keys}))
        assert "POST /rpc/{}/list" in _ops(raw)

    def test_rare_names_that_are_no_collection_words_are_ids(self) -> None:
        """Rare user names beside two frequent collections are not their kind: still ids."""
        raw = self._capture()[:-3]
        raw += [entry("POST", f"{H}/rpc/{n}/list", body={}, resp=[]) for n in ("alice", "bob")]
        assert "POST /rpc/{}/list" in _ops(raw)


# -- properties ------------------------------------------------------------------
def _all_classes() -> list[dict[str, Any]]:
    names = ["nightly_export", "tutorial", "weekly_cleanup"]
    raw = TestSiblingCollections()._capture() + TestCrowds()._capture("iss_duFRThRwgFec")
    raw += TestRareCollectionsBesideFrequentOnes()._capture()
    for n in names:
        raw.append(entry("GET", f"{H}/ui/summaries/{n}", resp={"flow_id": n, "tasks": []}))
        for _ in range(3):
            raw.append(entry("GET", f"{H}/api/flows/{n}", resp={"flow_id": n, "paused": True}))
            raw.append(entry("GET", f"{H}/api/flows/{n}/runs/~/steps", resp={"steps": []}))
    return raw


class TestProperties:
    """The new evidence is stable when samples are reordered and the capture is split."""

    @settings(max_examples=20, deadline=None)
    @given(st.randoms(use_true_random=False))
    def test_stable_when_samples_are_reordered(self, rnd: random.Random) -> None:
        raw = _all_classes()
        shuffled = list(raw)
        rnd.shuffle(shuffled)
        assert _ops(shuffled) == _ops(raw)

    @settings(max_examples=20, deadline=None)
    @given(st.lists(st.integers(min_value=1, max_value=200), min_size=1, max_size=4))
    def test_stable_when_the_capture_is_split(self, cuts: list[int]) -> None:
        items = []
        for i, e in enumerate(_all_classes()):
            item = entry_from_raw(e, "mem.har", i)
            assert isinstance(item, HarEntry)
            items.append(item)
        bounds = sorted({0, *(c % len(items) for c in cuts), len(items)})
        whole = Collector().feed_all(items).finish()
        merged = Collector()
        for a, b in zip(bounds, bounds[1:], strict=False):
            merged.merge(Collector().feed_all(items[a:b]))
        got = {f"{op.method} {op.template.path}" for op in merged.finish().operations}
        assert got == {f"{op.method} {op.template.path}" for op in whole.operations}

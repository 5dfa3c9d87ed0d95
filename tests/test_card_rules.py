"""Card rules one at a time: protocols, filters, required-by-evidence, naming at scale."""

from __future__ import annotations

import time

from factories import entry

from toolgen.inputs import MIN_INDEPENDENT_CALLS, required_reason
from toolgen.naming import tool_names
from zapi.analyzer.evidence import OpEvidence
from zapi.analyzer.filters import Reason, drop_reason
from zapi.analyzer.model import Operation
from zapi.analyzer.paths import Template
from zapi.analyzer.protocols import graphql_kind, rpc_is_read, split_operations
from zapi.analyzer.signals import OpSignals
from zapi.har import HarEntry, entry_from_raw


def _entry(raw: dict[str, object]) -> HarEntry:
    e = entry_from_raw(raw, "t.har", 0)
    assert isinstance(e, HarEntry)
    return e


def _op(path: str, origin: str = "https://a.example", method: str = "GET") -> Operation:
    return Operation(
        origin=origin,
        method=method,
        template=Template(path, (), 1.0, ("literal path",)),
        evidence=OpEvidence(origin=origin, method=method),
    )


class TestProtocols:
    """GraphQL and JSON-RPC knowledge lives in one module."""

    def test_rpc_read_names(self) -> None:
        reads = ["runs.list", "getBlock", "eth_getBalance", "items/count", "system.describe"]
        writes = ["runs.retry", "eth_sendTransaction", "createUser", "orders.cancel"]
        assert all(rpc_is_read(m) for m in reads)
        assert not any(rpc_is_read(m) for m in writes)

    def test_graphql_kind_after_comment(self) -> None:
        assert graphql_kind("# add one\nmutation Add { a }") == "mutation"
        assert graphql_kind("query Q { a }") == "query"

    def test_split(self) -> None:
        ops = split_operations(
            "POST", [], [{"query": "{ a }"}, {"query": "mutation M { b }"}], True
        )
        assert ops is not None and [(n, p) for n, p, _ in ops] == [
            ("a", "graphql"),
            ("M", "graphql"),
        ]
        rpc = split_operations("POST", [], {"jsonrpc": "2.0", "method": "x.get", "id": 1}, True)
        assert rpc is not None and rpc[0][:2] == ("x.get", "jsonrpc")
        get = split_operations("GET", [("query", "{a}"), ("operationName", "A")], None, False)
        assert get == [("A", "graphql", None)]
        assert split_operations("POST", [], {"name": "x"}, True) is None


class TestFilters:
    """Form logins stay; whole HTML pages fetched by scripts go, with a reason."""

    def test_form_login_answered_by_redirect_is_kept(self) -> None:
        raw = entry(
            "POST",
            "https://app.example/login",
            303,
            body="username=a&password=b",
            body_mime="application/x-www-form-urlencoded",
            resp_headers={"Location": "/home", "Set-Cookie": "sid=abc; HttpOnly"},
            resource_type="document",
        )
        assert drop_reason(_entry(raw)) is None
        plain = entry(
            "POST",
            "https://app.example/search",
            303,
            body="q=x",
            body_mime="application/x-www-form-urlencoded",
            resp_headers={"Location": "/results"},
            resource_type="document",
        )
        assert drop_reason(_entry(plain)) == Reason.DOCUMENT

    def test_script_fetched_page_is_dropped_fragment_kept(self) -> None:
        page = entry(
            "GET",
            "https://app.example/settings",
            resp="<!DOCTYPE html><html></html>",
            resp_mime="text/html",
        )
        frag = entry(
            "GET", "https://app.example/rows", resp="<tr><td>1</td></tr>", resp_mime="text/html"
        )
        assert drop_reason(_entry(page)) == Reason.SCRIPT_HTML
        assert drop_reason(_entry(frag)) is None


class TestRequiredReason:
    """Presence alone is not evidence until there are enough independent calls."""

    def test_thresholds(self) -> None:
        sig = OpSignals(answers={str(i): "x" for i in range(MIN_INDEPENDENT_CALLS)})
        assert required_reason("q", 2, 2, OpSignals(answers={"a": "1", "b": "2"})) == ""
        assert "sent in all" in required_reason(
            "q", MIN_INDEPENDENT_CALLS, MIN_INDEPENDENT_CALLS, sig
        )
        assert required_reason("q", 4, 5, sig) == ""
        assert "4xx" in required_reason("Name", 0, 3, OpSignals(demanded={"name": 1}))
        changed = OpSignals(changed={"quantity": 1})
        assert "changed" in required_reason("quantity", 1, 1, changed, body_field=True)
        carried = OpSignals(changed={"w": 1}, carried={"w": 1})
        assert required_reason("w", 1, 1, carried, body_field=True) == ""


class TestNamingAtScale:
    """Unique names stay linear: one path on 100,000 hosts finishes in seconds (issue 11 #8)."""

    @staticmethod
    def _ops(n: int) -> list[Operation]:
        one = _op("/api/items")
        return [
            Operation(
                origin=f"https://h{i}.example",
                method="GET",
                template=one.template,
                evidence=one.evidence,
            )
            for i in range(n)
        ]

    def test_many_hosts_unique_and_deterministic(self) -> None:
        ops = self._ops(100_000)
        names = tool_names(ops)
        assert len(set(names)) == len(names)
        assert names[:3] == ["list_items", "list_items_get", "list_items_get_2"]
        assert tool_names(ops[:50]) == names[:50]

    def test_growth_is_linear(self) -> None:
        def cost(n: int) -> float:
            ops = self._ops(n)
            t = time.perf_counter()
            tool_names(ops)
            return time.perf_counter() - t

        small, big = min(cost(2_000) for _ in range(2)), min(cost(16_000) for _ in range(2))
        # 8x the input: linear is ~8x, the old quadratic loop was ~64x.
        assert big / small < 30, (small, big)


class TestJsonTokenLogin:
    """A JSON login that returns a bearer token (and a refresh token) is the login tool."""

    def test_token_login(self) -> None:
        from toolgen.build import build_cards
        from zapi.analyzer.pipeline import analyze_entries

        api = "https://api.example"
        raws = [
            entry(
                "POST",
                f"{api}/v1/auth/token",
                body={"email": "a@example.com", "password": "pw-not-real"},
                resp={"data": {"access_token": "t1", "refresh_token": "r1", "expires_in": 900}},
                resp_headers={"X-CSRF-Token": "c1"},
            )
        ]
        for i in range(3):
            raws.append(
                entry(
                    "GET",
                    f"{api}/v1/projects?page={i}",
                    req_headers={"Authorization": "Bearer t1"},
                    resp={"items": []},
                )
            )
        entries = [entry_from_raw(r, "t.har", i) for i, r in enumerate(raws)]
        cards = {c.name: c for c in build_cards(analyze_entries(entries))}
        card = cards["login"]
        assert card.login is not None
        assert card.login.token_pointer == "/data/access_token"
        assert card.login.refresh_pointer == "/data/refresh_token"
        assert card.login.token_scheme == "bearer"
        assert card.login.csrf_source == "header:X-CSRF-Token"
        assert card.login.secret_args == ["password"]
        assert "examples" not in card.input_schema["properties"]["password"]
        assert cards["list_projects"].login is None


class TestDjangoStyleFormLogin:
    """A form login whose CSRF token is a hidden input and a cookie (Django) is complete."""

    def test_hidden_input_csrf(self) -> None:
        from toolgen.build import build_cards
        from zapi.analyzer.pipeline import analyze_entries

        app = "https://dj.example"
        page = (
            '<!doctype html><html><form method="post"><input type="hidden" '
            'name="csrfmiddlewaretoken" value="tok"><input name="username"></form></html>'
        )
        raws = [
            entry(
                "GET",
                f"{app}/accounts/login/",
                resp=page,
                resp_mime="text/html",
                resp_headers={"Set-Cookie": "csrftoken=abc; Path=/"},
                resource_type="document",
            ),
            entry(
                "POST",
                f"{app}/accounts/login/",
                302,
                body="csrfmiddlewaretoken=tok&username=ann&password=pw",
                body_mime="application/x-www-form-urlencoded",
                resp_headers={"Location": "/", "Set-Cookie": "sessionid=s1; HttpOnly; Path=/"},
                resource_type="document",
            ),
        ]
        entries = [entry_from_raw(r, "t.har", i) for i, r in enumerate(raws)]
        (card,) = build_cards(analyze_entries(entries))
        assert card.name == "login" and card.login is not None
        assert card.login.sets_cookies == ["sessionid"]
        # The login form itself needs the token from its page's hidden input.
        assert card.login.csrf_source == "input:csrfmiddlewaretoken"
        assert card.login.csrf_page == "/accounts/login/"
        assert sorted(card.input_schema["properties"]) == ["password", "username"]
        assert card.csrf == {"field": "csrfmiddlewaretoken", "cookie": "csrftoken"}


class TestChangedEvidence:
    """A write 'changed' a field only against a read of the same resource, never a create."""

    def test_update_changes_create_does_not(self) -> None:
        from toolgen.build import build_cards
        from zapi.analyzer.pipeline import analyze_entries

        api = "https://api.example"
        raws = [
            entry("GET", f"{api}/items/A-1", resp={"sku": "A-1", "qty": 5, "bin": "B1"}),
            entry(
                "PUT",
                f"{api}/items/A-1",
                body={"qty": 7, "bin": "B1", "note": "x"},
                resp={"sku": "A-1", "qty": 7, "bin": "B1"},
            ),
            entry("GET", f"{api}/items", resp={"page": 1, "total": 2}),
            entry(
                "POST",
                f"{api}/items",
                body={"sku": "A-2", "qty": 1},
                status=201,
                resp={"sku": "A-2", "qty": 1},
            ),
            entry(
                "POST",
                f"{api}/items",
                body={"sku": "A-3", "qty": 2},
                status=201,
                resp={"sku": "A-3", "qty": 2},
            ),
        ]
        entries = [entry_from_raw(r, "t.har", i) for i, r in enumerate(raws)]
        cards = {(c.method, c.path): c for c in build_cards(analyze_entries(entries))}
        put = next(c for (m, _p), c in cards.items() if m == "PUT")
        post = next(c for (m, _p), c in cards.items() if m == "POST")
        assert sorted(put.input_schema["required"]) == [put.bindings[0].arg, "qty"]
        assert post.input_schema.get("required", []) == []

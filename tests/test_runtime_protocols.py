"""Cards inferred from GraphQL and form traffic are called with the body shape the API expects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from runtime import Runtime
from toolgen.cards import load_cards
from zapi.api import analyze

ROOT = Path(__file__).resolve().parent


def _runtime(tmp_path: Path, seen: list[httpx.Request], reply: Any) -> Runtime:
    analyze([str(ROOT / "data" / "har" / "chrome_shop.har")], str(tmp_path / "out"))
    cards = load_cards(tmp_path / "out")

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=reply)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    from runtime import Credentials

    # Credentials are bound to origins: this capture spans two.
    origins = {c.origin for c in cards.values()}
    creds = Credentials(by_origin={o: {"bearer": "t0ken-for-tests"} for o in origins})
    return Runtime(cards, client=client, credentials=creds, sleep=lambda s: None)


class TestProtocols:
    """GraphQL operations and legacy form posts keep their wire format."""

    def test_graphql_operation_body(self, tmp_path: Path) -> None:
        seen: list[httpx.Request] = []
        rt = _runtime(tmp_path, seen, {"data": {"add": {"id": "c1"}}})
        rt.call("graphql_add_to_cart", sku="B-2")  # x-api-version is a fixed value of the card
        body = json.loads(seen[0].content)
        assert body["operationName"] == "AddToCart"
        assert body["variables"] == {"sku": "B-2"}
        assert body["query"].startswith("mutation AddToCart")
        assert seen[0].url.path == "/graphql" and seen[0].method == "POST"

    def test_form_post_is_urlencoded(self, tmp_path: Path) -> None:
        seen: list[httpx.Request] = []
        rt = _runtime(tmp_path, seen, "<ok/>")
        card = next(c for c in rt.cards.values() if c.path == "/legacy/bin_update.do")
        rt.call(
            card.name,
            sku="A-9",
            bin="C3",
            password="not-a-real-one",
        )  # X-Requested-With is a fixed value of the card: sent without being asked
        req = seen[0]
        assert req.headers["content-type"].startswith("application/x-www-form-urlencoded")
        assert dict(httpx.QueryParams(req.content.decode())) == {
            "sku": "A-9",
            "bin": "C3",
            "password": "not-a-real-one",
        }
        assert req.headers["x-requested-with"] == "XMLHttpRequest"

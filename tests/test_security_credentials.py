"""Credentials are bound to origins: a card never receives a secret meant for another API."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

import runtime
from runtime import Credentials, Runtime, load_credentials
from tests.factories import entry, har
from toolgen.cards import load_cards
from zapi.api import analyze
from zapi.errors import ExecutionError

ROOT = Path(__file__).resolve().parent.parent
A = "http://api-a.test"
B = "http://api-b.test"
TOKEN_A = "token-for-api-a-0001"
TOKEN_B = "token-for-api-b-0002"


@pytest.fixture(scope="module")
def two_apis(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Cards of one capture covering two hosts, both using a bearer token."""
    tmp = tmp_path_factory.mktemp("two")
    es = []
    for origin, noun in ((A, "orders"), (B, "invoices")):
        for i in range(1, 4):
            es.append(
                entry(
                    "GET",
                    f"{origin}/{noun}/{i}",
                    req_headers={"Authorization": "Bearer recorded-token-xyz"},
                    resp={"id": i},
                )
            )
    (tmp / "two.har").write_text(json.dumps(har(es)), encoding="utf-8")
    analyze([str(tmp / "two.har")], str(tmp / "out"))
    return tmp / "out"


def _rt(out: Path, creds: Credentials, seen: list[httpx.Request], **kw: Any) -> Runtime:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": 1})

    return Runtime(
        load_cards(out),
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        credentials=creds,
        sleep=lambda s: None,
        **kw,
    )


def _call(rt: Runtime, origin: str) -> Any:
    """Call the (only) tool recorded on ``origin`` with its path argument."""
    card = next(c for c in rt.cards.values() if c.origin == origin)
    args = {b.arg: 1 for b in card.bindings if b.location == "path"}
    return rt.call(card.name, **args)


class TestOrigins:
    """Each card gets the credentials of its own origin, and only those (defect 1)."""

    def test_per_origin_file(self, two_apis: Path, tmp_path: Path) -> None:
        """Old: the file format had no origins; one bearer went to both hosts."""
        f = tmp_path / "creds.json"
        f.write_text(json.dumps({A: {"bearer": "env:TA"}, B: {"bearer": "env:TB"}}))
        creds = load_credentials(str(f), environ={"TA": TOKEN_A, "TB": TOKEN_B})
        seen: list[httpx.Request] = []
        rt = _rt(two_apis, creds, seen)
        _call(rt, A)
        _call(rt, B)
        assert seen[0].headers["authorization"] == f"Bearer {TOKEN_A}"
        assert seen[1].headers["authorization"] == f"Bearer {TOKEN_B}"

    def test_scheme_only_secret_never_crosses_hosts(self, two_apis: Path) -> None:
        """Old: Credentials(secrets={'bearer': ...}) was sent to every host of the capture."""
        seen: list[httpx.Request] = []
        rt = _rt(two_apis, Credentials(secrets={"bearer": TOKEN_A}), seen)
        with pytest.raises(ExecutionError, match="key it by origin"):
            _call(rt, B)
        assert seen == []

    def test_secret_of_one_origin_is_not_sent_to_another(self, two_apis: Path) -> None:
        """A card of B with only A's token configured is refused, nothing sent."""
        seen: list[httpx.Request] = []
        rt = _rt(two_apis, Credentials(by_origin={A: {"bearer": TOKEN_A}}), seen)
        with pytest.raises(ExecutionError, match="needs credential 'bearer'"):
            _call(rt, B)
        assert all(TOKEN_A not in str(r.headers) for r in seen)

    def test_security_scheme_names_accepted(self, two_apis: Path, tmp_path: Path) -> None:
        """Keys may be the securityScheme names of openapi.json."""
        doc = json.loads((two_apis / "openapi.json").read_text(encoding="utf-8"))
        name = next(iter(doc["components"]["securitySchemes"]))
        f = tmp_path / "creds.json"
        f.write_text(json.dumps({A: {name: "env:TA"}}))
        with runtime.open(two_apis, credentials=str(f), state=None, environ={"TA": TOKEN_A}) as rt:
            assert rt.credentials.by_origin[A] == {name: TOKEN_A}


class TestUnknownKeys:
    """A typo is an error naming it (issue 12), never silently ignored."""

    @pytest.mark.parametrize(
        ("content", "named"),
        [
            ({A: {"beaer": "env:TA"}}, "'beaer'"),
            ({"http://elsewhere.test": {"bearer": "env:TA"}}, "elsewhere.test"),
            ({"bearer": "env:TA"}, "unknown key 'bearer'"),
            ({"auth": {"header:X-Nope": "env:TA"}}, "'header:X-Nope'"),
        ],
    )
    def test_named(self, two_apis: Path, tmp_path: Path, content: Any, named: str) -> None:
        """Old: unknown keys and origins were silently ignored."""
        f = tmp_path / "creds.json"
        f.write_text(json.dumps(content))
        with pytest.raises(ExecutionError) as err:
            runtime.open(two_apis, credentials=str(f), state=None, environ={"TA": "x"})
        assert named in str(err.value) and "\n" not in str(err.value)


class TestLegacyFile:
    """The old scheme-keyed file still works for a single-origin tool set."""

    def test_single_origin(self, tmp_path: Path) -> None:
        es = [
            entry("GET", f"{A}/orders/{i}", req_headers={"Authorization": "Bearer x"})
            for i in range(1, 4)
        ]
        (tmp_path / "a.har").write_text(json.dumps(har(es)), encoding="utf-8")
        analyze([str(tmp_path / "a.har")], str(tmp_path / "out"))
        f = tmp_path / "creds.json"
        f.write_text(json.dumps({"auth": {"bearer": "env:TA"}}))
        seen: list[httpx.Request] = []
        creds = load_credentials(str(f), environ={"TA": TOKEN_A})
        rt = _rt(tmp_path / "out", creds, seen)
        _call(rt, A)
        assert seen[0].headers["authorization"] == f"Bearer {TOKEN_A}"


class TestBaseUrl:
    """--base-url on another host gets credentials only when trusted explicitly."""

    def test_other_host_refused_then_trusted(self, two_apis: Path) -> None:
        """Old: --base-url silently received every credential."""
        creds = Credentials(by_origin={A: {"bearer": TOKEN_A}})
        seen: list[httpx.Request] = []
        rt = _rt(two_apis, creds, seen, base_url="http://mirror.test")
        with pytest.raises(ExecutionError, match="--trust-base-url"):
            _call(rt, A)
        assert seen == []
        rt = _rt(
            two_apis, creds.trusting("http://mirror.test"), seen, base_url="http://mirror.test"
        )
        _call(rt, A)
        assert seen[0].url.host == "mirror.test"
        assert seen[0].headers["authorization"] == f"Bearer {TOKEN_A}"

    def test_same_host_other_port_is_trusted(self, two_apis: Path) -> None:
        seen: list[httpx.Request] = []
        creds = Credentials(by_origin={A: {"bearer": TOKEN_A}})
        rt = _rt(two_apis, creds, seen, base_url="http://api-a.test:8080")
        _call(rt, A)
        assert seen[0].headers["authorization"] == f"Bearer {TOKEN_A}"


class TestReadmeExample:
    """The README's example creds.json works against the real ERP sample."""

    def test_readme_credentials_file(self, tmp_path: Path, erp_server: Any) -> None:
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        section = readme.split("### Credentials", 1)[1]
        block = re.search(r"```json\n(.*?)```", section, re.S)
        assert block is not None
        creds_path = tmp_path / "creds.json"
        creds_path.write_text(block.group(1), encoding="utf-8")
        analyze([str(ROOT / "samples" / "hars" / "erp_session.har")], str(tmp_path / "out"))
        login = httpx.post(
            erp_server.url + "/login",
            data={"username": "alice", "password": "wonderland"},
            follow_redirects=False,
            timeout=10,
        )
        session = login.cookies["erp_session"]
        with runtime.open(
            tmp_path / "out",
            credentials=str(creds_path),
            state=None,
            base_url=erp_server.url,
            environ={"ERP_SESSION": session},
        ) as rt:
            result = rt.call("get_item", item_id="A-1")
        assert result.status == 200

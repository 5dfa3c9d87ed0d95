"""Verification and reconcile plans on generated cards: bound at analysis time, run for real."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from factories import exchange_entry

from runtime import RetryPolicy, Runtime
from runtime import open as open_runtime
from toolgen.cards import ToolCard, load_cards
from toolgen.plans import match_pattern, path_pattern
from zapi.api import analyze
from zapi.errors import OutcomeUnknown, VerificationFailed

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "hars"
PREFIX = "/api/files"


@dataclass
class FileStore:
    """State of the file-store app: files by name, every request seen, faults to inject."""

    files: dict[str, str] = field(default_factory=dict)
    seen: list[tuple[str, str]] = field(default_factory=list)
    commits: list[tuple[str, str]] = field(default_factory=list)
    faults: dict[str, str] = field(default_factory=dict)  # method -> drop | ack_only
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: int = 0


def _handler(store: FileStore) -> type[BaseHTTPRequestHandler]:
    """A contents-style API: reads require a ``content`` query, renames move by body path."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
            return

        def _send(
            self, status: int, body: Any = None, headers: dict[str, str] | None = None
        ) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            n = int(self.headers.get("Content-Length") or 0)
            data: dict[str, Any] = json.loads(self.rfile.read(n)) if n else {}
            return data

        def _model(self, name: str, content: bool) -> dict[str, Any]:
            return {
                "name": name,
                "path": f"files/{name}",
                "type": "file",
                "content": store.files[name] if content else None,
            }

        def _route(self, method: str) -> None:
            url = urlsplit(self.path)
            body = self._body() if method in ("POST", "PUT", "PATCH") else {}
            with store.lock:
                store.seen.append((method, url.path))
                status, answer, extra = self._apply(method, url.path, parse_qs(url.query), body)
                if store.faults.pop(method + "+", "") == "other":  # another writer, same window
                    store.counter += 1
                    store.files[f"untitled{store.counter}"] = ""
                if store.faults.get(method) in ("drop", "ack_only_drop") and status < 300:
                    store.faults.pop(method)
                    self.close_connection = True
                    self.connection.close()
                    return
            self._send(status, answer, extra)

        def _apply(
            self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any]
        ) -> tuple[int, Any, dict[str, str]]:
            name = path[len(PREFIX) + 1 :] if path.startswith(PREFIX + "/") else ""
            apply = store.faults.get(method) not in ("ack_only", "ack_only_drop")
            if method == "GET":
                if "content" not in query:
                    return 400, {"message": "query 'content' is required"}, {}
                if not name:
                    items = [self._model(n, False) for n in sorted(store.files)]
                    return 200, {"name": "files", "type": "directory", "items": items}, {}
                if name not in store.files:
                    return 404, {"message": f"no file {name}"}, {}
                return 200, self._model(name, query["content"][0] == "1"), {}
            if method != "POST" and name not in store.files and method != "PUT":
                return 404, {"message": f"no file {name}"}, {}
            if method == "POST" and not name:
                store.counter += 1
                name = f"untitled{store.counter}"
                store.files[name] = ""
                answer, status = self._model(name, False), 201
                if not apply:
                    del store.files[name]
                extra = {"Location": f"{PREFIX}/{name}"}
            elif method == "PUT" and name:
                status = 200 if name in store.files else 201
                old = store.files.get(name)
                store.files[name] = str(body.get("content", ""))
                answer, extra = self._model(name, False), {}
                if not apply and old is None:
                    del store.files[name]
                elif not apply and old is not None:
                    store.files[name] = old
            elif method == "PATCH" and name:
                new = str(body.get("path", "")).removeprefix("files/")
                store.files[new] = store.files.pop(name)
                answer, status, extra = self._model(new, False), 200, {}
                if not apply:
                    store.files[name] = store.files.pop(new)
            elif method == "DELETE" and name:
                if apply:
                    del store.files[name]
                answer, status, extra = None, 204, {}
            else:
                return 405, {"message": "no such route"}, {}
            if apply:
                store.commits.append((method, path))
            return status, answer, extra

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PUT(self) -> None:
            self._route("PUT")

        def do_PATCH(self) -> None:
            self._route("PATCH")

        def do_DELETE(self) -> None:
            self._route("DELETE")

    return Handler


@pytest.fixture(scope="module")
def store_server() -> Iterator[tuple[str, FileStore]]:
    store = FileStore()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(store))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", store
    finally:
        server.shutdown()
        server.server_close()


def _record(url: str, har: Path, *, varying_reads: bool = False) -> None:
    """A session on the file store (what a browser would record), written as a HAR."""
    entries: list[dict[str, Any]] = []

    def hook(response: httpx.Response) -> None:
        response.read()
        entries.append(exchange_entry(response))

    with httpx.Client(base_url=url, event_hooks={"response": [hook]}) as c:
        for i in range(4):
            flag = str(i % 2) if varying_reads else "1"
            made = c.post(PREFIX, json={"type": "file", "ext": ".txt"}).json()
            c.get(f"{PREFIX}/{made['name']}", params={"content": flag})
            name = f"report{i}"
            c.put(f"{PREFIX}/{name}", json={"type": "file", "content": f"draft {i}"})
            c.get(f"{PREFIX}/{name}", params={"content": flag})
            c.patch(f"{PREFIX}/{name}", json={"path": f"files/renamed{i}"})
            c.get(f"{PREFIX}/renamed{i}", params={"content": flag})
            c.get(PREFIX, params={"content": "0"})
            c.delete(f"{PREFIX}/renamed{i}")
            c.delete(f"{PREFIX}/{made['name']}")
    har.write_text(
        json.dumps(
            {
                "log": {
                    "version": "1.2",
                    "creator": {"name": "t", "version": "1"},
                    "entries": entries,
                }
            }
        )
    )


@pytest.fixture(scope="module")
def store_out(
    store_server: tuple[str, FileStore], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    base = tmp_path_factory.mktemp("files")
    _record(store_server[0], base / "files.har")
    analyze([str(base / "files.har")], str(base / "out"))
    return base / "out"


@pytest.fixture(scope="module")
def sample_outs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for har in ("erp_session.har", "shop.har"):
        base = tmp_path_factory.mktemp(har.split(".")[0])
        analyze([str(SAMPLES / har)], str(base / "out"))
        out[har] = base / "out"
    return out


def _writes(cards: dict[str, ToolCard]) -> dict[str, ToolCard]:
    """Write cards by what they do on the file store (names and templates come from the
    analyzer: the store's bodies name "files" as a directory, so its item routes template
    as a greedy ``/api/{path}`` like JupyterLab's ``/api/contents/{path}``)."""
    out = {}
    for c in cards.values():
        if c.is_write:
            kind = {"POST": "create", "PUT": "save", "PATCH": "rename", "DELETE": "delete"}
            out[kind[c.method]] = c
    return out


def _address(card: ToolCard, name: str) -> dict[str, str]:
    """The card's path arguments for the file ``name`` (a greedy one spans segments)."""
    found = match_pattern(path_pattern(card), f"{PREFIX}/{name}")
    assert found is not None, (card.path, name)
    return found


def _moved_to(card: ToolCard, name: str) -> dict[str, str]:
    """The rename's body argument that carries the new path (wire field ``path``)."""
    arg = next(b.arg for b in card.bindings if b.location == "body" and b.name == "path")
    return {arg: f"files/{name}"}


def _check_bound(cards: dict[str, ToolCard]) -> list[str]:
    """Every plan's read gets all its required inputs from a source that exists."""
    problems = []
    for card in cards.values():
        for plan in (card.verification, card.reconcile):
            if plan is None:
                continue
            read = cards[plan.tool]
            needed = set(read.input_schema.get("required", []))
            needed |= {b.arg for b in read.bindings if b.location == "path"}
            for arg in sorted(needed - set(plan.args)):
                problems.append(f"{card.name} -> {plan.tool}: {arg!r} unbound")
            for arg, source in plan.args.items():
                kind, _, ref = source.partition(":")
                if kind == "arg" and ref not in card.input_schema["properties"]:
                    problems.append(f"{card.name}: {source} is not an argument")
                if kind == "json":
                    json.loads(ref)
                if arg not in read.input_schema["properties"]:
                    problems.append(f"{card.name}: {plan.tool} has no argument {arg!r}")
    return problems


class TestBinding:
    """Plans are checked against the cards they call at analysis time."""

    def test_file_store_plans_bind_every_required_input(self, store_out: Path) -> None:
        """The read's required query (content=1, recorded in every read) is bound."""
        cards = load_cards(store_out)
        assert _check_bound(cards) == []
        writes = _writes(cards)
        assert set(writes) == {"create", "save", "rename", "delete"}
        for w in writes.values():
            assert w.verification is not None, (w.name, w.reasons)
            assert w.verification.args.get("content") == "json:1"

    def test_sample_plans_bind_every_required_input(self, sample_outs: dict[str, Path]) -> None:
        """ERP and storefront: e.g. update_order's read needs the x-api-version header,
        which the read card sends itself (a fixed value, never a plan argument)."""
        for out in sample_outs.values():
            assert _check_bound(load_cards(out)) == []
        shop = load_cards(sample_outs["shop.har"])
        plan = shop["update_order"].verification
        assert plan is not None and plan.args == {"order_id": "arg:order_id"}
        fixed = {(f.location, f.name.lower()) for f in shop[plan.tool].fixed}
        assert ("header", "x-api-version") in fixed

    def test_kinds_follow_what_the_write_does(self, store_out: Path) -> None:
        """POST creates, PUT changes in place, PATCH with a body path moves, DELETE deletes."""
        w = _writes(load_cards(store_out))
        kinds = {k: c.verification.kind for k, c in w.items() if c.verification is not None}
        assert kinds == {
            "create": "created",
            "save": "same",
            "rename": "moved",
            "delete": "deleted",
        }
        created, moved = w["create"].verification, w["rename"].verification
        assert created is not None and moved is not None
        assert any(s.startswith(("response:/", "header:")) for s in created.args.values())
        assert any(s == "response:/path" for s in moved.args.values())
        assert moved.gone_args  # the recorded rename answered a path other than the request's
        rec = {k: c.reconcile.kind for k, c in w.items() if c.reconcile is not None}
        assert rec == {"create": "created", "save": "same", "rename": "moved", "delete": "deleted"}
        listing = w["create"].reconcile
        assert listing is not None and listing.snapshot == "path"  # the server names it
        assert listing.items_pointer == "/items" and listing.args == {"content": "json:0"}

    def test_sample_create_verifies_the_created_item(self, sample_outs: dict[str, Path]) -> None:
        """ERP create_order reads get_order by the returned id; reconcile matches identities."""
        erp = load_cards(sample_outs["erp_session.har"])
        card = erp["create_order"]
        assert card.verification is not None and card.verification.kind == "created"
        assert card.verification.args == {"order_id": "response:/id"}
        assert card.reconcile is not None and card.reconcile.match == {"client_ref": "client_ref"}
        assert card.reconcile.args == {"client_ref": "arg:client_ref"}  # the list filtered by it
        shop = load_cards(sample_outs["shop.har"])
        delete = shop["delete_order"].verification
        assert delete is not None and delete.kind == "deleted"

    def test_store_routes_template_greedy(self, store_out: Path) -> None:
        """The store's item routes are one greedy ``/api/{path}`` (bodies name "files/x"),
        and plans match locations through it: a path keeps its '/'."""
        w = _writes(load_cards(store_out))
        assert path_pattern(w["rename"]) == "/api/{path*}"
        assert _address(w["rename"], "a/b.txt") == {"path": "files/a/b.txt"}
        created = w["create"].verification
        assert created is not None and created.args["path"] == "response:/path"
        assert created.patterns == {"path": "{path*}"}

    def test_greedy_read_that_routes_elsewhere_is_not_the_created_item(
        self, store_server: tuple[str, FileStore], tmp_path: Path
    ) -> None:
        """A returned path the greedy read routes outside the collection posted to is no
        evidence: the create falls back to finding its path in the listing."""
        _record(store_server[0], tmp_path / "e.har")
        har = json.loads((tmp_path / "e.har").read_text())
        for e in har["log"]["entries"]:
            if e["request"]["method"] == "POST":
                body = json.loads(e["response"]["content"]["text"])
                body["path"] = "elsewhere/" + body["name"]
                e["response"]["content"]["text"] = json.dumps(body)
                e["response"]["headers"] = [
                    h for h in e["response"]["headers"] if h["name"].lower() != "location"
                ]
        (tmp_path / "e.har").write_text(json.dumps(har))
        analyze([str(tmp_path / "e.har")], str(tmp_path / "out"))
        cards = load_cards(tmp_path / "out")
        plan = _writes(cards)["create"].verification
        assert plan is not None and plan.kind == "created"
        assert cards[plan.tool].path == PREFIX  # the listing, not the greedy item read
        assert plan.expect == {"/path": "response:/path"} and plan.items_pointer == "/items"

    def test_unbindable_plan_is_not_emitted_and_says_why(
        self, store_server: tuple[str, FileStore], tmp_path: Path
    ) -> None:
        """When the reads' required 'content' varied, nothing binds it: no plan, a reason."""
        _record(store_server[0], tmp_path / "v.har", varying_reads=True)
        analyze([str(tmp_path / "v.har")], str(tmp_path / "out"))
        w = _writes(load_cards(tmp_path / "out"))
        assert w["save"].verification is None
        assert any("'content'" in r and "no verification" in r for r in w["save"].reasons)


def _runtime(out: Path, url: str) -> Runtime:
    return open_runtime(
        out,
        state=None,
        base_url=url,
        policy=RetryPolicy(initial_interval_s=0.0, jitter=0.0, verify_interval_s=0.0),
        sleep=lambda s: None,
    )


class TestRunning:
    """Generated plans run against the live file store and read the right resource."""

    def test_each_kind_verifies_against_the_server(
        self, store_out: Path, store_server: tuple[str, FileStore]
    ) -> None:
        """Create, save, rename and delete end verified; each read hit the right file."""
        url, store = store_server
        w = _writes(load_cards(store_out))
        rt = _runtime(store_out, url)
        made = rt.call(w["create"].name, type="file", ext=".txt")
        assert made.verification is not None and made.verification.ok
        assert ("GET", f"{PREFIX}/{made.data['name']}") in store.seen[-2:]
        saved = rt.call(w["save"].name, **_address(w["save"], "plan-a"), type="file", content="x")
        assert saved.verification is not None and saved.verification.ok
        assert store.files["plan-a"] == "x"
        mark = len(store.seen)
        moved = rt.call(
            w["rename"].name, **_address(w["rename"], "plan-a"), **_moved_to(w["rename"], "plan-b")
        )
        assert moved.verification is not None and moved.verification.ok
        assert store.seen[mark + 1 :] == [("GET", f"{PREFIX}/plan-b"), ("GET", f"{PREFIX}/plan-a")]
        gone = rt.call(w["delete"].name, **_address(w["delete"], "plan-b"))
        assert gone.verification is not None and gone.verification.ok
        assert "plan-b" not in store.files

    def test_acknowledged_but_not_written_fails_verification(
        self, store_out: Path, store_server: tuple[str, FileStore]
    ) -> None:
        """A rename or delete the server acknowledged but did not apply is never 'verified'."""
        url, store = store_server
        w = _writes(load_cards(store_out))
        rt = _runtime(store_out, url)
        rt.call(w["save"].name, **_address(w["save"], "keep"), type="file", content="k")
        try:
            store.faults = {"PATCH": "ack_only", "DELETE": "ack_only"}
            with pytest.raises(VerificationFailed):
                rt.call(
                    w["rename"].name,
                    **_address(w["rename"], "keep"),
                    **_moved_to(w["rename"], "other"),
                )
            with pytest.raises(VerificationFailed):
                rt.call(w["delete"].name, **_address(w["delete"], "keep"))
        finally:
            store.faults = {}
        assert store.files["keep"] == "k"

    def test_reconcile_settles_dropped_answers_without_a_resend(
        self, store_out: Path, store_server: tuple[str, FileStore]
    ) -> None:
        """Commit-then-drop: the rename and the delete are found landed, sent once each."""
        url, store = store_server
        w = _writes(load_cards(store_out))
        rt = _runtime(store_out, url)
        rt.call(w["save"].name, **_address(w["save"], "r1"), type="file", content="r")
        mark = len(store.commits)
        store.faults = {"PATCH": "drop"}
        moved = rt.call(
            w["rename"].name, **_address(w["rename"], "r1"), **_moved_to(w["rename"], "r2")
        )
        assert moved.reconciled == "landed"
        assert moved.verification is not None and moved.verification.ok
        store.faults = {"DELETE": "drop"}
        gone = rt.call(w["delete"].name, **_address(w["delete"], "r2"))
        assert gone.reconciled == "landed"
        assert store.commits[mark:] == [("PATCH", f"{PREFIX}/r1"), ("DELETE", f"{PREFIX}/r2")]

    def test_dropped_create_is_settled_by_the_listing_snapshot(
        self, store_out: Path, store_server: tuple[str, FileStore]
    ) -> None:
        """A create the server names: the list read before the send and after the dropped
        answer gained exactly one item, so it landed (sent once) and is verified, and the
        call's data is that item read back."""
        url, store = store_server
        w = _writes(load_cards(store_out))
        rt = _runtime(store_out, url)
        mark, names = len(store.commits), set(store.files)
        store.faults = {"POST": "drop"}
        made = rt.call(w["create"].name, type="file", ext=".txt")
        store.faults = {}
        assert store.commits[mark:] == [("POST", PREFIX)]
        (new,) = set(store.files) - names
        assert made.reconciled == "landed"
        assert made.data["name"] == new and made.data["content"] == ""  # the item, read
        assert made.verification is not None and made.verification.ok

    def test_create_that_never_reached_the_server_is_resent_once(
        self, store_out: Path, store_server: tuple[str, FileStore]
    ) -> None:
        """Acknowledged-then-dropped without a commit (the list gained nothing): not landed,
        so the create is sent again, and exactly one file results."""
        url, store = store_server
        w = _writes(load_cards(store_out))
        rt = _runtime(store_out, url)
        names = set(store.files)
        store.faults = {"POST": "ack_only_drop"}
        made = rt.call(w["create"].name, type="file", ext=".txt")
        store.faults = {}
        assert len(set(store.files) - names) == 1
        assert made.data["name"] in set(store.files) - names
        assert made.attempts == 2

    def test_another_writer_in_the_window_makes_it_unknown(
        self, store_out: Path, store_server: tuple[str, FileStore]
    ) -> None:
        """Two new items since the snapshot: never guessed, the outcome stays unknown."""
        url, store = store_server
        w = _writes(load_cards(store_out))
        rt = _runtime(store_out, url)
        store.faults = {"POST": "drop", "POST+": "other"}
        with pytest.raises(OutcomeUnknown, match="2 new items"):
            rt.call(w["create"].name, type="file", ext=".txt")
        store.faults = {}


class TestPatterns:
    """The path patterns plans bind locations with."""

    @pytest.mark.parametrize(
        ("pattern", "value", "expected"),
        [
            ("work/{name}.txt", "work/a.txt", {"name": "a"}),
            ("/api/items/{id}", "http://h:1/api/items/7?x=1", {"id": "7"}),
            ("/api/items/{id}", "/api/items/7/extra", None),
            ("{path*}", "a/b/c.ipynb", {"path": "a/b/c.ipynb"}),
            ("work/{name}.txt", "other/a.txt", None),
            ("/api/files/{name}", "/api/files/a%20b", {"name": "a b"}),
        ],
    )
    def test_match(self, pattern: str, value: str, expected: dict[str, str] | None) -> None:
        """A tail of a path template matches paths and URLs and yields the parameters."""
        assert match_pattern(pattern, value) == expected

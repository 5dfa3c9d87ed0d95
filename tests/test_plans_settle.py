"""runtime.settle executes each plan kind: pure functions over an injected read."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import card

from runtime.policy import RetryPolicy
from runtime.settle import reconcile_write, verify_write
from runtime.verify import read_args
from toolgen.cards import Reconcile, ToolCard, Verification
from zapi.errors import ExecutionError, UpstreamStatusError

POLICY = RetryPolicy(verify_attempts=2, verify_interval_s=0.0, jitter=0.0)
READ_ARGS = {"content": "json:1"}


class Store:
    """Files by name, read through a ``read(tool, args)`` like the executor's."""

    def __init__(self, **files: str) -> None:
        self.files = dict(files)
        self.reads: list[tuple[str, dict[str, Any]]] = []

    def read(self, tool: str, args: dict[str, Any]) -> Any:
        self.reads.append((tool, args))
        assert args.get("content") == 1, "the plan must send the read's required query"
        if tool == "list_files":
            return {"items": [{"name": n, "path": f"f/{n}"} for n in sorted(self.files)]}
        name = args["name"]
        if name not in self.files:
            raise UpstreamStatusError(f"{tool}: 404", tool=tool, status=404)
        return {"name": name, "path": f"f/{name}", "content": self.files[name]}


def _write(method: str, **kw: Any) -> ToolCard:
    return card(f"w_{method.lower()}", method, "/f/{name}", **kw)


def _verify(c: ToolCard, args: dict[str, Any], data: Any, store: Store, **kw: Any) -> Any:
    return verify_write(c, args, data, store.read, POLICY, lambda s: None, **kw)


class TestVerify:
    """verify_write reads what each kind of write should have left behind."""

    def test_moved_reads_new_location_and_old_is_gone(self) -> None:
        """The new path (from the response) shows the file, the old one answers 404."""
        plan = Verification(
            kind="moved",
            tool="get_file",
            args={**READ_ARGS, "name": "response:/path"},
            patterns={"name": "f/{name}"},
            compare={"path": "/path"},
            gone_args={**READ_ARGS, "name": "arg:name"},
        )
        store = Store(b="x")
        out = _verify(
            _write("PATCH", verification=plan), {"name": "a", "path": "f/b"}, {"path": "f/b"}, store
        )
        assert out == ([], 2)
        assert [a["name"] for _, a in store.reads] == ["b", "a"]

    def test_moved_but_old_still_there_is_a_mismatch(self) -> None:
        """A copy is not a move: the old location still reading fails verification."""
        plan = Verification(
            kind="moved",
            tool="get_file",
            args={**READ_ARGS, "name": "arg:path"},
            patterns={"name": "f/{name}"},
            gone_args={**READ_ARGS, "name": "arg:name"},
        )
        out = _verify(
            _write("PATCH", verification=plan), {"name": "a", "path": "f/b"}, {}, Store(a="", b="")
        )
        assert out is not None and out[0][0].pointer == "(old location)"

    def test_moved_onto_itself_skips_the_gone_check(self) -> None:
        """Renaming to the same name leaves nothing that must be gone."""
        plan = Verification(
            kind="moved",
            tool="get_file",
            args={**READ_ARGS, "name": "arg:path"},
            patterns={"name": "f/{name}"},
            gone_args={**READ_ARGS, "name": "arg:name"},
        )
        store = Store(a="")
        assert _verify(_write("PATCH", verification=plan), {"name": "a", "path": "f/a"}, {}, store)
        assert len(store.reads) == 1

    @pytest.mark.parametrize(("files", "ok"), [({}, True), ({"a": ""}, False)])
    def test_deleted_needs_absence(self, files: dict[str, str], ok: bool) -> None:
        """404 verifies a delete; a read that still shows the file does not."""
        plan = Verification(kind="deleted", tool="get_file", args={**READ_ARGS, "name": "arg:name"})
        out = _verify(_write("DELETE", verification=plan), {"name": "a"}, None, Store(**files))
        assert out is not None and (out[0] == []) is ok

    def test_created_by_location_header(self) -> None:
        """A create bound to the Location header reads the resource it names."""
        plan = Verification(
            kind="created",
            tool="get_file",
            args={**READ_ARGS, "name": "header:Location"},
            patterns={"name": "/f/{name}"},
        )
        c = card("w_post", "POST", "/f", verification=plan)
        store = Store(new="")
        out = _verify(c, {}, None, store, headers={"location": "http://h/f/new"})
        assert out == ([], 1)
        assert _verify(c, {}, None, store) is None  # without the header: nothing to read

    def test_created_found_in_list_by_identity(self) -> None:
        """A list read finds the created item by the identity the response returned."""
        plan = Verification(
            kind="created",
            tool="list_files",
            args=READ_ARGS,
            expect={"/path": "response:/path"},
            items_pointer="/items",
        )
        c = card("w_post", "POST", "/f", verification=plan)
        assert _verify(c, {}, {"path": "f/n"}, Store(n="")) == ([], 1)
        out = _verify(c, {}, {"path": "f/zz"}, Store(n=""))
        assert out is not None and out[0]


class TestReconcile:
    """reconcile_write tells landed from not landed by what the read shows."""

    def _moved(self) -> ToolCard:
        return _write(
            "PATCH",
            reconcile=Reconcile(
                kind="moved",
                tool="get_file",
                args={**READ_ARGS, "name": "arg:path"},
                patterns={"name": "f/{name}"},
                match={"path": "path"},
                gone_args={**READ_ARGS, "name": "arg:name"},
            ),
        )

    @pytest.mark.parametrize(
        ("files", "result"),
        [({"b": ""}, "landed"), ({"a": ""}, "not_landed"), ({}, "unknown")],
    )
    def test_moved(self, files: dict[str, str], result: str) -> None:
        """New location there: landed; only the old: not landed; neither: unknown."""
        found = reconcile_write(
            self._moved(), {"name": "a", "path": "f/b"}, Store(**files).read, POLICY, lambda s: None
        )
        assert found.result == result

    @pytest.mark.parametrize(("files", "result"), [({}, "landed"), ({"a": ""}, "not_landed")])
    def test_deleted(self, files: dict[str, str], result: str) -> None:
        """Gone: the delete landed; still there: it did not."""
        c = _write(
            "DELETE",
            reconcile=Reconcile(
                kind="deleted", tool="get_file", args={**READ_ARGS, "name": "arg:name"}
            ),
        )
        assert (
            reconcile_write(c, {"name": "a"}, Store(**files).read, POLICY, lambda s: None).result
            == result
        )

    def test_read_failure_is_unknown(self) -> None:
        """A read that fails for another reason never decides the outcome."""

        def broken(tool: str, args: dict[str, Any]) -> Any:
            raise ExecutionError("connection refused")

        found = reconcile_write(
            self._moved(), {"name": "a", "path": "f/b"}, broken, POLICY, lambda s: None
        )
        assert found.result == "unknown"


class TestSnapshot:
    """A create the server names: the list before the send against the list after it."""

    def _create(self) -> ToolCard:
        return card(
            "w_post",
            "POST",
            "/f",
            reconcile=Reconcile(
                kind="created",
                tool="list_files",
                args=READ_ARGS,
                items_pointer="/items",
                match={"type": "type"},
                snapshot="path",
            ),
        )

    @staticmethod
    def _lister(items: list[dict[str, Any]]) -> Any:
        def read(tool: str, args: dict[str, Any]) -> Any:
            assert tool == "list_files" and args == {"content": 1}
            return {"items": items}

        return read

    def _settle(self, before: list[Any] | None, items: list[dict[str, Any]]) -> Any:
        args = {"type": "file"}
        return reconcile_write(
            self._create(), args, self._lister(items), POLICY, lambda s: None, snapshot=before
        )

    def test_the_snapshot_keeps_each_identity(self) -> None:
        """What the list shows before the send: the identity field of every item."""
        from runtime.settle import snapshot_identities

        items = [{"path": "f/a", "type": "file"}, {"path": "f/b", "type": "directory"}]
        got = snapshot_identities(self._create(), {"type": "file"}, self._lister(items))
        assert got == ['"f/a"', '"f/b"']

    @pytest.mark.parametrize(
        ("after", "result", "detail"),
        [
            ([], "not_landed", "lists no path"),
            ([{"path": "f/n", "type": "file"}], "landed", "path='f/n'"),
            (
                [{"path": "f/n", "type": "file"}, {"path": "f/m", "type": "file"}],
                "unknown",
                "2 new",
            ),
            ([{"path": "f/d", "type": "directory"}], "unknown", "another writer"),
        ],
    )
    def test_one_new_item_landed(
        self, after: list[dict[str, Any]], result: str, detail: str
    ) -> None:
        """None new: not landed; one of the created kind: landed (it is the evidence);
        several, or one of another kind: unknown, never guessed."""
        old = [{"path": "f/a", "type": "file"}]
        found = self._settle(['"f/a"'], old + after)
        assert found.result == result and detail in found.detail
        if result == "landed":
            assert found.evidence == after[0]

    def test_without_a_snapshot_it_is_unknown(self) -> None:
        """No list was read before the send: nothing to compare with."""
        assert self._settle(None, [{"path": "f/n", "type": "file"}]).result == "unknown"


class TestSources:
    """read_args resolves every source kind, or says the read cannot be made."""

    def test_sources(self) -> None:
        """arg, response, header, value and json sources; a missing one gives None."""
        got = read_args(
            {
                "a": "arg:x",
                "b": "response:/id",
                "c": "header:ETag",
                "d": "value:v",
                "e": "json:[1]",
            },
            {"x": 1},
            {"id": 7},
            headers={"etag": "W/1"},
        )
        assert got == {"a": 1, "b": 7, "c": "W/1", "d": "v", "e": [1]}
        assert read_args({"b": "response:/id"}, {}, {"other": 1}) is None
        assert read_args({"n": "arg:p"}, {"p": "other/x"}, None, patterns={"n": "f/{n}"}) is None

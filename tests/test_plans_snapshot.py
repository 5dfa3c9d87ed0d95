"""A create the server names, on the ERP sample: attachments get server ids (``ATT-…``).

A session that uploads attachments and lists them is recorded with httpx against the
real ERP sample on 127.0.0.1 and analysed; the upload card's reconcile plan is then the
attachments listing with ``snapshot: id``. The ERP's own fault injector commits the
upload and drops the answer (or answers 504); the ERP's ledger counts every upload.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from factories import exchange_entry
from test_runtime_integration import LOGIN, ledger, set_faults

from runtime import RetryPolicy
from runtime import open as open_runtime
from samples.erp.app import CSRF_COOKIE, CSRF_HEADER, make_server
from toolgen.cards import ToolCard, load_cards
from zapi.api import analyze
from zapi.errors import OutcomeUnknown

pytestmark = pytest.mark.integration


def _record(url: str, har: Path) -> None:
    entries: list[dict[str, Any]] = []

    def hook(response: httpx.Response) -> None:
        response.read()
        response.request.read()
        entries.append(exchange_entry(response))

    with httpx.Client(base_url=url, event_hooks={"response": [hook]}, timeout=10) as c:
        c.post("/login", data={"username": "alice", "password": "wonderland"})
        csrf = {CSRF_HEADER: c.cookies.get(CSRF_COOKIE) or ""}
        for sku in ("A-1", "A-2", "A-1"):
            c.get(f"/api/items/{sku}/attachments", headers=csrf)
            files = {"file": (f"note-{sku}.txt", b"text of the note", "text/plain")}
            c.post(
                f"/api/items/{sku}/attachments",
                files=files,
                data={"comment": "from the test"},
                headers=csrf,
            )
            c.get(f"/api/items/{sku}/attachments", headers=csrf)
    har.write_text(json.dumps({"log": {"version": "1.2", "creator": {"name": "t", "version": "1"},
                                       "entries": entries}}))  # fmt: skip


@pytest.fixture(scope="module")
def cards(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, ToolCard]]:
    base = tmp_path_factory.mktemp("attachments")
    with make_server(seed=3) as server:
        _record(server.url, base / "erp.har")
    analyze([str(base / "erp.har")], str(base / "out"))
    return base / "out", load_cards(base / "out")


@pytest.fixture
def erp() -> Iterator[Any]:
    with make_server(seed=7) as server:
        yield server


def _upload(cards: dict[str, ToolCard]) -> ToolCard:
    return next(c for c in cards.values() if c.method == "POST" and "attachments" in c.path)


def _call(out: Path, erp: Any, tmp_path: Path, **faults: Any) -> Any:
    doc = tmp_path / "receipt.txt"
    doc.write_text("paid in full")
    set_faults(erp, faults_apply_to=["attachment"], **faults)
    rt = open_runtime(
        out,
        credentials=LOGIN,
        state=tmp_path / "zapi.db",
        base_url=erp.url,
        sleep=lambda s: None,
        files_root=str(tmp_path),
        policy=RetryPolicy(initial_interval_s=0.0, jitter=0.0, verify_interval_s=0.0),
    )
    card = _upload(rt.cards)
    path_arg = next(b.arg for b in card.bindings if b.location == "path")
    try:
        return rt.call(card.name, **{path_arg: "A-3"}, file=str(doc), comment="settled")
    finally:
        rt.close()


class TestAttachmentSnapshot:
    """The upload's plan is bound at analysis time and settles dropped answers by the list."""

    def test_the_plan_names_the_listing_and_its_identity(
        self, cards: tuple[Path, dict[str, ToolCard]]
    ) -> None:
        """No client id in the request, so the reconcile read is the listing snapshot."""
        plan = _upload(cards[1]).reconcile
        assert plan is not None and plan.kind == "created", _upload(cards[1]).reasons
        assert plan.snapshot == "id" and plan.items_pointer == "/attachments"
        assert cards[1][plan.tool].method == "GET" and cards[1][plan.tool].path.endswith(
            "/attachments"
        )

    @pytest.mark.parametrize("fault", ["commit_then_drop", "commit_then_504"])
    def test_a_lost_answer_is_found_in_the_list(
        self, cards: tuple[Path, dict[str, ToolCard]], erp: Any, tmp_path: Path, fault: str
    ) -> None:
        """Committed, answer lost: landed by the one new attachment, sent once, and the
        call's data is that attachment."""
        res = _call(cards[0], erp, tmp_path, **{fault: 1.0})
        assert ledger(erp)["counts"]["attachment"] == 1
        assert res.reconciled == "landed"
        assert res.data["filename"] == "receipt.txt" and res.data["id"].startswith("ATT")

    def test_an_upload_that_never_committed_is_sent_again(
        self, cards: tuple[Path, dict[str, ToolCard]], erp: Any, tmp_path: Path
    ) -> None:
        """503 before commit, then fine: one attachment, nothing doubled."""
        res = _call(cards[0], erp, tmp_path, fail_before_commit=0.5)
        assert ledger(erp)["counts"]["attachment"] == 1
        assert res.status == 201

    def test_without_the_list_read_it_stays_unknown(
        self, cards: tuple[Path, dict[str, ToolCard]], erp: Any, tmp_path: Path
    ) -> None:
        """Control: the same card with its snapshot plan removed cannot settle the drop."""
        out = cards[0]
        card = _upload(cards[1])
        path = next(out.rglob(f"{card.name}.json"))
        saved = path.read_text()
        data = json.loads(saved)
        data["reconcile"] = None
        try:
            path.write_text(json.dumps(data))
            with pytest.raises(OutcomeUnknown):
                _call(out, erp, tmp_path, commit_then_drop=1.0)
        finally:
            path.write_text(saved)
        assert ledger(erp)["counts"]["attachment"] == 1

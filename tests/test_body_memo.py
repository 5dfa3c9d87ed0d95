"""Repeated bodies fold in their remembered evidence: the same result as walking them again."""

from __future__ import annotations

import json
from typing import Any

from zapi.analyzer.evidence import BodyMemo, BodyStats


def _page(n: int, status: str) -> dict[str, Any]:
    return {
        "page": n,
        "values": [
            {"id": i, "name": f"repo-{i}", "state": status, "links": {"self": {"href": f"/r/{i}"}}}
            for i in range(40)
        ],
        "next": None if n == 3 else f"/r?page={n + 1}",
    }


class TestBodyMemo:
    """A body seen again costs a merge, and the evidence is exactly what adding gives."""

    def test_same_evidence_as_adding(self) -> None:
        """Repeats (in any order) through the memo equal plain adds, and the memo was used."""
        bodies = [_page(n % 3, "open" if n % 2 else "merged") for n in (1, 2, 1, 1, 0, 2, 1, 4)]
        raws = [json.dumps(b).encode() for b in bodies]
        assert all(len(r) >= BodyMemo.MIN_SIZE for r in raws)
        plain = BodyStats()
        for raw, body in zip(raws, bodies, strict=True):
            plain.add("application/json", body, True, [], len(raw))
        memo = BodyMemo()
        fast = BodyStats()
        for raw, body in zip(raws, bodies, strict=True):
            seen = memo.evidence(raw, body)
            if seen is None:
                fast.add("application/json", body, True, [], len(raw))
            else:
                fast.add_repeat("application/json", seen, len(raw))
        assert memo.kept, "no body was recognised as a repeat"
        assert fast.count == plain.count and fast.media == plain.media
        assert fast.schema is not None and plain.schema is not None
        assert fast.schema == plain.schema
        assert fast.schema.to_schema() == plain.schema.to_schema()

    def test_memo_is_bounded_and_not_pickled(self) -> None:
        """At most MAX_KEPT bodies' evidence is kept; a pickled memo arrives empty."""
        import pickle

        memo = BodyMemo()
        for i in range(BodyMemo.MAX_KEPT + 10):
            raw = json.dumps(_page(i, "x")).encode()
            memo.evidence(raw, _page(i, "x"))
            memo.evidence(raw, _page(i, "x"))
        assert len(memo.kept) == BodyMemo.MAX_KEPT
        back = pickle.loads(pickle.dumps(memo))
        assert back.kept == {} and back.seen == set()

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
    """A large body seen again costs a lookup, and the evidence is exactly what adding gives."""

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
        decoded = []
        for raw in raws:
            d = memo.decode(raw, "application/json")
            decoded.append(d)
            fast.add_repeat("application/json", d.evidence(), len(raw))
        assert len(memo) == len(set(raws)), "each distinct body is decoded once"
        assert decoded[0] is decoded[2] is decoded[3], "a repeat is the same decoding"
        assert fast.count == plain.count and fast.media == plain.media
        assert fast.schema is not None and plain.schema is not None
        assert fast.schema == plain.schema
        assert fast.schema.to_schema() == plain.schema.to_schema()

    def test_media_type_is_part_of_the_key(self) -> None:
        """The same bytes declared as JSON and as something else decode apart."""
        raw = json.dumps(_page(1, "x")).encode()
        memo = BodyMemo()
        as_json = memo.decode(raw, "application/json")
        as_text = memo.decode(raw + b"x", "application/json")  # no longer valid JSON
        assert as_json.body.kind == "json" and as_text.body.kind == "text"
        assert memo.decode(raw, "text/plain") is not as_json

    def test_small_bodies_and_form_params_are_not_remembered(self) -> None:
        memo = BodyMemo()
        small = b'{"id": 1}'
        assert memo.decode(small, "application/json") is not memo.decode(small, "application/json")
        assert len(memo) == 0

    def test_memo_is_bounded_and_not_pickled(self) -> None:
        """At most BUDGET bytes of bodies are remembered; a pickled memo arrives empty."""
        import pickle

        memo = BodyMemo()
        size = 0
        for i in range(1000):
            raw = json.dumps(_page(i, "x" * 40)).encode()
            size += len(raw)
            memo.decode(raw, "application/json")
        assert size > BodyMemo.BUDGET
        assert 0 < memo._by_raw._held <= BodyMemo.BUDGET
        back = pickle.loads(pickle.dumps(memo))
        assert len(back) == 0


# -- shared evidence: held by reference, folded when read ----------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from zapi.analyzer.schema_infer import SchemaStats  # noqa: E402

_json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.sampled_from(["a", "b", "2024-01-01", "x y"])
)
_json = st.recursive(
    _json_leaf,
    lambda kids: st.one_of(
        st.lists(kids, max_size=4), st.dictionaries(st.sampled_from("abcdef"), kids, max_size=4)
    ),
    max_leaves=12,
)


class TestSharedEvidence:
    """Evidence of repeated bodies is shared, not copied, and reads as if added value by value."""

    @settings(max_examples=60, deadline=None)
    @given(
        values=st.lists(_json, min_size=1, max_size=5),
        picks=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 2)), max_size=30),
    )
    def test_split_groups_with_shared_pieces_equal_plain_adds(
        self, values: list[Any], picks: list[tuple[int, int]]
    ) -> None:
        """Bodies spread over three groups (some walked, some shared), merged: plain adds."""
        pieces = []
        for v in values:
            s = SchemaStats()
            s.add(v)
            pieces.append(s)
        plain = BodyStats()
        groups = [BodyStats() for _ in range(3)]
        for i, (which, group) in enumerate(picks):
            v = values[which % len(values)]
            plain.add("application/json", v, True, [], 10)
            if i % 3 == 0:
                groups[group].add("application/json", v, True, [], 10)
            else:
                groups[group].add_repeat("application/json", pieces[which % len(values)], 10)
        merged = BodyStats()
        for g in groups:
            merged.merge(g)
        if plain.schema is None:
            assert merged.schema is None
            return
        assert merged.schema is not None
        assert merged.schema.to_schema() == plain.schema.to_schema()
        assert merged.count == plain.count

    def test_many_distinct_pieces_stay_bounded_and_exact(self) -> None:
        """Past MAX_SHARED distinct pieces the oldest are folded in; the result stays exact."""
        plain, fast = BodyStats(), BodyStats()
        for i in range(BodyStats.MAX_SHARED * 3):
            value = {"id": i, "kind": ["a", "b", "c"][i % 3], f"f{i % 5}": i}
            piece = SchemaStats()
            piece.add(value)
            for _ in range(1 + i % 4):
                plain.add("application/json", value, True, [], 10)
                fast.add_repeat("application/json", piece, 10)
            assert len(fast.shared) <= BodyStats.MAX_SHARED
        assert fast.schema is not None and plain.schema is not None
        assert fast.schema.to_schema() == plain.schema.to_schema()

    def test_a_borrowed_piece_is_copied_before_it_is_written(self) -> None:
        """A group reading one shared piece in place never changes it for the others."""
        piece = SchemaStats()
        piece.add({"id": 1, "name": "a"})
        before = piece.to_schema()
        one, two = BodyStats(), BodyStats()
        one.add_repeat("application/json", piece, 10)
        two.add_repeat("application/json", piece, 10)
        assert one.schema is piece  # read where it is: no copy
        one.add("application/json", {"id": 2, "extra": True}, True, [], 10)
        other = BodyStats()
        other.add("application/json", {"zzz": 1}, True, [], 10)
        two.merge(other)
        assert piece.to_schema() == before
        assert "extra" in (one.schema.to_schema()["properties"])  # type: ignore[union-attr]
        assert "zzz" in (two.schema.to_schema()["properties"])  # type: ignore[union-attr]

    @settings(max_examples=60, deadline=None)
    @given(value=_json, times=st.integers(1, 6))
    def test_merge_times_is_merging_that_many_times(self, value: Any, times: int) -> None:
        piece = SchemaStats()
        piece.add(value)
        once = SchemaStats()
        for _ in range(times):
            once.merge(piece)
        at_once = SchemaStats()
        at_once.merge(piece, times)
        assert at_once == once
        assert piece.copy(times) == once


class TestMemoisedAnalysis:
    """Decoding once changes nothing the analysis says: same cards as decoding every body."""

    @staticmethod
    def _capture() -> list[dict[str, Any]]:
        from tests.factories import entry

        api = "http://127.0.0.1:9/api"
        listing = {
            "items": [{"id": f"it-{i}", "name": f"Item {i}", "tags": ["a"]} for i in range(60)]
        }
        big_item = {"id": "it-3", "name": "Item 3", "notes": "n" * 3000}
        out = []
        for round_ in range(4):
            out.append(entry("GET", f"{api}/items", resp=listing))
            out.append(entry("GET", f"{api}/items/it-{round_}", resp=big_item))
            out.append(entry("PUT", f"{api}/items/it-{round_}", body=big_item, resp=big_item))
            out.append(entry("POST", f"{api}/items", body=big_item, resp=big_item, status=201))
            out.append(entry("GET", f"{api}/archive", resp=listing))  # same bytes, other route
        return out

    def test_same_cards_with_and_without_the_memo(self, tmp_path: Any, monkeypatch: Any) -> None:
        from tests.factories import har
        from zapi.api import analyze

        src = tmp_path / "c.har"
        src.write_text(json.dumps(har(self._capture())), encoding="utf-8")
        memo_out = tmp_path / "memo"
        analyze([str(src)], str(memo_out), workers=1)
        monkeypatch.setattr(BodyMemo, "MIN_SIZE", 10**9)  # nothing is large: every body parsed
        plain_out = tmp_path / "plain"
        analyze([str(src)], str(plain_out), workers=1)
        names = sorted(p.name for p in (memo_out / "cards").iterdir())
        assert names == sorted(p.name for p in (plain_out / "cards").iterdir())
        assert len(names) >= 4
        for n in names:
            assert (memo_out / "cards" / n).read_text() == (plain_out / "cards" / n).read_text(), n
        assert (memo_out / "openapi.json").read_text() == (plain_out / "openapi.json").read_text()


class TestLazyEvidence:
    """A large body's evidence is walked when its group is folded, and never lost."""

    def test_folding_walks_the_bodies_once_and_matches_plain_adds(self) -> None:
        memo = BodyMemo()
        bodies = [_page(n % 2, "open") for n in range(5)]
        plain, lazy = BodyStats(), BodyStats()
        for b in bodies:
            raw = json.dumps(b).encode()
            plain.add("application/json", b, True, [], len(raw))
            lazy.add_repeat("application/json", memo.decode(raw, "application/json"), len(raw))
        assert lazy.unread_bytes() > 0  # nothing walked while streaming
        assert lazy.schema is not None and plain.schema is not None
        assert lazy.schema.to_schema() == plain.schema.to_schema()
        assert lazy.unread_bytes() == 0

    def test_a_forgotten_body_keeps_its_evidence_and_drops_its_value(self) -> None:
        """Past the memo's budget the oldest bodies are released: evidence kept, value gone."""
        import pickle

        memo = BodyMemo()
        first_raw = json.dumps(_page(0, "x" * 40)).encode()
        first = memo.decode(first_raw, "application/json")
        group = BodyStats()
        group.add_repeat("application/json", first, len(first_raw))
        for i in range(1, 1000):  # well past the budget
            memo.decode(json.dumps(_page(i, "x" * 40)).encode(), "application/json")
        assert first.body.value is None and first.piece is not None
        expected = BodyStats()
        expected.add("application/json", _page(0, "x" * 40), True, [], len(first_raw))
        assert group.schema is not None and expected.schema is not None
        assert group.schema.to_schema() == expected.schema.to_schema()
        # a worker's groups travel with evidence, not values
        live = memo.decode(json.dumps(_page(5000, "y")).encode(), "application/json")
        back = pickle.loads(pickle.dumps(live))
        assert back.body.value is None and back.piece is not None

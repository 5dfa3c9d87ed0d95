"""Hypothesis properties of schema merging and path templating."""

from __future__ import annotations

import uuid

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

from zapi.analyzer.paths import PathObservation, build_templates
from zapi.analyzer.schema_infer import SchemaStats

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=12),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text("abcdefgh_", min_size=1, max_size=6), inner, max_size=4),
    ),
    max_leaves=12,
)


def _stats(samples: list[object]) -> SchemaStats:
    s = SchemaStats()
    for v in samples:
        s.add(v)
    return s


class TestSchemaMerging:
    """SchemaStats merging is sound, order-independent and idempotent in shape."""

    @settings(max_examples=150, deadline=None)
    @given(st.lists(json_value, min_size=1, max_size=6))
    def test_schema_validates_every_sample(self, samples: list[object]) -> None:
        schema = _stats(samples).to_schema(examples=False)
        for s in samples:
            jsonschema.validate(s, schema)

    @settings(max_examples=150, deadline=None)
    @given(st.lists(json_value, max_size=5), st.lists(json_value, max_size=5))
    def test_merge_is_order_independent(self, a: list[object], b: list[object]) -> None:
        ab = _stats(a)
        ab.merge(_stats(b))
        ba = _stats(b)
        ba.merge(_stats(a))
        assert ab.to_schema() == ba.to_schema()
        assert ab.to_schema() == _stats(a + b).to_schema()

    @settings(max_examples=100, deadline=None)
    @given(st.lists(json_value, min_size=1, max_size=5))
    def test_merging_twice_keeps_the_shape(self, a: list[object]) -> None:
        once = _stats(a).to_schema(observed=False, examples=False)
        doubled = _stats(a)
        doubled.merge(_stats(a))
        twice = doubled.to_schema(observed=False, examples=False)
        # Doubling the evidence may only promote enums; types and required stay.
        assert _types(once) == _types(twice)


def _types(schema: object) -> object:
    if isinstance(schema, dict):
        return {k: _types(v) for k, v in schema.items() if k not in ("enum", "examples")}
    if isinstance(schema, list):
        return [_types(v) for v in schema]
    return schema


ids = st.one_of(
    st.integers(1, 10**9).map(str),
    st.uuids().map(str),
    st.binary(min_size=12, max_size=12).map(lambda b: b.hex()),
)


class TestTemplating:
    """Templating is stable under id changes."""

    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(ids, min_size=3, max_size=8, unique=True),
        st.lists(ids, min_size=3, max_size=8, unique=True),
    )
    def test_stable_under_id_changes(self, first: list[str], second: list[str]) -> None:
        def templates(values: list[str]) -> set[str]:
            obs = [
                PathObservation("http://h", "GET", ("api", "orders", v, "lines")) for v in values
            ]
            obs += [PathObservation("http://h", "GET", ("api", "orders", "search"))]
            trie = build_templates(obs)["http://h"]
            out = set()
            for o in obs:
                t = trie.route(o.segments)
                assert t is not None
                out.add(t.path)
            return out

        assert (
            templates(first)
            == templates(second)
            == {"/api/orders/{order_id}/lines", "/api/orders/search"}
        )

    def test_uuid_ids(self) -> None:
        obs = [
            PathObservation("http://h", "GET", ("v1", "items", str(uuid.UUID(int=i))))
            for i in range(1, 4)
        ]
        trie = build_templates(obs)["http://h"]
        t = trie.route(obs[0].segments)
        assert t is not None and t.path == "/v1/items/{item_id}"

"""Memory savings that must not change results: lazy schema tallies, a consumed collector."""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Sequence
from pathlib import Path

import pytest
from factories import entry, har
from hypothesis import given, settings
from hypothesis import strategies as st

from zapi.analyzer import schema_infer
from zapi.analyzer.pipeline import Collector
from zapi.analyzer.schema_infer import SchemaStats
from zapi.har import iter_har

_SAMPLES: list[object] = [
    {"id": 1, "name": "a", "tags": ["x", "y"], "meta": {}, "owner": None},
    {"id": 2, "name": "b", "tags": [], "meta": {"k": 1.5}, "owner": {"login": "q"}},
    [1, "two", {"three": True}],
    "plain",
]


def _stats(samples: Sequence[object]) -> SchemaStats:
    s = SchemaStats()
    for v in samples:
        s.add(v)
    return s


def test_shared_empty_tally_is_never_written() -> None:
    a, b = _stats(_SAMPLES), _stats(list(reversed(_SAMPLES)))
    a.merge(b)
    c = SchemaStats()
    c.merge(a)
    c.add({"new": "value"})
    assert schema_infer._NONE == {}
    assert SchemaStats().props == {} and SchemaStats().strings == {}


def test_pickled_and_copied_stats_give_the_same_schema() -> None:
    s = _stats(_SAMPLES)
    want = s.to_schema()
    for other in (pickle.loads(pickle.dumps(s)), copy.deepcopy(s)):
        assert other.to_schema() == want
        other.add({"id": 3, "extra": "z"})  # writes go to the copy's own tallies
    assert s.to_schema() == want
    assert schema_infer._NONE == {}


def test_merge_equals_adding_everything() -> None:
    whole = _stats(_SAMPLES + _SAMPLES[:2])
    parts = SchemaStats()
    for piece in (_SAMPLES[:2], _SAMPLES[2:], _SAMPLES[:2]):
        parts.merge(_stats(piece))
    assert parts.to_schema() == whole.to_schema()


def test_finish_consumes_the_collector(tmp_path: Path) -> None:
    entries = [entry("GET", f"https://api.example.com/items/{i}", resp={"id": i}) for i in range(5)]
    path = tmp_path / "c.har"
    path.write_text(json.dumps(har(entries)), encoding="utf-8")
    col = Collector().feed_all(iter_har(path))
    analysis = col.finish()
    assert analysis.operations and col.groups == {}
    with pytest.raises(ValueError, match="already called"):
        col.finish()


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=70),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=3), inner, max_size=6)
    ),
    max_leaves=30,
)


def _state(s: SchemaStats | None) -> object:
    if s is None:
        return None
    return (
        s.count,
        list(s.types.items()),
        [(k, _state(v)) for k, v in s.props.items()],
        list(s.prop_counts.items()),
        s.objects,
        s.overflow_props,
        _state(s.items),
        list(s.strings.items()),
        s.strings_overflow,
        list(s.formats.items()),
        list(s.key_shapes.items()),
        repr(s.example),
        s.example_key,
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(_json, max_size=6))
def test_copy_is_merging_into_a_new_node(samples: list[object]) -> None:
    s = _stats(samples)
    merged = SchemaStats()
    merged.merge(s)
    copied = s.copy()
    assert _state(copied) == _state(merged)
    copied.add({"later": 1})  # the copy shares no tally with its source
    assert _state(s) == _state(_stats(samples))

"""The fast indented JSON writer gives exactly the standard library's text."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolgen._jsontext import dumps_indented

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_json_values, st.booleans())
def test_same_text_as_json(value: Any, ensure_ascii: bool) -> None:
    want = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=ensure_ascii)
    assert dumps_indented(value, ensure_ascii=ensure_ascii) == want


@pytest.mark.parametrize(
    "value",
    [
        {"é": "\x7f\U0001f600 caf\u00e9", "ctl": '\x01\x1f\n\t"\\'},
        {"n": [1e16, 1e-7, -0.0, 0.1, 2**64, -(2**63) - 1]},
        {"nan": float("nan"), "inf": float("-inf")},
        {1: "int key", "2": "str key"},
        {"lone": "\ud800"},
        {"empty": [{}, [], ""]},
    ],
)
@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_corners_where_orjson_differs(value: Any, ensure_ascii: bool) -> None:
    try:
        want = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=ensure_ascii)
    except TypeError:
        with pytest.raises(TypeError):
            dumps_indented(value, ensure_ascii=ensure_ascii)
        return
    assert dumps_indented(value, ensure_ascii=ensure_ascii) == want


def test_card_texts_made_beside_the_scrubbing_are_what_dump_writes(tmp_path: Any) -> None:
    """The text made from the scrubbed data equals the validated card's own dump, secrets
    and all (the shop capture carries planted credentials the scrubbing removes)."""
    from factories import PLANTED, shop_entries
    from factories import har as make_har

    from toolgen.build import build_cards_with_texts
    from zapi.analyzer.pipeline import AnalyzeOptions
    from zapi.api import collect, load_rules
    from zapi.redact import Redactor

    path = tmp_path / "shop.har"
    path.write_text(json.dumps(make_har(shop_entries())), encoding="utf-8")
    red = Redactor()
    opts = AnalyzeOptions(rules=load_rules(None))
    analysis = collect([str(path)], opts, None, red, workers=1).finish()
    built = build_cards_with_texts(analysis, red)
    assert len(built) >= 5
    for card, text in built:
        assert text == card.dump(), card.name
        assert not any(secret in text for secret in PLANTED), card.name


def test_names_from_listings_found_beforehand_are_the_names(tmp_path: Any) -> None:
    """``tool_names`` given each operation's listing verdict names exactly as without it."""
    from factories import har as make_har
    from factories import shop_entries

    from toolgen.naming import answers_a_listing, tool_names
    from zapi.analyzer.pipeline import AnalyzeOptions
    from zapi.api import collect, load_rules
    from zapi.redact import Redactor

    path = tmp_path / "shop.har"
    path.write_text(json.dumps(make_har(shop_entries())), encoding="utf-8")
    ops = collect([str(path)], AnalyzeOptions(rules=load_rules(None)), None, Redactor(), workers=1)
    analysis = ops.finish()
    listings = [answers_a_listing(op) for op in analysis.operations]
    assert any(listings) and not all(listings)
    assert tool_names(analysis.operations, None, listings) == tool_names(analysis.operations)
    flipped = [not x for x in listings]  # the verdicts are what decides: flipping them shows
    assert tool_names(analysis.operations, None, flipped) != tool_names(analysis.operations)

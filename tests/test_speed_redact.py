"""The redactor's memo of scrubbed texts never outlives what it knows."""

from __future__ import annotations

from typing import Any

from zapi.redact import Redactor, is_marker
from zapi.scrub import scrub_document


def test_a_secret_learnt_later_is_scrubbed_from_a_text_seen_before() -> None:
    r = Redactor()
    text = "order q7Hk2Lm9Pz shipped"
    assert r.text(text) == text  # nothing secret-looking in it yet
    r.learn("q7Hk2Lm9Pz")  # e.g. found later as a cookie value
    assert "q7Hk2Lm9Pz" not in r.text(text)


def test_repeated_strings_in_a_document_are_all_scrubbed() -> None:
    r = Redactor()
    r.learn("s3cr3tValue42")
    leaf = {"type": "string", "examples": ["s3cr3tValue42"], "description": "s3cr3tValue42"}
    doc = {"properties": {f"f{i}": dict(leaf) for i in range(50)}, "items": [leaf] * 50}
    out = scrub_document(doc, r)
    text = repr(out)
    assert "s3cr3tValue42" not in text
    assert all(is_marker(p["description"]) for p in out["properties"].values())


def test_memo_is_not_shared_between_redactors() -> None:
    a, b = Redactor(), Redactor()
    a.learn("Zx81Qw72Er63")
    assert "Zx81Qw72Er63" not in a.text("id Zx81Qw72Er63")
    assert b.text("id Zx81Qw72Er63") == "id Zx81Qw72Er63"


# -- cheap tests before each secret pattern -------------------------------------------
import re  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from zapi import redact  # noqa: E402
from zapi._memo import TextMemo  # noqa: E402

_FRAGMENTS = [
    "Bearer ",
    "BASIC ",
    "baſic ",
    "token\t",
    "Digest ",
    "eyJ",
    ".",
    "sk_live_",
    "rk_test_",
    "ghp_",
    "gho_",
    "AKIA",
    "xoxb-",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----END RSA PRIVATE KEY-----",
    "-----BEGIN PGP PRIVATE KEY BLOCK-----",
    "abcdefgh",
    "ABCDEFGH12345678",
    "0123456789abcdefghij",
    " ",
    "=",
    "_",
]


def _all_patterns(text: str) -> str:
    """What the value patterns give applied with no shortcut (the reference)."""
    for pat in redact._VALUE_PATTERNS:
        text = pat.sub(lambda m: redact.marker_for(m.group(0)), text)
    return text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=10).map("".join))
def test_pattern_shortcuts_never_skip_a_match(text: str) -> None:
    """A pattern skipped for a missing needle would not have matched anyway."""
    r = Redactor()
    assert r._scrub_text(text) == _URLS(_all_patterns(text))


def _URLS(text: str) -> str:  # noqa: N802 -- the URL steps of _scrub_text, unchanged
    if "://" in text:
        text = redact._URL_USERINFO.sub(lambda m: m.group(1), text)
    if "=" in text:
        text = redact._URL_SECRET_PARAM.sub(
            lambda m: m.group(1) + redact.marker_for(m.group(2)), text
        )
    return text


def test_every_pattern_has_its_needles() -> None:
    """Adding a pattern without its needles would skip it silently: the lists pair up."""
    assert len(redact._VALUE_NEEDLES) == len(redact._VALUE_PATTERNS)
    for pat, needles in zip(redact._VALUE_PATTERNS, redact._VALUE_NEEDLES, strict=True):
        assert needles and all(re.escape(n) for n in needles), pat.pattern


def test_long_texts_are_remembered_until_a_secret_is_learnt() -> None:
    r = Redactor()
    text = "release notes " * 40 + "Kq93Lp20Xz"
    assert r.text(text) == text
    assert r._long_texts.get(text) == text
    r.learn("Kq93Lp20Xz")
    assert "Kq93Lp20Xz" not in r.text(text)


def test_property_names_judged_once_give_the_same_verdicts() -> None:
    """The per-name memo of secret property names changes no verdict."""
    doc = {
        "type": "object",
        "properties": {
            "password": {"type": "string", "examples": ["hunter2hunter2"]},
            "api_key": {"type": "string", "examples": ["Zk29sLq81mXp0Wn4Rt7Y"]},
            "title": {"type": "string", "examples": ["hello"]},
            "x-request-id": {"type": "string", "examples": ["abc"]},
        },
    }
    r = Redactor()
    first = scrub_document(doc, r)
    again = scrub_document(doc, r)
    assert first == again
    props = first["properties"]
    assert "examples" not in props["password"] and "examples" not in props["api_key"]
    assert props["title"]["examples"] == ["hello"]


def test_text_memo_keeps_within_its_budget() -> None:
    memo: TextMemo[str, int] = TextMemo(min_size=4, budget=100)
    for i in range(50):
        memo.put(f"text{i:04d}", i)
    assert memo._held <= 100
    assert memo.get("text0049") == 49 and memo.get("text0000") is None
    assert memo.get("abc") is None and not memo.wanted("abc")  # too short to be worth it


_doc_keys = st.sampled_from(
    [
        "name",
        "in",
        "location",
        "value",
        "examples",
        "enum",
        "schema",
        "properties",
        "items",
        "anyOf",
        "type",
        "description",
        "password",
        "api_key",
        "title",
    ]
)
_doc_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 999999),
    st.sampled_from(
        [
            "query",
            "header",
            "body",
            "password",
            "token",
            "Bearer abcdefgh12345678",
            "plain",
            "Zk29sLq81mXp0Wn4Rt7Y",
            "x-api-key",
            "https://u:p@example.com/?token=abc123def",
        ]
    ),
)
# Parameter-like objects, so secret names with recorded values come up often.
_params = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["password", "api_key", "code", "title", "X-Token", "sig"]),
        "in": st.sampled_from(["query", "header", "body", "cookie", "path"]),
    },
    optional={
        "value": _doc_leaves,
        "examples": st.lists(_doc_leaves, max_size=3),
        "schema": st.fixed_dictionaries(
            {"type": st.just("string")}, optional={"enum": st.lists(_doc_leaves, max_size=2)}
        ),
    },
)
_docs = st.recursive(
    st.one_of(_doc_leaves, _params),
    lambda kids: st.one_of(
        st.lists(kids, max_size=4), st.dictionaries(_doc_keys, kids, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(_docs)
def test_scrubbing_in_place_gives_what_the_copy_gives(doc: Any) -> None:
    import copy

    r = Redactor()
    r.learn("plain-secret-value")
    expected = scrub_document(copy.deepcopy(doc), r)
    mine = copy.deepcopy(doc)
    got = scrub_document(mine, r, in_place=True)
    assert got == expected
    if isinstance(doc, dict | list):
        assert got is mine  # changed where it was, not rebuilt

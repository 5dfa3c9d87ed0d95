"""The redactor's memo of scrubbed texts never outlives what it knows."""

from __future__ import annotations

from zapi.redact import Redactor, is_marker, scrub_document


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

"""Secrets out of schema-bearing documents (cards, OpenAPI): the redactor applied by meaning.

A document is walked with what each place means: under a property, parameter,
header or fixed value whose name is secret (by name, as a query/form pair, or
an auth-ish name holding a random-looking value), recorded values
(example/enum/default/const/value) are removed; every other string runs
through :meth:`Redactor.text`.  Two walkers give the same result: one copies,
one changes a document nobody else holds in place (``model_dump`` output).
"""

from __future__ import annotations

from typing import Any

from zapi.redact import Redactor, is_auth_ish, looks_like_token

__all__ = ["scrub_document"]

_VALUE_KEYS = ("examples", "example", "enum", "default", "const", "value")


def _strip_values(v: Any) -> Any:
    """Drop recorded values from an example/enum/default/const under a secret name.

    Strings and numbers (a PIN recorded as ``482913``) go; booleans and nulls, which
    cannot carry a secret, stay.  Nothing is replaced, so no type changes.
    """

    def secret(x: Any) -> bool:
        return isinstance(x, str | int | float) and not isinstance(x, bool)

    if secret(v):
        return None
    if isinstance(v, list):
        return [x for x in v if not secret(x)]
    return v


def scrub_document(
    doc: Any, redactor: Redactor, *, _secret: bool = False, in_place: bool = False
) -> Any:
    """Return a copy of a schema-bearing document (card, OpenAPI) with no secret in it.

    Under a property, parameter, header or fixed value whose name is secret,
    string example/enum/default/const values are removed (other types stay);
    every other string runs through ``redactor.text``.  Query and form names are
    judged as pairs (``code``, ``key``, ``sig`` are secret there).

    With ``in_place``, the document's own dicts and lists are changed instead of
    copied (the same result, without building a second document): for a document
    nobody else holds, in which no dict or list appears twice (``model_dump`` output).
    """
    if not redactor.enabled:
        return doc
    if in_place:
        return _scrub_into(doc, redactor, _secret, 0)
    return _scrub(doc, redactor, _secret, 0)


def _is_pair(doc: dict[str, Any]) -> bool:
    where = doc.get("in") or doc.get("location") or doc.get("x-in")
    return where in ("query", "form", "body", "cookie")


_LEAF = frozenset({str, int, float, bool, type(None)})  # exact types: subclasses take the long way


def _secret_here(doc: dict[str, Any], redactor: Redactor, secret: bool) -> bool:
    """Whether a document node's recorded values are secret (inherited, or by its own name)."""
    name = doc.get("name") if isinstance(doc.get("name"), str) else None
    if secret or name is None or not ("in" in doc or "location" in doc):
        return secret
    pair = _is_pair(doc)
    return (redactor.is_secret_pair(name) if pair else redactor.is_secret(name)) or _token_valued(
        name, doc
    )


def _scrub(doc: Any, redactor: Redactor, secret: bool, depth: int) -> Any:
    if depth > 400:
        return None  # documents we build never nest this deep
    if isinstance(doc, dict):
        out: dict[str, Any] = {}
        secret_here = _secret_here(doc, redactor, secret)
        text = redactor.text
        for k, v in doc.items():
            if secret_here and k in _VALUE_KEYS:
                kept = _strip_values(v)
                if kept is None or kept == []:
                    if k == "value":
                        out[k] = None
                    continue
                out[k] = kept
            elif k == "properties" and isinstance(v, dict):
                out[k] = {
                    pk: _scrub(pv, redactor, _prop_secret(str(pk), pv, redactor), depth + 1)
                    for pk, pv in v.items()
                }
            elif k == "schema" and secret_here:
                out[k] = _scrub(v, redactor, True, depth + 1)
            elif depth < 400 and type(v) in _LEAF:  # what _scrub of it would give, sooner
                out[k] = text(v) if type(v) is str else v
            else:
                inherit = k in ("items", "anyOf", "oneOf", "additionalProperties")
                out[k] = _scrub(v, redactor, secret_here if inherit else False, depth + 1)
        return out
    if isinstance(doc, list):
        if depth >= 400:
            return [_scrub(v, redactor, secret, depth + 1) for v in doc]
        text = redactor.text
        return [
            (text(v) if type(v) is str else v)
            if type(v) in _LEAF  # what _scrub of it would give, sooner
            else _scrub(v, redactor, secret, depth + 1)
            for v in doc
        ]
    if isinstance(doc, str):
        return redactor.text(doc)
    return doc


def _scrub_into(doc: Any, redactor: Redactor, secret: bool, depth: int) -> Any:
    """:func:`_scrub`, changing ``doc``'s dicts and lists in place; returns the result."""
    if depth > 400:
        return None
    if isinstance(doc, dict):
        secret_here = _secret_here(doc, redactor, secret)
        text = redactor.text
        for k, v in list(doc.items()):
            if secret_here and k in _VALUE_KEYS:
                kept = _strip_values(v)
                if kept is None or kept == []:
                    if k == "value":
                        doc[k] = None
                    else:
                        del doc[k]
                    continue
                doc[k] = kept
            elif k == "properties" and isinstance(v, dict):
                for pk, pv in list(v.items()):
                    secret_prop = _prop_secret(str(pk), pv, redactor)
                    v[pk] = _scrub_into(pv, redactor, secret_prop, depth + 1)
            elif k == "schema" and secret_here:
                doc[k] = _scrub_into(v, redactor, True, depth + 1)
            elif depth < 400 and type(v) in _LEAF:
                if type(v) is str:
                    doc[k] = text(v)
            else:
                inherit = k in ("items", "anyOf", "oneOf", "additionalProperties")
                doc[k] = _scrub_into(v, redactor, secret_here if inherit else False, depth + 1)
        return doc
    if isinstance(doc, list):
        text = redactor.text
        for i, v in enumerate(doc):
            if depth < 400 and type(v) in _LEAF:
                if type(v) is str:
                    doc[i] = text(v)
            else:
                doc[i] = _scrub_into(v, redactor, secret, depth + 1)
        return doc
    if isinstance(doc, str):
        return redactor.text(doc)
    return doc


def _token_valued(name: str, doc: dict[str, Any]) -> bool:
    """A random-looking recorded value under an auth-ish name (or an ``X-`` header)."""
    where = doc.get("in") or doc.get("location") or doc.get("x-in")
    low = name.lower()
    if not (is_auth_ish(low) or (where == "header" and low.startswith(("x-", "x_")))):
        return False
    vals: list[Any] = []
    for k in _VALUE_KEYS:
        v = doc.get(k)
        vals += v if isinstance(v, list) else [v]
    return any(isinstance(x, str) and looks_like_token(x) for x in vals)


def _prop_secret(name: str, schema: Any, redactor: Redactor) -> bool:
    """A property is secret by name (as a pair when it is a query/form/cookie input)."""
    by_name, auth_ish = redactor.name_verdict(name)
    if by_name:
        return True
    if not isinstance(schema, dict):
        return False
    if _is_pair(schema) and redactor.is_secret_pair(name):
        return True
    # A random-looking example under an auth-ish name is a credential whatever the name.
    if not auth_ish and not name.lower().startswith(("x-", "x_")):
        return False  # what _token_valued gives, sooner
    return _token_valued(name, schema)

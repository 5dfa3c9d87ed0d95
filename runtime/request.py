"""The request builder: validated arguments + card (+ auth material) → a frozen wire request.

Pure in the style of h11: no I/O, no clock, no randomness (a :class:`Fresh` carries the
per-request values a cache-buster needs), no client. The executor turns the result into
an ``httpx.Request``; multipart file arguments stay paths here and are read at that edge.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from toolgen.cards import FixedValue, ToolCard
from zapi.errors import InvalidArguments

__all__ = ["AuthMaterial", "FilePart", "Fresh", "WireRequest", "build_request", "strip_userinfo"]

_BAD_HEADER = {"\r": "CR", "\n": "LF", "\0": "NUL"}
_BAD_COOKIE = {";": "';'", **_BAD_HEADER}


@dataclass(frozen=True)
class Fresh:
    """Per-request values for generated fixed values (cache-busters), made by the caller."""

    now_s: float = 0.0
    token: str = "0" * 32
    """32 hex digits of randomness."""


@dataclass(frozen=True)
class AuthMaterial:
    """Credential and CSRF values to add, already resolved by the caller."""

    headers: Mapping[str, str] = field(default_factory=dict)
    params: Sequence[tuple[str, Any]] = ()
    cookies: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, str] = field(default_factory=dict)
    """Body fields (a form's CSRF field), added to an object body."""


@dataclass(frozen=True)
class FilePart:
    """A multipart file field whose content is the local file named by argument ``arg``."""

    name: str
    arg: str
    path: str


@dataclass(frozen=True)
class WireRequest:
    """Everything that goes on the wire for one attempt (``body`` is what the log shows)."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    cookies: tuple[tuple[str, str], ...]
    content: bytes | None = None
    fields: tuple[tuple[str, str], ...] = ()
    files: tuple[FilePart, ...] = ()
    body: Any = None


def strip_userinfo(url: str) -> str:
    """``url`` without a ``user:password@`` part (credentials never travel in URLs)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _scalar(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _text(value: Any) -> str:
    value = _scalar(value)
    return "" if value is None else str(value)


def _generated(fixed: FixedValue, fresh: Fresh) -> Any:
    if fixed.generate == "timestamp_ms":
        return str(int(fresh.now_s * 1000))
    if fixed.generate == "timestamp_s":
        return str(int(fresh.now_s))
    if fixed.generate == "random_hex":
        return fresh.token[:16]
    if fixed.generate == "uuid":
        return str(uuid.UUID(hex=fresh.token[:32]))
    return fixed.value


class _Parts:
    """The request under construction (mutable, private to :func:`build_request`)."""

    def __init__(self, card: ToolCard) -> None:
        self.card = card
        self.path = card.path
        self.params: list[tuple[str, Any]] = []
        self.headers: dict[str, str] = {}
        self.cookies: dict[str, str] = {}
        self.body: Any = copy.deepcopy(card.body_template) if card.body_template else None
        self.origin_of: dict[tuple[str, str], str] = {}  # (location, name) -> "argument 'x'"

    def set(self, location: str, name: str, value: Any, *, arg: str, array: bool = False) -> None:
        card = self.card
        if location == "path":
            text = str(value)
            props = card.input_schema.get("properties", {})
            greedy = bool(props.get(arg, {}).get("x-greedy"))
            if any(p in ("", ".", "..") for p in (text.split("/") if greedy else [text])):
                raise InvalidArguments(
                    f"{card.name}: argument {arg!r} cannot be {text!r}", tool=card.name, field=arg
                )
            # A greedy (file path) parameter keeps its '/'; nothing else may add segments.
            self.path = self.path.replace("{" + name + "}", quote(text, safe="/" if greedy else ""))
        elif location == "query":
            values = value if array and isinstance(value, list) else [value]
            self.params += [(name, _scalar(v)) for v in values]
        elif location == "header":
            self.headers[name] = str(_scalar(value))
        elif location == "cookie":
            self.cookies[name] = str(_scalar(value))
        else:
            self.body = self.body if isinstance(self.body, dict) else {}
            names = name.split(".") if card.protocol != "rest" else [name]
            target = self.body
            for part in names[:-1]:
                target = target.setdefault(part, {})
            target[names[-1]] = value
        self.origin_of[(location, name.lower() if location == "header" else name)] = arg


def _refuse_unsafe(parts: _Parts) -> None:
    """Refuse header/cookie values that would split or inject (before anything is sent)."""
    card = parts.card
    for location, values, bad in (
        ("header", parts.headers, _BAD_HEADER),
        ("cookie", parts.cookies, _BAD_COOKIE),
    ):
        for name, value in values.items():
            found = [label for ch, label in bad.items() if ch in value]
            if not found:
                continue
            key = name.lower() if location == "header" else name
            what = parts.origin_of.get((location, key), "")
            where = f"argument {what!r}" if what else f"{location} {name!r}"
            raise InvalidArguments(
                f"{card.name}: {where} contains {' and '.join(found)}, which a {location} value "
                "may not; refused before sending (nothing was sent)",
                tool=card.name,
                field=what or name,
                sent=False,
            )


def build_request(
    card: ToolCard,
    args: Mapping[str, Any],
    *,
    base_url: str | None = None,
    auth: AuthMaterial | None = None,
    idempotency_key: str | None = None,
    fresh: Fresh | None = None,
) -> WireRequest:
    """Build the wire request of one attempt of ``card`` with validated ``args``.

    The card's ``fixed`` values are sent unless an argument fills the same slot (or has
    the same name); generated ones (cache-busters) take their value from ``fresh``.

    Raises:
        InvalidArguments: a path argument would add or climb segments, or a header or
            cookie value holds CR, LF, NUL (or ``;`` in a cookie); nothing was sent.
    """
    parts = _Parts(card)
    filled = {(b.location, b.name) for b in card.bindings if b.arg in args}
    for fixed in card.fixed:
        if (fixed.location, fixed.name) not in filled and fixed.name not in args:
            value = _generated(fixed, fresh or Fresh())
            parts.set(fixed.location, fixed.name, value, arg="")
    for b in card.bindings:
        if b.arg not in args:
            continue
        if b.location == "body" and b.whole_body:
            parts.body = args[b.arg]
        else:
            parts.set(b.location, b.name, args[b.arg], arg=b.arg, array=b.array)
    if auth is not None:
        parts.headers.update(auth.headers)
        parts.params += list(auth.params)
        parts.cookies.update(auth.cookies)
        if auth.body and (parts.body is None or isinstance(parts.body, dict)):
            parts.body = {**(parts.body or {}), **auth.body}
    if idempotency_key and card.idempotency.header:
        parts.headers[card.idempotency.header] = idempotency_key
    _refuse_unsafe(parts)
    return _encode(parts, strip_userinfo(base_url or card.origin).rstrip("/"))


def _default_type(headers: dict[str, str], media: str) -> None:
    if not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = media


def _encode(parts: _Parts, base: str) -> WireRequest:
    card, body, headers = parts.card, parts.body, parts.headers
    url = base + parts.path
    if parts.params:
        query = urlencode([(k, _text(v)) for k, v in parts.params])
        url += ("&" if "?" in url else "?") + query
    content: bytes | None = None
    fields: list[tuple[str, str]] = []
    files: list[FilePart] = []
    media = card.body_media.lower()
    if body is not None:
        if "multipart" in media and isinstance(body, dict):
            props = card.input_schema.get("properties", {})
            binary = {
                b.name: b.arg
                for b in card.bindings
                if b.location == "body" and props.get(b.arg, {}).get("format") == "binary"
            }
            for name, value in body.items():
                if name in binary:
                    files.append(FilePart(name, binary[name], str(value)))
                else:
                    fields.append((name, str(_scalar(value))))
        elif "form" in media and isinstance(body, dict):
            content = urlencode([(k, str(_scalar(v))) for k, v in body.items()]).encode()
            _default_type(headers, "application/x-www-form-urlencoded")
        elif isinstance(body, str) and media and "json" not in media:
            content = body.encode()
            _default_type(headers, card.body_media)
        else:
            content = json.dumps(
                body, ensure_ascii=False, separators=(",", ":"), allow_nan=False
            ).encode("utf-8")
            _default_type(headers, "application/json")
    return WireRequest(
        method=card.method.upper(),
        url=url,
        headers=tuple(headers.items()),
        cookies=tuple(parts.cookies.items()),
        content=content,
        fields=tuple(fields),
        files=tuple(files),
        body=body,
    )

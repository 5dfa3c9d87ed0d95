"""The one redactor: secrets out of every HAR, card, spec, example and log we write.

A secret is recognised by the *name* it travels under (header, cookie, query
key, JSON/form field), by its *value* (JWTs, ``Bearer ...``, well-known key
prefixes) or because it was seen before as a secret (``learn``), in which
case every later occurrence in any text is scrubbed too.  The replacement is
a stable marker that keeps the value's shape class, ``[REDACTED:uuid]`` or
``[REDACTED:token]``, so the analyzer can still tell an id from a token.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from zapi.shapes import classify

__all__ = ["MARKER_PREFIX", "Redactor", "is_marker", "is_secret_name", "marker_for"]

MARKER_PREFIX = "[REDACTED"

# Exact header / field names that always carry credentials.
_EXACT = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "apikey",
        "api_key",
        "x-csrf-token",
        "x-xsrf-token",
        "x-csrftoken",
        "csrf-token",
        "xsrf-token",
        "x-auth-token",
        "x-access-token",
        "x-amz-security-token",
        "password",
        "passwd",
        "pwd",
        "secret",
        "client_secret",
        "private_key",
    }
)
# Substrings that mark a name as secret-bearing.
_MARKERS = (
    "token",
    "secret",
    "password",
    "passwd",
    "session",
    "auth",
    "apikey",
    "api_key",
    "api-key",
    "csrf",
    "xsrf",
    "credential",
    "signature",
    "private",
    "sid",
)
# Names that contain a marker but are not secrets (metadata about auth, counts, ids).
_NOT_SECRET = frozenset(
    {
        "author",
        "authors",
        "author_id",
        "authorid",
        "author_name",
        "token_type",
        "expires_in",
        "session_id_count",
        "auth_type",
        "authentication_type",
        "sidebar",
        "side",
        "inside",
        "consider",
        "reside",
        "tokens_used",
        "max_tokens",
        "token_count",
        "sider",
        "aside",
        "password_policy",
        "require_auth",
        "auth_required",
        "has_password",
        "token_expires_at",
        "session_timeout",
        "session_length",
        "oauth_provider",
    }
)
_VALUE_PATTERNS = (
    re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),  # JWT
    re.compile(r"(?i)\b(bearer|basic|token|digest)\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"\b(sk|rk|pk)_(live|test)_[A-Za-z0-9]{8,}"),  # Stripe-style keys
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),  # GitHub tokens
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\bxox[abpr]-[A-Za-z0-9-]{10,}"),  # Slack
)


def is_marker(value: object) -> bool:
    """True when ``value`` is already a redaction marker."""
    return isinstance(value, str) and value.startswith(MARKER_PREFIX)


def marker_for(value: str) -> str:
    """The stable marker that replaces ``value``: it keeps only the shape class."""
    if is_marker(value):
        return value
    return f"{MARKER_PREFIX}:{classify(value).value}]"


def is_secret_name(name: str) -> bool:
    """True when a header, cookie, query key or field called ``name`` carries a secret."""
    low = name.strip().lower()
    if low in _EXACT:
        return True
    if low in _NOT_SECRET:
        return False
    if low.endswith(
        ("_id", "id", "_ids", "_count", "_type", "_at", "_url", "_name", "_policy")
    ) and not (
        low.endswith(("sessionid", "session_id", "sid")) or "token" in low or "secret" in low
    ):
        return False
    return any(m in low for m in _MARKERS)


@dataclass
class Redactor:
    """Replaces secrets with shape-keeping markers.

    Args:
        enabled: ``False`` turns every method into the identity (``--no-redact``).
        extra_names: more field/header names to treat as secret.
        keep_names: names never to treat as secret (overrides the built-in lists).
    """

    enabled: bool = True
    extra_names: frozenset[str] = frozenset()
    keep_names: frozenset[str] = frozenset()
    _known: set[str] = field(default_factory=set, repr=False)
    _known_re: re.Pattern[str] | None = field(default=None, repr=False)
    counts: dict[str, int] = field(default_factory=dict, repr=False)

    # -- names and values ------------------------------------------------------
    def is_secret(self, name: str) -> bool:
        """True when ``name`` carries a secret under this redactor's settings."""
        low = name.strip().lower()
        if low in self.keep_names:
            return False
        return low in self.extra_names or is_secret_name(low)

    def learn(self, value: str) -> None:
        """Remember a secret value so it is scrubbed wherever it appears later."""
        if not self.enabled or not value or is_marker(value) or len(value) < 6:
            return
        if value not in self._known:
            self._known.add(value)
            self._known_re = None

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def value(self, value: str, *, what: str = "value") -> str:
        """Redact a value known to be secret, remembering it."""
        if not self.enabled or is_marker(value) or value == "":
            return value
        self.learn(value)
        self._count(what)
        return marker_for(value)

    def text(self, text: str) -> str:
        """Scrub known secrets and secret-looking values out of free text."""
        if not self.enabled or not text:
            return text
        out = text
        if self._known:
            if self._known_re is None:
                alts = sorted(self._known, key=len, reverse=True)
                self._known_re = re.compile("|".join(re.escape(a) for a in alts))
            out = self._known_re.sub(lambda m: marker_for(m.group(0)), out)
        for pat in _VALUE_PATTERNS:
            out = pat.sub(lambda m: marker_for(m.group(0)), out)
        return out

    # -- structured data -------------------------------------------------------
    def json(self, data: Any) -> Any:
        """Return a copy of a JSON value with secret fields and values replaced."""
        if not self.enabled:
            return data
        if isinstance(data, dict):
            out: dict[str, Any] = {}
            for k, v in data.items():
                if self.is_secret(str(k)) and isinstance(v, str | int | float) and v != "":
                    out[k] = self.value(str(v), what=f"field:{k}")
                else:
                    out[k] = self.json(v)
            return out
        if isinstance(data, list):
            return [self.json(v) for v in data]
        if isinstance(data, str):
            return self.text(data)
        return data

    def headers(self, headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Redact header values: credentials by name, cookies value by value."""
        out = []
        for name, val in headers:
            low = name.lower()
            if not self.enabled:
                out.append((name, val))
            elif low == "cookie":
                out.append((name, self.cookie_header(val)))
            elif low == "set-cookie":
                out.append((name, self.set_cookie(val)))
            elif low in ("authorization", "proxy-authorization"):
                scheme, _, cred = val.partition(" ")
                red = (
                    f"{scheme} {self.value(cred, what='authorization')}"
                    if cred
                    else self.value(val, what="authorization")
                )
                out.append((name, red))
            elif self.is_secret(name):
                out.append((name, self.value(val, what=f"header:{low}")))
            else:
                out.append((name, self.text(val)))
        return out

    def cookie_header(self, value: str) -> str:
        """Redact every cookie value in a ``Cookie:`` header."""
        parts = []
        for item in value.split(";"):
            name, eq, val = item.strip().partition("=")
            if not name:
                continue
            parts.append(f"{name}={self.value(val, what='cookie')}" if eq else name)
        return "; ".join(parts)

    def set_cookie(self, value: str) -> str:
        """Redact the value of a ``Set-Cookie:`` header, keeping its attributes."""
        first, sep, attrs = value.partition(";")
        name, eq, val = first.partition("=")
        if not eq:
            return value
        return f"{name.strip()}={self.value(val.strip(), what='cookie')}{sep}{attrs}"

    def cookie_value(self, name: str, value: str) -> str:
        """Redact one cookie (all cookie values are treated as secret)."""
        return self.value(value, what="cookie")

    def pairs(self, pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Redact name/value pairs such as query strings and form fields."""
        return [
            (k, self.value(v, what=f"field:{k}") if self.is_secret(k) else self.text(v))
            for k, v in pairs
        ]

    def url(self, url: str) -> str:
        """Redact URL userinfo and secret query values."""
        if not self.enabled:
            return url
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, host = netloc.rpartition("@")
            netloc = f"{self.value(userinfo, what='userinfo')}@{host}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode(self.pairs(pairs), safe="[]:")
        return self.text(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))

    def form(self, body: str) -> str:
        """Redact an ``application/x-www-form-urlencoded`` body."""
        if not self.enabled:
            return body
        return urlencode(self.pairs(parse_qsl(body, keep_blank_values=True)), safe="[]:")

    def mapping(self, data: Mapping[str, str]) -> dict[str, str]:
        """Redact a flat mapping by name."""
        return dict(self.pairs(data.items()))


_VALUE_KEYS = ("examples", "example", "enum", "default", "const")


def scrub_document(doc: Any, redactor: Redactor, *, _secret: bool = False) -> Any:
    """Return a copy of a schema-bearing document (card, OpenAPI) with no secret in it.

    Under a property, parameter or header whose name is secret, example/enum/
    default values are removed; every other string runs through ``redactor.text``.
    """
    if isinstance(doc, dict):
        out: dict[str, Any] = {}
        name = doc.get("name") if isinstance(doc.get("name"), str) else None
        secret_here = _secret or (name is not None and "in" in doc and redactor.is_secret(name))
        for k, v in doc.items():
            if secret_here and k in _VALUE_KEYS:
                continue
            if k == "properties" and isinstance(v, dict):
                out[k] = {
                    pk: scrub_document(pv, redactor, _secret=redactor.is_secret(str(pk)))
                    for pk, pv in v.items()
                }
            elif k == "schema" and secret_here:
                out[k] = scrub_document(v, redactor, _secret=True)
            else:
                out[k] = scrub_document(
                    v,
                    redactor,
                    _secret=secret_here
                    if k in ("items", "anyOf", "oneOf", "additionalProperties")
                    else False,
                )
        return out
    if isinstance(doc, list):
        return [scrub_document(v, redactor, _secret=_secret) for v in doc]
    if isinstance(doc, str):
        return redactor.text(doc)
    return doc

"""The one redactor: secrets out of every HAR, card, spec, example and log we write.

A secret is recognised by the *name* it travels under (header, cookie, query
key, JSON/form field), by its *value* (JWTs, ``Bearer ...``, well-known key
prefixes) or because it was seen before as a secret (``learn``), in which
case every later occurrence in any text is scrubbed too.  The replacement is
a stable marker that keeps the value's shape class, ``[REDACTED:uuid]`` or
``[REDACTED:token]``, so the analyzer can still tell an id from a token.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from zapi._memo import TextMemo
from zapi.shapes import classify

__all__ = [
    "CREDENTIAL_HEADERS",
    "CREDENTIAL_QUERY",
    "MARKER_PREFIX",
    "Redactor",
    "is_credential_header",
    "is_auth_ish",
    "is_credential_query",
    "is_marker",
    "is_secret_name",
    "is_secret_pair_name",
    "looks_like_token",
    "marker_for",
]

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
        "pass",
        "passphrase",
        "pin",
        "sig",
        "hmac",
        "otp",
        "x-key",
        "x-client-key",
    }
)

# The auth detector (zapi.analyzer.auth) reads credentials from these names; every
# one of them is also redacted here, so the two can never disagree.
CREDENTIAL_HEADERS = frozenset(
    {
        "x-api-key",
        "api-key",
        "apikey",
        "x-apikey",
        "x-auth-token",
        "x-access-token",
        "x-api-token",
        "x-token",
        "x-key",
        "x-client-key",
        "x-auth-key",
        "x-app-key",
        "private-token",
        "x-functions-key",
        "ocp-apim-subscription-key",
    }
)
"""Request headers that carry an API key or token (lower case)."""
CREDENTIAL_QUERY = frozenset(
    {
        "api_key",
        "apikey",
        "api-key",
        "key",
        "access_token",
        "token",
        "auth",
        "auth_token",
        "x-api-key",
        "appid",
        "app_key",
        "client_secret",
    }
)
"""Query keys that carry an API key or token (lower case)."""
# Query/form names that carry a secret without being an auth scheme (OAuth
# authorization codes, URL signatures); as JSON field names they are too common
# (``{"code": "NOT_FOUND"}``) to redact by name, so only pairs use them.
_PAIR_ONLY = frozenset(
    {"code", "sig", "signature", "hmac", "state", "nonce", "id_token", "refresh_token", "otp"}
)
# Field names ending in ``key`` that hold key material.
_KEY_PREFIXES = (
    "access",
    "secret",
    "private",
    "api",
    "client",
    "signing",
    "subscription",
    "functions",
    "encryption",
    "master",
    "auth",
    "app",
    "license",
    "ssh",
    "gpg",
    "pgp",
)
_NOT_SECRET_HEADERS = frozenset({"idempotency-key", "sec-websocket-key"})
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
    "passphrase",
    "hmac",
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
    # PEM blocks (private keys, certificates' keys) under any name, JSON-escaped or not.
    re.compile(
        r"-----BEGIN [A-Z0-9 ]*(?:PRIVATE KEY|KEY BLOCK)-----.*?-----END [A-Z0-9 ]*-----"
        r"|-----BEGIN [A-Z0-9 ]*(?:PRIVATE KEY|KEY BLOCK)-----[A-Za-z0-9+/=\s\\]*",
        re.S,
    ),
    re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),  # JWT
    re.compile(r"(?i)\b(bearer|basic|token|digest)\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"\b(sk|rk|pk)_(live|test)_[A-Za-z0-9]{8,}"),  # Stripe-style keys
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),  # GitHub tokens
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\bxox[abpr]-[A-Za-z0-9-]{10,}"),  # Slack
)
# What a text must contain for each of _VALUE_PATTERNS to match it (``None``: no cheap
# test): most texts contain none, and a substring test costs far less than a search.
_VALUE_NEEDLES: tuple[tuple[str, ...], ...] = (
    ("-----BEGIN",),
    ("eyJ",),
    ("bearer", "basic", "token", "digest"),  # tested on the case-folded text
    ("_live_", "_test_"),
    ("gh",),
    ("AKIA",),
    ("xox",),
)
_LOWER_NEEDLES = 2  # the index of the entry tested case-insensitively
# Secret values inside URLs anywhere in text: userinfo, and query values under secret keys.
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s?#@\"'<>]*@")
_URL_SECRET_PARAM = re.compile(
    r"(?i)([?&#](?:code|token|access_token|id_token|refresh_token|api_key|apikey|api-key|key|"
    r"sig|signature|hmac|password|passwd|pass|secret|client_secret|auth|auth_token|otp|pin)=)"
    r"([^&#\s\"'<>\\]+)"
)
_BOOL_WORDS = frozenset(
    {"true", "false", "yes", "no", "on", "off", "null", "none", "enabled", "disabled"}
)
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_\-+/=.~]{20,}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Name fragments of positions where a random-looking value is probably a credential.
_AUTH_ISH = ("key", "code", "sig", "hash", "nonce", "otp", "cred", "pass", "pin", "auth", "tok")


def looks_like_token(value: str) -> bool:
    """True for a long, random-looking opaque string (an API key, a signature...).

    Twenty or more token characters, several character classes and high
    entropy; UUIDs and plain words or numbers are not tokens.
    """
    if len(value) < 20 or len(value) > 4096 or not _TOKEN_CHARS.fullmatch(value):
        return False
    if _UUID.fullmatch(value):
        return False
    classes = sum(
        (
            any(c.islower() for c in value),
            any(c.isupper() for c in value),
            any(c.isdigit() for c in value),
        )
    )
    if classes < 2:
        return False
    counts: dict[str, int] = {}
    for c in value:
        counts[c] = counts.get(c, 0) + 1
    n = len(value)
    entropy = -sum(k / n * math.log2(k / n) for k in counts.values())
    return entropy >= 3.5


def _auth_ish(name: str) -> bool:
    low = name.lower()
    return any(f in low for f in _AUTH_ISH)


def is_auth_ish(name: str) -> bool:
    """True for names a credential may hide under (``key``, ``code``, ``sig``, ``token``...)."""
    return _auth_ish(name)


def _secret_shaped(value: str) -> bool:
    """A non-empty string that could be a secret (not a boolean word, not a marker)."""
    v = value.strip()
    return bool(v) and v.lower() not in _BOOL_WORDS and not is_marker(v)


def is_credential_header(name: str) -> bool:
    """True for a request header that carries an API key/token (auth scheme ``header:NAME``)."""
    return name.strip().lower() in CREDENTIAL_HEADERS


def is_credential_query(name: str) -> bool:
    """True for a query key that carries an API key/token (auth scheme ``query:NAME``)."""
    return name.strip().lower() in CREDENTIAL_QUERY


_PLAIN_WORD = re.compile(r"[a-z][a-z_-]*|[A-Z][A-Z_-]*")


def _plain_word(value: str) -> bool:
    """An all-lower or all-upper word (``queued``, ``NOT_FOUND``): no digits, no mix."""
    return bool(_PLAIN_WORD.fullmatch(value.strip()))


def _pair_only(name: str) -> bool:
    """A query/form key that is secret only as a pair name, never as a JSON field name."""
    low = name.strip().lower().rstrip("_")
    return low in _PAIR_ONLY and low not in CREDENTIAL_QUERY and not is_secret_name(low)


@lru_cache(maxsize=1 << 16)  # pure; a card's schemas ask about the same names again and again
def is_secret_pair_name(name: str) -> bool:
    """True for a query/form key that carries a secret (wider than :func:`is_secret_name`)."""
    low = name.strip().lower().rstrip("_")
    return low in CREDENTIAL_QUERY or low in _PAIR_ONLY or is_secret_name(low)


def is_marker(value: object) -> bool:
    """True when ``value`` is already a redaction marker."""
    return isinstance(value, str) and value.startswith(MARKER_PREFIX)


def marker_for(value: str) -> str:
    """The stable marker that replaces ``value``: it keeps only the shape class."""
    if is_marker(value):
        return value
    return f"{MARKER_PREFIX}:{classify(value).value}]"


@lru_cache(maxsize=1 << 16)  # pure; a card's schemas ask about the same names again and again
def is_secret_name(name: str) -> bool:
    """True when a header, cookie, query key or field called ``name`` carries a secret."""
    low = name.strip().lower().rstrip("_")  # ``pass_``: an argument named after ``pass``
    dashed = low.replace("_", "-")  # ``x_client_key``: an argument named after a header
    if low in _EXACT or dashed in _EXACT or dashed in CREDENTIAL_HEADERS:
        return True
    if low in _NOT_SECRET or dashed in _NOT_SECRET_HEADERS:
        return False
    if dashed.startswith("x-") and dashed.endswith(("-key", "-secret", "-signature", "-sig")):
        return True  # X-Functions-Key, X-Client-Secret, X-Hub-Signature...
    if low.endswith(("_pass", "-pass", "_pin", "-pin", "_sig", "-sig", "_hmac", "-hmac")):
        return True
    stem = low.replace("-", "_").removesuffix("key").rstrip("_")
    if low.endswith("key") and stem in _KEY_PREFIXES:
        return True
    if low.endswith(
        ("_id", "id", "_ids", "_count", "_type", "_at", "_url", "_name", "_policy")
    ) and not (
        low.endswith(("sessionid", "session_id", "sid")) or "token" in low or "secret" in low
    ):
        return False
    words = _NOT_AUTH_WORDS.sub("", _CAMEL_HUMP.sub("_", name.strip()).lower())
    return any(m in words for m in _MARKERS)


# Words that begin like the ``auth`` marker but say who may, not what proves it:
# ``authorized_menu_items`` holds menu names, ``author`` a person.  Removed before the
# marker check, so ``authorize_token`` is still a secret and ``authorization`` too.
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_AUTH_WORDS = re.compile(
    r"(?<![a-z])(?:un)?(?:author(?:s|ed|ing)?|authori[sz]ed|authority|authorities|authenticated)"
    r"(?![a-z])"
)


_TEXT_MEMO_MAX = 32_768  # scrubbed texts remembered per redactor
_TEXT_MEMO_LEN = 256  # longer texts are scrubbed every time (the memo stays under ~20 MB)


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
    # text -> text(text) while the known secrets stay the same (cleared when one is learnt)
    _texts: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    # property name -> (secret by name, auth-ish): names repeat across every schema
    _names: dict[str, tuple[bool, bool]] = field(default_factory=dict, repr=False, compare=False)
    # the same for longer texts (long examples repeat across every card), by size
    _long_texts: TextMemo[str, str] = field(
        default_factory=lambda: TextMemo(_TEXT_MEMO_LEN + 1, 4 * 2**20),
        repr=False,
        compare=False,
    )

    # -- names and values ------------------------------------------------------
    def is_secret(self, name: str) -> bool:
        """True when ``name`` carries a secret under this redactor's settings."""
        low = name.strip().lower()
        if low in self.keep_names:
            return False
        return low in self.extra_names or is_secret_name(name.strip())  # keeps camel humps

    def name_verdict(self, name: str) -> tuple[bool, bool]:
        """``(secret by name, auth-ish)`` for a field name, remembered (names repeat)."""
        known = self._names.get(name)
        if known is None:
            if len(self._names) >= _TEXT_MEMO_MAX:
                self._names.clear()
            known = self._names[name] = (self.is_secret(name), _auth_ish(name.lower()))
        return known

    def is_secret_pair(self, name: str) -> bool:
        """Like :meth:`is_secret` for a query or form key (``code``, ``key``, ``sig``...)."""
        low = name.strip().lower()
        if low in self.keep_names:
            return False
        return low in self.extra_names or is_secret_pair_name(low)

    def learn(self, value: str) -> None:
        """Remember a secret value so it is scrubbed wherever it appears later."""
        if not self.enabled or not value or is_marker(value) or len(value) < 6:
            return
        if value not in self._known:
            self._known.add(value)
            self._known_re = None
            self._texts.clear()
            self._long_texts.clear()

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def value(self, value: str, *, what: str = "value") -> str:
        """Redact a value known to be secret, remembering it."""
        if not self.enabled or is_marker(value) or value == "":
            return value
        self.learn(value)
        self._count(what)
        return marker_for(value)

    def _named(self, name: str, value: str, *, pair: bool = False, what: str = "") -> str:
        """Redact ``value`` travelling under ``name`` when the name or its shape says secret."""
        secret = self.is_secret_pair(name) if pair else self.is_secret(name)
        if secret and pair and _pair_only(name) and _plain_word(value):
            # ``?state=queued``, ``?code=NOT_FOUND``: under a pair-only name (OAuth state
            # and code, signatures) a plain lower- or upper-case word is an enum, not a
            # secret; learnt, it would be scrubbed out of every path and body.
            secret = False
        if (secret and _secret_shaped(value)) or (_auth_ish(name) and looks_like_token(value)):
            return self.value(value, what=what or f"field:{name}")
        return self.text(value)

    def text(self, text: str) -> str:
        """Scrub known secrets and secret-looking values out of free text."""
        if not self.enabled or not text:
            return text
        if len(text) > _TEXT_MEMO_LEN:
            return self._long_texts.get(text) or self._long_texts.put(text, self._scrub_text(text))
        done = self._texts.get(text)
        if done is not None:  # documents repeat their strings ("string", field names, examples)
            return done
        out = self._scrub_text(text)
        if len(self._texts) >= _TEXT_MEMO_MAX:
            self._texts.clear()
        self._texts[text] = out
        return out

    def _scrub_text(self, text: str) -> str:
        out = text
        if self._known:
            if self._known_re is None:
                alts = sorted(self._known, key=len, reverse=True)
                self._known_re = re.compile("|".join(re.escape(a) for a in alts))
            out = self._known_re.sub(lambda m: marker_for(m.group(0)), out)
        low = ""
        for i, pat in enumerate(_VALUE_PATTERNS):
            if i == _LOWER_NEEDLES:
                low = low or out.casefold()  # as (?i) matches: "ſ" is an "s"
                if not any(n in low for n in _VALUE_NEEDLES[i]):
                    continue
            elif not any(n in out for n in _VALUE_NEEDLES[i]):
                continue
            out = pat.sub(lambda m: marker_for(m.group(0)), out)
        if "://" in out:
            out = _URL_USERINFO.sub(lambda m: m.group(1), out)
        if "=" in out:
            out = _URL_SECRET_PARAM.sub(lambda m: m.group(1) + marker_for(m.group(2)), out)
        return out

    # -- structured data -------------------------------------------------------
    def json(self, data: Any) -> Any:
        """Return a copy of a JSON value with secret string values replaced.

        Types are kept: only strings are replaced (booleans, numbers and nulls
        never are), and a string under a secret name is replaced only when it is
        secret-shaped (``"csrf_enabled": "true"`` stays).  Iterative, so any
        nesting depth is fine.
        """
        if not self.enabled:
            return data
        root: list[Any] = [None]
        # (source value, container to fill, key or index in it, name it travels under)
        todo: list[tuple[Any, Any, Any, str]] = [(data, root, 0, "")]
        while todo:
            value, into, at, name = todo.pop()
            if isinstance(value, dict):
                out: dict[str, Any] = {}
                into[at] = out
                for k, v in value.items():
                    out[k] = None
                    todo.append((v, out, k, str(k)))
            elif isinstance(value, list):
                items: list[Any] = [None] * len(value)
                into[at] = items
                for i, v in enumerate(value):
                    todo.append((v, items, i, name))
            elif isinstance(value, str):
                into[at] = self._named(name, value) if name else self.text(value)
            else:
                into[at] = value
        return root[0]

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
            elif low in ("location", "content-location", "referer", "origin"):
                out.append((name, self.url(val)))
            elif self.is_secret(name) or (low.startswith("x-") and looks_like_token(val)):
                out.append((name, self.value(val, what=f"header:{low}")))
            else:
                out.append((name, self._named(name, val, what=f"header:{low}")))
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
        return [(k, self._named(k, v, pair=True)) for k, v in pairs]

    def url(self, url: str) -> str:
        """Redact a URL: userinfo is removed, secret query and fragment values are replaced.

        A URL that does not parse is scrubbed as text.
        """
        if not self.enabled or not url:
            return url
        try:
            parts = urlsplit(url)
        except ValueError:
            return self.text(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, netloc = netloc.rpartition("@")
            self.learn(userinfo)
            self._count("userinfo")
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode(self.pairs(pairs), safe="[]:")
        fragment = parts.fragment
        if "=" in fragment:
            fragment = urlencode(
                self.pairs(parse_qsl(fragment, keep_blank_values=True)), safe="[]:/"
            )
        return self.text(urlunsplit((parts.scheme, netloc, parts.path, query, fragment)))

    def form(self, body: str) -> str:
        """Redact an ``application/x-www-form-urlencoded`` body."""
        if not self.enabled:
            return body
        return urlencode(self.pairs(parse_qsl(body, keep_blank_values=True)), safe="[]:")

    def mapping(self, data: Mapping[str, str]) -> dict[str, str]:
        """Redact a flat mapping by name."""
        return dict(self.pairs(data.items()))

"""Auth detection: which schemes a request uses, by header, query and cookie names only.

The credential names come from :mod:`zapi.redact`, so whatever is detected here as
a credential is also redacted everywhere zapi writes.
"""

from __future__ import annotations

import re

from zapi.har import HarEntry
from zapi.redact import is_credential_header, is_credential_query, is_secret_name

__all__ = [
    "TRACKING_COOKIE",
    "auth_keys",
    "cookie_names",
    "csrf_pairs",
    "is_csrf_name",
    "session_cookie",
]

_CSRF = re.compile(r"(csrf|xsrf)", re.I)
TRACKING_COOKIE = re.compile(
    r"^(_ga|_gid|_gat|_gcl|_fbp|_fbc|_hj|_hp2|ajs_|amplitude|mp_|_mkto|intercom|__cf|_dd_s|"
    r"optimizely|_uet|_clck|_clsk|_pk_|_sp_|__utm|_tt_|hubspot|__hs|_lr|ph_)",
    re.I,
)


def session_cookie(name: str) -> bool:
    """True for cookies that carry a session or credential."""
    low = name.lower()
    if TRACKING_COOKIE.match(low) or _CSRF.search(low):
        return False
    return (
        is_secret_name(low)
        or "sess" in low
        or low
        in ("sid", "connect.sid", "jsessionid", "phpsessid", "asp.net_sessionid", "remember_me")
        or low.endswith(("_sid", "-sid", "_session", "session"))
    )


def is_csrf_name(name: str) -> bool:
    """True for cookie/header names of CSRF/XSRF tokens."""
    return bool(_CSRF.search(name))


def cookie_names(entry: HarEntry) -> list[str]:
    """Names of the cookies sent with a request (``cookies`` list or ``Cookie`` header)."""
    names = [n for n, _ in entry.request_cookies]
    if not names:
        raw = entry.header("cookie")
        if raw:
            names = [p.split("=", 1)[0].strip() for p in raw.split(";") if "=" in p]
    return names


def auth_keys(entry: HarEntry) -> list[str]:
    """Stable keys for the auth schemes one request uses."""
    keys = []
    for name, value in entry.request_headers:
        low = name.lower()
        if low == "authorization":
            scheme = value.split(" ", 1)[0].lower()
            if scheme == "bearer":
                keys.append("bearer")
            elif scheme == "basic":
                keys.append("basic")
            else:
                keys.append("header:Authorization")
        elif is_credential_header(low):
            keys.append(f"header:{name}")
    for name, _ in entry.query:
        if is_credential_query(name):
            keys.append(f"query:{name}")
    for name in cookie_names(entry):
        if session_cookie(name):
            keys.append(f"cookie:{name}")
    return sorted(set(keys))


def csrf_pairs(entry: HarEntry) -> list[tuple[str, str]]:
    """Double-submit CSRF evidence: (cookie name, header name) pairs in one request."""
    headers = [n for n, _ in entry.request_headers if _CSRF.search(n)]
    if not headers:
        return []
    cookies = [n for n in cookie_names(entry) if _CSRF.search(n)]
    if cookies:
        return [(c, h) for c in cookies for h in headers]
    return [("", h) for h in headers]

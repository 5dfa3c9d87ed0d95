"""Console security: loopback-only unless a token is set, signed sessions, CSRF on every POST."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.requests import Request

__all__ = ["TOKEN_ENV", "Guard", "check_bind", "is_loopback"]

TOKEN_ENV = "ZAPI_CONSOLE_TOKEN"
CSRF_COOKIE = "zapi_csrf"
SESSION_COOKIE = "zapi_session"
_LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    h = host.strip("[]").lower()
    if h in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve on a non-loopback address without a token.

    Raises:
        ValueError: ``host`` is not loopback and no token is set.
    """
    if not is_loopback(host) and not token:
        raise ValueError(
            f"refusing to serve the console on {host}: anyone who reaches that address could "
            f"approve runs. Bind to 127.0.0.1, or set a token with --token or {TOKEN_ENV}"
        )


def _sign(secret: bytes, purpose: str, value: str) -> str:
    return hmac.new(secret, f"{purpose}\n{value}".encode(), hashlib.sha256).hexdigest()


@dataclass
class Guard:
    """Checks every request: token (when set), Host header, and CSRF on state changes.

    Args:
        token: the shared secret a user signs in with (``None``: no sign-in needed, which
            is only allowed on loopback).
        loopback: the console is bound to a loopback address (then a request whose Host
            header names another host is refused, which defeats DNS rebinding).
        secret: key for session and CSRF signatures (random per process by default).
    """

    token: str | None
    loopback: bool = True
    secret: bytes = field(default_factory=lambda: os.urandom(32))

    # -- sessions ---------------------------------------------------------------------------

    def session_value(self, operator: str) -> str:
        """The signed session cookie for a signed-in ``operator``."""
        return f"{operator}|{_sign(self.secret, 'session', operator)}"

    def session_operator(self, request: Request) -> str | None:
        """The operator of a valid session cookie, else ``None``."""
        raw = request.cookies.get(SESSION_COOKIE, "")
        name, sep, sig = raw.rpartition("|")
        if not sep or not hmac.compare_digest(sig, _sign(self.secret, "session", name)):
            return None
        return name

    def token_ok(self, given: str) -> bool:
        """``given`` is the console token (constant-time)."""
        return self.token is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def authenticated(self, request: Request) -> bool:
        """No token is needed, or the request has a session or ``Authorization: Bearer``."""
        if self.token is None:
            return True
        if self.session_operator(request) is not None:
            return True
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.token_ok(value.strip())

    def host_ok(self, request: Request) -> bool:
        """On a loopback bind, the Host header must name a loopback host."""
        if not self.loopback:
            return True
        host = request.headers.get("host", "")
        name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
        return is_loopback(name)

    # -- CSRF ---------------------------------------------------------------------------------

    @staticmethod
    def new_csrf_cookie() -> str:
        """A fresh random CSRF cookie value."""
        return secrets.token_hex(16)

    def csrf_token(self, cookie: str) -> str:
        """The form token that goes with CSRF cookie ``cookie``."""
        return _sign(self.secret, "csrf", cookie)

    def csrf_ok(self, request: Request, form_token: str) -> bool:
        """The form token matches the request's CSRF cookie and the origin is ours."""
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not cookie or not form_token:
            return False
        if not hmac.compare_digest(form_token, self.csrf_token(cookie)):
            return False
        origin = request.headers.get("origin")
        if origin and origin != "null":
            return urlsplit(origin).netloc == request.headers.get("host", "")
        return True

"""Login as a tool: recognise the exchange that logs in and say what it yields.

A login is a POST that sends the user's credentials (a password-like field)
and answers with a session — a session cookie set (often with a redirect, the
form-login case ``POST /login`` → 303) or a token in the JSON body.  The card
of that operation carries :class:`toolgen.cards.Login`: which arguments are
secrets (passed as references, never as example values), which cookies it
sets, where the access and refresh tokens are, which scheme the token is sent
as, and where the CSRF token the later writes need comes from.
"""

from __future__ import annotations

from typing import Any

from toolgen.cards import Login
from toolgen.inputs import Inputs
from zapi.analyzer.auth import is_csrf_name, session_cookie
from zapi.analyzer.model import Analysis, Operation

__all__ = ["login_info"]

_TOKEN_KEYS = (
    "access_token",
    "accessToken",
    "token",
    "id_token",
    "idToken",
    "jwt",
    "auth_token",
    "authToken",
    "session_token",
    "sessionToken",
)
_REFRESH_KEYS = ("refresh_token", "refreshToken")
_ENVELOPES = ("data", "result", "auth", "session", "tokens")
_LOGIN_WORDS = ("login", "signin", "sign_in", "sign-in", "session", "token", "auth", "logon")


def _find(schema: dict[str, Any], keys: tuple[str, ...]) -> str:
    """JSON pointer of the first of ``keys`` at the top level or under one envelope."""
    props = schema.get("properties")
    if not isinstance(props, dict):
        return ""
    for k in keys:
        if k in props:
            return f"/{k}"
    for env in _ENVELOPES:
        inner = props.get(env)
        if isinstance(inner, dict) and isinstance(inner.get("properties"), dict):
            for k in keys:
                if k in inner["properties"]:
                    return f"/{env}/{k}"
    return ""


def _csrf_source(analysis: Analysis, sets: list[str]) -> str:
    """Where the CSRF token later writes send comes from, by the strongest evidence."""
    set_here = [c for c in sets if is_csrf_name(c)]
    if set_here:
        return f"cookie:{sorted(set_here)[0]}"
    pairs = {c for c, _h in analysis.csrf if c}
    sources = analysis.signals.csrf_sources
    for c in sorted(pairs):
        if f"cookie:{c}" in sources:
            return f"cookie:{c}"
    for prefix in ("header:", "meta:", "input:", "cookie:"):
        found = sorted((k for k in sources if k.startswith(prefix)), key=lambda k: (-sources[k], k))
        if found:
            return found[0]
    return ""


def login_info(
    op: Operation, inputs: Inputs, output_schema: dict[str, Any], analysis: Analysis
) -> Login | None:
    """The card's login facts when ``op`` logs in, else ``None``.

    Args:
        op: the operation.
        inputs: its inputs (secret arguments are known by then).
        output_schema: the schema of its success response (token pointers).
        analysis: the whole capture (auth schemes, CSRF sources).
    """
    if op.method != "POST":
        return None
    sig = op.evidence.signals
    sessions = sorted(c for c in sig.set_cookies if session_cookie(c))
    token = _find(output_schema, _TOKEN_KEYS)
    refresh = _find(output_schema, _REFRESH_KEYS)
    named = any(w in op.template.path.lower() for w in _LOGIN_WORDS)
    if not inputs.secret_args:
        return None
    if not (sessions or token or named):
        return None
    scheme = ""
    if token:
        keys = [s.key for s in analysis.auth_schemes]
        scheme = (
            "bearer"
            if "bearer" in keys
            else next((k for k in keys if k.startswith("header:")), "bearer")
        )
    csrf = _csrf_source(analysis, sorted(sig.set_cookies))
    return Login(
        sets_cookies=sessions,
        token_pointer=token,
        refresh_pointer=refresh,
        token_scheme=scheme,
        csrf_source=csrf,
        csrf_page=analysis.signals.csrf_pages.get(csrf, ""),
        secret_args=sorted(inputs.secret_args),
    )

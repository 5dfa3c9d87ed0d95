"""Login sessions: what a login tool yields (tokens, a CSRF token) and the tools that renew it.

The login card (``card.login``) says where the access and refresh tokens are in its
answer, which scheme the token is sent as, and where later writes take their CSRF
token from (``cookie:``, ``header:``, ``meta:``, ``input:``). Cookies need nothing
here: the client's jar keeps them. Everything else a login yields is kept in a
:class:`Session`, per origin, and never written anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from typing import Any, Protocol

import httpx

from runtime.calls import CallResult
from runtime.credentials import Credentials, normalise_origin, scheme_key
from runtime.transport import Transport
from toolgen.cards import ToolCard
from zapi.errors import ExecutionError
from zapi.redact import Redactor

__all__ = [
    "LoginHost",
    "Session",
    "absorb",
    "expired",
    "login_csrf",
    "needs_login",
    "refresh",
    "csrf_from_html",
    "pointer",
    "refresh_tool",
    "with_secret",
]

_REFRESH_WORDS = ("refresh_token", "refreshtoken", "refresh")


@dataclass
class Session:
    """What logins and refreshes yielded, per origin (secrets: never logged or written)."""

    refresh_tokens: dict[str, str] = field(default_factory=dict, repr=False)
    csrf_tokens: dict[str, str] = field(default_factory=dict, repr=False)


def pointer(data: Any, ptr: str) -> Any:
    """The value at JSON pointer ``ptr`` in ``data`` (``None`` when absent)."""
    if not ptr:
        return None
    cur = data
    for raw in ptr.lstrip("/").split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return None
    return cur


class _TokenFinder(HTMLParser):
    """Finds ``<meta name=NAME content=...>`` or ``<input name=NAME value=...>``."""

    def __init__(self, tag: str, name: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tag, self.name, self.value = tag, name.lower(), ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.value or tag != self.tag:
            return
        a = {k.lower(): v or "" for k, v in attrs}
        if a.get("name", "").lower() == self.name:
            self.value = a.get("content" if self.tag == "meta" else "value", "")


def csrf_from_html(html: str, source: str) -> str:
    """The CSRF token a page carries for ``source`` (``meta:NAME`` or ``input:NAME``), or ""."""
    kind, _, name = source.partition(":")
    if kind not in ("meta", "input") or not name:
        return ""
    finder = _TokenFinder(kind, name)
    finder.feed(html)
    finder.close()
    return finder.value


def _refresh_arg(card: ToolCard) -> str:
    props = card.input_schema.get("properties", {})
    for name in props:
        if re.sub(r"[^a-z]", "", name.lower()) in ("refreshtoken", "refresh"):
            return str(name)
    return ""


def refresh_tool(cards: Iterable[ToolCard], login: ToolCard) -> tuple[ToolCard, str] | None:
    """The tool that trades a refresh token for a new access token, and its argument.

    A POST on the login's origin (not the login itself) that takes a refresh-token
    argument and answers with the access token at the login's token pointer.
    """
    info = login.login
    if info is None or not info.refresh_pointer:
        return None
    found = []
    for c in cards:
        if c.name == login.name or c.method != "POST" or c.origin != login.origin:
            continue
        arg = _refresh_arg(c)
        if not arg:
            continue
        out = c.output_schema.get("properties", {})
        token_key = info.token_pointer.lstrip("/").split("/")[0]
        answers = token_key in out or (c.login is not None and bool(c.login.token_pointer))
        if answers or any(w in c.path.lower() for w in _REFRESH_WORDS):
            found.append((c, arg))
    return sorted(found, key=lambda x: x[0].name)[0] if found else None


def with_secret(creds: Credentials, origin: str, scheme: str, value: str) -> Credentials:
    """A copy of ``creds`` where ``origin`` sends ``value`` for ``scheme`` (a login's token)."""
    key = normalise_origin(origin)
    scoped: dict[str, Mapping[str, str]] = dict(creds.by_origin)
    scoped[key] = {**scoped.get(key, {}), scheme: value}
    secrets = {**creds.secrets, scheme: value} if creds.secrets else creds.secrets
    return replace(creds, by_origin=scoped, secrets=secrets)


class LoginHost(Protocol):
    """What logging in needs of the runtime (``runtime.executor.Runtime`` is one)."""

    cards: dict[str, ToolCard]
    credentials: Credentials
    client: httpx.Client
    redactor: Redactor
    base_url: str | None
    transport: Transport
    session: Session
    logged_in: bool

    def execute(self, tool: str, args: Mapping[str, Any], *, verify: bool = True) -> CallResult:
        """Run one tool call."""
        ...


def refresh(rt: LoginHost, lcard: ToolCard, tool: ToolCard, arg: str) -> bool:
    """Renew the access token with the refresh tool; ``False`` when it cannot."""
    token = rt.session.refresh_tokens.get(normalise_origin(lcard.origin))
    if not token:
        return False
    try:
        result = rt.execute(tool.name, {arg: token}, verify=False)
    except ExecutionError:
        return False  # an expired refresh token: log in again instead
    return absorb(rt, lcard, result, refresh=True)


def absorb(rt: LoginHost, card: ToolCard, result: CallResult, *, refresh: bool = False) -> bool:
    """Keep what a login (or refresh) answered; ``False`` when it yielded no session."""
    info = card.login
    for cookie in rt.client.cookies.jar:
        if cookie.value:
            rt.redactor.learn(cookie.value)
    if info is None:
        return True
    origin = normalise_origin(card.origin)
    what = "refresh" if refresh else "login"
    if info.token_pointer:
        token = pointer(result.data, info.token_pointer)
        if not isinstance(token, str) or not token:
            if refresh:
                return False
            raise ExecutionError(
                f"{card.name}: the {what} answered without an access token at "
                f"{info.token_pointer}; check the login arguments in "
                f"{rt.credentials.source}, then run `zapi auth check`",
                tool=card.name,
            )
        rt.redactor.learn(token)
        scheme = info.token_scheme or "bearer"
        rt.credentials = with_secret(rt.credentials, card.origin, scheme, token)
        fresh = pointer(result.data, info.refresh_pointer)
        if isinstance(fresh, str) and fresh:
            rt.redactor.learn(fresh)
            rt.session.refresh_tokens[origin] = fresh
    elif info.sets_cookies and not any(rt.client.cookies.get(name) for name in info.sets_cookies):
        raise ExecutionError(
            f"{card.name}: the login answered {result.status} but set no "
            f"{', '.join(info.sets_cookies)} cookie; check the login arguments in "
            f"{rt.credentials.source}, then run `zapi auth check`",
            tool=card.name,
        )
    csrf = login_csrf(rt, card, result)
    if csrf:
        rt.redactor.learn(csrf)
        rt.session.csrf_tokens[origin] = csrf
    return True


def login_csrf(rt: LoginHost, card: ToolCard, result: CallResult) -> str:
    """The CSRF token a login yields from a response header or a page, else ""."""
    info = card.login
    source = info.csrf_source if info is not None else ""
    kind, _, name = source.partition(":")
    if kind == "header":
        return str(result.headers.get(name.lower(), ""))
    if kind not in ("meta", "input"):
        return ""
    page = (info.csrf_page if info is not None else "") or "/"
    url = (rt.base_url or card.origin).rstrip("/") + page
    try:
        response = rt.transport.send(rt.client.build_request("GET", url), tool=card.name)
    except ExecutionError:
        return ""
    return csrf_from_html(response.text, source)


def expired(rt: LoginHost, card: ToolCard, response: httpx.Response) -> bool:
    """Whether ``response`` sends ``card``'s call to the login page (an expired session)."""
    login = rt.credentials.login
    lcard = rt.cards.get(login.tool) if login is not None else None
    if lcard is None or card.name == lcard.name:
        return False
    target = response.url
    location = response.headers.get("location")
    if response.is_redirect and location:
        target = response.url.join(location)
    login_path = lcard.path.rstrip("/")
    if not login_path:  # a login posted to "/": a redirect home says nothing of the session
        return False
    return target.path.rstrip("/") == login_path and card.path.rstrip("/") != login_path


def needs_login(rt: LoginHost, card: ToolCard) -> bool:
    """Whether ``card`` needs a login first: a session, token or CSRF token is missing."""
    login = rt.credentials.login
    if login is None or rt.logged_in or card.name == login.tool:
        return False
    lcard = rt.cards.get(login.tool)
    if lcard is not None and normalise_origin(lcard.origin) != normalise_origin(card.origin):
        return False
    info = lcard.login if lcard is not None else None
    wanted = [s.partition(":")[2] for s in card.auth if s.startswith("cookie:")]
    have = all(f"cookie:{n}" in rt.credentials.secrets or rt.client.cookies.get(n) for n in wanted)
    csrf_missing = (
        bool(card.csrf)
        and not rt.client.cookies.get((card.csrf or {}).get("cookie", ""))
        and normalise_origin(card.origin) not in rt.session.csrf_tokens
    )
    token_missing = False
    if info is not None and info.token_pointer:
        scheme = info.token_scheme or "bearer"
        table = rt.credentials.by_origin.get(normalise_origin(card.origin), {})
        token_missing = scheme in card.auth and not any(scheme_key(k, [scheme]) for k in table)
    return not have or csrf_missing or token_missing

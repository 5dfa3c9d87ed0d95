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
from typing import Any

from runtime.credentials import Credentials, normalise_origin
from toolgen.cards import ToolCard

__all__ = [
    "Session",
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

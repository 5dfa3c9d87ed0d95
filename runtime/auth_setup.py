"""Setting credentials up: a credentials file to fill for a tool set, and a check that it works.

:func:`credentials_template` writes, per origin, a reference (``env:`` or ``file:``) for
every auth scheme the tools use that no login provides, and a ``login`` entry when a
tool logs in (the user's fields as values to fill, secrets as references: a literal
secret is never written). :func:`check_credentials` logs in when needed, calls one safe
read per origin and says in one line what works and what to fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from runtime.credentials import normalise_origin
from runtime.executor import Runtime
from runtime.session import refresh_tool
from toolgen.cards import ToolCard
from zapi.errors import ExecutionError

__all__ = [
    "OriginCheck",
    "Reference",
    "check_credentials",
    "credentials_template",
    "login_card",
    "safe_read",
]


@dataclass(frozen=True)
class Reference:
    """One value the user must provide: where it goes, and the reference that names it."""

    origin: str
    what: str
    ref: str

    @property
    def variable(self) -> str:
        """The environment variable or file the reference names."""
        return self.ref.partition(":")[2]


@dataclass(frozen=True)
class OriginCheck:
    """What ``zapi auth check`` found on one origin."""

    origin: str
    ok: bool
    line: str


def _upper(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()


def _host_prefixes(origins: list[str]) -> dict[str, str]:
    """``ZAPI_<HOST>`` per origin; the port is added only where two origins share a host."""
    hosts: dict[str, list[str]] = {}
    for o in origins:
        hosts.setdefault(o.split("://", 1)[1].rsplit(":", 1)[0], []).append(o)
    out = {}
    for host, group in hosts.items():
        for o in group:
            hostport = o.split("://", 1)[1]
            out[o] = "ZAPI_" + _upper(hostport if len(group) > 1 else host)
    return out


def login_card(cards: Iterable[ToolCard], origin: str | None = None) -> ToolCard | None:
    """The tool that logs in (on ``origin`` when given): a login card that is no refresh."""
    every = list(cards)
    found = [
        c
        for c in every
        if c.login is not None
        and c.login.secret_args
        and (origin is None or normalise_origin(c.origin) == origin)
    ]
    refreshers = {r[0].name for c in found if (r := refresh_tool(every, c)) is not None}
    found = [c for c in found if c.name not in refreshers]
    return (
        sorted(found, key=lambda c: (not c.seen_working, -c.provenance.samples, c.name))[0]
        if (found)
        else None
    )


def _scheme_var(scheme: str) -> str:
    kind, _, name = scheme.partition(":")
    return _upper(name or kind)


def credentials_template(
    cards: Iterable[ToolCard],
    *,
    refs: Literal["env", "file"] = "env",
    env_prefix: str = "",
    secrets_dir: str = "secrets",
) -> tuple[dict[str, Any], list[Reference]]:
    """A credentials file for ``cards`` with references to fill, and what each one names.

    Args:
        cards: the tool set.
        refs: ``env`` writes ``env:NAME`` references, ``file`` writes ``file:DIR/NAME``.
        env_prefix: the prefix of every name (default ``ZAPI_<HOST>``, the port added
            where two origins share a host).
        secrets_dir: the folder ``file:`` references point into.

    Returns:
        The JSON object to write and the references it holds (what to set).
    """
    every = list(cards)
    origins = sorted({normalise_origin(c.origin) for c in every if c.origin})
    prefixes = _host_prefixes(origins)
    if env_prefix:
        base = _upper(env_prefix)
        prefixes = {
            o: base if len(origins) == 1 else f"{base}_{p[5:]}" for o, p in prefixes.items()
        }

    def ref(origin: str, name: str) -> str:
        var = f"{prefixes[origin]}_{name}"
        return f"env:{var}" if refs == "env" else f"file:{secrets_dir}/{var.lower()}"

    data: dict[str, Any] = {}
    wanted: list[Reference] = []
    login_done = False
    for origin in origins:
        here = [c for c in every if normalise_origin(c.origin) == origin]
        login = login_card(here, origin)
        provided: set[str] = set()
        if login is not None and login.login is not None:
            provided |= {f"cookie:{n}" for n in login.login.sets_cookies}
            if login.login.token_pointer:
                provided.add(login.login.token_scheme or "bearer")
        schemes = sorted({s for c in here for s in c.auth} - provided)
        entry: dict[str, str] = {}
        for scheme in schemes:
            if scheme.startswith("cookie:") and login is not None:
                continue  # a cookie the login's session brings along (the client keeps it)
            entry[scheme] = ref(origin, _scheme_var(scheme))
            wanted.append(Reference(origin, f"credential {scheme}", entry[scheme]))
        data[origin] = entry
        if login is not None and login.login is not None and not login_done:
            login_done = True
            args: dict[str, Any] = {}
            props = login.input_schema.get("properties", {})
            required = set(login.input_schema.get("required", []))
            for name in sorted(props):
                if name in login.login.secret_args:
                    args[name] = ref(origin, _upper(name))
                    wanted.append(Reference(origin, f"login {name}", args[name]))
                elif name in required:
                    examples = props[name].get("examples") or [""]
                    args[name] = examples[0]
            data["login"] = {"tool": login.name, "args": args}
    return data, wanted


def safe_read(cards: Iterable[ToolCard], origin: str) -> tuple[ToolCard, dict[str, Any]] | None:
    """A read on ``origin`` to try credentials with, and its arguments (recorded examples).

    Prefers a read that needs credentials, seen working, with the fewest required
    inputs; inputs are filled with their recorded examples. ``None`` when no read fits.
    """
    options = []
    for c in cards:
        if c.safety != "read_only" or normalise_origin(c.origin) != origin or c.login:
            continue
        props = c.input_schema.get("properties", {})
        required = list(c.input_schema.get("required", []))
        args = {}
        for name in required:
            examples = props.get(name, {}).get("examples")
            if not examples:
                break
            args[name] = examples[0]
        else:
            options.append(((not c.auth, not c.seen_working, len(required), c.name), c, args))
    if not options:
        return None
    _, card, args = min(options, key=lambda o: o[0])
    return card, args


def check_credentials(rt: Runtime) -> list[OriginCheck]:
    """Log in where needed and try one safe read per origin; never raises for an API error."""
    by_origin: dict[str, list[ToolCard]] = {}
    for c in rt.cards.values():
        by_origin.setdefault(normalise_origin(c.origin), []).append(c)
    out = []
    login = rt.credentials.login
    for origin, cards in sorted(by_origin.items()):
        steps: list[str] = []
        lcard = rt.cards.get(login.tool) if login is not None else None
        if lcard is not None and normalise_origin(lcard.origin) == origin:
            try:
                rt.login()
            except ExecutionError as exc:
                out.append(OriginCheck(origin, False, f"{origin}: login failed: {exc.message}"))
                continue
            steps.append(f"logged in with {lcard.name}")
        found = safe_read(cards, origin)
        if found is None:
            ok = bool(steps)
            steps.append("no read-only tool with recorded example inputs to try a call with")
            out.append(
                OriginCheck(origin, ok, f"{origin}: {'ok: ' if ok else ''}" + "; ".join(steps))
            )
            continue
        card, args = found
        shown = " ".join(f"{k}={v}" for k, v in sorted(args.items()))
        try:
            result = rt.execute(card.name, args, verify=False)
        except ExecutionError as exc:
            out.append(OriginCheck(origin, False, f"{origin}: {exc.message}"))
            continue
        steps.append(f"{card.name}{' ' + shown if shown else ''} answered {result.status}")
        out.append(OriginCheck(origin, True, f"{origin}: ok: " + "; ".join(steps)))
    return out

"""Credentials by reference: secrets resolved from env vars or files, applied per auth scheme."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import httpx

from toolgen.openapi import scheme_id
from zapi.errors import ExecutionError

__all__ = [
    "Credentials",
    "LoginSpec",
    "load_credentials",
    "load_storage_state",
    "normalise_origin",
    "resolve_ref",
    "scheme_key",
]


def resolve_ref(ref: str, environ: Mapping[str, str], *, where: str = "credential") -> str:
    """Resolve ``env:NAME`` or ``file:PATH`` (anything else is taken literally).

    Raises:
        ExecutionError: the variable is unset or the file cannot be read.
    """
    if ref.startswith("env:"):
        name = ref[4:]
        if name not in environ:
            raise ExecutionError(f"{where}: environment variable {name} is not set; export it")
        return environ[name]
    if ref.startswith("file:"):
        path = ref[5:]
        try:
            with open(path, encoding="utf-8") as fh:
                return fh.read().strip()
        except OSError as exc:
            raise ExecutionError(f"{where}: cannot read {path} ({exc.strerror})") from exc
    return ref


@dataclass(frozen=True)
class LoginSpec:
    """A login tool to call (with resolved arguments) when a cookie session is missing."""

    tool: str
    args: Mapping[str, Any] = field(default_factory=dict, repr=False)


def normalise_origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL or origin, lower-cased, no userinfo/path.

    Raises:
        ValueError: ``url`` is not an absolute http(s) URL.
    """
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) origin")
    host = parts.netloc.rpartition("@")[2].lower()
    return f"{parts.scheme.lower()}://{host}"


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def scheme_key(key: str, known: Iterable[str]) -> str | None:
    """The card auth key a credentials-file key names, or ``None``.

    A key is a card's auth key (``bearer``, ``basic``, ``cookie:sid``,
    ``header:X-API-Key``, ``query:key``) or its OpenAPI securityScheme name
    (``cookie_sid``, ``header_X-API-Key``); header names match case-insensitively.
    """
    for k in known:
        if key in (k, scheme_id(k)):
            return k
        kind, _, name = k.partition(":")
        if kind == "header" and key.lower() in (k.lower(), scheme_id(k).lower()):
            return k
    return None


@dataclass(frozen=True)
class Credentials:
    """Resolved secrets, bound to origins and keyed by the card's auth scheme.

    ``by_origin`` maps ``scheme://host[:port]`` to ``{scheme: secret}``; a card
    only ever receives the secrets of its own origin. ``secrets`` holds secrets
    given without an origin (``--auth`` refs, the old ``{"auth": {...}}`` file):
    :meth:`bind` gives them to the tool set's single origin and refuses them when
    the tool set spans several. ``basic`` holds ``user:password``. ``cookies`` come
    from a storage-state file. ``send_credentials_to`` lists hosts or origins
    (e.g. a ``--base-url``) trusted with the credentials of cards recorded
    elsewhere; no other host ever receives one. The ``repr`` never shows a value.
    """

    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    cookies: tuple[Mapping[str, Any], ...] = field(default=(), repr=False)
    login: LoginSpec | None = None
    by_origin: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False)
    send_credentials_to: frozenset[str] = frozenset()
    source: str = "credentials"
    unbound_origins: tuple[str, ...] = ()

    def values(self) -> list[str]:
        """Every secret value (for the redactor to learn)."""
        out = list(self.secrets.values())
        for scoped in self.by_origin.values():
            out += list(scoped.values())
        out += [str(c.get("value", "")) for c in self.cookies]
        if self.login is not None:
            out += [str(v) for v in self.login.args.values() if isinstance(v, str)]
        return [v for v in out if v]

    def trusting(self, *targets: str) -> Credentials:
        """A copy that may also send credentials to ``targets`` (hosts or origins)."""
        extra = {t.strip().lower().rstrip("/") for t in targets if t and t.strip()}
        return replace(self, send_credentials_to=self.send_credentials_to | extra)

    def bind(self, origins: Iterable[str]) -> Credentials:
        """Give origin-less secrets to the tool set's only origin.

        With several origins they stay unbound: a card that needs one of them is
        refused (see :meth:`apply`), so a token meant for one API never reaches another.
        """
        found = sorted({normalise_origin(o) for o in origins if o})
        if not self.secrets:
            if len(found) == 1 and found[0] in self.by_origin:
                return replace(self, secrets=dict(self.by_origin[found[0]]))
            return self
        if len(found) > 1:
            return replace(self, unbound_origins=tuple(found))
        if not found:
            return self
        merged = {**self.secrets, **self.by_origin.get(found[0], {})}
        return replace(self, by_origin={**self.by_origin, found[0]: merged}, secrets=merged)

    def check(self, cards: Iterable[Any]) -> None:
        """Refuse credential keys and origins no tool uses (typos must not pass silently).

        ``cards`` are tool cards (anything with ``origin`` and ``auth``).

        Raises:
            ExecutionError: naming the unknown key or origin and what the tools use.
        """
        used: dict[str, set[str]] = {}
        for c in cards:
            used.setdefault(normalise_origin(c.origin), set()).update(c.auth)
        every = set().union(*used.values()) if used else set()
        for key in self.secrets:
            if scheme_key(key, every) is None:
                raise ExecutionError(_unknown(self.source, key, "", every))
        for origin, scoped in self.by_origin.items():
            if origin not in used:
                raise ExecutionError(
                    f"{self.source}: no tool is recorded on origin {origin!r}; "
                    f"the tools are on {', '.join(sorted(used)) or 'no origin'}"
                )
            for key in scoped:
                if scheme_key(key, used[origin]) is None:
                    raise ExecutionError(_unknown(self.source, key, origin, used[origin]))

    def _trusted(self, origin: str, target: str) -> bool:
        if not target or _host(target) == _host(origin):
            return True
        t_origin = target
        try:
            t_origin = normalise_origin(target)
        except ValueError:
            return False
        return t_origin in self.send_credentials_to or _host(target) in self.send_credentials_to

    def install_cookies(self, jar: httpx.Cookies) -> None:
        """Put storage-state cookies into a client's jar (domain and path kept)."""
        for c in self.cookies:
            jar.set(
                str(c["name"]),
                str(c["value"]),
                domain=str(c.get("domain", "")),
                path=str(c.get("path", "/")),
            )

    def apply(
        self,
        schemes: list[str],
        headers: dict[str, str],
        params: list[tuple[str, Any]],
        cookies: dict[str, str],
        *,
        tool: str,
        origin: str | None = None,
        target: str | None = None,
    ) -> list[str]:
        """Add the secrets for ``schemes`` to the request parts; return schemes left unmet.

        Only the secrets bound to ``origin`` (the card's) are used, and only when
        ``target`` (where the request goes) is on the same host or trusted with
        :meth:`trusting`. Cookie schemes without an explicit secret are left to
        the client's jar.

        Raises:
            ExecutionError: a bearer/basic/header/query scheme has no credential, or
                the request goes to another host that is not trusted with it.
        """
        if origin is None:
            table: Mapping[str, str] = self.secrets
        else:
            try:
                table = self.by_origin.get(normalise_origin(origin), {})
            except ValueError:
                table = {}
        trusted = origin is None or target is None or self._trusted(origin, target)
        unmet = []
        for scheme in schemes:
            found = [k for k in table if scheme_key(k, [scheme]) is not None]
            value = table[found[0]] if found else None
            if (
                value is None
                and origin is not None
                and self.unbound_origins
                and any(scheme_key(k, [scheme]) for k in self.secrets)
            ):
                raise ExecutionError(_unbound(self.source, scheme, self.unbound_origins))
            kind, _, name = scheme.partition(":")
            if value is not None and not trusted:
                raise ExecutionError(
                    f"tool {tool!r} was recorded on {origin} but the request goes to "
                    f"{_host(target or '')}; its credentials are not sent to another host "
                    "unless you trust it (--trust-base-url, send_credentials_to=)",
                    tool=tool,
                    scheme=scheme,
                )
            if kind == "cookie":
                if value is not None:
                    cookies[name] = value
                else:
                    unmet.append(scheme)
                continue
            if value is None:
                raise ExecutionError(
                    f"tool {tool!r} needs credential {scheme!r}; pass --auth "
                    f"{scheme}=env:VAR or a --credentials file (`zapi auth init OUT -o "
                    "creds.json` writes one to fill)",
                    tool=tool,
                    scheme=scheme,
                )
            if kind == "bearer":
                headers["Authorization"] = f"Bearer {value}"
            elif kind == "basic":
                token = base64.b64encode(value.encode()).decode()
                headers["Authorization"] = f"Basic {token}"
            elif kind == "header":
                headers[name] = value
            elif kind == "query":
                params.append((name, value))
        return unmet


def _unbound(source: str, scheme: str, origins: tuple[str, ...]) -> str:
    return (
        f"{source}: credential {scheme!r} names no origin but the tools span {len(origins)} "
        f"origins ({', '.join(origins)}); key it by origin, e.g. "
        f'{{"{origins[0]}": {{"{scheme}": "env:VAR"}}}} (see "Credentials" in the README)'
    )


def _unknown(source: str, key: str, origin: str, used: set[str]) -> str:
    where = f" for {origin}" if origin else ""
    have = ", ".join(sorted(used)) or "none"
    return (
        f"{source}: unknown credential {key!r}{where}; the tools there use: {have} "
        "(see 'Credentials' in the README)"
    )


def load_storage_state(path: str) -> tuple[dict[str, Any], ...]:
    """Cookies of a Playwright storage-state JSON file.

    Raises:
        ExecutionError: the file cannot be read or is not a storage state.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ExecutionError(f"{path}: cannot read storage state ({exc})") from exc
    cookies = data.get("cookies") if isinstance(data, dict) else None
    if not isinstance(cookies, list) or not all(
        isinstance(c, dict) and "name" in c and "value" in c for c in cookies
    ):
        raise ExecutionError(f"{path}: not a Playwright storage state (no 'cookies' list)")
    return tuple(cookies)


_RESERVED = ("login", "storage_state", "auth")


def load_credentials(
    path: str | None = None,
    *,
    refs: Mapping[str, str] | None = None,
    storage_state: str | None = None,
    environ: Mapping[str, str] | None = None,
    send_credentials_to: Iterable[str] = (),
) -> Credentials:
    """Build :class:`Credentials` from a file, ``scheme=ref`` pairs and a storage state.

    The file is JSON, secrets bound to the origin they belong to::

        {"http://127.0.0.1:8001": {"cookie:sessionid": "env:ERP_SESSION",
                                   "bearer": "file:token.txt"},
         "login": {"tool": "login", "args": {"password": "env:ERP_PASSWORD"}},
         "storage_state": "state.json"}

    Keys under an origin are the cards' auth keys or their securityScheme names
    in ``openapi.json``. The older ``{"auth": {scheme: ref}}`` form (no origin)
    still loads and is accepted when the tool set has a single origin. Refs are
    ``env:NAME``, ``file:PATH`` or (in the file only) a literal value.

    Raises:
        ExecutionError: a file is unreadable or malformed (an unknown key is named),
            or a reference cannot be resolved.
    """
    env = os.environ if environ is None else environ
    auth: dict[str, str] = {}
    scoped: dict[str, dict[str, str]] = {}
    login = None
    state = storage_state
    source = path or "--auth"
    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError) as exc:
            raise ExecutionError(f"{path}: cannot read credentials file ({exc})") from exc
        if not isinstance(data, dict):
            raise ExecutionError(
                f'{path}: expected an object such as {{"http://host:port": {{"bearer": '
                '"env:TOKEN"}}'
            )
        for key, val in data.items():
            if key in _RESERVED:
                continue
            try:
                origin = normalise_origin(key)
            except ValueError:
                raise ExecutionError(
                    f"{path}: unknown key {key!r}; expected an origin such as "
                    "'http://127.0.0.1:8001', 'login' or 'storage_state'"
                ) from None
            if not isinstance(val, dict) or not all(isinstance(v, str) for v in val.values()):
                raise ExecutionError(
                    f"{path}: {key!r} must map scheme names to references, "
                    'e.g. {"bearer": "env:TOKEN"}'
                )
            scoped[origin] = {
                str(k): resolve_ref(v, env, where=f"{path}: {origin} {k}") for k, v in val.items()
            }
        legacy = data.get("auth") or {}
        if not isinstance(legacy, dict):
            raise ExecutionError(f"{path}: 'auth' must be an object of scheme references")
        for scheme, ref in legacy.items():
            auth[str(scheme)] = resolve_ref(str(ref), env, where=f"{path}: auth {scheme}")
        if isinstance(data.get("login"), dict):
            spec = data["login"]
            args = {
                k: resolve_ref(v, env, where=f"{path}: login {k}") if isinstance(v, str) else v
                for k, v in (spec.get("args") or {}).items()
            }
            login = LoginSpec(tool=str(spec.get("tool", "login")), args=args)
        state = state or data.get("storage_state")
    for scheme, ref in (refs or {}).items():
        if not ref.startswith(("env:", "file:")):
            raise ExecutionError(
                f"--auth {scheme}: give a reference (env:VAR or file:PATH), never the secret"
            )
        auth[scheme] = resolve_ref(ref, env, where=f"--auth {scheme}")
    cookies = load_storage_state(state) if state else ()
    creds = Credentials(secrets=auth, cookies=cookies, login=login, by_origin=scoped, source=source)
    return creds.trusting(*send_credentials_to)

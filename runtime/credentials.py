"""Credentials by reference: secrets resolved from env vars or files, applied per auth scheme."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from zapi.errors import ExecutionError

__all__ = ["Credentials", "LoginSpec", "load_credentials", "load_storage_state", "resolve_ref"]


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


@dataclass(frozen=True)
class Credentials:
    """Resolved secrets, keyed by the card's auth scheme (``bearer``, ``header:X-API-Key``...).

    ``basic`` holds ``user:password``. ``cookies`` come from a storage-state file.
    The ``repr`` never shows a value.
    """

    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    cookies: tuple[Mapping[str, Any], ...] = field(default=(), repr=False)
    login: LoginSpec | None = None

    def values(self) -> list[str]:
        """Every secret value (for the redactor to learn)."""
        out = list(self.secrets.values())
        out += [str(c.get("value", "")) for c in self.cookies]
        if self.login is not None:
            out += [str(v) for v in self.login.args.values() if isinstance(v, str)]
        return [v for v in out if v]

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
    ) -> list[str]:
        """Add the secrets for ``schemes`` to the request parts; return schemes left unmet.

        Cookie schemes without an explicit secret are left to the client's jar.

        Raises:
            ExecutionError: a bearer/basic/header/query scheme has no credential.
        """
        unmet = []
        for scheme in schemes:
            value = self.secrets.get(scheme)
            kind, _, name = scheme.partition(":")
            if kind == "cookie":
                if value is not None:
                    cookies[name] = value
                else:
                    unmet.append(scheme)
                continue
            if value is None:
                raise ExecutionError(
                    f"tool {tool!r} needs credential {scheme!r}; pass --auth "
                    f"{scheme}=env:VAR or a --credentials file",
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


def load_credentials(
    path: str | None = None,
    *,
    refs: Mapping[str, str] | None = None,
    storage_state: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """Build :class:`Credentials` from a file, ``scheme=ref`` pairs and a storage state.

    The file is JSON: ``{"auth": {scheme: ref}, "storage_state": path,
    "login": {"tool": name, "args": {arg: ref}}}``; refs are ``env:NAME``, ``file:PATH``
    or (in the file only) a literal value.

    Raises:
        ExecutionError: a file is unreadable or malformed, or a reference cannot be resolved.
    """
    env = os.environ if environ is None else environ
    auth: dict[str, str] = {}
    login = None
    state = storage_state
    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError) as exc:
            raise ExecutionError(f"{path}: cannot read credentials file ({exc})") from exc
        if not isinstance(data, dict):
            raise ExecutionError(f"{path}: expected an object with 'auth', 'login', ...")
        for scheme, ref in (data.get("auth") or {}).items():
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
    return Credentials(secrets=auth, cookies=cookies, login=login)

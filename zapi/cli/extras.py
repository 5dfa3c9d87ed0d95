"""A missing optional dependency becomes one line naming the extra that installs it."""

from __future__ import annotations

import re
from importlib import metadata

__all__ = ["missing_dependency_message"]

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def missing_dependency_message(module: str, distribution: str = "zapi") -> str | None:
    """The one-line fix for ``ModuleNotFoundError(name=module)``, or None if it is not ours.

    A module that one of ``distribution``'s requirements provides (by normalised
    name: ``psycopg`` for ``psycopg[binary]``) is named with the ``pip install``
    that brings it: the extra when only an extra declares it, the package itself
    when it is a base dependency that went missing.
    """
    top = _norm(module.split(".")[0])
    try:
        requires = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        return None
    extras: list[str] = []
    base = False
    for req in requires:
        m = _NAME.match(req)
        if m is None or _norm(m.group(1)) != top:
            continue
        marker = _EXTRA.search(req)
        if marker is None:
            base = True
        elif marker.group(1) != "test":
            extras.append(marker.group(1))
    name = module.split(".")[0]
    if base:
        return f"zapi's dependency {name!r} is not installed: pip install --force-reinstall zapi"
    if extras:
        extra = sorted(extras)[0]
        return f"this needs the optional dependency {name!r}: pip install 'zapi[{extra}]'"
    return None

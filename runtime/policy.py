"""Retry policy and call scope: frozen configuration the executor consults, never mutates."""

from __future__ import annotations

import email.utils
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from toolgen.cards import ToolCard
from zapi.errors import ExecutionError, ScopeDenied

__all__ = [
    "IDEMPOTENT_METHODS",
    "RetryPolicy",
    "Scope",
    "check_base_url",
    "origin_of",
    "parse_retry_after",
]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
NOT_APPLIED_STATUSES = frozenset({429, 503})
"""Statuses that, per HTTP semantics, mean the request was not processed."""
AMBIGUOUS_STATUSES = frozenset({502, 504})
"""Statuses after which a write may or may not have been applied."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry one tool call.

    Attributes:
        max_attempts: sends per call, the first included.
        initial_interval_s: wait before the second attempt.
        backoff_rate: factor applied to the wait after each attempt.
        max_interval_s: cap on one wait (also caps ``Retry-After``).
        jitter: fraction of the wait added at random (``0`` = none).
        retry_statuses: statuses retried for idempotent calls.
        verify_attempts: reads made to verify a write (eventual consistency).
        verify_interval_s: wait between verification reads.
    """

    max_attempts: int = 4
    initial_interval_s: float = 0.2
    backoff_rate: float = 2.0
    max_interval_s: float = 30.0
    jitter: float = 0.1
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})
    verify_attempts: int = 3
    verify_interval_s: float = 0.2

    def __post_init__(self) -> None:
        """Validate ranges.

        Raises:
            ValueError: a count below 1 or a negative interval or jitter.
        """
        if self.max_attempts < 1 or self.verify_attempts < 1:
            raise ValueError("max_attempts and verify_attempts must be >= 1")
        if (
            min(self.initial_interval_s, self.max_interval_s, self.jitter, self.verify_interval_s)
            < 0
            or self.backoff_rate < 1
        ):
            raise ValueError("intervals and jitter must be >= 0 and backoff_rate >= 1")

    def delay(
        self,
        attempt: int,
        retry_after: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        ``Retry-After`` wins over the backoff when it is longer, capped at ``max_interval_s``.
        """
        base = min(
            self.initial_interval_s * self.backoff_rate ** (attempt - 1), self.max_interval_s
        )
        base += base * self.jitter * rand()
        if retry_after is not None:
            base = max(base, min(retry_after, self.max_interval_s))
        return base


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), else ``None``."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower-cased, default ports and userinfo dropped."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:  # not a number: keep the text so that it never matches a real origin
        return f"{scheme}://{parts.netloc.rpartition('@')[2].lower()}"
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


@dataclass(frozen=True)
class Scope:
    """What a runtime may call: hosts, tools and safety classes.

    Attributes:
        origins: extra origins allowed besides each card's own (e.g. ``--base-url``).
        tools: tool names allowed (``None`` = all).
        safety: safety classes allowed.
    """

    origins: frozenset[str] = frozenset()
    tools: frozenset[str] | None = None
    safety: frozenset[str] = field(
        default_factory=lambda: frozenset({"read_only", "idempotent", "write", "destructive"})
    )

    def with_origin(self, url: str | None) -> Scope:
        """This scope, also allowing the origin of ``url`` (``--base-url``) when given."""
        if not url:
            return self
        return Scope(origins=self.origins | {origin_of(url)}, tools=self.tools, safety=self.safety)

    @classmethod
    def for_origins(cls, origins: Iterable[str]) -> Scope:
        """A scope allowing the given extra origins."""
        return cls(origins=frozenset(origin_of(o) for o in origins))

    def check(self, card: ToolCard, url: str) -> None:
        """Refuse a call outside the scope, before any I/O.

        Raises:
            ScopeDenied: the tool, its safety class or the target host is not allowed.
        """
        if self.tools is not None and card.name not in self.tools:
            raise ScopeDenied(f"tool {card.name!r} is not in the granted scope", tool=card.name)
        if card.safety not in self.safety:
            raise ScopeDenied(
                f"tool {card.name!r} is {card.safety}; the scope allows only "
                f"{', '.join(sorted(self.safety))}",
                tool=card.name,
            )
        target = origin_of(url)
        if target != origin_of(card.origin) and target not in self.origins:
            raise ScopeDenied(
                f"{target} is not the origin of tool {card.name!r} ({origin_of(card.origin)}); "
                "pass --base-url to allow it explicitly",
                tool=card.name,
                host=target,
            )


def check_base_url(url: str) -> str:
    """A ``--base-url`` as the runtime uses it: ``http(s)://host[:port][/prefix]``, no final ``/``.

    A URL without a scheme is refused, not guessed: ``http://`` would send credentials in
    clear text to a server meant to be ``https://``, and ``https://`` fails confusingly
    against a local server.

    Raises:
        ExecutionError: no ``http``/``https`` scheme, no host, a bad port, userinfo, or a
            query or fragment.
    """
    text = url.strip()
    parts = urlsplit(text)
    problem = ""
    if "://" not in text:
        problem = f"has no scheme; write http://{text} or https://{text}"
    elif parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        problem = "must be http://HOST[:PORT] or https://HOST[:PORT]"
    elif "@" in parts.netloc:
        problem = "must not hold a user name or password; put credentials in a --credentials file"
    elif parts.query or parts.fragment:
        problem = "must not have a query or fragment"
    else:
        try:
            parts.port  # noqa: B018 - urlsplit checks the port only when asked
        except ValueError:
            problem = "has an invalid port"
    if problem:
        shown = text if "@" not in parts.netloc else "(a URL with userinfo)"
        raise ExecutionError(f"base URL {shown!r} {problem}", field="base_url")
    return text.rstrip("/")

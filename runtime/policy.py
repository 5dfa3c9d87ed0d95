"""Retry policy and call scope: frozen configuration the executor consults, never mutates."""

from __future__ import annotations

import email.utils
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from toolgen.cards import ToolCard
from zapi.errors import ScopeDenied

__all__ = ["IDEMPOTENT_METHODS", "RetryPolicy", "Scope", "origin_of", "parse_retry_after"]

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
    """``scheme://host[:port]`` of a URL, lower-cased, default ports dropped."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
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
                f"{target} is not the origin of tool {card.name!r} ({card.origin}); "
                "pass --base-url to allow it explicitly",
                tool=card.name,
                host=target,
            )

"""What the analyzer returns: operations with their evidence, and what was dropped and why."""

from __future__ import annotations

from dataclasses import dataclass, field

from zapi.analyzer.evidence import OpEvidence
from zapi.analyzer.paths import Template
from zapi.analyzer.signals import CaptureSignals

__all__ = ["Analysis", "AuthScheme", "Operation"]


@dataclass(frozen=True)
class AuthScheme:
    """A way the API authenticates requests (never a value)."""

    key: str  # stable id, e.g. "bearer", "cookie:erp_session", "header:X-API-Key"
    kind: str  # http | apiKey
    scheme: str = ""  # bearer | basic for kind=http
    location: str = ""  # header | query | cookie for kind=apiKey
    name: str = ""  # header / query / cookie name
    count: int = 0


@dataclass
class Operation:
    """One inferred API operation with everything seen of it."""

    origin: str
    method: str
    template: Template
    evidence: OpEvidence
    discriminator: str = ""
    protocol: str = "rest"

    @property
    def key(self) -> tuple[str, str, str, str]:
        """The sort / identity key: path template, method, discriminator, origin."""
        return (self.template.path, self.method, self.discriminator, self.origin)


@dataclass
class Analysis:
    """The result of analysing one capture (any number of HAR files)."""

    operations: list[Operation] = field(default_factory=list)
    auth_schemes: list[AuthScheme] = field(default_factory=list)
    csrf: list[tuple[str, str]] = field(default_factory=list)  # (cookie, header)
    entries_read: int = 0
    entries_kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    dropped_examples: dict[str, list[str]] = field(default_factory=dict)
    skipped: list[tuple[str, int, str]] = field(default_factory=list)
    skipped_count: int = 0
    hosts: dict[str, int] = field(default_factory=dict)
    first_party: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    secrets_seen: int = 0
    signals: CaptureSignals = field(default_factory=CaptureSignals)

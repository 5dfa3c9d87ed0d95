"""Fault knobs (:class:`Faults`) and the seeded :class:`FaultInjector` that applies them."""

from __future__ import annotations

import dataclasses
import enum
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from samples._http import DROP, Response, json_response

__all__ = ["FaultInjector", "Faults", "Outcome"]

_PROBABILITIES = ("commit_then_504", "commit_then_drop", "fail_before_commit")
_COUNTS = ("rate_limit_every", "slow_ms")
_FLAGS = ("drift", "lie_on_write")


@dataclass(frozen=True)
class Faults:
    """Fault-injection settings for a sample server (all off by default).

    Attributes:
        commit_then_504: Probability that a write commits and the server then answers 504.
        commit_then_drop: Probability that a write commits and the server then closes the
            connection without any response.
        fail_before_commit: Probability that a write answers 503 without committing.
        rate_limit_every: Every Nth API request answers 429 with ``Retry-After: 1`` (0 = off).
        slow_ms: Latency added to every API request, in milliseconds.
        drift: ERP schema drift: stock updates require ``region_id`` and items lose the
            deprecated ``warehouse`` field in favour of ``region_id``.
        lie_on_write: Writes that support it (ERP ``stock``; storefront ``order_update``
            and ``order_cancel``) answer as if applied but change nothing.
        faults_apply_to: Write kinds that the probabilistic faults and ``lie_on_write``
            apply to.
    """

    commit_then_504: float = 0.0
    commit_then_drop: float = 0.0
    fail_before_commit: float = 0.0
    rate_limit_every: int = 0
    slow_ms: int = 0
    drift: bool = False
    lie_on_write: bool = False
    faults_apply_to: tuple[str, ...] = ("stock",)

    def __post_init__(self) -> None:
        """Validate ranges.

        Raises:
            ValueError: If a probability is outside ``[0, 1]``, their sum exceeds 1,
                or a count is negative.
        """
        for name in _PROBABILITIES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
        if sum(getattr(self, name) for name in _PROBABILITIES) > 1.0 + 1e-9:
            raise ValueError(f"the probabilities {', '.join(_PROBABILITIES)} must sum to <= 1")
        for name in _COUNTS:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")

    def to_json(self) -> dict[str, Any]:
        """Return the settings as a JSON-ready dict (``faults_apply_to`` as a list)."""
        document = dataclasses.asdict(self)
        document["faults_apply_to"] = list(self.faults_apply_to)
        return document

    def merged(self, changes: Mapping[str, Any]) -> Faults:
        """Return a copy with the JSON fields in ``changes`` applied (others unchanged).

        Args:
            changes: A partial JSON document using the field names of this class.

        Returns:
            The updated settings.

        Raises:
            ValueError: On an unknown field, a value of the wrong JSON type, or a bad range.
        """
        updates: dict[str, Any] = {}
        for name, value in changes.items():
            if name in _PROBABILITIES:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"{name} must be a number")
                updates[name] = float(value)
            elif name in _COUNTS:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(f"{name} must be an integer")
                updates[name] = value
            elif name in _FLAGS:
                if not isinstance(value, bool):
                    raise ValueError(f"{name} must be a boolean")
                updates[name] = value
            elif name == "faults_apply_to":
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError("faults_apply_to must be a list of strings")
                updates[name] = tuple(value)
            else:
                raise ValueError(f"unknown fault field {name!r}")
        return dataclasses.replace(self, **updates)


class Outcome(enum.Enum):
    """What the injector decided for one write."""

    COMMIT = "commit"
    FAIL_BEFORE_COMMIT = "fail_before_commit"
    COMMIT_THEN_504 = "commit_then_504"
    COMMIT_THEN_DROP = "commit_then_drop"

    @property
    def commits(self) -> bool:
        """Whether the write is applied."""
        return self is not Outcome.FAIL_BEFORE_COMMIT


class FaultInjector:
    """Applies :class:`Faults` with a seeded RNG so that runs are reproducible.

    Thread-safe. Every write of an affected kind consumes exactly one random draw, so
    the same sequence of requests against the same seed meets the same faults.
    """

    def __init__(self, faults: Faults, seed: int) -> None:
        """Create an injector.

        Args:
            faults: Initial settings.
            seed: Seed of the RNG used for the probabilistic faults.
        """
        self._lock = threading.Lock()
        self._seed = seed
        self._faults = faults
        self._rng = random.Random(seed)
        self._requests = 0
        self._injected = dict.fromkeys((*_PROBABILITIES, "rate_limited", "lie_on_write"), 0)

    @property
    def faults(self) -> Faults:
        """Current settings."""
        with self._lock:
            return self._faults

    def configure(self, faults: Faults) -> None:
        """Replace the settings at runtime (the RNG and counters carry on)."""
        with self._lock:
            self._faults = faults

    def reset(self, faults: Faults) -> None:
        """Install ``faults`` and restart the RNG, request counter and statistics."""
        with self._lock:
            self._faults = faults
            self._rng = random.Random(self._seed)
            self._requests = 0
            self._injected = dict.fromkeys(self._injected, 0)

    def stats(self) -> dict[str, int]:
        """How many times each fault fired since the last reset."""
        with self._lock:
            return dict(self._injected)

    def throttle(self) -> Response | None:
        """Apply ``slow_ms`` and ``rate_limit_every`` to one API request.

        Returns:
            A 429 response when this request is rate limited, else ``None``.
        """
        with self._lock:
            faults = self._faults
            self._requests += 1
            limited = faults.rate_limit_every > 0 and self._requests % faults.rate_limit_every == 0
            if limited:
                self._injected["rate_limited"] += 1
        if faults.slow_ms:
            time.sleep(faults.slow_ms / 1000)
        if limited:
            return json_response(
                {"error": "rate_limited", "detail": "too many requests"},
                429,
                headers=(("Retry-After", "1"),),
            )
        return None

    def decide(self, kind: str) -> Outcome:
        """Draw the fate of one write of ``kind`` (no draw when the kind is unaffected)."""
        with self._lock:
            faults = self._faults
            if kind not in faults.faults_apply_to:
                return Outcome.COMMIT
            draw = self._rng.random()
            threshold = 0.0
            for name in _PROBABILITIES:
                threshold += getattr(faults, name)
                if draw < threshold:
                    self._injected[name] += 1
                    return Outcome(name)
            return Outcome.COMMIT

    def lies(self, kind: str) -> bool:
        """Whether this write of ``kind`` should pretend to apply (counts the lie)."""
        with self._lock:
            faults = self._faults
            lie = faults.lie_on_write and kind in faults.faults_apply_to
            if lie:
                self._injected["lie_on_write"] += 1
            return lie

    @staticmethod
    def refusal() -> Response:
        """The 503 sent for :attr:`Outcome.FAIL_BEFORE_COMMIT`."""
        return json_response({"error": "unavailable", "detail": "try again later"}, 503)

    @staticmethod
    def after_commit(outcome: Outcome, response: Response) -> Response:
        """Replace a committed write's ``response`` as ``outcome`` dictates."""
        if outcome is Outcome.COMMIT_THEN_504:
            return json_response({"error": "gateway_timeout", "detail": "upstream timed out"}, 504)
        if outcome is Outcome.COMMIT_THEN_DROP:
            return DROP
        return response

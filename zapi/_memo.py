"""A bounded memo for work done on large texts that recordings repeat.

Recordings repeat the same large bodies (a list fetched after every edit, a page
polled): in one public capture 1,244 JSON bodies held 112 distinct texts.  Work
that depends only on a body's text (vetting, parsing, the evidence drawn from
it) is done once per distinct text and looked up after that.  A ``dict`` keyed
by the text itself costs one hash of it (``str`` and ``bytes`` cache their
hash) and a ``memcmp`` on a hit; the memo holds at most ``budget`` characters
of keys, forgetting the least recently used first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["TextMemo"]

K = TypeVar("K", str, bytes)
V = TypeVar("V")


class TextMemo(Generic[K, V]):
    """Results by text, for texts of at least ``min_size`` characters, within a size budget."""

    def __init__(
        self,
        min_size: int = 2048,
        budget: int = 16 * 2**20,
        on_evict: Callable[[V], None] | None = None,
    ) -> None:
        self.min_size = min_size
        self.budget = budget
        self.on_evict = on_evict  # told of each result forgotten
        self._items: OrderedDict[K, V] = OrderedDict()
        self._held = 0

    def wanted(self, key: K) -> bool:
        """True when ``key`` is large enough to be worth remembering (and small enough to fit)."""
        return self.min_size <= len(key) <= self.budget // 4

    def get(self, key: K) -> V | None:
        """The remembered result for ``key``, or ``None``."""
        hit = self._items.get(key)
        if hit is not None:
            self._items.move_to_end(key)
        return hit

    def put(self, key: K, value: V) -> V:
        """Remember ``value`` for ``key`` (when :meth:`wanted`); returns ``value``."""
        if not self.wanted(key) or key in self._items:
            return value
        self._items[key] = value
        self._held += len(key)
        while self._held > self.budget:
            old, gone = self._items.popitem(last=False)
            self._held -= len(old)
            if self.on_evict is not None:
                self.on_evict(gone)
        return value

    def clear(self) -> None:
        """Forget everything."""
        self._items.clear()
        self._held = 0

    def __getstate__(self) -> dict[str, Any]:
        # a memo is not evidence: it travels empty
        return {"min_size": self.min_size, "budget": self.budget, "on_evict": self.on_evict}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["min_size"], state["budget"], state["on_evict"])  # type: ignore[misc]

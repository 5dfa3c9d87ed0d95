"""The cyclic garbage collector paused for the allocation-heavy stretch of an analysis.

An analysis allocates millions of long-lived objects (schema evidence, decoded
bodies, documents) and almost no reference cycles.  CPython's collector runs a
pass every 700 net allocations and, now and then, a full pass over every object
alive: on a 22 MB capture that was a quarter of the run (5.8 s with it, 4.2 s
without; the same peak memory, so there was nothing to collect).  Reference
counting still frees everything that is not in a cycle; the collector is back on
when the stretch ends, and collects then whatever cycles were left.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["paused_gc"]


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause automatic collection inside the block (nested blocks are fine)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()

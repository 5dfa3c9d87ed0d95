"""Parallel collection: big captures read as byte ranges by worker processes, merged in order.

A large HAR is cut at entry boundaries into byte ranges; each range (and each
small file) is read into its own :class:`~zapi.analyzer.pipeline.Collector` in
a process pool, and the collectors are merged in file order with the entry
indexes shifted to what a sequential read gives.  Collectors merge exactly, so
the output is the same as reading sequentially.

Finding a cut without parsing everything before it: from the byte offset
wanted, scan forward for ``}`` ``,`` ``{`` ``"key"`` where ``key`` is a bare
identifier.  Both quotes around ``key`` are unescaped, and bare identifier
characters followed directly by a quote cannot stand outside a JSON string,
so the ``{`` is structural: an object element of some array.  A quick decode
then checks the object looks like an entry (``request`` and ``response``).
Which array it belongs to is proved by the range ending there: it is read
with an end marker entry appended (``zapi.har.RANGE_SUFFIX``), and only a
cut inside ``log.entries`` yields that marker as its last entry.  Any doubt
(no cut found, a range that does not parse, a marker not seen) makes the
caller read sequentially, which also reports genuine errors exactly.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.sharedctypes import SynchronizedArray
from typing import Any

from zapi.analyzer.pipeline import AnalyzeOptions, Collector
from zapi.errors import ZapiError
from zapi.har import HarReader, SplitMismatch
from zapi.redact import Redactor

__all__ = [
    "DENSE_ENTRIES_PER_MIB",
    "DENSE_MIN_BYTES",
    "PARALLEL_MIN_BYTES",
    "Unit",
    "collect_parallel",
    "entries_per_mib",
    "find_cut",
    "plan_units",
]

# Below this, starting workers and shipping their evidence back costs more than it saves
# on a capture of large bodies: bitbucket (21.8 MB, 60 entries a MiB, large nested bodies)
# collects in 0.45 s in one process and 1.05 s with two.
PARALLEL_MIN_BYTES = 64 * 2**20
# ... unless the capture is many small entries, where the work is per entry and the
# evidence small: a generated 14.8 MB capture of 20,000 entries (1,400 a MiB) collects in
# 3.0 s in one process and 1.9 s with two.
DENSE_MIN_BYTES = 4 * 2**20
DENSE_ENTRIES_PER_MIB = 300
_SAMPLE = 256 * 1024
_ENTRY_KEY = re.compile(rb'"request"\s*:')


def entries_per_mib(files: Sequence[str]) -> float:
    """About how many entries a MiB the capture holds, from three samples of each file.

    Counts ``"request":`` keys in 256 KB windows at the start, a third and two thirds in
    (a key inside a JSON body string has its quotes escaped and does not count).
    """
    seen = 0
    read = 0
    for path in files:
        try:
            size = os.path.getsize(path)
            with open(path, "rb") as fh:
                for at in sorted({0, size // 3, 2 * size // 3}):
                    fh.seek(at)
                    chunk = fh.read(_SAMPLE)
                    seen += len(_ENTRY_KEY.findall(chunk))
                    read += len(chunk)
        except OSError:
            continue
    return seen / (read / 2**20) if read else 0.0


_SCAN_LIMIT = 64 * 2**20  # how far past the wanted offset to look for a cut
_CHUNK = 2**20
_CUT = re.compile(rb'\}[ \t\r\n]*,[ \t\r\n]*(\{)[ \t\r\n]*"[A-Za-z_$][A-Za-z0-9_$]*"[ \t\r\n]*:')
_PROGRESS_EVERY = 1000

Progress = Callable[[int, int, int, int], None]  # entries, bytes read, total bytes, operations


@dataclass(frozen=True)
class Unit:
    """One piece of work: a whole file, or the byte range ``[start, end)`` of one."""

    path: str
    start: int = 0
    end: int | None = None


def _looks_like_entry(fh: Any, at: int) -> bool:
    """True when the JSON object at byte ``at`` has ``request`` and ``response`` keys."""
    decoder = json.JSONDecoder()
    for size in (2**16, 2**22):
        fh.seek(at)
        data = fh.read(size).decode("utf-8", "replace")
        try:
            obj, _ = decoder.raw_decode(data)
        except json.JSONDecodeError:
            continue  # the object may run past the window: try a larger one
        return isinstance(obj, dict) and "request" in obj and "response" in obj
    return False


def find_cut(path: str, near: int, *, limit: int = _SCAN_LIMIT) -> tuple[int, int] | None:
    """Find an entry boundary at or after byte ``near``.

    Returns:
        ``(end, start)``: the previous entry ends before ``end`` and the next one
        starts at ``start``; or ``None`` when no boundary was found in ``limit`` bytes.
    """
    with open(path, "rb") as fh:
        pos = near
        stop = near + limit
        while pos < stop:
            fh.seek(pos)
            chunk = fh.read(_CHUNK)
            if not chunk:
                return None
            for m in _CUT.finditer(chunk):
                start = pos + m.start(1)
                if _looks_like_entry(fh, start):
                    return pos + m.start() + 1, start
            if len(chunk) < _CHUNK:
                return None
            pos += len(chunk) - 256  # overlap: a pattern may straddle two chunks
    return None


def plan_units(files: Sequence[str], workers: int, no_split: set[str]) -> list[Unit]:
    """Cut the capture into about ``workers`` equal pieces, at entry boundaries."""
    sizes = {f: os.path.getsize(f) for f in files}
    target = max(1, sum(sizes.values()) // max(workers, 1))
    units: list[Unit] = []
    for f in files:
        parts = round(sizes[f] / target) if f not in no_split else 1
        cuts: list[tuple[int, int]] = []
        for i in range(1, parts):
            floor = cuts[-1][1] if cuts else 0
            cut = find_cut(f, max(sizes[f] * i // parts, floor + 1))
            if cut is None:
                break
            cuts.append(cut)
        begin = 0
        for end, nxt in cuts:
            units.append(Unit(f, begin, end))
            begin = nxt
        units.append(Unit(f, begin, None))
    return units


# -- worker side ---------------------------------------------------------------
_state: dict[str, Any] = {}


def _init(options: AnalyzeOptions, redactor: Redactor, counters: SynchronizedArray[int]) -> None:
    _state.update(options=options, redactor=redactor, counters=counters)


def _work(slot: int, unit: Unit) -> Collector | None:
    """Read one unit into a collector; ``None`` when it must be read sequentially."""
    col = Collector(_state["options"], redactor=_state["redactor"])
    counters = _state["counters"]
    reader = HarReader(unit.path, start=unit.start, end=unit.end)
    n = 0
    try:
        for item in reader:
            col.feed(item)
            n += 1
            if n % _PROGRESS_EVERY == 0:
                counters[3 * slot] = n
                counters[3 * slot + 1] = reader.bytes_read
                counters[3 * slot + 2] = len(col.groups)
    except (SplitMismatch, ZapiError):
        return None
    counters[3 * slot] = n
    counters[3 * slot + 1] = reader.bytes_read
    counters[3 * slot + 2] = len(col.groups)
    return col


def _context() -> Any:
    # fork starts workers in milliseconds with the modules already imported; it is
    # the safe default only on Linux.
    return mp.get_context("fork" if sys.platform.startswith("linux") else None)


def collect_parallel(
    files: Sequence[str],
    options: AnalyzeOptions,
    redactor: Redactor,
    workers: int,
    progress: Progress | None = None,
) -> Collector | None:
    """Collect ``files`` with ``workers`` processes; ``None`` means read sequentially instead.

    Files with UI-action attributions are never split (the attribution is looked
    up by entry index while reading).
    """
    no_split = {s for s, _ in options.ui_actions}
    units = plan_units(files, workers, no_split)
    if len(units) < 2:
        return None
    total = sum(os.path.getsize(f) for f in files)
    ctx = _context()
    counters = ctx.Array("q", 3 * len(units), lock=False)
    with ctx.Pool(min(workers, len(units)), _init, (options, redactor, counters)) as pool:
        pending = [pool.apply_async(_work, (i, u)) for i, u in enumerate(units)]
        while not all(p.ready() for p in pending):
            pending[next(i for i, p in enumerate(pending) if not p.ready())].wait(0.2)
            if progress is not None:
                progress(sum(counters[0::3]), sum(counters[1::3]), total, max(counters[2::3]))
        parts = [p.get() for p in pending]
    if any(p is None for p in parts):
        return None
    col = Collector(options, redactor=redactor)
    read_so_far: dict[str, int] = {}
    for unit, part in zip(units, parts, strict=True):
        assert part is not None
        offset = read_so_far.get(unit.path, 0)
        part.shift_indexes(unit.path, offset)
        read_so_far[unit.path] = offset + part.entries_read
        col.merge(part)
    if progress is not None:
        progress(col.entries_read, total, total, len(col.groups))
    return col

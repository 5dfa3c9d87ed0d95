"""Streaming JSON for the HAR reader: entries built one at a time, nesting bounded.

The parser's events are turned into entry objects here rather than by the
parser's own builder, whose prefix bookkeeping costs memory with the square of
the nesting depth (a 300 KB HAR nested 50,000 levels took 2.8 GB).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import ijson

MAX_NESTING = 128
"""Deepest JSON nesting read, inside an entry or inside a JSON body; deeper entries are skipped."""


class _TooDeep:
    """Stands in for an entry that nests deeper than :data:`MAX_NESTING`."""


_TOO_DEEP = _TooDeep()
_MAX_READ = 64 * 1024 * 1024


_FIRST_READ = 64 * 1024
_STARTS = ("start_map", "start_array")
_ENDS = ("end_map", "end_array")


def _batches(fh: Any, backend: Any) -> Iterator[list[tuple[str, Any]]]:
    """Parser events, one list per read.

    The parser re-scans a token split across reads, so a read that yields no
    event (inside a huge string) doubles the next one: a 150 MB body costs a
    second, not minutes.  Reads stay small otherwise, as every event of a read
    is held at once.
    """
    sink = ijson.sendable_list()
    coro = backend.basic_parse_coro(sink)
    size = _FIRST_READ
    while True:
        chunk = fh.read(size)
        if not chunk:
            coro.close()
            if sink:
                yield list(sink)
            return
        coro.send(chunk)
        if sink:
            yield list(sink)
            del sink[:]
            size = _FIRST_READ
        else:
            size = min(size * 2, _MAX_READ)


def _scalar(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _valid(value: Any) -> Any:
    """A scalar with lone surrogates (only the Python parser lets them through) replaced."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return _scalar(value)


def _valid_events(events: Iterator[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
    for event, value in events:
        yield event, _valid(value)


def _build(event: str, value: Any, events: Iterator[tuple[str, Any]]) -> Any:
    """Build the JSON value that starts with ``event`` from the rest of ``events``.

    Memory stays linear in the size of the value and nesting is bounded: past
    :data:`MAX_NESTING` levels the value is consumed without being built and
    :data:`_TOO_DEEP` is returned instead.  Numbers with a fraction stay
    :class:`~decimal.Decimal` (the reader converts the few it uses).
    """
    if event != "start_map" and event != "start_array":
        return value
    root: Any = {} if event == "start_map" else []
    stack: list[Any] = [root]
    top: Any = root
    is_dict = event == "start_map"
    key: Any = None
    for event, value in events:
        if event == "map_key":
            key = value
        elif event == "string" or event == "number" or event == "boolean" or event == "null":
            if is_dict:
                top[key] = value
            else:
                top.append(value)
        elif event == "start_map" or event == "start_array":
            if len(stack) >= MAX_NESTING:
                return _skip(len(stack) + 1, events)
            child: Any = {} if event == "start_map" else []
            if is_dict:
                top[key] = child
            else:
                top.append(child)
            stack.append(child)
            top = child
            is_dict = event == "start_map"
        else:
            stack.pop()
            if not stack:
                return root
            top = stack[-1]
            is_dict = type(top) is dict
    return root


def _skip(depth: int, events: Iterator[tuple[str, Any]]) -> _TooDeep:
    """Consume the rest of a too-deep value (``depth`` containers open)."""
    for event, _ in events:
        if event in _STARTS:
            depth += 1
        elif event in _ENDS:
            depth -= 1
            if depth == 0:
                break
    return _TOO_DEEP


def _entry_objects(fh: Any, *, python: bool = False) -> Iterator[Any]:
    """The values of ``log.entries``, built one at a time from parser events.

    Only the path down to ``log.entries`` is tracked (one small frame per open
    container), so a deep object anywhere else costs linear memory and is
    never built.
    """
    batches = _batches(fh, ijson.get_backend("python") if python else ijson)
    events: Iterator[tuple[str, Any]] = itertools.chain.from_iterable(batches)
    if python:
        events = _valid_events(events)
    path: list[Any] = []  # per open container: its current key (maps) or None (arrays)
    for event, value in events:
        if event == "map_key":
            path[-1] = value
        elif event in _ENDS:
            path.pop()
        elif len(path) == 3 and path[2] is None and path[1] == "entries" and path[0] == "log":
            yield _build(event, value, events)
        elif event == "start_map":
            path.append("")
        elif event == "start_array":
            path.append(None)

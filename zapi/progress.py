"""Progress display for long analyses: a rich bar on a terminal, silence when piped."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["progress_reporter"]


@contextmanager
def progress_reporter(show: bool) -> Iterator[Callable[[int, int, int, int], None] | None]:
    """Yield an ``(entries, bytes_read, total_bytes, operations)`` callback, or ``None``."""
    if not show:
        yield None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    start = time.monotonic()
    with Progress(
        TextColumn("[bold]analyzing"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task("har", total=None, rate="")

        def report(entries: int, done: int, total: int, operations: int) -> None:
            elapsed = max(time.monotonic() - start, 1e-6)
            bar.update(
                task,
                completed=done,
                total=total or None,
                rate=f"{entries:,} entries, {entries / elapsed:,.0f}/s, ~{operations:,} operations",
            )

        yield report

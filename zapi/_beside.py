"""Work done in a forked second process beside the main one, on multi-core Linux.

Analysing a large capture is CPU work in one Python process; the machine has
more cores.  :func:`beside` starts a function in a forked child (nothing is
pickled on the way in: the child has the parent's memory as it was) and
returns a call that waits for the child's pickled answer.  When a second
process cannot be used (not Linux, one core, another thread running: forking a
threaded process can deadlock) or the child fails for any reason (it raised,
was killed, its answer does not unpickle), the function runs in this process
when the answer is asked for, so results and errors are exactly what calling
it directly gives.  The function must not change anything the parent relies on
afterwards: the child's changes stay in the child.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar, cast

__all__ = ["Standby", "beside", "can_fork", "map_beside"]

T = TypeVar("T")
U = TypeVar("U")
P = TypeVar("P")
M = TypeVar("M")


def can_fork() -> bool:
    """True when a forked second process can work beside this one."""
    return (
        sys.platform.startswith("linux")
        and (os.cpu_count() or 1) >= 2
        and threading.active_count() == 1
    )


def beside(fn: Callable[[], T], *, enabled: bool = True) -> Callable[[], T]:
    """Start ``fn()`` in a forked process; call the result for its answer.

    The answer call must be made (it reaps the child).  With ``enabled`` false,
    or when :func:`can_fork` says no, ``fn`` runs when the answer is asked for.
    """
    if not enabled or not can_fork():
        return fn
    ctx = mp.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, fn), daemon=True)
    proc.start()
    send.close()

    def answer() -> T:
        try:
            got, result = _receive(receive)
        finally:
            receive.close()
            proc.join()
        return result if got else fn()  # the child failed: the same work here

    return answer


def _receive(conn: Any) -> tuple[bool, Any]:
    """``(True, the child's answer)``, or ``(False, None)`` on any doubt (no answer, bad data)."""
    try:
        return True, pickle.loads(conn.recv_bytes())
    except Exception:  # noqa: BLE001 -- EOF, a closed pipe, an answer that does not unpickle
        return False, None


def _answer(conn: Any, fn: Callable[[], Any]) -> None:
    """Send ``fn()``'s pickled answer; on any error send nothing (the parent redoes the work)."""
    try:
        data = pickle.dumps(fn(), protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException:  # noqa: BLE001 -- the parent redoes the work and raises it
        conn.close()
        return
    try:
        conn.send_bytes(data)
    finally:
        conn.close()


def _child(send: Any, fn: Callable[[], Any]) -> None:
    _answer(send, fn)


def map_beside(
    fn: Callable[[T], U],
    items: Sequence[T],
    *,
    enabled: bool = True,
    weights: Sequence[float] | None = None,
) -> list[U]:
    """``[fn(x) for x in items]``, part of the items computed in a forked process.

    Without ``weights``, alternate items go to the child: costs that cluster in a
    stretch of the list (the operations of one large resource) split evenly.  With
    ``weights`` (the expected cost of each item), the items are shared so each
    process gets about half of the total: the heaviest first, each to the lighter side.
    """
    if not enabled or len(items) < 2 or not can_fork():
        return [fn(x) for x in items]
    mine, theirs = _halves(len(items), weights)
    there = beside(lambda: [fn(items[i]) for i in theirs])
    out: list[Any] = [None] * len(items)
    try:
        for i in mine:
            out[i] = fn(items[i])
    except BaseException:
        there()  # reap the child (its answer is of no use now), then raise what happened here
        raise
    for i, value in zip(theirs, there(), strict=True):
        out[i] = value
    return out


def _halves(n: int, weights: Sequence[float] | None) -> tuple[list[int], list[int]]:
    """Two sets of indexes, each in order: alternate ones, or about equal total weight."""
    if weights is None:
        return list(range(0, n, 2)), list(range(1, n, 2))
    sides: tuple[list[int], list[int]] = ([], [])
    loads = [0.0, 0.0]
    for i in sorted(range(n), key=lambda j: (-weights[j], j)):
        side = 0 if loads[0] <= loads[1] else 1
        sides[side].append(i)
        loads[side] += weights[i]
    return sorted(sides[0]), sorted(sides[1])


class Standby(Generic[P, M, T]):
    """A forked process started now: it runs ``prepare()``, then waits for a message.

    For work whose larger part needs nothing but what exists now (read the capture,
    load a validator) and whose rest needs something made later (the cards, the
    document): ``prepare`` runs beside everything the main process does meanwhile;
    :meth:`send` hands the child the message (pickled) and returns a call for
    ``work(prepared, message)``, its answer.  Whenever the child cannot be used or
    fails, the answer call runs ``work(prepare(), message)`` here.  :meth:`close`
    stops the child (call it when no message will be sent).
    """

    def __init__(
        self, prepare: Callable[[], P], work: Callable[[P, M], T], *, enabled: bool = True
    ) -> None:
        self._prepare = prepare
        self._work = work
        self._conn: Any = None
        self._proc: Any = None
        self._answered = False
        if not enabled or not can_fork():
            return
        ctx = mp.get_context("fork")
        here, there = ctx.Pipe(duplex=True)
        self._proc = ctx.Process(target=_standby_child, args=(there, prepare, work), daemon=True)
        self._proc.start()
        there.close()
        self._conn = here

    def send(self, message: M) -> Callable[[], T]:
        """Give the child ``message``; call the result for the answer."""
        sent = False
        if self._conn is not None:
            try:
                self._conn.send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))
                sent = True
            except Exception:  # noqa: BLE001 -- not picklable, child gone: work here
                self.close()

        def answer() -> T:
            if sent and self._conn is not None:
                got, result = _receive(self._conn)
                self._answered = True
                self.close()
                if got:
                    return cast(T, result)
            return self._work(self._prepare(), message)

        return answer

    def close(self) -> None:
        """Stop the child (still at work when no answer was taken) and reap it."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            if self._proc.is_alive() and not self._answered:
                self._proc.terminate()
            self._proc.join()
            self._proc = None


def _standby_child(conn: Any, prepare: Callable[[], Any], work: Callable[[Any, Any], Any]) -> None:
    _answer(conn, lambda: work(prepare(), pickle.loads(conn.recv_bytes())))

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
from typing import Any, TypeVar

__all__ = ["beside", "can_fork", "map_beside"]

T = TypeVar("T")
U = TypeVar("U")


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
        data: bytes | None = None
        try:
            data = receive.recv_bytes()
        except (EOFError, OSError):
            data = None
        finally:
            receive.close()
            proc.join()
        if data is not None:
            try:
                result: T = pickle.loads(data)
            except Exception:  # noqa: BLE001 -- any doubt: do the work here
                pass
            else:
                return result
        return fn()  # the child failed: the same work here, errors raised as they are

    return answer


def _child(send: Any, fn: Callable[[], Any]) -> None:
    try:
        data = pickle.dumps(fn(), protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException:  # noqa: BLE001 -- the parent redoes the work and raises it
        send.close()
        return
    try:
        send.send_bytes(data)
    finally:
        send.close()


def map_beside(fn: Callable[[T], U], items: Sequence[T], *, enabled: bool = True) -> list[U]:
    """``[fn(x) for x in items]``, every other item computed in a forked process.

    Alternate items, not halves, go to the child: costs that cluster in a stretch
    of the list (the operations of one large resource) split evenly.
    """
    if not enabled or len(items) < 2 or not can_fork():
        return [fn(x) for x in items]
    odd = beside(lambda: [fn(x) for x in items[1::2]])
    even = [fn(x) for x in items[0::2]]
    rest = odd()
    out: list[U] = []
    for i, x in enumerate(even):
        out.append(x)
        if i < len(rest):
            out.append(rest[i])
    return out

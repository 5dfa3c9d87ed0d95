"""Exit codes of the ``zapi`` command, one table for every command (README: "Exit codes")."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode"]


class ExitCode(IntEnum):
    """What a script can tell from ``$?`` after any ``zapi`` command."""

    OK = 0  # done; for a run: it succeeded
    ERROR = 1  # an operational error: bad input, failed call; a run failed, rejected, cancelled
    USAGE = 2  # the command line itself is wrong (unknown option, missing argument)
    PAUSED = 3  # a run is paused and waits for a human decision (approve, resume, cancel)
    DENIED = 4  # refused by the policy (scope denied), before any request

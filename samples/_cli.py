"""Command-line options shared by the ``python -m samples.<app>`` entry points."""

from __future__ import annotations

import argparse

from samples._faults import Faults

__all__ = ["add_common_arguments", "faults_from_args"]


def add_common_arguments(parser: argparse.ArgumentParser, *, default_port: int) -> None:
    """Add ``--port``, ``--seed`` and the ``--fault-*`` options to ``parser``."""
    parser.add_argument("--port", type=int, default=default_port, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=0, help="seed for data and faults")
    faults = parser.add_argument_group("fault injection")
    faults.add_argument("--fault-commit-then-504", type=float, default=0.0, metavar="P")
    faults.add_argument("--fault-commit-then-drop", type=float, default=0.0, metavar="P")
    faults.add_argument("--fault-fail-before-commit", type=float, default=0.0, metavar="P")
    faults.add_argument("--fault-rate-limit-every", type=int, default=0, metavar="N")
    faults.add_argument("--fault-slow-ms", type=int, default=0, metavar="MS")
    faults.add_argument("--fault-drift", action="store_true")
    faults.add_argument("--fault-lie-on-write", action="store_true")
    faults.add_argument(
        "--fault-apply-to",
        default="stock",
        metavar="KINDS",
        help="comma-separated write kinds the faults apply to (default: stock)",
    )


def faults_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Faults:
    """Build :class:`Faults` from parsed options, exiting with a usage error when invalid."""
    try:
        return Faults(
            commit_then_504=args.fault_commit_then_504,
            commit_then_drop=args.fault_commit_then_drop,
            fail_before_commit=args.fault_fail_before_commit,
            rate_limit_every=args.fault_rate_limit_every,
            slow_ms=args.fault_slow_ms,
            drift=args.fault_drift,
            lie_on_write=args.fault_lie_on_write,
            faults_apply_to=tuple(k.strip() for k in args.fault_apply_to.split(",") if k.strip()),
        )
    except ValueError as exc:
        parser.error(str(exc))

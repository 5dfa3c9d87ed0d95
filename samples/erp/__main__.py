"""Run the ERP sample in the foreground: ``python -m samples.erp --port 8001 [--fault-...]``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from samples._cli import add_common_arguments, faults_from_args
from samples.erp.app import make_server


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until Ctrl-C; prints one line with the URL.

    Example: python -m samples.erp --port 8001 --fault-commit-then-504 0.2
    """
    parser = argparse.ArgumentParser(prog="python -m samples.erp", description=__doc__)
    add_common_arguments(parser, default_port=8001)
    args = parser.parse_args(argv)
    faults = faults_from_args(parser, args)
    with make_server(args.port, seed=args.seed, faults=faults) as server:
        print(f"ERP sample listening on {server.url} (sign in as alice/wonderland)", flush=True)
        try:
            server.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

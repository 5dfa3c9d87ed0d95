"""Run the storefront sample in the foreground: ``python -m samples.storefront --port 8002``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from samples._cli import add_common_arguments, faults_from_args
from samples.storefront.app import DEFAULT_TOKEN, make_server


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until Ctrl-C; prints one line with the URL.

    Example: python -m samples.storefront --port 8002 --token demo-token
    """
    parser = argparse.ArgumentParser(prog="python -m samples.storefront", description=__doc__)
    add_common_arguments(parser, default_port=8002)
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="bearer token for /api/*")
    args = parser.parse_args(argv)
    faults = faults_from_args(parser, args)
    server = make_server(args.port, token=args.token, seed=args.seed, faults=faults)
    with server:
        print(f"Storefront sample listening on {server.url} (bearer token required)", flush=True)
        try:
            server.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Run the flows sample in the foreground: ``python -m samples.flows --port 8003``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from samples.flows.app import DEFAULT_PASSWORD, DEFAULT_USER, make_server


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until Ctrl-C; prints one line with the URL.

    Example: python -m samples.flows --port 8003
    """
    parser = argparse.ArgumentParser(prog="python -m samples.flows", description=__doc__)
    parser.add_argument("--port", type=int, default=8003, help="port on 127.0.0.1 (0: any)")
    args = parser.parse_args(argv)
    with make_server(args.port) as server:
        print(
            f"Flows sample listening on {server.url} (log in as {DEFAULT_USER}/{DEFAULT_PASSWORD})",
            flush=True,
        )
        try:
            server.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

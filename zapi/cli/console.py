"""``zapi console``: serve the operator console (runs, decisions, action log, tools) locally."""

from __future__ import annotations

import os
import socket

import click

__all__ = ["COMMANDS"]


def _db_url(db: str | None) -> str:
    raw = db or os.environ.get("ZAPI_RUNS_DB") or "zapi-runs.db"
    return raw if "://" in raw else "sqlite:///" + os.path.abspath(raw)


def _state_path(state: str | None) -> str | None:
    if not state:
        return None
    return os.path.join(state, "zapi.db") if os.path.isdir(state) else os.path.abspath(state)


@click.command("console")
@click.option("--db", help="Runs database: a SQLite path or postgresql://... (env ZAPI_RUNS_DB).")
@click.option("--state", help="Action-log SQLite file (or the folder holding zapi.db).")
@click.option(
    "--tools",
    type=click.Path(exists=True, file_okay=False),
    help="Tool folder from `zapi analyze` (cards page; schemas for approval values).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", default=8765, show_default=True, help="Port (0 picks a free one).")
@click.option("--operator", help="Record this name on every decision (else people sign in).")
@click.option(
    "--token",
    help="Sign-in token; required to serve on a non-loopback address (env ZAPI_CONSOLE_TOKEN).",
)
@click.option("--refresh", default=3.0, show_default=True, help="Auto-refresh period, seconds.")
def console_command(
    db: str | None,
    state: str | None,
    tools: str | None,
    host: str,
    port: int,
    operator: str | None,
    token: str | None,
    refresh: float,
) -> None:
    """Serve the operator console: runs, run timelines, decisions, the action log, tools.

    Example: zapi console --db runs.db --state zapi.db --tools out/ --operator alice
    """
    import uvicorn

    from runtime.console import TOKEN_ENV, ConsoleConfig, check_bind, create_app

    token = token or os.environ.get(TOKEN_ENV) or None
    try:
        check_bind(host, token)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    config = ConsoleConfig(
        database_url=_db_url(db),
        state=_state_path(state),
        tools=tools,
        host=host,
        operator=operator,
        token=token,
        refresh_s=refresh,
    )
    app = create_app(config)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)  # connections queue from now on, before uvicorn starts accepting
    except OSError as exc:
        sock.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"zapi console on http://{shown}:{bound}/ (Ctrl-C stops it)", err=False)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    try:
        server.run(sockets=[sock])
    finally:
        app.state.console.close()
        sock.close()


COMMANDS = [console_command]

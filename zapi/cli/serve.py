"""``zapi serve``: the tool set as an MCP server (stdio or streamable HTTP)."""

from __future__ import annotations

import os
import signal

import click

from zapi.cli.workflows import DB_HELP, _db_url

__all__ = ["COMMANDS"]


@click.command("serve")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--stdio", "transport", flag_value="stdio", default=True, help="Serve on stdin/stdout."
)
@click.option("--http", "transport", flag_value="http", help="Serve streamable HTTP at /mcp.")
@click.option("--host", default="127.0.0.1", show_default=True, help="With --http: bind address.")
@click.option("--port", default=8766, show_default=True, help="With --http: port.")
@click.option(
    "--credentials",
    type=click.Path(exists=True, dir_okay=False),
    help="Credentials file (secrets by env:/file: reference).",
)
@click.option("--base-url", help="Call this origin instead of the recorded one.")
@click.option(
    "--policy",
    type=click.Path(exists=True, dir_okay=False),
    help="Permissions policy (YAML/JSON): grants for workflow 'zapi-serve', require_approval.",
)
@click.option("--tools", "tool_globs", default="", help="Expose only these tools: 'glob,glob'.")
@click.option("--allow-writes", is_flag=True, help="Expose write tools too (default: reads only).")
@click.option("--state", help="Action-log SQLite file (default: OUT/zapi.db).")
@click.option(
    "--write-budget",
    type=click.IntRange(min=0),
    help="Write calls allowed while this server runs (all clients).",
)
@click.option("--db", help=DB_HELP + " Holds the runs of calls that need an approval.")
def serve_command(
    out_dir: str,
    transport: str,
    host: str,
    port: int,
    credentials: str | None,
    base_url: str | None,
    policy: str | None,
    tool_globs: str,
    allow_writes: bool,
    state: str | None,
    write_budget: int | None,
    db: str | None,
) -> None:
    """Serve the tools of OUT to an agent over MCP; every call goes through the runtime.

    Read-only tools only unless --allow-writes or the policy grants writes. Destructive
    tools (and those the policy's require_approval names) are parked for approval:
    `zapi runs approve RUN --by NAME`.

    Example: zapi serve out/ --base-url http://127.0.0.1:8001 --credentials creds.json
    """
    from runtime.mcp_server import ServeConfig, ToolServer, exposed, serve_http, serve_stdio

    config = ServeConfig(
        out_dir=out_dir,
        credentials=credentials,
        base_url=base_url,
        policy=policy,
        tools=tuple(g.strip() for g in tool_globs.split(",") if g.strip()),
        allow_writes=allow_writes,
        state=state or "",
        write_budget=write_budget,
        runs_db=_db_url(db),
    )
    tools = ToolServer(config)
    names = list(exposed(tools))
    where = "stdio" if transport == "stdio" else f"http://{host}:{port}/mcp"
    click.echo(f"zapi serve: {len(names)} tools on {where}: {', '.join(names)}", err=True)

    # On SIGTERM, stop the approval worker and leave: a stdio server's stdin reader cannot
    # be unwound, and uvicorn re-raises the signal after its graceful shutdown. Every
    # action-log record is already on disk.
    def terminate(*_: object) -> None:
        tools.close()
        os._exit(0)

    signal.signal(signal.SIGTERM, terminate)
    try:
        if transport == "stdio":
            serve_stdio(tools)
        else:
            serve_http(tools, host, port)
    except KeyboardInterrupt:
        pass
    finally:
        tools.close()


COMMANDS = [serve_command]

"""``zapi auth init`` and ``zapi auth check``: set credentials up for a tool set, and test them."""

from __future__ import annotations

import json
import os

import click

from zapi.cli.codes import ExitCode
from zapi.errors import ExecutionError

__all__ = ["COMMANDS"]


@click.group("auth")
def auth_group() -> None:
    """Set up credentials for a tool set and check that they work.

    Example: zapi auth init out/ -o creds.json
    """


@auth_group.command("init")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Credentials file to write (refused if it exists, unless --force).",
)
@click.option(
    "--refs",
    type=click.Choice(["env", "file"]),
    default="env",
    show_default=True,
    help="Write env:VAR references, or file:secrets/NAME references.",
)
@click.option("--env-prefix", default="", help="Prefix of every name (default ZAPI_<HOST>).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init_command(out_dir: str, output: str, refs: str, env_prefix: str, force: bool) -> None:
    """Write a credentials file with references to fill, per origin (and the login tool).

    Secrets are written as references (env:VAR or file:PATH), never as values; a login
    tool's other fields (the user name) are values to fill in.

    Example: zapi auth init out/ -o creds.json --env-prefix ERP
    """
    from runtime.auth_setup import credentials_template
    from toolgen.cards import load_cards

    if os.path.exists(output) and not force:
        raise ExecutionError(f"{output}: exists; pass --force to overwrite it")
    data, wanted = credentials_template(
        load_cards(out_dir).values(),
        refs="file" if refs == "file" else "env",
        env_prefix=env_prefix,
    )
    with open(output, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
    click.echo(f"wrote {output} for {sum(1 for k in data if '://' in k)} origin(s)")
    for ref in wanted:
        how = "export " + ref.variable + "=..." if ref.ref.startswith("env:") else ref.variable
        click.echo(f"  {ref.what} on {ref.origin}: {how}")
    login = data.get("login")
    if isinstance(login, dict):
        empty = [k for k, v in login["args"].items() if v == ""]
        if empty:
            click.echo(f"  fill in {', '.join(empty)} under 'login' in {output}")
    click.echo(f"then: zapi auth check {out_dir} --credentials {output}")


@auth_group.command("check")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--credentials",
    "creds_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="Credentials file (JSON with env:/file: references).",
)
@click.option("--base-url", help="Call this origin instead of the recorded one.")
@click.option(
    "--trust-base-url",
    is_flag=True,
    help="Send the cards' credentials to --base-url although it is another host.",
)
@click.option("--state", help="Action-log SQLite file (default OUT/zapi.db).")
def check_command(
    out_dir: str, creds_file: str, base_url: str | None, trust_base_url: bool, state: str | None
) -> int:
    """Log in if needed, try one safe read per origin, and say what works and what to fix.

    Example: zapi auth check out/ --credentials creds.json --base-url http://127.0.0.1:8001
    """
    import runtime
    from runtime.auth_setup import check_credentials
    from runtime.credentials import load_credentials

    creds = load_credentials(creds_file, environ=os.environ)
    if creds.login is not None:
        empty = [k for k, v in creds.login.args.items() if v == ""]
        if empty:
            raise ExecutionError(
                f"{creds_file}: login argument(s) {', '.join(empty)} are empty; fill them in"
            )
    with runtime.open(
        out_dir,
        credentials=creds,
        state=state or "",
        base_url=base_url,
        send_credentials_to=(base_url,) if base_url and trust_base_url else (),
    ) as rt:
        found = check_credentials(rt)
    for item in found:
        click.echo(item.line)
    return ExitCode.OK if all(item.ok for item in found) else ExitCode.ERROR


COMMANDS: list[click.Command] = [auth_group]

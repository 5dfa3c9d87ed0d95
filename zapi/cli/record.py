"""``zapi record`` and ``zapi demo``: the recorder's commands (registered by ``zapi.cli.app``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import click

__all__ = ["COMMANDS", "demo", "record"]

_BROWSER_HELP = "Chromium/Chrome executable (else $ZAPI_BROWSER, else a system one)."


def _pairs(
    values: tuple[str, ...], parse: Callable[[str], tuple[str, str]], flag: str
) -> tuple[tuple[str, str], ...]:
    out = []
    for v in values:
        try:
            out.append(parse(v))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint=flag) from exc
    return tuple(out)


@click.command("record")
@click.argument("url")
@click.option(
    "-o",
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Where to write the HAR (the UI actions go to <out>.actions.json).",
)
@click.option("--headless", is_flag=True, help="No window (use with --script or --timeout).")
@click.option(
    "--script",
    type=click.Path(exists=True, dir_okay=False),
    help="Python file defining drive(page); the session ends when it returns.",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0.1),
    default=None,
    help="End the session after this many seconds (also the script's action timeout).",
)
@click.option("--browser-path", help=_BROWSER_HELP)
@click.option(
    "--storage-state",
    type=click.Path(dir_okay=False),
    help="Start from a saved login (Playwright storage-state JSON).",
)
@click.option(
    "--save-storage-state",
    type=click.Path(dir_okay=False),
    help="Save cookies/local storage here to reuse the login (holds live credentials).",
)
@click.option(
    "--header",
    multiple=True,
    metavar="'NAME: VALUE'",
    help="Extra header for the target origin only (repeatable).",
)
@click.option(
    "--cookie",
    multiple=True,
    metavar="NAME=VALUE",
    help="Cookie to set on the target origin (repeatable).",
)
@click.option(
    "--bearer-env",
    metavar="VAR",
    help="Send 'Authorization: Bearer $VAR' to the target origin only.",
)
@click.option(
    "--include-host", multiple=True, help="Keep only this host in the HAR (glob; repeatable)."
)
@click.option(
    "--exclude-host", multiple=True, help="Drop this host from the HAR (glob; repeatable)."
)
@click.option("--no-redact", is_flag=True, help="Keep secrets in the HAR (not advised).")
def record(
    url: str,
    out_path: str,
    headless: bool,
    script: str | None,
    timeout_s: float | None,
    browser_path: str | None,
    storage_state: str | None,
    save_storage_state: str | None,
    header: tuple[str, ...],
    cookie: tuple[str, ...],
    bearer_env: str | None,
    include_host: tuple[str, ...],
    exclude_host: tuple[str, ...],
    no_redact: bool,
) -> None:
    """Record a browser session on URL into a redacted HAR plus a UI-action sidecar.

    Close the browser window or press Enter here to finish.

    Example: zapi record http://127.0.0.1:8001/login -o erp.har
    """
    from zapi.recorder import (
        RecordOptions,
        interactive_stdin,
        load_script,
        parse_cookie,
        parse_header,
    )
    from zapi.recorder import record as run_record

    token = None
    if bearer_env:
        token = os.environ.get(bearer_env)
        if not token:
            raise click.BadParameter(
                f"environment variable {bearer_env} is not set", param_hint="--bearer-env"
            )
    stdin = interactive_stdin()
    if headless and script is None and timeout_s is None and stdin is None:
        raise click.UsageError("--headless without --script needs --timeout or a terminal")
    options = RecordOptions(
        headless=headless,
        browser_path=browser_path,
        timeout_s=timeout_s,
        storage_state=storage_state,
        headers=_pairs(header, parse_header, "--header"),
        cookies=_pairs(cookie, parse_cookie, "--cookie"),
        bearer_token=token,
        include_hosts=include_host,
        exclude_hosts=exclude_host,
        redact=not no_redact,
    )
    drive = load_script(script) if script else None
    summary = run_record(
        url,
        out_path,
        options,
        drive=drive,
        stdin=stdin,
        save_storage_state=save_storage_state,
        on_ready=lambda msg: click.echo(msg, err=True),
    )
    click.echo(summary.describe())


@click.command("demo")
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Output folder (default: a new temporary folder).",
)
@click.option("--browser-path", help=_BROWSER_HELP)
@click.option("--headed", is_flag=True, help="Show the browser window while it records.")
def demo(out_dir: str | None, browser_path: str | None, headed: bool) -> None:
    """Run the whole loop on the bundled ERP sample: serve, record, analyze, list the tools.

    Example: zapi demo -o demo-out/
    """
    from rich.console import Console
    from rich.table import Table

    from samples.demo import run_demo

    result = run_demo(out_dir, browser_path=browser_path, headless=not headed)
    console = Console(file=sys.stdout, soft_wrap=True)
    if result.recording is not None:
        console.print(result.recording.describe(), markup=False, highlight=False)
    if result.recording_note:
        console.print(result.recording_note, markup=False, highlight=False)
    table = Table(title=f"{len(result.cards)} tools in {result.out_dir}")
    for col in ("tool", "method", "path", "safety"):
        table.add_column(col)
    for c in result.cards:
        table.add_row(c.tool, c.method, c.path, c.safety)
    console.print(table)
    console.print(
        f"recorded in {result.record_seconds:.1f} s, analyzed in {result.analyze_seconds:.2f} s",
        highlight=False,
    )
    for line in result.runtime_lines:
        console.print(line, markup=False, highlight=False)


COMMANDS = [record, demo]

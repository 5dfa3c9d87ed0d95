"""The ``zapi`` command line: a thin layer over the Python API.

Each subcommand parses arguments, calls one function of the Python API and
renders the result.  A :class:`~zapi.errors.ZapiError` becomes a one-line
message on stderr here and nowhere else.  Exit codes: 0 ok, 1 operational
error, 2 usage error.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from zapi.errors import ZapiError

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(package_name="zapi")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """zapi: turn a recorded browser session into callable, verified tools.

    Example: zapi analyze session.har -o out/
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


@cli.command()
@click.argument("hars", nargs=-1, required=True, type=click.Path())
@click.option(
    "-o",
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Output folder for openapi.json, cards/ and report.md.",
)
@click.option("--include-host", multiple=True, help="Only analyse this host (glob; repeatable).")
@click.option("--exclude-host", multiple=True, help="Drop this host (glob; repeatable).")
@click.option(
    "--rules",
    type=click.Path(dir_okay=False),
    help="JSON/YAML file with 'force' and 'forbid' path templates.",
)
@click.option("--no-redact", is_flag=True, help="Keep secret values in examples (not advised).")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar (default: on when stderr is a terminal).",
)
def analyze(
    hars: tuple[str, ...],
    out_dir: str,
    include_host: tuple[str, ...],
    exclude_host: tuple[str, ...],
    rules: str | None,
    no_redact: bool,
    progress: bool | None,
) -> None:
    """Infer tool cards and a validated OpenAPI 3.1 document from HAR files or folders.

    Example: zapi analyze session.har more/ -o out/ --include-host api.example.com
    """
    from zapi.api import analyze as run_analyze
    from zapi.progress import progress_reporter

    show = sys.stderr.isatty() if progress is None else progress
    with progress_reporter(show) as report:
        result = run_analyze(
            list(hars),
            out_dir,
            include_hosts=include_host,
            exclude_hosts=exclude_host,
            rules=rules,
            redact=not no_redact,
            progress=report,
        )
    a = result.analysis
    click.echo(
        f"{len(result.card_paths)} tools from {a.entries_kept} API calls "
        f"({a.entries_read} entries, {sum(a.dropped.values())} dropped) -> {result.out_dir}"
    )


def _register_optional_commands() -> None:
    """Commands that live with their feature (recorder, runtime, workflows)."""
    import importlib

    for mod in ("zapi.cli_record", "zapi.cli_runtime", "zapi.cli_workflows"):
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise
            continue
        for command in getattr(module, "COMMANDS", []):
            cli.add_command(command)


_register_optional_commands()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code instead of exiting (callable from tests)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        # Without standalone mode click returns a command's ctx.exit(code) instead of exiting.
        code = cli.main(args=args, prog_name="zapi", standalone_mode=False)
    except ZapiError as exc:
        if debug:
            raise
        click.echo(f"error: {exc.message}", err=True)
        return 1
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.UsageError as exc:
        exc.show()
        return 2
    except click.ClickException as exc:
        exc.show()
        return 1
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())

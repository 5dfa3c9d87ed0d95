"""The ``zapi`` command line: a thin layer over the Python API.

Each subcommand parses arguments, calls one function of the Python API and
renders the result.  A :class:`~zapi.errors.ZapiError` becomes a one-line
message on stderr here and nowhere else.  Exit codes are the table of
:class:`zapi.cli.codes.ExitCode` (0 ok, 1 error, 2 usage, 3 paused, 4 denied); a
command may return one and :func:`main` passes it on.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Sequence

import click

from zapi.cli import auth, console, flows, record, serve, tools, workflows
from zapi.cli.codes import ExitCode
from zapi.cli.extras import missing_dependency_message
from zapi.errors import ScopeDenied, ZapiError

__all__ = ["COMMANDS", "cli", "main", "run"]


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
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of a line.")
def analyze(
    hars: tuple[str, ...],
    out_dir: str,
    include_host: tuple[str, ...],
    exclude_host: tuple[str, ...],
    rules: str | None,
    no_redact: bool,
    progress: bool | None,
    as_json: bool,
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
    _exit_without_freeing()  # the outputs are written; what remains is to say so
    for rule in result.unmatched_rules:
        click.echo(f"note: rule '{rule}' matched no path in the capture", err=True)
    if as_json:
        click.echo(json.dumps(result.summary(), indent=2, sort_keys=True))
        return
    a = result.analysis
    click.echo(
        f"{len(result.card_paths)} tools from {a.entries_kept} API calls "
        f"({a.entries_read} entries, {sum(a.dropped.values())} dropped) -> {result.out_dir}"
    )


# Set by a command that is done and whose process holds only what it built (an analysis:
# millions of objects): ``run`` then ends the process without freeing them one by one,
# as mypy does (a tenth of the wall time of analysing a 22 MB capture).
_FAST_EXIT = False


def _exit_without_freeing() -> None:
    global _FAST_EXIT
    _FAST_EXIT = True


COMMANDS: list[click.Command] = [
    *record.COMMANDS,
    *tools.COMMANDS,
    *workflows.COMMANDS,
    *console.COMMANDS,
    *serve.COMMANDS,
    *flows.COMMANDS,
    *auth.COMMANDS,
]
for _command in COMMANDS:
    cli.add_command(_command)


def _hoist_debug(args: list[str]) -> tuple[list[str], bool]:
    """Accept ``--debug`` anywhere before ``--`` (``zapi call ... --debug`` too)."""
    end = args.index("--") if "--" in args else len(args)
    debug = "--debug" in args[:end]
    if not debug:
        return args, False
    rest = [a for a in args[:end] if a != "--debug"] + args[end:]
    return ["--debug", *rest], True


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code instead of exiting (callable from tests)."""
    args, debug = _hoist_debug(list(sys.argv[1:] if argv is None else argv))
    try:
        rv = cli.main(args=args, prog_name="zapi", standalone_mode=False)
    except ZapiError as exc:
        if debug:
            raise
        click.echo(f"error: {exc.message}", err=True)
        return ExitCode.DENIED if isinstance(exc, ScopeDenied) else ExitCode.ERROR
    except ModuleNotFoundError as exc:
        fix = missing_dependency_message(exc.name or "")
        if debug or fix is None:
            raise
        click.echo(f"error: {fix}", err=True)
        return ExitCode.ERROR
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return ExitCode.ERROR
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.UsageError as exc:
        exc.show()
        return ExitCode.USAGE
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return int(rv) if isinstance(rv, int) else ExitCode.OK


def run() -> None:
    """The ``zapi`` program (console script, ``python -m zapi``): run the CLI and exit."""
    code = main()
    if _FAST_EXIT:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError):  # a reader that went away (| head)
                stream.flush()
        os._exit(code)  # every file is written and closed; no child process is left
    sys.exit(code)


if __name__ == "__main__":
    run()

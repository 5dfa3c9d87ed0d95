"""``zapi call``, ``tools``, ``log`` and ``export``: the runtime on the command line."""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click

from zapi.cli.codes import ExitCode
from zapi.errors import ExecutionError

__all__ = ["COMMANDS"]


def _parse_arg(raw: str, schema: dict[str, Any]) -> tuple[str, Any]:
    name, eq, value = raw.partition("=")
    if not eq:
        raise click.BadParameter(f"{raw!r}: expected NAME=VALUE", param_hint="--arg")
    kind = schema.get("properties", {}).get(name, {}).get("type")
    if kind in ("integer", "number", "boolean", "array", "object"):
        try:
            return name, json.loads(value)
        except ValueError as exc:
            raise click.BadParameter(
                f"{name}: {value!r} is not a JSON {kind}", param_hint="--arg"
            ) from exc
    return name, value


def _state_path(state: str | None, out_dir: str | None) -> str:
    if state:
        return os.path.join(state, "zapi.db") if os.path.isdir(state) else state
    return os.path.join(out_dir or ".", "zapi.db")


@contextmanager
def _log_hint(state_path: str, out_dir: str) -> Iterator[None]:
    """Make a failed call's ``zapi log`` hint read the action log this call wrote."""
    try:
        yield
    except ExecutionError as exc:
        where = out_dir if state_path == _state_path(None, out_dir) else state_path
        hint = f"`zapi log --state {shlex.quote(where)} --tool "
        if "`zapi log --tool " in exc.message:
            exc.message = exc.message.replace("`zapi log --tool ", hint)
        elif exc.tool and "record_id" in exc.context and "`zapi log" not in exc.message:
            exc.message += f"; see {hint}{exc.tool}`"
        exc.args = (exc.message,)
        raise


@click.command("call")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("tool")
@click.option(
    "--arg",
    "pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="One argument (typed by the card's schema); repeatable.",
)
@click.option("--json", "json_args", metavar="JSON", help="All arguments as a JSON object.")
@click.option("--base-url", help="Call this origin instead of the recorded one.")
@click.option(
    "--trust-base-url",
    is_flag=True,
    help="Send the cards' credentials to --base-url although it is another host.",
)
@click.option(
    "--credentials",
    "creds_file",
    type=click.Path(dir_okay=False),
    help="Credentials file (JSON with env:/file: references).",
)
@click.option(
    "--auth",
    "auth_refs",
    multiple=True,
    metavar="SCHEME=REF",
    help="A credential reference, e.g. bearer=env:API_TOKEN; repeatable.",
)
@click.option(
    "--storage-state",
    type=click.Path(dir_okay=False),
    help="Playwright storage-state JSON with session cookies.",
)
@click.option("--state", help="Action-log SQLite file (default OUT/zapi.db).")
@click.option("--no-verify", is_flag=True, help="Skip read-after-write verification.")
@click.option(
    "--files-root",
    type=click.Path(file_okay=False),
    help="File arguments must lie under this folder (default: the current folder).",
)
def call_command(
    out_dir: str,
    tool: str,
    pairs: tuple[str, ...],
    json_args: str | None,
    base_url: str | None,
    trust_base_url: bool,
    creds_file: str | None,
    auth_refs: tuple[str, ...],
    storage_state: str | None,
    state: str | None,
    no_verify: bool,
    files_root: str | None,
) -> None:
    """Call one tool and print its JSON result.

    Example: zapi call out/ update_item_stock --arg item_id=A-1 --arg quantity=7
    --credentials creds.json
    """
    import runtime
    from runtime.credentials import load_credentials

    refs = {}
    for ref in auth_refs:
        scheme, eq, value = ref.partition("=")
        if not eq:
            raise click.BadParameter(f"{ref!r}: expected SCHEME=REF", param_hint="--auth")
        refs[scheme] = value
    creds = load_credentials(creds_file, refs=refs, storage_state=storage_state, environ=os.environ)
    state_path = _state_path(state, out_dir)
    with (
        _log_hint(state_path, out_dir),
        runtime.open(
            out_dir,
            credentials=creds,
            state=state_path,
            base_url=base_url,
            files_root=files_root,
            send_credentials_to=(base_url,) if base_url and trust_base_url else (),
        ) as rt,
    ):
        args: dict[str, Any] = {}
        if json_args:
            try:
                loaded = json.loads(json_args)
            except ValueError as exc:
                raise click.BadParameter(f"not JSON: {exc}", param_hint="--json") from exc
            if not isinstance(loaded, dict):
                raise click.BadParameter("expected a JSON object", param_hint="--json")
            args.update(loaded)
        schema = rt.cards[tool].input_schema if tool in rt.cards else {}
        args.update(_parse_arg(p, schema) for p in pairs)
        result = rt.execute(tool, args, verify=not no_verify)
    click.echo(json.dumps(result.model_dump(mode="json"), indent=2, sort_keys=True))


@click.command("tools")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def tools_command(out_dir: str, as_json: bool) -> None:
    """List the tools of an analyzer output folder with their safety class.

    Example: zapi tools out/
    """
    from toolgen.cards import load_cards

    cards = load_cards(out_dir)
    rows: list[dict[str, Any]] = [
        {
            "name": c.name,
            "safety": c.safety,
            "method": c.method,
            "path": c.path,
            "origin": c.origin,
            "args": sorted(c.input_schema.get("properties", {})),
            "verified": c.verification is not None,
            "reconcile": c.reconcile is not None,
        }
        for c in cards.values()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    width = max(len(r["name"]) for r in rows)
    several = len({r["origin"] for r in rows}) > 1  # same path on two hosts: say which
    for r in rows:
        where = f"{r['origin']}{r['path']}" if several else r["path"]
        click.echo(f"{r['name']:<{width}}  {r['safety']:<11} {r['method']:<6} {where}")


def _since(value: str | None) -> float | None:
    if not value:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if value[-1:] in units and value[:-1].isdigit():
        return datetime.now(UTC).timestamp() - int(value[:-1]) * units[value[-1]]
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r}: use 10m, 2h, 1d or an ISO time", param_hint="--since"
        ) from exc
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _open_log(state: str) -> Any:
    from runtime.actionlog import ActionLog, SqliteStore

    path = _state_path(state, None)
    if not os.path.exists(path):
        raise click.ClickException(f"{path}: no action log here; pass --state FILE or OUT")
    return ActionLog(SqliteStore(path, key=os.environ.get("ZAPI_LOG_KEY")))


def _line(rec: Any) -> str:
    ev = rec.event
    ts = datetime.fromtimestamp(ev.ts, UTC).strftime("%Y-%m-%d %H:%M:%S")
    detail = {
        "attempt_started": lambda: f"#{ev.attempt} {ev.method} {ev.url}",
        "attempt_finished": lambda: (
            f"#{ev.attempt} {ev.status or ev.error} {ev.outcome} "
            f"{ev.elapsed_ms:.1f}ms" + (f" drift={len(ev.drift)}" if ev.drift else "")
        ),
        "reconciled": lambda: f"{ev.result} -> {ev.action}: {ev.detail}",
        "verification": lambda: f"ok={ev.ok} reads={ev.reads} mismatches={len(ev.mismatches)}",
        "call_finished": lambda: f"ok={ev.ok} attempts={ev.attempts} {ev.message}",
    }[ev.kind]()
    return f"{rec.seq:>6} {ts} {ev.tool:<24} {ev.kind:<16} {ev.code:<20} {detail}"


def _read_records(
    log: Any, *, tool: str | None, since: float | None
) -> tuple[list[Any], list[tuple[int, str]]]:
    """The readable records (filtered) and ``(seq, why)`` for each one that is not."""
    from pydantic import ValidationError

    from runtime import LogRecord

    records: list[Any] = []
    unreadable: list[tuple[int, str]] = []
    for seq, payload, prev, digest in log.store.rows():
        try:
            event = json.loads(payload)
            rec = LogRecord.model_validate(
                {"seq": seq, "prev_hash": prev, "hash": digest, "event": event}
            )
        except ValidationError as exc:
            unreadable.append((seq, f"{exc.error_count()} field error(s)"))
            continue
        except ValueError:
            unreadable.append((seq, "payload is not JSON"))
            continue
        if tool is not None and rec.event.tool != tool:
            continue
        if since is not None and rec.event.ts < since:
            continue
        records.append(rec)
    return records, unreadable


@click.group("log", invoke_without_command=True)
@click.option(
    "--state",
    default=".",
    show_default=True,
    help="Action-log SQLite file, or a folder holding zapi.db.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON record per line.")
@click.option("--tool", help="Only this tool.")
@click.option("--since", help="Only records newer than 10m, 2h, 1d or an ISO time.")
@click.option("--drift", is_flag=True, help="Only drift findings.")
@click.pass_context
def log_group(
    ctx: click.Context,
    state: str,
    as_json: bool,
    tool: str | None,
    since: str | None,
    drift: bool,
) -> None:
    """Show the action log (use `zapi log verify` to check its hash chain).

    Example: zapi log --state out/ --tool update_stock --since 1h
    """
    ctx.ensure_object(dict)
    ctx.obj["state"] = state
    if ctx.invoked_subcommand is not None:
        return
    log = _open_log(state)
    try:
        records, unreadable = _read_records(log, tool=tool, since=_since(since))
    finally:
        log.close()
    for rec in records:
        findings = getattr(rec.event, "drift", [])
        if drift:
            for f in findings:
                item = {"seq": rec.seq, "tool": rec.event.tool, **f.model_dump(mode="json")}
                click.echo(
                    json.dumps(item)
                    if as_json
                    else f"{rec.seq:>6} {rec.event.tool:<24} {f.kind:<24} {f.pointer} {f.detail}"
                )
            continue
        click.echo(
            json.dumps(rec.model_dump(mode="json"), sort_keys=True) if as_json else _line(rec)
        )
    for seq, why in unreadable:
        click.echo(
            f"error: record {seq} of {_state_path(state, None)} is not a valid action-log "
            f"record ({why}); run `zapi log verify --state {shlex.quote(state)}`",
            err=True,
        )
    if unreadable:
        ctx.exit(ExitCode.ERROR)


@log_group.command("verify")
@click.option(
    "--state",
    "own_state",
    default=None,
    help="Action-log SQLite file, or a folder holding zapi.db (same as `zapi log --state`).",
)
@click.pass_context
def log_verify(ctx: click.Context, own_state: str | None) -> None:
    """Check the hash chain of the action log; exit 1 naming the first tampered record.

    Example: zapi log verify --state out/
    """
    log = _open_log(own_state or ctx.obj["state"])
    try:
        report = log.verify()
    finally:
        log.close()
    if not report.ok:
        raise click.ClickException(
            f"action log chain broken at record {report.broken_at}: {report.reason}"
        )
    anchored = "head matches its anchor" if report.anchored else "no anchor"
    note = f" ({report.note})" if report.note else ""
    click.echo(f"action log intact: {report.checked} records, {anchored}{note}")


@click.command("export")
@click.argument("out_dir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--format",
    "fmt",
    required=True,
    type=click.Choice(["mcp", "openai", "anthropic", "python", "langchain"]),
    help="What to render.",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="File to write (stdout if omitted)."
)
def export_command(out_dir: str, fmt: str, output: str | None) -> None:
    """Export the tools for agents: MCP, OpenAI or Anthropic tool lists, or a Python client.

    Example: zapi export out/ --format mcp -o tools.json
    """
    from toolgen.cards import load_cards
    from toolgen.render import render
    from zapi.files import atomic_write

    text = render(load_cards(out_dir).values(), fmt)
    if output:
        atomic_write(output, text)
        click.echo(f"wrote {output}", err=True)
    else:
        sys.stdout.write(text)


COMMANDS = [call_command, tools_command, log_group, export_command]

"""``zapi run``, ``zapi worker`` and ``zapi runs ...``: durable workflows on the command line."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any

import click

__all__ = ["COMMANDS"]

DB_HELP = "Runs database: a SQLite path or URL, or postgresql://... (env ZAPI_RUNS_DB)."


def _db_url(db: str | None) -> str:
    raw = db or os.environ.get("ZAPI_RUNS_DB") or "zapi-runs.db"
    if "://" in raw:
        return raw
    return "sqlite:///" + os.path.abspath(raw)


def _client(db: str | None) -> Any:
    from runtime.workflows import RunsClient

    return RunsClient(_db_url(db))


def _pairs(items: tuple[str, ...], what: str) -> dict[str, Any]:
    from runtime.workflows.approvals import parse_set

    try:
        return parse_set(items)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=what) from exc


def _worker_config(
    db_url: str,
    runner: str | None,
    runner_args: tuple[str, ...],
    tools: str | None,
    base_url: str | None,
    credentials: str | None,
    modules: tuple[str, ...],
    policy: str | None,
    executor_id: str,
    concurrency: int,
) -> Any:
    from runtime.workflows import WorkerConfig

    if tools and runner:
        raise click.UsageError("give either --tools or --runner, not both")
    if tools:
        runner = "runtime.workflows.adapters:open_runtime_runner"
        args: dict[str, Any] = {
            "tools": os.path.abspath(tools),
            "base_url": base_url,
            "credentials": credentials,
        }
    elif runner:
        args = _pairs(runner_args, "--runner-arg")
    else:
        raise click.UsageError("say how to call tools: --tools OUT_DIR or --runner MODULE:FACTORY")
    return WorkerConfig(
        database_url=db_url,
        runner=runner,
        runner_args=args,
        modules=list(modules),
        policy=os.path.abspath(policy) if policy else None,
        executor_id=executor_id,
        worker_concurrency=concurrency,
    )


def _tool_options(fn: Any) -> Any:
    for option in reversed(
        [
            click.option("--db", help=DB_HELP),
            click.option(
                "--tools",
                type=click.Path(exists=True, file_okay=False),
                help="Tool folder from `zapi analyze` (runs through the zapi runtime).",
            ),
            click.option("--base-url", help="With --tools: call this origin."),
            click.option(
                "--credentials",
                type=click.Path(dir_okay=False),
                help="With --tools: credentials file.",
            ),
            click.option("--runner", metavar="MODULE:FACTORY", help="A custom ToolRunner factory."),
            click.option(
                "--runner-arg",
                "runner_args",
                multiple=True,
                metavar="K=V",
                help="Argument for the --runner factory; repeatable.",
            ),
            click.option(
                "--module",
                "modules",
                multiple=True,
                help="Import this module to register @workflow functions; repeatable.",
            ),
            click.option(
                "--policy",
                type=click.Path(exists=True, dir_okay=False),
                help="Permissions policy file (YAML/JSON).",
            ),
        ]
    ):
        fn = option(fn)
    return fn


def _show(info: Any) -> None:
    click.echo(f"run {info.run_id}: {info.status}")
    state = info.state
    if state is not None and state.message:
        click.echo(f"  {state.message}")
    if info.parked and state is not None and state.wait is not None:
        wait = state.wait
        if wait.values:
            click.echo(f"  values: {json.dumps(wait.values, sort_keys=True)}")
        if wait.error:
            click.echo(f"  error: {json.dumps(wait.error, sort_keys=True, default=str)}")
        if wait.deadline:
            click.echo(f"  deadline: {wait.deadline}")
        verbs = " | ".join(wait.accepts)
        click.echo(f"  next: zapi runs {verbs} {info.run_id} --by NAME")
    if info.final and info.output is not None:
        click.echo(f"  output: {json.dumps(info.output, sort_keys=True, default=str)}")


@click.command("run")
@click.argument("plan_path", metavar="PLAN", type=click.Path(exists=True, dir_okay=False))
@click.option("--input", "inputs", multiple=True, metavar="K=V", help="A plan input; repeatable.")
@click.option("--run-id", help="Use this run id (starting it twice returns the same run).")
@click.option("--no-worker", is_flag=True, help="Only queue the run; a running worker takes it.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for the run.")
@_tool_options
def run_command(
    plan_path: str,
    inputs: tuple[str, ...],
    run_id: str | None,
    no_worker: bool,
    timeout: float,
    db: str | None,
    tools: str | None,
    base_url: str | None,
    credentials: str | None,
    runner: str | None,
    runner_args: tuple[str, ...],
    modules: tuple[str, ...],
    policy: str | None,
) -> None:
    """Run a YAML/JSON plan durably until it finishes or parks for a person.

    Example: zapi run plan.yaml --input order_id=ORD-1 --runner samples.plans.runner:make_runner
    """
    from runtime.workflows import RunSpec, bind_inputs, load_plan
    from runtime.workflows.worker import run_with_worker

    plan = load_plan(plan_path)
    given = {
        k: str(v) if not isinstance(v, str) else v for k, v in _pairs(inputs, "--input").items()
    }
    bind_inputs(plan, given)
    db_url = _db_url(db)
    config = (
        None
        if no_worker
        else _worker_config(
            db_url, runner, runner_args, tools, base_url, credentials, modules, policy, "local", 8
        )
    )
    with _client(db) as client:
        spec = RunSpec(
            kind="plan", workflow=plan.name, plan=plan.model_dump(mode="json"), inputs=given
        )
        rid = client.start(spec, run_id=run_id)
        if config is None:
            click.echo(f"queued run {rid}")
            return
        with tempfile.TemporaryDirectory() as tmp:
            info = run_with_worker(
                client, rid, config, os.path.join(tmp, "worker.json"), timeout_s=timeout
            )
        _show(info)
        if info.final and info.status != "succeeded":
            raise click.exceptions.Exit(1)


@click.command("worker")
@click.option(
    "--executor-id",
    default="local",
    show_default=True,
    help="Stable worker identity: a restarted worker recovers its runs.",
)
@click.option("--concurrency", default=8, show_default=True, help="Runs executed at once.")
@_tool_options
def worker_command(
    executor_id: str,
    concurrency: int,
    db: str | None,
    tools: str | None,
    base_url: str | None,
    credentials: str | None,
    runner: str | None,
    runner_args: tuple[str, ...],
    modules: tuple[str, ...],
    policy: str | None,
) -> None:
    """Serve queued and resumed runs until interrupted (SIGTERM/Ctrl-C).

    Example: zapi worker --db postgresql://zapi@127.0.0.1/zapi --executor-id w1 --tools out/
    """
    from runtime.workflows.worker import main as worker_main

    config = _worker_config(
        _db_url(db),
        runner,
        runner_args,
        tools,
        base_url,
        credentials,
        modules,
        policy,
        executor_id,
        concurrency,
    )
    fd, path = tempfile.mkstemp(suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(config.model_dump_json())
    raise click.exceptions.Exit(worker_main([path]))


@click.group("runs")
def runs_group() -> None:
    """List, inspect, decide and export durable runs.

    Example: zapi runs list --db runs.db
    """


@runs_group.command("list")
@click.option("--db", help=DB_HELP)
@click.option("--status", help="Only runs with this status (e.g. waiting_approval).")
@click.option("--limit", default=50, show_default=True)
def runs_list(db: str | None, status: str | None, limit: int) -> None:
    """List recent runs, newest first.

    Example: zapi runs list --status waiting_approval
    """
    with _client(db) as client:
        rows = [
            (i.run_id, i.status, i.kind, i.workflow, str(i.state.step if i.state else 0))
            for i in client.list_runs(limit=limit, status=status)
        ]
    table = [("RUN", "STATUS", "KIND", "WORKFLOW", "STEP"), *rows]
    widths = [max(len(row[c]) for row in table) for c in range(5)]
    for row in table:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


@runs_group.command("show")
@click.argument("run_id", metavar="RUN")
@click.option("--db", help=DB_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def runs_show(run_id: str, db: str | None, as_json: bool) -> None:
    """Show a run's status, what it waits for and how to continue.

    Example: zapi runs show run-1a2b3c
    """
    with _client(db) as client:
        info = client.get(run_id)
        if as_json:
            click.echo(json.dumps(info.summary(), indent=2, sort_keys=True, default=str))
        else:
            _show(info)


def _decide(
    action: str,
    run_id: str,
    db: str | None,
    by: str,
    note: str,
    changes: dict[str, Any] | None = None,
) -> Any:
    with _client(db) as client:
        decision = client.decide(run_id, action, by=by, note=note, changes=changes)
        extra = f" with {json.dumps(decision.changes, sort_keys=True)}" if decision.changes else ""
        click.echo(
            f"{action} for run {run_id} recorded by {by} at {decision.at}{extra}; "
            "a worker applies it (now, or when one starts)"
        )
        return decision


@runs_group.command("approve")
@click.argument("run_id", metavar="RUN")
@click.option("--by", required=True, help="Who approves.")
@click.option("--note", default="", help="Why.")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="K=V",
    help="Change an approval value (e.g. narrow the scope); repeatable.",
)
@click.option("--db", help=DB_HELP)
def runs_approve(run_id: str, by: str, note: str, sets: tuple[str, ...], db: str | None) -> None:
    """Approve the run's pending approval; the run continues with the approved values.

    Example: zapi runs approve run-1a2b3c --by alice --note "checked" --set quantity=5
    """
    _decide("approve", run_id, db, by, note, _pairs(sets, "--set"))


@runs_group.command("reject")
@click.argument("run_id", metavar="RUN")
@click.option("--by", required=True, help="Who rejects.")
@click.option("--note", default="", help="Why.")
@click.option("--db", help=DB_HELP)
def runs_reject(run_id: str, by: str, note: str, db: str | None) -> None:
    """Reject the run's pending approval; its committed steps are compensated.

    Example: zapi runs reject run-1a2b3c --by bob --note "wrong warehouse"
    """
    _decide("reject", run_id, db, by, note)


@runs_group.command("resume")
@click.argument("run_id", metavar="RUN")
@click.option("--by", default="operator", show_default=True, help="Who resumes.")
@click.option("--note", default="", help="Why.")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="K=V",
    help="landed=true|false: your finding for a write nothing can reconcile.",
)
@click.option(
    "--wait/--no-wait",
    "wait",
    default=True,
    help="Run a worker here until the run finishes or parks again.",
)
@click.option("--timeout", default=300.0, show_default=True)
@click.option(
    "--adopt",
    is_flag=True,
    help="Continue a run started with another tool set on these tools (replay-checked).",
)
@_tool_options
def runs_resume(
    run_id: str,
    by: str,
    note: str,
    sets: tuple[str, ...],
    wait: bool,
    timeout: float,
    adopt: bool,
    db: str | None,
    tools: str | None,
    base_url: str | None,
    credentials: str | None,
    runner: str | None,
    runner_args: tuple[str, ...],
    modules: tuple[str, ...],
    policy: str | None,
) -> None:
    """Resume a paused run: the step is reconciled first, never blindly resent.

    Example: zapi runs resume run-1a2b3c --by ops --tools out/ --base-url http://127.0.0.1:8001
    """
    from runtime.workflows.worker import check_tool_set, run_with_worker

    if not wait or not (tools or runner):
        _decide("resume", run_id, db, by, note, _pairs(sets, "--set"))
        return
    db_url = _db_url(db)
    config = _worker_config(
        db_url, runner, runner_args, tools, base_url, credentials, modules, policy, "local", 8
    )
    with _client(db) as client, tempfile.TemporaryDirectory() as tmp:
        info = client.get(run_id)
        if info.app_version:
            check_tool_set(config, info.app_version, run_id, adopt=adopt)
            config = config.model_copy(update={"app_version": info.app_version})
        decision = _decide("resume", run_id, db, by, note, _pairs(sets, "--set"))
        info = run_with_worker(
            client,
            run_id,
            config,
            os.path.join(tmp, "worker.json"),
            timeout_s=timeout,
            past=decision,
        )
        _show(info)


@runs_group.command("cancel")
@click.argument("run_id", metavar="RUN")
@click.option("--by", default="operator", show_default=True, help="Who cancels.")
@click.option("--note", default="", help="Why.")
@click.option("--db", help=DB_HELP)
def runs_cancel(run_id: str, by: str, note: str, db: str | None) -> None:
    """Cancel a run; a parked run rolls back its committed steps.

    Example: zapi runs cancel run-1a2b3c --by alice
    """
    with _client(db) as client:
        click.echo(f"run {run_id}: {client.cancel(run_id, by=by, note=note)}")


@runs_group.command("export")
@click.argument("run_id", metavar="RUN")
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="File (default: stdout).")
@click.option("--db", help=DB_HELP)
def runs_export(run_id: str, out: str | None, db: str | None) -> None:
    """Write the run's complete story as JSONL (inputs, steps, attempts, decisions, rollback).

    Example: zapi runs export run-1a2b3c -o run.jsonl
    """
    from runtime.workflows.audit import export_run, write_jsonl

    with _client(db) as client:
        lines = export_run(client, run_id)
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            n = write_jsonl(lines, fh)
        click.echo(f"{n} events -> {out}")
    else:
        write_jsonl(lines, sys.stdout)


COMMANDS = [run_command, worker_command, runs_group]

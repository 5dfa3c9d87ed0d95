"""``zapi run``, ``zapi worker`` and ``zapi runs ...``: durable workflows on the command line.

Exit codes of ``zapi run`` and ``zapi runs resume`` (which drive a run) and ``zapi worker``:

====  =============================================================================
0     the run succeeded (or was queued with ``--no-worker``); a worker stopped cleanly
1     error, or the run ended failed, rejected or cancelled
2     usage error
3     the run is paused or waiting for a decision (approval or operator)
4     the run was denied by the policy
====  =============================================================================
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
from typing import Any

import click

from zapi.cli.codes import ExitCode

__all__ = ["COMMANDS"]

DB_HELP = "Runs database: a SQLite path or URL, or postgresql://... (env ZAPI_RUNS_DB)."


def _exit_code(info: Any) -> ExitCode:
    """OK succeeded, PAUSED parked, DENIED by the policy, ERROR any other end."""
    if info.parked:
        return ExitCode.PAUSED
    if info.status == "succeeded":
        return ExitCode.OK
    error = (info.output or {}).get("error") if isinstance(info.output, dict) else None
    if isinstance(error, dict) and error.get("code") == "scope_denied":
        return ExitCode.DENIED
    return ExitCode.ERROR if info.final else ExitCode.OK


def _db_url(db: str | None) -> str:
    raw = db or os.environ.get("ZAPI_RUNS_DB") or "zapi-runs.db"
    if "://" in raw:
        return raw
    return "sqlite:///" + os.path.abspath(raw)


def _client(db: str | None, *, create: bool = False) -> Any:
    """A client on the runs database; only ``zapi run`` and ``worker`` may create one."""
    from runtime.workflows import RunsClient

    return RunsClient(_db_url(db), create=create)


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


def _show(info: Any, client: Any = None, hint: str = "") -> None:
    """Print a run; for a parked run, what it waits for and the exact command to continue.

    ``hint`` holds the options the next command needs (``--db``, the runner's).
    """
    click.echo(f"run {info.run_id}: {info.status}")
    state = info.state
    if state is not None and state.message:
        click.echo(f"  {state.message}")
    if info.parked and state is not None and state.wait is not None:
        wait = state.wait
        if wait.values:
            click.echo(f"  values: {json.dumps(wait.values, sort_keys=True)}")
        if wait.narrow:
            click.echo(f"  --set may only narrow: {', '.join(wait.narrow)}")
        if wait.error:
            click.echo(f"  error: {json.dumps(wait.error, sort_keys=True, default=str)}")
        if wait.deadline:
            click.echo(f"  deadline: {wait.deadline}")
        pending = client.pending_decision(info) if client is not None else None
        if pending is not None:
            action, by, at = pending
            click.echo(
                f"  decision pending: {action} by {by} at {at}; a worker applies it when it "
                f"resumes the run (zapi worker ..., or zapi runs resume {info.run_id} with "
                "the runner options)"
            )
        else:
            verbs = " | ".join(wait.accepts)
            click.echo(f"  next: zapi runs {verbs} {info.run_id} --by NAME{hint}")
    if info.final and info.output is not None:
        click.echo(f"  output: {json.dumps(info.output, sort_keys=True, default=str)}")


def _hint(
    db: str | None,
    tools: str | None,
    base_url: str | None,
    credentials: str | None,
    runner: str | None,
    runner_args: tuple[str, ...],
    modules: tuple[str, ...],
    policy: str | None,
) -> str:
    """The options a follow-up ``zapi runs resume`` needs to reach the same run and tools."""
    parts: list[str] = ["--db", db or os.environ.get("ZAPI_RUNS_DB") or "zapi-runs.db"]
    for flag, value in (
        ("--tools", tools),
        ("--base-url", base_url),
        ("--credentials", credentials),
        ("--runner", runner),
        ("--policy", policy),
    ):
        if value:
            parts += [flag, value]
    for arg in runner_args:
        parts += ["--runner-arg", arg]
    for module in modules:
        parts += ["--module", module]
    return " " + " ".join(shlex.quote(p) for p in parts)


def _python_target(target: str) -> tuple[str, str]:
    """``MODULE:FUNCTION`` -> (module, workflow name); a bad target is a usage error."""
    from runtime.workflows.definitions import resolve_target
    from zapi.errors import WorkflowError

    try:
        return resolve_target(target)
    except WorkflowError as exc:
        raise click.UsageError(exc.message) from exc


@click.command("run")
@click.argument("target", metavar="PLAN|MODULE:FUNCTION")
@click.option(
    "--input",
    "inputs",
    multiple=True,
    metavar="K=V",
    help="A run input (JSON or text); repeatable.",
)
@click.option("--run-id", help="Use this run id (starting it twice returns the same run).")
@click.option("--no-worker", is_flag=True, help="Only queue the run; a running worker takes it.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for the run.")
@_tool_options
def run_command(
    target: str,
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
    """Run a YAML/JSON plan or a Python @workflow durably until it finishes or parks.

    Exit code: 0 succeeded, 1 failed/rejected/cancelled, 3 paused or waiting for a
    decision, 4 denied by the policy.

    Example: zapi run plan.yaml --input order_id=ORD-1 --runner samples.plans.runner:make_runner
    """
    from runtime.workflows import RunSpec, bind_inputs, load_plan
    from runtime.workflows.worker import run_with_worker

    given = _pairs(inputs, "--input")
    if os.path.isfile(target):
        plan = load_plan(target)
        given = {k: str(v) if not isinstance(v, str) else v for k, v in given.items()}
        bind_inputs(plan, given)
        spec = RunSpec(
            kind="plan", workflow=plan.name, plan=plan.model_dump(mode="json"), inputs=given
        )
    else:
        module, name = _python_target(target)
        modules = tuple(dict.fromkeys([*modules, module]))
        spec = RunSpec(kind="python", workflow=name, inputs=given)
    db_url = _db_url(db)
    config = (
        None
        if no_worker
        else _worker_config(
            db_url, runner, runner_args, tools, base_url, credentials, modules, policy, "local", 8
        )
    )
    hint = _hint(db, tools, base_url, credentials, runner, runner_args, modules, policy)
    with _client(db, create=True) as client:
        rid = client.start(spec, run_id=run_id)
        if config is None:
            click.echo(f"queued run {rid}")
            return
        with tempfile.TemporaryDirectory() as tmp:
            info = run_with_worker(
                client, rid, config, os.path.join(tmp, "worker.json"), timeout_s=timeout
            )
        _show(info, client, hint)
        code = _exit_code(info)
    if code:
        raise click.exceptions.Exit(code)


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

    Exit code: 0 stopped cleanly, 1 could not start (database, runner, module), 2 usage.

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
        infos = client.list_runs(limit=limit, status=status)
        click.echo(f"runs in {client.where()}: {len(infos)}")
        if infos:
            width = max(len(i.run_id) for i in infos)
            click.echo(f"{'RUN':<{width}}  {'STATUS':<17} {'KIND':<6} {'STEP':>4}  WORKFLOW")
        for info in infos:
            step = info.state.step if info.state else 0
            click.echo(
                f"{info.run_id:<{width}}  {info.status:<17} {info.kind:<6} {step:>4}  "
                f"{info.workflow}"
            )


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
            _show(info, client, _hint(db, None, None, None, None, (), (), None))


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
            f"{action} for run {run_id} recorded by {by} at {decision.at}{extra}; it is "
            "pending until a worker resumes the run (a running `zapi worker` on this "
            "database does it now)"
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
    help=(
        "Change an approval value: it must keep the value's schema (the step's input schema "
        "or the proposed value's type), and a narrow-only value may only shrink; repeatable."
    ),
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

    With --tools/--runner a worker runs here until the run ends or parks again (exit codes
    as for `zapi run`); without, the decision is recorded for the next worker.

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
        _show(
            info,
            client,
            _hint(db, tools, base_url, credentials, runner, runner_args, modules, policy),
        )
        code = _exit_code(info)
    if code:
        raise click.exceptions.Exit(code)


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

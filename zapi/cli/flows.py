"""``zapi plan``, ``diff`` and ``check``: flows from a recording, drift between captures."""

from __future__ import annotations

import json

import click

from zapi.cli.codes import ExitCode

__all__ = ["COMMANDS"]


@click.command("plan")
@click.argument("har", type=click.Path(exists=True))
@click.option(
    "--tools",
    "tools_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="Tool folder from `zapi analyze`.",
)
@click.option(
    "-o", "--out", "out_path", type=click.Path(dir_okay=False), help="Plan file (default: stdout)."
)
@click.option("--name", default="", help="Plan name (default: the HAR's file name).")
@click.option(
    "--only", multiple=True, metavar="TOOL", help="Only the writes of this tool; repeatable."
)
def plan_command(
    har: str, tools_dir: str, out_path: str | None, name: str, only: tuple[str, ...]
) -> None:
    """Turn the writes of a recording (and the reads they need) into a plan for `zapi run`.

    Values an earlier response gave become ${steps.ID.output...}; values typed in the
    recording become ${inputs.x} (defaults = the recorded values); writes get their
    card's verification and, when a tool can undo them, a compensate.

    Example: zapi plan session.har --tools out/ -o plan.yaml
    """
    from zapi.api import plan_recording
    from zapi.files import atomic_write

    plan, text = plan_recording(har, tools_dir, name=name, only=only)
    if not out_path:
        click.echo(text, nl=False)
        return
    atomic_write(out_path, text)
    writes = sum(1 for s in plan["steps"] if "verify" in s or "compensate" in s)
    click.echo(
        f"wrote {out_path}: {len(plan['steps'])} steps ({writes} verified or compensated), "
        f"{len(plan['inputs'])} inputs"
    )


@click.command("diff")
@click.argument("old", type=click.Path(exists=True))
@click.argument("new", type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def diff_command(old: str, new: str, as_json: bool) -> int:
    """What changed between two captures (analysis folders, or HARs analysed on the fly).

    Exit code 1 when a change breaks callers of the OLD tools (for CI).

    Example: zapi diff out-january/ out-march/ --json
    """
    from zapi.api import diff_captures

    report = diff_captures(old, new)
    if as_json:
        data = json.loads(report.dump())
        data["breaking"] = report.has_breaking
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        for line in report.lines():
            click.echo(line)
    return ExitCode.ERROR if report.has_breaking else ExitCode.OK


@click.command("check")
@click.argument("har", type=click.Path(exists=True))
@click.option(
    "--against",
    "tools_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="Tool folder from `zapi analyze`.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def check_command(har: str, tools_dir: str, as_json: bool) -> int:
    """Check recorded traffic against tool cards, like a contract test (exit 1 on findings).

    Example: zapi check new-session.har --against out/
    """
    from zapi.api import check_recording

    report = check_recording(har, tools_dir)
    if as_json:
        click.echo(json.dumps(report.model_dump(mode="json"), indent=2, sort_keys=True))
    else:
        for f in report.findings:
            click.echo(f"entry {f.entry} {f.tool}: {f.detail}")
        for op in report.unknown_operations:
            click.echo(f"no card for {op}")
        verdict = "agrees with" if report.ok else "disagrees with"
        click.echo(
            f"{report.calls} calls checked: {len(report.findings)} findings, "
            f"{len(report.unknown_operations)} unknown operations; the traffic {verdict} "
            f"{tools_dir}"
        )
    return ExitCode.OK if report.ok else ExitCode.ERROR


COMMANDS: list[click.Command] = [plan_command, diff_command, check_command]

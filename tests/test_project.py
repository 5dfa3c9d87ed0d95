"""Project hygiene: import DAG, public API, committed card schema, CLI docs, lint and types."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import zapi
from toolgen.cards import ToolCard

ROOT = Path(__file__).resolve().parent.parent


class TestPublicApi:
    """zapi.__all__ is sorted and every name resolves."""

    def test_all(self) -> None:
        assert zapi.__all__ == sorted(zapi.__all__)
        for name in zapi.__all__:
            assert getattr(zapi, name) is not None


class TestCardSchema:
    """The committed JSON Schema of the tool card is current (regenerate with --update-goldens)."""

    def test_committed_schema_is_current(self, update_goldens: bool) -> None:
        path = ROOT / "toolgen" / "schema" / "toolcard.schema.json"
        current = json.dumps(ToolCard.model_json_schema(), indent=2, sort_keys=True) + "\n"
        if update_goldens:
            path.write_text(current)
        assert path.exists(), (
            f"{path} is missing: run pytest tests/test_project.py --update-goldens"
        )
        assert path.read_text() == current, (
            "the card model changed: run pytest tests/test_project.py -k schema --update-goldens"
            " and review the diff"
        )


def _commands() -> list[str]:
    from zapi.cli import cli

    return sorted(cli.commands)


class TestCliDocs:
    """Every subcommand has help with an Example line and appears in README.md."""

    @pytest.mark.parametrize("name", _commands())
    def test_command_documented(self, name: str) -> None:
        from zapi.cli import cli

        cmd = cli.commands[name]
        assert cmd.help and "Example:" in cmd.help, f"zapi {name} help lacks an Example: line"
        assert f"zapi {name}" in (ROOT / "README.md").read_text(), f"README lacks zapi {name}"


def _command_paths() -> list[tuple[str, ...]]:
    """Every command and subcommand as argv prefixes: (), ("analyze",), ("log", "verify")..."""
    import click

    from zapi.cli import cli

    out: list[tuple[str, ...]] = [()]

    def walk(group: click.Group, prefix: tuple[str, ...]) -> None:
        for name in sorted(group.commands):
            cmd = group.commands[name]
            out.append((*prefix, name))
            if isinstance(cmd, click.Group):
                walk(cmd, (*prefix, name))

    walk(cli, ())
    return out


class TestHelpSnapshot:
    """Every `--help` text matches its reviewed snapshot in tests/golden/help/."""

    @pytest.mark.parametrize("argv", _command_paths(), ids=lambda a: "-".join(a) or "zapi")
    def test_help(self, argv: tuple[str, ...], update_goldens: bool) -> None:
        from click.testing import CliRunner

        from zapi.cli import cli

        result = CliRunner().invoke(cli, [*argv, "--help"], prog_name="zapi", terminal_width=100)
        assert result.exit_code == 0, result.output
        golden = ROOT / "tests" / "golden" / "help" / f"{'-'.join(('zapi', *argv))}.txt"
        if update_goldens:
            golden.parent.mkdir(exist_ok=True)
            golden.write_text(result.output)
        assert golden.exists(), f"{golden} is missing: run pytest -k help --update-goldens"
        assert result.output == golden.read_text()

    def test_no_stale_snapshots(self) -> None:
        """A snapshot for a command that no longer exists is an error, not dead weight."""
        want = {"-".join(("zapi", *a)) + ".txt" for a in _command_paths()}
        have = {p.name for p in (ROOT / "tests" / "golden" / "help").glob("*.txt")}
        assert have <= want, sorted(have - want)


class TestTooling:
    """ruff and mypy are clean on the packages."""

    def test_ruff(self) -> None:
        exe = shutil.which("ruff")
        assert exe, "ruff is a test dependency"
        r = subprocess.run(
            [exe, "check", "zapi", "toolgen", "runtime", "samples", "tests", "bench"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, r.stdout[-3000:]

    def test_mypy(self) -> None:
        r = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
        assert r.returncode == 0, r.stdout[-3000:]

"""Project hygiene: import DAG, public API, committed card schema, CLI docs, lint and types."""

from __future__ import annotations

import json
import os
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
    """The committed JSON Schema of the tool card is current."""

    def test_committed_schema_is_current(self) -> None:
        path = ROOT / "toolgen" / "schema" / "toolcard.schema.json"
        current = json.dumps(ToolCard.model_json_schema(), indent=2, sort_keys=True) + "\n"
        if os.environ.get("ZAPI_UPDATE_SCHEMA") == "1":
            path.write_text(current)
        assert path.read_text() == current, "run ZAPI_UPDATE_SCHEMA=1 pytest tests/test_project.py"


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


class TestHelpSnapshot:
    """`zapi --help` matches the reviewed snapshot (regenerate with --update-goldens)."""

    def test_top_level_help(self, update_goldens: bool) -> None:
        from click.testing import CliRunner

        from zapi.cli import cli

        result = CliRunner().invoke(cli, ["--help"], prog_name="zapi", terminal_width=100)
        assert result.exit_code == 0
        golden = ROOT / "tests" / "golden" / "zapi_help.txt"
        if update_goldens or not golden.exists():
            golden.write_text(result.output)
        assert result.output == golden.read_text()


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

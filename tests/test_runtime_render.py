"""Exports for agents: MCP/OpenAI/Anthropic shapes, a generated client that is safe and clean."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeApi, FakeClock, card, cards

from toolgen.cards import Binding
from toolgen.render import (
    anthropic_tools,
    identifier,
    mcp_tools,
    openai_tools,
    py_str,
    python_client,
    render,
    template_dirs,
)

HOSTILE = "__import__('os').system('touch PWNED')"
NASTY_NAMES = [
    HOSTILE,
    'a"b\\c',
    "x\ny",
    "class",
    "self",
    "1st",
    "naïve key",
    "é" * 50,
    "'; DROP",
    "a" * 120,
    "with space and \u2028 separator",
    '"""',
    "_call",
]


def hostile_card() -> Any:
    props = {n: {"type": "string", "x-in": "body", "description": f'{n}"""'} for n in NASTY_NAMES}
    return card(
        "hostile_tool",
        "POST",
        "/h",
        description='desc """ \n import os; os.system("x")' * 5,
        input_schema={
            "type": "object",
            "properties": props,
            "required": [HOSTILE],
            "additionalProperties": False,
        },
        bindings=[Binding(arg=n, location="body", name=n) for n in NASTY_NAMES],
        body_media="application/json",
    )


def ruff(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("ruff")
    if exe is None:
        pytest.skip("ruff is not installed")
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, check=False)


class TestToolLists:
    """MCP, OpenAI and Anthropic tool lists carry schemas and hints."""

    def test_mcp(self) -> None:
        tools = {t["name"]: t for t in mcp_tools(cards())["tools"]}
        get, put = tools["get_item"], tools["update_stock"]
        assert get["annotations"]["readOnlyHint"] and get["annotations"]["openWorldHint"]
        assert put["annotations"]["idempotentHint"] and not put["annotations"]["readOnlyHint"]
        assert put["annotations"]["destructiveHint"] is False
        assert get["outputSchema"]["properties"]["sku"] == {"type": "string"}
        assert "x-in" not in json.dumps(mcp_tools([hostile_card()]))

    def test_openai_strict_only_when_it_qualifies(self) -> None:
        tools = {t["function"]["name"]: t["function"] for t in openai_tools(cards())}
        assert tools["get_item"]["strict"] is True
        assert tools["create_order"]["strict"] is False  # client_ref is optional

    def test_anthropic(self) -> None:
        tool = anthropic_tools(cards())[0]
        assert set(tool) == {"name", "description", "input_schema"}

    def test_render_json_is_deterministic(self) -> None:
        assert render(cards(), "mcp") == render(list(reversed(cards())), "mcp")
        with pytest.raises(ValueError, match="unknown export format"):
            render(cards(), "yaml")


class TestPythonClient:
    """The generated client compiles, is ruff-clean and never turns names into code."""

    def test_templates_found(self) -> None:
        assert template_dirs() and Path(template_dirs()[0], "python_client.py.j2").exists()

    def test_identifiers(self) -> None:
        taken: set[str] = set()
        assert identifier(HOSTILE, taken) == "import_os_system_touch_pwned"
        assert identifier("class", taken) == "class_"
        assert identifier("1st", taken) == "n_1st"
        assert identifier("a-b", taken) == "a_b" and identifier("a b", taken) == "a_b_2"
        assert eval(py_str('a"b\\c\n\u2028é')) == 'a"b\\c\n\u2028é'

    @pytest.mark.parametrize("which", ["fake", "hostile"])
    def test_compiles_and_is_clean(self, which: str, tmp_path: Path) -> None:
        source = python_client(cards() if which == "fake" else [hostile_card(), *cards()])
        compile(source, "client.py", "exec")
        path = tmp_path / "client.py"
        path.write_text(source)
        for config in (
            ["--isolated"],
            ["--config", str(Path(__file__).parents[1] / "pyproject.toml")],
        ):
            checked = ruff("check", *config, "client.py", cwd=tmp_path)
            assert checked.returncode == 0, checked.stdout + checked.stderr
            formatted = ruff("format", *config, "--check", "client.py", cwd=tmp_path)
            assert formatted.returncode == 0, formatted.stdout + formatted.stderr

    def test_hostile_names_stay_data(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.chdir(tmp_path)
        source = python_client([hostile_card()])
        namespace: dict[str, Any] = {}
        exec(compile(source, "client.py", "exec"), namespace)
        assert not (tmp_path / "PWNED").exists()
        calls: list[tuple[str, dict[str, Any]]] = []

        class Rt:
            def call(self, tool: str, /, **args: Any) -> Any:
                calls.append((tool, args))
                return type("R", (), {"data": "ok"})()

        client = namespace["Client"](Rt())
        assert client.hostile_tool(import_os_system_touch_pwned="v", class_="c") == "ok"
        assert calls == [("hostile_tool", {HOSTILE: "v", "class": "c"})]
        assert not (tmp_path / "PWNED").exists()

    def test_client_drives_a_runtime(self) -> None:
        from runtime import Credentials, Runtime

        api = FakeApi()
        source = python_client(cards())
        namespace: dict[str, Any] = {}
        exec(compile(source, "client.py", "exec"), namespace)
        clock = FakeClock()
        rt = Runtime(
            cards(),
            client=api.client(),
            clock=clock,
            sleep=clock.sleep,
            credentials=Credentials(secrets={"bearer": "t0ken-value"}),
        )
        assert namespace["Client"](rt).get_item(sku="B-2")["quantity"] == 9


def test_export_cli(tmp_path: Path) -> None:
    """`zapi export` writes every format."""
    from zapi.cli import main

    out = tmp_path / "out" / "cards"
    out.mkdir(parents=True)
    for c in cards():
        (out / f"{c.name}.json").write_text(c.dump())
    for fmt in ("mcp", "openai", "anthropic", "python"):
        target = tmp_path / f"tools.{fmt}"
        assert main(["export", str(tmp_path / "out"), "--format", fmt, "-o", str(target)]) == 0
        text = target.read_text()
        if fmt == "python":
            compile(text, "x.py", "exec")
        else:
            json.loads(text)
    assert sys.modules.get("PWNED") is None

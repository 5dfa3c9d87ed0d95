"""``zapi export --format langchain``: StructuredTools that call through the runtime."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest

pytest.importorskip("langchain_core")

import runtime  # noqa: E402
from samples.erp.app import make_server  # noqa: E402
from zapi.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("erp_langchain_tools", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestLangchainExport:
    """The generated module imports, formats clean, and its tools run through the runtime."""

    def test_tools_call_through_the_runtime(self, tmp_path: Path) -> None:
        """A read answers and is logged; bad arguments come back as the one-line refusal."""
        from zapi.api import analyze

        out = tmp_path / "out"
        analyze([str(ROOT / "samples/hars/erp_session.har")], str(out))
        target = tmp_path / "erp_lc.py"
        assert main(["export", str(out), "--format", "langchain", "-o", str(target)]) == 0
        fmt = subprocess.run(
            [sys.executable, "-m", "ruff", "format", "--check", str(target)], capture_output=True
        )
        assert fmt.returncode == 0, fmt.stdout
        module = _module(target)
        with make_server(0) as erp:
            with httpx.Client(base_url=erp.url) as c:
                c.post("/login", data={"username": "alice", "password": "wonderland"})
                cookies = [
                    {"name": k, "value": v, "domain": "127.0.0.1", "path": "/"}
                    for k, v in c.cookies.items()
                ]
            (tmp_path / "login.json").write_text(json.dumps({"cookies": cookies}))
            creds = runtime.load_credentials(None, storage_state=str(tmp_path / "login.json"))
            with runtime.open(
                out, credentials=creds, base_url=erp.url, state=tmp_path / "zapi.db"
            ) as rt:
                tools = {t.name: t for t in module.tools(rt)}
                assert set(tools) == {
                    "get_item",
                    "get_ledger",
                    "get_order",
                    "list_items",
                    "list_orders",
                }
                item = tools["get_item"].invoke({"item_id": "A-1"})
                refused = tools["get_item"].invoke({"item_id": 5})
                writes = {t.name for t in module.tools(rt, safety=("idempotent",))}
                kinds = [r.event.kind for r in rt.log.records()]
        assert item["sku"] == "A-1"
        assert isinstance(refused, str) and refused.startswith("InvalidArguments: get_item")
        assert writes == {"update_item_notes", "update_item_stock"}
        assert kinds.count("attempt_started") == 1  # the refused call sent nothing

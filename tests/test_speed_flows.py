"""The flows pass run beside the OpenAPI validation writes exactly what it writes in line."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from factories import har, shop_entries

import toolgen.flows as flows_mod
from zapi.api import analyze


def _outputs(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): p.read_text(encoding="utf-8")
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or (os.cpu_count() or 1) < 2,
    reason="the second process is used on multi-core Linux only",
)
def test_flows_beside_equal_flows_in_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if threading.active_count() > 1:
        pytest.skip("another thread is running: the pass runs in line by design")
    path = tmp_path / "shop.har"
    path.write_text(json.dumps(har(shop_entries())), encoding="utf-8")
    analyze([str(path)], str(tmp_path / "inline"), workers=1)

    marker = tmp_path / "forked"
    child = flows_mod._flows_child

    def traced(*args: Any) -> None:
        marker.write_text(str(os.getpid()), encoding="utf-8")
        child(*args)

    monkeypatch.setattr(flows_mod, "FLOWS_FORK_MIN_BYTES", 0)
    monkeypatch.setattr(flows_mod, "_flows_child", traced)
    analyze([str(path)], str(tmp_path / "beside"))
    assert marker.read_text(encoding="utf-8") != str(os.getpid())  # ran in another process
    inline, beside = _outputs(tmp_path / "inline"), _outputs(tmp_path / "beside")
    assert json.loads(inline["flows.json"])["edges"]  # the capture has flows to compare
    assert beside == inline


def test_a_failed_second_process_falls_back_to_the_pass_in_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "shop.har"
    path.write_text(json.dumps(har(shop_entries())), encoding="utf-8")
    analyze([str(path)], str(tmp_path / "inline"), workers=1)

    def broken(send: Any, *args: Any) -> None:
        send.close()  # dies without an answer
        os._exit(3)

    monkeypatch.setattr(flows_mod, "FLOWS_FORK_MIN_BYTES", 0)
    monkeypatch.setattr(flows_mod, "_flows_child", broken)
    analyze([str(path)], str(tmp_path / "beside"))
    assert _outputs(tmp_path / "beside") == _outputs(tmp_path / "inline")

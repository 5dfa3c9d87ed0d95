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

import zapi._beside as beside_mod
import zapi.api as api_mod
from zapi.api import analyze


def _outputs(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): p.read_text(encoding="utf-8")
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


MULTICORE_LINUX = sys.platform.startswith("linux") and (os.cpu_count() or 1) >= 2


def _traced_children(monkeypatch: pytest.MonkeyPatch, marker: Path) -> None:
    """Every forked child writes its pid to ``marker`` (one line each), then works."""
    child = beside_mod._child

    def traced(*args: Any) -> None:
        with marker.open("a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\n")
        child(*args)

    monkeypatch.setattr(beside_mod, "_child", traced)


@pytest.mark.skipif(
    not MULTICORE_LINUX, reason="the second process is used on multi-core Linux only"
)
def test_work_beside_equals_work_in_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cards, flows and validation shared with forked processes write the same files."""
    if threading.active_count() > 1:
        pytest.skip("another thread is running: the work runs in line by design")
    path = tmp_path / "shop.har"
    path.write_text(json.dumps(har(shop_entries())), encoding="utf-8")
    analyze([str(path)], str(tmp_path / "inline"), workers=1)

    marker = tmp_path / "forked"
    _traced_children(monkeypatch, marker)
    monkeypatch.setattr(api_mod, "BESIDE_MIN_BYTES", 0)
    analyze([str(path)], str(tmp_path / "beside"))
    pids = marker.read_text(encoding="utf-8").split()
    # plans, scrubbing, flows and validation: four children, none of them this process
    assert len(pids) == 4 and str(os.getpid()) not in pids, pids
    inline, beside = _outputs(tmp_path / "inline"), _outputs(tmp_path / "beside")
    assert json.loads(inline["flows.json"])["edges"]  # the capture has flows to compare
    assert beside == inline


def test_a_failed_second_process_falls_back_to_the_work_in_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "shop.har"
    path.write_text(json.dumps(har(shop_entries())), encoding="utf-8")
    analyze([str(path)], str(tmp_path / "inline"), workers=1)

    def broken(send: Any, *args: Any) -> None:
        send.close()  # dies without an answer
        os._exit(3)

    monkeypatch.setattr(api_mod, "BESIDE_MIN_BYTES", 0)
    monkeypatch.setattr(beside_mod, "_child", broken)
    analyze([str(path)], str(tmp_path / "beside"))
    assert _outputs(tmp_path / "beside") == _outputs(tmp_path / "inline")


class TestMapBeside:
    """``map_beside`` is a list comprehension whose odd items another process computed."""

    @pytest.mark.skipif(not MULTICORE_LINUX, reason="multi-core Linux only")
    def test_order_kept_and_odd_items_computed_elsewhere(self) -> None:
        if threading.active_count() > 1:
            pytest.skip("another thread is running: the work runs in line by design")
        out = beside_mod.map_beside(lambda x: (x * x, os.getpid()), list(range(7)))
        assert [v for v, _ in out] == [x * x for x in range(7)]
        assert {pid for i, (_, pid) in enumerate(out) if i % 2} != {os.getpid()}
        assert {pid for i, (_, pid) in enumerate(out) if i % 2 == 0} == {os.getpid()}

    def test_an_error_in_the_child_is_raised_here(self) -> None:
        def boom(x: int) -> int:
            if x == 3:
                raise ValueError("item 3 is bad")
            return x

        with pytest.raises(ValueError, match="item 3 is bad"):
            beside_mod.map_beside(boom, list(range(6)))

    def test_disabled_runs_in_line(self) -> None:
        out = beside_mod.map_beside(lambda x: os.getpid(), [1, 2, 3], enabled=False)
        assert out == [os.getpid()] * 3

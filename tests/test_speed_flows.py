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
    """Every forked child writes its kind and pid to ``marker`` (a line each), then works."""
    for name in ("_child", "_standby_child"):
        child = getattr(beside_mod, name)

        def traced(*args: Any, _child: Any = child, _name: str = name) -> None:
            with marker.open("a", encoding="utf-8") as fh:
                fh.write(f"{_name}:{os.getpid()}\n")
            _child(*args)

        monkeypatch.setattr(beside_mod, name, traced)


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
    lines = marker.read_text(encoding="utf-8").split()
    kinds = sorted(line.split(":")[0] for line in lines)
    # schemas and scrubbing shared, flows and validation on standby; none is this process
    assert kinds == ["_child", "_child", "_standby_child", "_standby_child"], lines
    assert str(os.getpid()) not in {line.split(":")[1] for line in lines}
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
    monkeypatch.setattr(beside_mod, "_standby_child", broken)
    analyze([str(path)], str(tmp_path / "beside"))
    assert _outputs(tmp_path / "beside") == _outputs(tmp_path / "inline")


def test_an_invalid_document_is_refused_when_validated_beside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The validation on standby says no: the error is raised here and nothing is written."""
    from zapi.errors import SpecValidationError

    path = tmp_path / "shop.har"
    path.write_text(json.dumps(har(shop_entries())), encoding="utf-8")
    import toolgen.openapi as openapi_mod

    real = openapi_mod.build_openapi

    def broken_doc(*args: Any, **kwargs: Any) -> dict[str, Any]:
        doc = real(*args, **kwargs)
        doc["paths"] = {"no-leading-slash": {}}  # invalid: path keys start with '/'
        return doc

    monkeypatch.setattr(api_mod, "BESIDE_MIN_BYTES", 0)
    monkeypatch.setattr(openapi_mod, "build_openapi", broken_doc)
    out = tmp_path / "out"
    with pytest.raises(SpecValidationError):
        analyze([str(path)], str(out))
    assert not (out / "openapi.json").exists() and not (out / "cards").exists()


class TestStandby:
    """A process on standby prepares now and answers a message later, or the work runs here."""

    def test_prepared_in_the_child_answered_after_the_message(self, tmp_path: Path) -> None:
        if not MULTICORE_LINUX or threading.active_count() > 1:
            pytest.skip("no second process here: covered by the in-line test")
        marker = tmp_path / "prepared"

        def prepare() -> int:
            marker.write_text(str(os.getpid()), encoding="utf-8")
            return 40

        s = beside_mod.Standby(prepare, lambda ready, msg: (ready + msg, os.getpid()))
        answer = s.send(2)
        value, pid = answer()
        assert value == 42 and pid != os.getpid()
        assert marker.read_text(encoding="utf-8") == str(pid)
        s.close()

    def test_disabled_runs_prepare_and_work_here(self) -> None:
        s = beside_mod.Standby(
            lambda: 1, lambda ready, msg: (ready, msg, os.getpid()), enabled=False
        )
        assert s.send("x")() == (1, "x", os.getpid())
        s.close()

    def test_closed_without_a_message_stops_the_child(self) -> None:
        if not MULTICORE_LINUX or threading.active_count() > 1:
            pytest.skip("no second process here")
        import time

        s = beside_mod.Standby(lambda: time.sleep(30), lambda ready, msg: msg)
        started = time.monotonic()
        s.close()  # terminates the child still preparing
        assert time.monotonic() - started < 10


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


def test_weighted_halves_balance_and_keep_order() -> None:
    weights = [100, 1, 1, 1, 50, 48, 2, 3]
    mine, theirs = beside_mod._halves(len(weights), weights)
    assert sorted(mine + theirs) == list(range(len(weights)))
    assert mine == sorted(mine) and theirs == sorted(theirs)
    loads = sum(weights[i] for i in mine), sum(weights[i] for i in theirs)
    assert abs(loads[0] - loads[1]) <= 10, loads
    out = beside_mod.map_beside(lambda x: x * 2, weights, weights=weights)
    assert out == [w * 2 for w in weights]


def test_an_error_here_still_reaps_the_child() -> None:
    """An item failing in this process raises here, and no child is left behind."""
    import multiprocessing as mp

    def boom(x: int) -> str:
        if x == 0:  # index 0 is always this process's (alternate items: even ones stay)
            raise KeyError("item 0")
        return "x" * 200_000  # more than a pipe holds: an unreaped child would wait to send

    with pytest.raises(KeyError):
        beside_mod.map_beside(boom, list(range(6)))
    assert not mp.active_children()

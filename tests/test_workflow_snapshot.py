"""Workflow writes a read can settle never park: creates the server names, saves, moves, deletes.

The cards are generated (recorded against the contents-style file store of
``tests/test_plans.py`` on 127.0.0.1, then analysed), run through the real
:class:`RuntimeRunner`, the real write protocol and a real SQLite intent log; the journal,
crash points and parks are the model of ``tests/test_workflow_settlements.py``. For every
step and every crash point (before the send, after the server committed it, after the
outcome was recorded) x what the server did with the first send (applied and answered,
applied and dropped the answer, dropped it unapplied), the run must end ``succeeded``
without asking anyone, with the server holding exactly what one run of the plan leaves.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from test_plans import PREFIX, FileStore, _address, _handler, _moved_to, _record, _writes
from test_workflow_settlements import Crash, MemoryJournal, Parked, World

from runtime import RetryPolicy
from runtime import open as open_runtime
from runtime.workflows.adapters import RuntimeRunner
from runtime.workflows.context import Services, WorkflowContext
from runtime.workflows.intents import IntentLog, make_engine
from runtime.workflows.permissions import Policy
from runtime.workflows.records import RunSpec
from runtime.workflows.steps import StepCall
from toolgen.cards import ToolCard, load_cards
from zapi.api import analyze

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, FileStore, Path]]:
    """The file store on 127.0.0.1 and the cards analysed from a session recorded on it."""
    fs = FileStore()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fs))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    base = tmp_path_factory.mktemp("snapshot")
    _record(url, base / "files.har")
    analyze([str(base / "files.har")], str(base / "out"))
    fs.files.clear()
    try:
        yield url, fs, base / "out"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def runner(store: tuple[str, FileStore, Path]) -> Iterator[RuntimeRunner]:
    url, _, out = store
    rt = open_runtime(
        out,
        state=None,
        base_url=url,
        policy=RetryPolicy(max_attempts=2, initial_interval_s=0.0, jitter=0.0),
        sleep=lambda s: None,
    )
    yield RuntimeRunner(rt)
    rt.close()


@pytest.fixture(scope="module")
def intents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IntentLog]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('snap') / 'intents.db'}")
    yield IntentLog(engine)
    engine.dispose()


@dataclass(frozen=True)
class FileFlow:
    """create -> save -> rename -> delete, as the real-app bench's plan does."""

    w: dict[str, ToolCard]
    n: int

    @property
    def compensations(self) -> dict[str, Any]:
        return {}

    def run(self, ctx: WorkflowContext) -> Any:
        w, doc, moved = self.w, f"doc{self.n}", f"moved{self.n}"
        made = ctx.call(w["create"].name, type="file", ext=".txt")
        ctx.call(w["save"].name, **_address(w["save"], doc), type="file", content="hi")
        ctx.call(w["rename"].name, **_address(w["rename"], doc), **_moved_to(w["rename"], moved))
        ctx.call(w["delete"].name, **_address(w["delete"], moved))
        return {"created": made["name"]}


FAULT = {"ok": "", "drop": "drop", "unapplied": "ack_only_drop"}
METHODS = ["POST", "PUT", "PATCH", "DELETE"]
POINTS = ["intent_begun", "sent", "finished"]


def _run(
    runner: RuntimeRunner,
    intents: IntentLog,
    fs: FileStore,
    w: dict[str, ToolCard],
    n: int,
    step: int,
    point: str,
    fault: str,
) -> tuple[dict[str, Any], World, int]:
    world = World(crashes=[(point, 1)])
    parks = 0

    def probe(where: str, call: StepCall) -> None:
        if call.step == step:
            if where == "intent_begun" and FAULT[fault] and world.seen.get(where, 0) == 0:
                fs.faults[METHODS[step - 1]] = FAULT[fault]  # the first send of this step
            world.point(where)

    spec = RunSpec(kind="python", workflow="file_flow")
    for _ in range(10):
        services = Services(MemoryJournal(world), runner, intents, Policy.allow_all(), probe)
        ctx = WorkflowContext(services, f"snap-{n}", spec, FileFlow(w, n))
        try:
            return ctx.run_to_end(), world, parks
        except Crash:
            continue
        except Parked:
            parks += 1
            break
    return {"status": "parked", "message": str(world.state)}, world, parks


class TestReadsSettleWithoutAnOperator:
    """A crash anywhere in a write a read can settle: no park, no duplicate, nothing lost."""

    def test_every_step_every_crash_point(
        self,
        store: tuple[str, FileStore, Path],
        runner: RuntimeRunner,
        intents: IntentLog,
    ) -> None:
        """create (listing snapshot), save (same), rename (moved), delete (absence)."""
        _, fs, out = store
        w = _writes(load_cards(out))
        assert w["create"].reconcile is not None and w["create"].reconcile.snapshot
        failures: list[str] = []
        cases = list(itertools.product(range(1, 5), POINTS, FAULT))
        for n, (step, point, fault) in enumerate(cases):
            before = set(fs.files)
            creates = sum(1 for m, _ in fs.commits if m == "POST")
            result, world, parks = _run(runner, intents, fs, w, n, step, point, fault)
            fs.faults.clear()
            new = set(fs.files) - before
            made = sum(1 for m, _ in fs.commits if m == "POST") - creates
            label = f"step {step} ({METHODS[step - 1]}) crash at {point}, first send {fault}"
            if parks or result["status"] != "succeeded":
                failures.append(f"{label}: {result['status']} {result.get('message')}")
            elif made != 1 or len(new) != 1:
                failures.append(f"{label}: {made} creates, new files {sorted(new)}")
            elif result["output"] != {"created": next(iter(new))}:
                failures.append(f"{label}: output {result['output']}, server {sorted(new)}")
            elif world.fired != [f"{point}#1"]:
                failures.append(f"{label}: the crash did not fire ({world.fired})")
            for name in new:
                fs.files.pop(name, None)
        assert not failures, f"{len(failures)} of {len(cases)}:\n" + "\n".join(failures)

    def test_concurrent_create_in_the_window_parks_and_says_so(
        self,
        store: tuple[str, FileStore, Path],
        runner: RuntimeRunner,
        intents: IntentLog,
    ) -> None:
        """Another writer created in the same collection between the snapshot and the read:
        the step is never guessed; the run asks, naming the two new items."""
        _, fs, out = store
        w = _writes(load_cards(out))
        before = set(fs.files)
        fs.faults["POST+"] = "other"
        result, world, parks = _run(runner, intents, fs, w, 10_000, 1, "sent", "ok")
        fs.faults.clear()
        assert parks == 1 and result["status"] == "parked"
        assert world.state is not None and world.state.wait is not None
        assert "2 new items" in str(world.state.wait.error)
        for name in set(fs.files) - before:
            fs.files.pop(name, None)
        assert PREFIX  # the store's collection (names the route the cards were built on)

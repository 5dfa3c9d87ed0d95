"""Model check of the write protocol: crash points x operator answers x fault outcomes.

Each scenario runs the real :class:`WorkflowContext` and write protocol (``steps.py``) over a
real intent log (SQLite) against the real ERP sample, whose ledger counts every committed
create. Durability is modelled by an in-memory journal with DBOS's replay rule (a recorded
operation returns its recorded value; the first unrecorded one executes), a crash is a
``BaseException`` raised at a probe point (the process dies there: nothing after it runs),
and a parked run is restarted from its journal once the operator has answered. The
operator answers truthfully about the send they were asked about, possibly after first
resuming without an answer. Every scenario must end ``succeeded`` with exactly one order on
the server and the run's output naming that order.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from runtime.workflows.compensation import Compensation
from runtime.workflows.context import Services, WorkflowContext
from runtime.workflows.intents import IntentLog, make_engine
from runtime.workflows.permissions import Policy
from runtime.workflows.records import Decision, RunSpec, RunState, utc_iso
from runtime.workflows.runner import Landed, Reconciled, ToolInfo
from runtime.workflows.steps import StepCall
from samples.erp.app import ErpServer, Faults
from samples.erp.app import make_server as make_erp
from samples.plans.runner import SampleAppsRunner
from zapi.errors import OutcomeUnknown

pytestmark = pytest.mark.integration

FAULTS = {
    "ok": Faults(),
    "commit_504": Faults(commit_then_504=1.0, faults_apply_to=("order",)),
    "commit_drop": Faults(commit_then_drop=1.0, faults_apply_to=("order",)),
    "fail_503": Faults(fail_before_commit=1.0, faults_apply_to=("order",)),
}


class Crash(BaseException):
    """The worker process dies here."""


class Parked(BaseException):
    """The run waits for a person; the model restarts it once the operator answered."""

    def __init__(self, topic: str) -> None:
        super().__init__(topic)
        self.topic = topic


@dataclass
class World:
    """Everything that survives a crash: the journal, the mailbox, the server, the schedule."""

    ops: list[tuple[str, Any]] = field(default_factory=list)
    mailbox: dict[str, Any] = field(default_factory=dict)
    state: RunState | None = None
    crashes: list[tuple[str, int]] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)
    fired: list[str] = field(default_factory=list)
    sends: int = 0

    def point(self, name: str) -> None:
        """Count an occurrence of ``name``; die if the schedule says so."""
        self.seen[name] = self.seen.get(name, 0) + 1
        if (name, self.seen[name]) in self.crashes:
            self.crashes.remove((name, self.seen[name]))
            self.fired.append(f"{name}#{self.seen[name]}")
            raise Crash(name)


class MemoryJournal:
    """DBOS's replay rule over ``world.ops``: recorded operations return their value."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.pos = 0

    def _replay(self, name: str) -> tuple[bool, Any]:
        if self.pos < len(self.world.ops):
            recorded, value = self.world.ops[self.pos]
            assert recorded == name, f"replay mismatch: {recorded} vs {name}"
            self.pos += 1
            return True, value
        return False, None

    def _record(self, name: str, value: Any) -> Any:
        value = json.loads(json.dumps(value, default=str))  # what a JSON checkpoint keeps
        self.world.ops.append((name, value))
        self.pos += 1
        return value

    def run_step(self, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        done, value = self._replay(name)
        if done:
            return value
        value = self._record(name, fn(*args))
        if name == "zapi.decision":
            self.world.point("decided")
        return value

    def recv(self, topic: str, timeout_s: float) -> Any:
        done, value = self._replay("recv")
        if done:
            return value
        if topic not in self.world.mailbox:
            raise Parked(topic)
        return self._record("recv", self.world.mailbox.pop(topic))

    def publish(self, key: str, value: Any) -> None:
        self.world.state = RunState.model_validate(value)

    def sleep(self, seconds: float) -> None:
        return None

    def now(self) -> float:
        return float(self.run_step("zapi.clock", lambda: 1_000_000.0))


class ScriptedRunner(SampleAppsRunner):
    """The sample runner, with the server's answer to each send scripted by the scenario."""

    def __init__(self, erp: ErpServer) -> None:
        super().__init__(erp_url=erp.url)
        self.erp_server = erp
        self.script(World(), [], "works")

    def script(self, world: World, faults: list[str], reconcile: str) -> None:
        """Start a scenario: the server answers send N with ``faults[N-1]`` (then ``ok``)."""
        self.world, self.faults, self.mode = world, faults, reconcile

    def info(self, tool: str) -> ToolInfo:
        info = super().info(tool)
        return ToolInfo(
            info.name,
            info.method,
            info.origin,
            info.safety,
            info.idempotency_key,
            self.mode != "none",
            info.credential,
        )

    def call_detailed(
        self, tool: str, args: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> tuple[Any, Mapping[str, Any]]:
        self.world.sends += 1
        n = self.world.sends
        fault = self.faults[n - 1] if n <= len(self.faults) else "ok"
        self.erp_server.injector.configure(FAULTS[fault])
        try:
            return super().call_detailed(tool, args, idempotency_key=idempotency_key)
        finally:
            self.erp_server.injector.configure(Faults())

    def reconcile(
        self, tool: str, args: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Reconciled:
        if self.mode == "fails":
            raise OutcomeUnknown(f"{tool}: the reconcile read failed", tool=tool)
        return super().reconcile(tool, args, idempotency_key=idempotency_key)

    def read_back(
        self, tool: str, args: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Landed | None:
        if self.mode == "fails":
            raise OutcomeUnknown(f"{tool}: the read failed", tool=tool)
        return super().read_back(tool, args, idempotency_key=idempotency_key)


@dataclass(frozen=True)
class OneCreate:
    """A workflow with one create whose output a later expression uses."""

    ref: str
    compensations: Mapping[str, Compensation] = field(default_factory=dict)

    def run(self, ctx: WorkflowContext) -> Any:
        order = ctx.call(
            "erp_create_order", sku="A-1", quantity=1, customer="model", client_ref=self.ref
        )
        return {"order": order["id"]}


@pytest.fixture(scope="module")
def erp() -> Iterator[ErpServer]:
    with make_erp(seed=0) as server:
        yield server


@pytest.fixture(scope="module")
def runner(erp: ErpServer) -> Iterator[ScriptedRunner]:
    r = ScriptedRunner(erp)
    yield r
    r.close()


@pytest.fixture(scope="module")
def intents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IntentLog]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('model') / 'intents.db'}")
    yield IntentLog(engine)
    engine.dispose()


def orders_with(runner: SampleAppsRunner, ref: str) -> list[dict[str, Any]]:
    """What the server holds for ``ref`` (the ground truth)."""
    return list(SampleAppsRunner.call(runner, "erp_list_orders", {"client_ref": ref})["orders"])


def answer(
    world: World, runner: ScriptedRunner, ref: str, operator: str, asked: dict[str, int]
) -> None:
    """The operator: truthful about what the server shows (after one blank resume if asked)."""
    state = world.state
    assert state is not None and state.wait is not None, "parked without a wait"
    wait = state.wait
    found = orders_with(runner, ref)
    changes: dict[str, Any] = {}
    asked[wait.name] = asked.get(wait.name, 0) + 1
    if wait.name == "outcome unknown":
        if not (operator == "blank_first" and asked[wait.name] == 1):
            changes = {"landed": bool(found)}
    elif wait.name == "output needed":
        changes = {"output": found[0] if found else None}
    else:
        raise AssertionError(f"unexpected wait {wait.name}: {wait.message}")
    decision = Decision(
        action="resume", by="op", at=utc_iso(), changes=changes, wait_id=wait.wait_id
    )
    world.mailbox["zapi.wait." + wait.wait_id] = decision.model_dump(mode="json")


SEND1 = ["ok", "commit_504", "fail_503"]  # commit_drop is commit_504 to the protocol
SEND2 = ["ok", "commit_504"]
CRASH1: list[tuple[str, int] | None] = [None, ("intent_begun", 1), ("sent", 1), ("finished", 1)]
CRASH2: list[tuple[str, int] | None] = [None, ("decided", 1), ("intent_begun", 2), ("sent", 2)]
RECONCILE = ["none", "fails", "works"]
OPERATOR = ["truthful", "blank_first"]


def scenarios() -> list[tuple[str, str, str, tuple[str, int] | None, tuple[str, int] | None, str]]:
    out = []
    for rec, s1, s2, c1, c2, op in itertools.product(
        RECONCILE, SEND1, SEND2, CRASH1, CRASH2, OPERATOR
    ):
        if op == "blank_first" and rec != "none":
            continue  # one mode suffices to show a blank resume asks again
        out.append((rec, s1, s2, c1, c2, op))
    return out


def run_scenario(
    runner: ScriptedRunner,
    intents: IntentLog,
    n: int,
    rec: str,
    faults: list[str],
    crashes: list[tuple[str, int]],
    operator: str,
) -> tuple[dict[str, Any], World, str]:
    """Drive one run to its end through crashes and parks; return its result."""
    world = World(crashes=list(crashes))
    run_id = f"mc-{n}"
    ref = f"mc-ref-{n}"
    runner.script(world, faults, rec)
    asked: dict[str, int] = {}

    def probe(point: str, call: StepCall) -> None:
        if call.step == 1:
            world.point(point)

    spec = RunSpec(kind="python", workflow="one_create")
    for _ in range(30):
        services = Services(MemoryJournal(world), runner, intents, Policy.allow_all(), probe)
        ctx = WorkflowContext(services, run_id, spec, OneCreate(ref))
        try:
            return ctx.run_to_end(), world, ref
        except Crash:
            continue
        except Parked:
            answer(world, runner, ref, operator, asked)
    raise AssertionError(f"scenario {n} did not settle: {world.ops}")


class TestSettlementModel:
    """Exactly one create for every crash point x operator answer x fault outcome."""

    def test_exactly_once_everywhere(self, runner: ScriptedRunner, intents: IntentLog) -> None:
        """Every scenario succeeds with one order on the server and that order as output."""
        failures: list[str] = []
        fired = 0
        cases = scenarios()
        for n, (rec, s1, s2, c1, c2, op) in enumerate(cases):
            crashes = [c for c in (c1, c2) if c is not None]
            result, world, ref = run_scenario(runner, intents, n, rec, [s1, s2], crashes, op)
            fired += len(world.fired)
            found = orders_with(runner, ref)
            label = f"reconcile={rec} sends={s1},{s2} crashes={world.fired} operator={op}"
            if result["status"] != "succeeded":
                failures.append(f"{label}: {result['status']} {result.get('message')}")
            elif len(found) != 1:
                failures.append(f"{label}: {len(found)} orders on the server")
            elif result["output"] != {"order": found[0]["id"]}:
                failures.append(f"{label}: output {result['output']} is not {found[0]['id']}")
        assert not failures, f"{len(failures)} of {len(cases)} scenarios:\n" + "\n".join(
            failures[:20]
        )
        assert fired > len(cases)  # the crash schedule really fired (most scenarios crash)

    def test_a_verdict_is_not_reused_for_a_later_send(
        self, runner: ScriptedRunner, intents: IntentLog
    ) -> None:
        """The reported bug: killed in flight, operator says not landed, the resend commits,
        killed again: the replay must not send a third time on the old answer."""
        result, world, ref = run_scenario(
            runner,
            intents,
            100_000,
            "none",
            ["ok"],
            [("intent_begun", 1), ("sent", 1)],
            "truthful",
        )
        assert world.fired == ["intent_begun#1", "sent#1"]
        assert result["status"] == "succeeded", result
        assert len(orders_with(runner, ref)) == 1
        assert world.sends == 1  # attempt 1 never went out (killed before sending); one send

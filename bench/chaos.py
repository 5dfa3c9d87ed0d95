"""Chaos harness: SIGKILL workflow workers at every step boundary and inside every write.

A 5-step workflow (stock, order, stock, order, stock) runs against the ERP sample. Each trial
starts a real worker process that kills itself (SIGKILL) at one probe point, restarts a clean
worker, and checks: the run completed, the ERP ledger shows exactly one committed write per
step (the runner tags each write with its step key), and no completed step ran twice. Random
trials kill the worker from outside at a random moment instead; such a trial counts as
killed only when the run was really in flight (started, not finished) at the kill. The
calibration trial (no kill) must itself be exact, or the harness stops.

Operator trials make the order create unreconcilable, kill the worker inside it, answer
the paused run as an operator would (truthfully, from the server), and kill the next worker
right after it acted on that answer (before, inside or after the resend): the run must end
with one create and never reuse the old answer for the new send.

    python bench/chaos.py --trials 50 --random 200          # the acceptance figures
    python bench/chaos.py --trials 1 --random 5 --parallel 4  # a quick look
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from runtime.workflows import RunsClient, RunSpec, WorkerConfig, spawn_worker, wait_ready  # noqa: E402
from runtime.workflows.worker import stop_worker  # noqa: E402
from samples.erp.app import ErpServer  # noqa: E402
from samples.erp.app import make_server as make_erp  # noqa: E402

STEPS = 5
POINTS = [
    (p, s) for s in range(1, STEPS + 1) for p in ("before_step", "intent_begun", "sent", "finished")
] + [("before_finish", STEPS)]
OPERATOR_POINTS = [
    (first, after)
    for first in ("intent_begun", "sent")
    for after in ("intent_begun", "sent", "finished")
]
"""(where the first worker dies inside the create, where the next dies after the answer)."""
ORDER_STEP = 2
SKUS = [f"{letter}-{n}" for letter in "ABCD" for n in range(1, 11)]


@dataclass
class Trial:
    """The outcome of one trial."""

    point: str
    run_id: str = ""
    killed: bool = False
    completed: bool = False
    writes: dict[str, int] = field(default_factory=dict)
    steps_recorded: list[int] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0
    run_seconds: float = 0.0

    @property
    def exact(self) -> bool:
        """Exactly one committed write per step and each step recorded once."""
        return (
            self.completed
            and sorted(self.writes.values()) == [1] * STEPS
            and len(self.writes) == STEPS
            and self.steps_recorded == list(range(1, STEPS + 1))
        )


class Slot:
    """One trial lane: its own runs database, worker processes started on it."""

    def __init__(self, root: Path, n: int, erp_url: str, db_url: str | None) -> None:
        self.dir = root / f"slot{n}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db_url = db_url or f"sqlite:///{self.dir / 'runs.db'}"
        self.executor = f"chaos{n}"
        self.erp_url = erp_url
        self.client = RunsClient(self.db_url)
        self.k = 0

    def start(
        self, runner_args: dict[str, Any] | None = None, **over: Any
    ) -> subprocess.Popen[str]:
        self.k += 1
        cfg = WorkerConfig(
            database_url=self.db_url,
            executor_id=self.executor,
            runner="samples.plans.runner:make_runner",
            runner_args={"erp_url": self.erp_url, **(runner_args or {})},
            modules=["samples.plans.flows"],
            poll_interval_s=0.05,
            **over,
        )
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        proc = spawn_worker(cfg, str(self.dir / f"w{self.k}.json"), env=env)
        wait_ready(proc)
        return proc

    end = staticmethod(stop_worker)


def _check(slot: Slot, trial: Trial, erp: ErpServer) -> None:
    info = slot.client.wait(trial.run_id, timeout_s=60, parked_ok=False)
    trial.completed = info.status == "succeeded"
    if not trial.completed:
        trial.error = f"status {info.status}: {info.output}"
    for w in erp.store.ledger_snapshot()["writes"]:
        rid = str(w.get("request_id", ""))
        if rid.startswith(trial.run_id + "/"):
            trial.writes[rid] = trial.writes.get(rid, 0) + 1
    # steps that committed (an operator trial also records the unknown outcomes it asked about)
    trial.steps_recorded = [
        s["output"]["step"]
        for s in slot.client.steps(trial.run_id)
        if s["function_name"] == "zapi.step" and s["output"]["outcome"] == "ok"
    ]


def run_trial(
    slot: Slot, erp: ErpServer, seq: int, point: str, step: int | None, delay_s: float | None
) -> Trial:
    """One trial: kill at ``(point, step)`` (or after ``delay_s``), restart, check."""
    t0 = time.monotonic()
    trial = Trial(point=f"{point}@{step}" if step else f"random {delay_s:.3f}s")
    marker = slot.dir / f"killed-{seq}"
    try:
        if step is not None:
            proc = slot.start(
                probe="samples.plans.runner:kill_probe",
                probe_args={"point": point, "step": step, "marker": str(marker)},
            )
        else:
            proc = slot.start()
        skus = [SKUS[(seq * 3 + i) % len(SKUS)] for i in range(3)]
        spec = RunSpec(
            kind="python",
            workflow="five_writes",
            inputs={"skus": skus, "base": 100_000 + seq * 10, "customer": "chaos"},
        )
        trial.run_id = slot.client.start(spec, run_id=f"chaos-{seq}-{random.getrandbits(32):08x}")
        started = time.monotonic()
        in_flight = True
        if delay_s is not None:
            time.sleep(delay_s)
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            # Killed in flight only if the run had started and not finished at the kill.
            info = slot.client.get(trial.run_id)
            in_flight = info.state is not None and info.engine_status == "PENDING"
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if slot.client.get(trial.run_id).final:
                break
            time.sleep(0.05)
        trial.run_seconds = time.monotonic() - started
        trial.killed = proc.returncode == -signal.SIGKILL and in_flight
        Slot.end(proc)
        proc = slot.start()
        try:
            _check(slot, trial, erp)
        finally:
            Slot.end(proc)
    except Exception as exc:  # a harness must report every failure, not stop at the first
        trial.error = f"{type(exc).__name__}: {exc}"
    trial.seconds = time.monotonic() - t0
    return trial


def _landed(erp: ErpServer, key: str) -> bool:
    """The operator's check: does the server's ledger show a write for this step?"""
    return any(w.get("request_id") == key for w in erp.store.ledger_snapshot()["writes"])


def run_operator_trial(slot: Slot, erp: ErpServer, seq: int, first: str, after: str) -> Trial:
    """Kill inside the create, answer as an operator, kill right after the answer is used.

    The first worker dies at ``first`` inside the (unreconcilable) create; the next parks
    the run; the operator answers truthfully from the server's ledger with no worker up;
    the worker that acts on the answer dies at ``after`` (inside the resend, or after
    recording the settled step); later workers finish, asking the operator again if the
    new send is unsettled. Counted as killed only when every expected kill happened.
    """
    t0 = time.monotonic()
    trial = Trial(point=f"operator {first}/{after}")
    args = {"unreconcilable": ["erp_create_order"]}
    key_of = "{run}/" + str(ORDER_STEP)
    try:
        proc = slot.start(
            args,
            probe="samples.plans.runner:kill_probe",
            probe_args={
                "point": first,
                "step": ORDER_STEP,
                "marker": str(slot.dir / f"op-{seq}-a"),
            },
        )
        skus = [SKUS[(seq * 3 + i) % len(SKUS)] for i in range(3)]
        spec = RunSpec(
            kind="python",
            workflow="five_writes",
            inputs={"skus": skus, "base": 200_000 + seq * 10, "customer": "chaos"},
        )
        trial.run_id = slot.client.start(spec, run_id=f"op-{seq}-{random.getrandbits(32):08x}")
        proc.wait(120)
        first_killed = proc.returncode == -signal.SIGKILL
        Slot.end(proc)
        key = key_of.format(run=trial.run_id)
        second_kill = {
            "probe": "samples.plans.runner:kill_probe",
            "probe_args": {
                "point": after,
                "step": ORDER_STEP,
                "marker": str(slot.dir / f"op-{seq}-b"),
            },
        }
        second_killed = False
        answers = 0
        decision = None
        for _ in range(6):
            proc = slot.start(args, **(second_kill if answers == 1 else {}))
            deadline = time.monotonic() + 120
            while True:
                info = slot.client.get(trial.run_id)
                wait = info.state.wait if info.state is not None else None
                stale = (
                    decision is not None and wait is not None and wait.wait_id == decision.wait_id
                )
                if info.final or (info.parked and not stale) or proc.poll() is not None:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"run {trial.run_id} is still {info.status}")
                time.sleep(0.05)
            Slot.end(proc)
            if proc.returncode == -signal.SIGKILL:
                second_killed = True
                continue
            if info.final:
                break
            # parked at a new wait: answer from the server, with no worker running
            decision = slot.client.resume(
                trial.run_id, by="chaos-operator", changes={"landed": _landed(erp, key)}
            )
            answers += 1
        expected_second = first == "intent_begun" or after == "finished"
        trial.killed = first_killed and second_killed == expected_second
        proc = slot.start(args)
        try:
            _check(slot, trial, erp)
        finally:
            Slot.end(proc)
        if answers == 0 and not trial.error:
            trial.error = "the run never asked the operator"
    except Exception as exc:  # a harness must report every failure, not stop at the first
        trial.error = f"{type(exc).__name__}: {exc}"
    trial.seconds = time.monotonic() - t0
    return trial


def run_chaos(
    *,
    trials: int,
    random_kills: int,
    parallel: int = 2,
    points: list[tuple[str, int]] | None = None,
    operator_trials: int = 0,
    operator_points: list[tuple[str, str]] | None = None,
    db_url: str | None = None,
    seed: int = 0,
    out: Any = sys.stdout,
) -> dict[str, Any]:
    """Run the trials and print the figures; return them."""
    rng = random.Random(seed)
    plan: list[tuple[str, int | None, float | None]] = [
        (p, s, None) for p, s in (points or POINTS) for _ in range(trials)
    ]
    with make_erp(seed=seed) as erp, tempfile.TemporaryDirectory() as tmp:
        slots = [Slot(Path(tmp), i, erp.url, db_url) for i in range(parallel)]
        calib = run_trial(slots[0], erp, 0, "none", 99, None)  # a probe that never fires
        if not calib.exact or calib.killed:
            for slot in slots:
                slot.client.close()
            raise RuntimeError(
                f"the calibration trial (no kill) is not exact: {calib.error or calib.writes}"
            )
        span = max(calib.run_seconds, 0.1)  # random kills land inside a run
        plan += [("random", None, rng.uniform(0.0, span)) for _ in range(random_kills)]
        plan += [
            (f"operator:{first}:{after}", None, None)
            for first, after in (operator_points or OPERATOR_POINTS)
            for _ in range(operator_trials)
        ]
        lanes: list[list[tuple[int, tuple[str, int | None, float | None]]]] = [[] for _ in slots]
        for i, job in enumerate(plan, 1):
            lanes[i % parallel].append((i, job))
        results: list[Trial] = []
        lock = threading.Lock()
        t0 = time.monotonic()

        def lane(k: int) -> None:
            for seq, (p, s, d) in lanes[k]:
                if p.startswith("operator:"):
                    _, first, after = p.split(":")
                    trial = run_operator_trial(slots[k], erp, seq, first, after)
                else:
                    trial = run_trial(slots[k], erp, seq, p, s, d)
                with lock:
                    results.append(trial)

        with ThreadPoolExecutor(parallel) as pool:
            list(pool.map(lane, range(parallel)))
        elapsed = time.monotonic() - t0
        for slot in slots:
            slot.client.close()
    by_point: dict[str, Counter[str]] = {}
    for t in results:
        key = "random" if t.point.startswith("random") else t.point
        c = by_point.setdefault(key, Counter())
        c["trials"] += 1
        c["killed"] += t.killed
        c["completed"] += t.completed
        c["exact"] += t.exact
        c["duplicate_writes"] += sum(n - 1 for n in t.writes.values() if n > 1)
        c["lost_writes"] += STEPS - len(t.writes)
    print(
        f"{'point':<20}{'trials':>7}{'killed':>7}{'done':>7}{'exact':>7}{'dup':>5}{'lost':>5}",
        file=out,
    )
    for key, c in sorted(by_point.items()):
        print(
            f"{key:<20}{c['trials']:>7}{c['killed']:>7}{c['completed']:>7}{c['exact']:>7}"
            f"{c['duplicate_writes']:>5}{c['lost_writes']:>5}",
            file=out,
        )
    total = sum((c for c in by_point.values()), Counter())
    print(
        f"{'TOTAL':<20}{total['trials']:>7}{total['killed']:>7}{total['completed']:>7}"
        f"{total['exact']:>7}{total['duplicate_writes']:>5}{total['lost_writes']:>5}"
        f"   ({elapsed:.0f}s, {parallel} lanes)",
        file=out,
    )
    failures = [t for t in results if not t.exact]
    for t in failures[:10]:
        print(f"FAIL {t.point} {t.run_id}: {t.error or t.writes}", file=out)
    return {
        "calibration_seconds": calib.run_seconds,
        "trials": total["trials"],
        "exact": total["exact"],
        "killed": total["killed"],
        "failures": failures,
        "by_point": by_point,
        "seconds": elapsed,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50, help="trials per kill point")
    parser.add_argument("--random", type=int, default=200, help="random-time kills")
    parser.add_argument(
        "--parallel",
        type=int,
        default=os.cpu_count() or 2,
        help="trial lanes at once (default: CPU count)",
    )
    parser.add_argument(
        "--operator", type=int, default=5, help="trials per operator kill pair (6 pairs)"
    )
    parser.add_argument("--db", help="postgresql://... (default: one SQLite file per lane)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.db and args.parallel > 1:
        parser.error("--db shares one database: use --parallel 1")
    figures = run_chaos(
        trials=args.trials,
        random_kills=args.random,
        operator_trials=args.operator,
        parallel=args.parallel,
        db_url=args.db,
        seed=args.seed,
    )
    return 0 if not figures["failures"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""The nemesis: a fault schedule drawn from a seed, and the faults, each healed.

Every fault is a real one, confirmed from outside the stack (by /proc: a killed process is
gone, a paused one in state T; by iptables: the rule is in place), and its heal is registered
on the run's cleanup stack before the fault is injected, so it is healed whatever happens. The
same seed gives the same schedule (times, kinds, holds, picks); which worker a pick lands on
depends on the workers running then.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from rbee_bdd.core.cleanup import CleanupStack
from rbee_bdd.faults.chaos.history import History
from rbee_bdd.host.capabilities import cgroups_reason, node_netns_reason
from rbee_bdd.host.kmsg import kmsg_reason, oom_kills_in_cgroup
from rbee_bdd.host.network import Mode, Partition
from rbee_bdd.host.signals import process_state
from rbee_bdd.stack.stack import Stack

FAULTS = ("kill-worker", "pause-worker", "pause-hive", "restart-hive", "pause-queen", "restart-queen")
MEMORY_FAULTS = ("oom-worker",)  # the workers' cgroups have a memory limit, and the kernel's log is readable
WORKER_FAULTS = ("kill-worker", "pause-worker", "partition-worker", "oom-worker")  # each on one running worker
# each node in a network namespace of its own (the docker target): queen↔hive and hive↔worker cuts
NETWORK_FAULTS = ("partition-hive", "partition-worker")


GONE = ("gone", "Z")  # a killed process: reaped, or a zombie its parent has yet to reap
WORKER_MEMORY_MIB = 256  # the chaos stack's limit per worker cgroup: room to run, and a ceiling for the balloon


def faults_for(target: str) -> tuple[tuple[str, ...], list[str]]:
    """The faults this machine can inject on *target*, and for each group left out, why."""
    faults: tuple[str, ...] = FAULTS
    left_out: list[str] = []
    groups = ((NETWORK_FAULTS, node_netns_reason(target)), (MEMORY_FAULTS, cgroups_reason() or kmsg_reason()))
    for group, reason in groups:
        if reason is None:
            faults += group
        else:
            left_out.append(f"{', '.join(group)} left out: {reason}")
    return faults, left_out


@dataclass(frozen=True)
class Planned:
    at_s: float  # from the run's start
    name: str
    hold_s: float  # how long the fault lasts before its heal
    pick: int  # chooses the hive and the worker when the fault is injected


def schedule(seed: int, duration_s: float, faults: tuple[str, ...], gap_s: tuple[float, float] = (2.0, 6.0),
             hold_s: tuple[float, float] = (1.0, 4.0)) -> list[Planned]:
    """The faults of a run of *duration_s*, from *seed* alone."""
    rng = random.Random(seed)
    plan, at = [], rng.uniform(*gap_s)
    while at < duration_s:
        plan.append(Planned(round(at, 3), rng.choice(faults), round(rng.uniform(*hold_s), 3), rng.randrange(2**31)))
        at += rng.uniform(*gap_s)
    return plan


def resume(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGCONT)


class FaultKind(ABC):
    """One kind of fault: ``prepare`` picks where (False: nothing to fault now), ``inject`` does it,
    ``confirm`` checks it from outside the stack, ``heal`` undoes it (after the hold when ``held``)."""

    name: ClassVar[str]
    held: ClassVar[bool] = True  # False: healed (or nothing to heal) right after it is confirmed
    on_queen: ClassVar[bool] = False  # a fault of queen's; else of the hive the pick lands on

    def __init__(self, stack: Stack, cleanup: CleanupStack, planned: Planned) -> None:
        self.stack, self.cleanup, self.planned = stack, cleanup, planned
        hives = sorted(stack.hive_nodes)
        self.node = "queen" if self.on_queen else hives[planned.pick % len(hives)]

    def prepare(self) -> str | None:
        """Why this fault cannot be injected now (None: it can)."""
        return None

    @abstractmethod
    def inject(self) -> None:
        """Do the fault."""

    @abstractmethod
    def confirm(self) -> tuple[bool, str]:
        """Whether the fault is in force, as seen from outside the stack, and what was seen."""

    def heal(self) -> str:
        """Undo the fault; what the heal did."""
        return ""


class WorkerFault(FaultKind):
    """A fault of one running worker of the hive (its host pid known)."""

    worker_id = ""
    pid = 0

    def prepare(self) -> str | None:
        workers = sorted(self.stack.processes.workers(self.node), key=lambda r: r.worker_id)
        if not workers:
            return "no worker running"
        row = workers[self.planned.pick // 7 % len(workers)]
        self.worker_id, self.pid = row.worker_id, row.pid
        return None


class KillWorker(WorkerFault):
    name, held = "kill-worker", False

    def inject(self) -> None:
        self.stack.faults.kill_worker(self.node, self.worker_id)

    def confirm(self) -> tuple[bool, str]:
        state = process_state(self.pid)
        return state in GONE, f"SIGKILL to {self.worker_id} (pid {self.pid}), now {state}"

    def heal(self) -> str:
        return "nothing to heal: the hive reaps its worker"


class OomWorker(WorkerFault):
    """The worker's cgroup squeezed by a memory balloon until the kernel's OOM killer ends it."""

    name, held = "oom-worker", False

    def inject(self) -> None:
        self.stack.faults.squeeze_worker(self.node, self.worker_id, self.cleanup)

    def confirm(self) -> tuple[bool, str]:
        kills = [k for k in oom_kills_in_cgroup(self.worker_id) if k.pid == self.pid]
        state = process_state(self.pid)
        return state in GONE and bool(kills), (f"memory balloon in {self.worker_id}'s cgroup: pid {self.pid} now "
                                               f"{state}, OOM kills of it in the kernel's log: {len(kills)}")

    def heal(self) -> str:
        return "balloon gone; nothing else to heal: the hive reaps"


class PartitionWorker(WorkerFault):
    """The worker cut off from its hive (queen still reaches it)."""

    name = "partition-worker"
    cut: Partition | None = None

    def inject(self) -> None:
        self.cut = self.stack.faults.partition_from_worker(self.node, self.worker_id, self.cleanup)

    def confirm(self) -> tuple[bool, str]:
        in_force = self.cut is not None and self.cut.in_force()
        return in_force, f"{self.node}↔{self.worker_id} partitioned (queen still reaches it)"

    def heal(self) -> str:
        if self.cut is not None:
            self.cut.heal()
        return ""


class PauseWorker(WorkerFault):
    name = "pause-worker"

    def inject(self) -> None:
        self.stack.faults.pause_worker(self.node, self.worker_id, self.cleanup)

    def confirm(self) -> tuple[bool, str]:
        state = process_state(self.pid)
        return state == "T", f"SIGSTOP to {self.worker_id} (pid {self.pid}), state {state}"

    def heal(self) -> str:
        resume(self.pid)
        return ""


class PauseDaemon(FaultKind):
    """SIGSTOP to a hive's daemon (pause-hive) or queen's (pause-queen), SIGCONT at the heal."""

    name = "pause-hive"
    pid = 0

    def inject(self) -> None:
        self.pid = self.stack.faults.pause_daemon(self.node, self.cleanup)

    def confirm(self) -> tuple[bool, str]:
        state = process_state(self.pid)
        return state == "T", f"SIGSTOP to the daemon of {self.node} (pid {self.pid}), state {state}"

    def heal(self) -> str:
        resume(self.pid)
        return ""


class PauseQueen(PauseDaemon):
    name, on_queen = "pause-queen", True


class RestartQueen(FaultKind):
    """SIGKILL to queen (its jobs are lost), started again at the heal."""

    name, on_queen = "restart-queen", True
    pid = 0

    def inject(self) -> None:
        daemon = self.stack.node("queen")
        self.pid = daemon.daemon_pid()
        daemon.kill(signal.SIGKILL)

    def confirm(self) -> tuple[bool, str]:
        state = process_state(self.pid)
        return state in GONE, f"SIGKILL to queen-rbee (pid {self.pid}), now {state}; its jobs are lost"

    def heal(self) -> str:
        self.stack.node("queen").start()
        return "queen serves again"


class RestartHive(FaultKind):
    """SIGKILL to a hive, which its supervisor starts again at once (it adopts its workers)."""

    name, held = "restart-hive", False
    pid = 0

    def inject(self) -> None:
        daemon = self.stack.node(self.node)
        self.pid = daemon.daemon_pid()
        daemon.crash_and_recover()

    def confirm(self) -> tuple[bool, str]:
        state = process_state(self.pid)
        return state in GONE, f"SIGKILL to rbee-hive (pid {self.pid}), now {state}; it came back"

    def heal(self) -> str:
        return f"{self.node} serves again"


class PartitionHive(FaultKind):
    """queen↔hive cut, its packets dropped or rejected (by the pick)."""

    name = "partition-hive"
    cut: Partition | None = None
    mode: Mode = "drop"

    def inject(self) -> None:
        self.mode = "drop" if self.planned.pick % 2 else "reject"
        self.cut = self.stack.faults.partition_from_queen(self.node, self.mode, self.cleanup)

    def confirm(self) -> tuple[bool, str]:
        return self.cut is not None and self.cut.in_force(), f"queen↔{self.node} partitioned ({self.mode})"

    def heal(self) -> str:
        if self.cut is not None:
            self.cut.heal()
        return ""


FAULT_KINDS: dict[str, type[FaultKind]] = {kind.name: kind for kind in (
    KillWorker, OomWorker, PartitionWorker, PauseWorker, PauseDaemon, PauseQueen, RestartQueen, RestartHive,
    PartitionHive)}


class Nemesis:
    """Runs a schedule against a stack, at most *concurrent* faults at once, recording each in the history."""

    def __init__(self, stack: Stack, history: History, cleanup: CleanupStack, concurrent: int = 1) -> None:
        self.stack = stack
        self.history = history
        self.cleanup = cleanup
        self.slots = threading.Semaphore(concurrent)
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def run(self, plan: list[Planned]) -> None:
        """Inject each planned fault at its time (from the history's start); return once all are healed."""
        for planned in plan:
            if self.stopping.wait(max(0.0, planned.at_s - self.history.now())):
                break
            self.slots.acquire()
            thread = threading.Thread(target=self._one, args=(planned,), name=f"nemesis {planned.name}", daemon=True)
            thread.start()
            self.threads.append(thread)
        for thread in self.threads:
            thread.join()

    def _one(self, planned: Planned) -> None:
        try:
            self._inject_hold_heal(FAULT_KINDS[planned.name](self.stack, self.cleanup, planned))
        except Exception as exc:  # a fault that could not be injected is recorded, never fatal
            self.history.add("fault_failed", name=planned.name, detail=f"{type(exc).__name__}: {exc}")
        finally:
            self.slots.release()

    def _inject_hold_heal(self, fault: FaultKind) -> None:
        if (why_not := fault.prepare()) is not None:
            self.history.add("fault_skipped", name=fault.name, node=fault.node, detail=why_not)
            return
        fault.inject()
        confirmed, detail = fault.confirm()
        self.history.add("fault", name=fault.name, node=fault.node, confirmed=confirmed, detail=detail)
        if fault.held:
            self.stopping.wait(fault.planned.hold_s)
        if healed := fault.heal():
            self.history.add("heal", name=fault.name, detail=healed)
        else:
            self.history.add("heal", name=fault.name)

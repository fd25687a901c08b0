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
from collections.abc import Callable
from dataclasses import dataclass

from rbee_bdd.capabilities import cgroups_reason, node_netns_reason
from rbee_bdd.chaos.history import History
from rbee_bdd.cleanup import CleanupStack
from rbee_bdd.faults import process_state
from rbee_bdd.kmsg import kmsg_reason, oom_kills_in_cgroup
from rbee_bdd.network import Mode
from rbee_bdd.stack import Stack

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
            heal = self._inject(planned)
            if heal is not None:
                self.stopping.wait(planned.hold_s)
                heal()
                self.history.add("heal", name=planned.name)
        except Exception as exc:  # a fault that could not be injected is recorded, never fatal
            self.history.add("fault_failed", name=planned.name, detail=f"{type(exc).__name__}: {exc}")
        finally:
            self.slots.release()

    def _hive(self, pick: int) -> str:
        hives = sorted(self.stack.hive_nodes)
        return hives[pick % len(hives)]

    def _inject(self, planned: Planned) -> Callable[[], None] | None:
        """Inject the fault; its heal (None: healed already, or nothing to do)."""
        hive = self._hive(planned.pick)
        if planned.name in WORKER_FAULTS:
            workers = sorted(self.stack.worker_processes(hive), key=lambda r: r.worker_id)
            if not workers:
                self.history.add("fault_skipped", name=planned.name, node=hive, detail="no worker running")
                return None
            row = workers[planned.pick // 7 % len(workers)]
            return self._worker_fault(planned.name, hive, row.worker_id, row.pid)
        if planned.name in ("pause-hive", "pause-queen"):
            node = "queen" if planned.name == "pause-queen" else hive
            pid = self.stack.pause_daemon(node, self.cleanup)
            self._fault(planned.name, node, process_state(pid) == "T",
                        f"SIGSTOP to the daemon of {node} (pid {pid}), state {process_state(pid)}")
            return lambda: resume(pid)
        if planned.name in ("restart-queen", "restart-hive"):
            self._restart("queen" if planned.name == "restart-queen" else hive, planned)
            return None
        if planned.name == "partition-hive":
            mode: Mode = "drop" if planned.pick % 2 else "reject"
            partition = self.stack.partition_from_queen(hive, mode, self.cleanup)
            self._fault(planned.name, hive, partition.in_force(), f"queen↔{hive} partitioned ({mode})")
            return partition.heal
        raise ValueError(f"unknown fault {planned.name!r}")

    def _fault(self, name: str, node: str, confirmed: bool, detail: str) -> None:
        self.history.add("fault", name=name, node=node, confirmed=confirmed, detail=detail)

    def _worker_fault(self, name: str, hive: str, worker_id: str, pid: int) -> Callable[[], None] | None:
        """A fault of one worker (its host *pid*): killed, squeezed until the OOM killer ends it, cut off
        from its hive, or paused."""
        if name == "kill-worker":
            self.stack.kill_worker(hive, worker_id)
            self._fault(name, hive, process_state(pid) in GONE, f"SIGKILL to {worker_id} (pid {pid}), "
                        f"now {process_state(pid)}")
            self.history.add("heal", name=name, detail="nothing to heal: the hive reaps its worker")
            return None
        if name == "oom-worker":
            self.stack.squeeze_worker(hive, worker_id, self.cleanup)
            kills = [k for k in oom_kills_in_cgroup(worker_id) if k.pid == pid]
            self._fault(name, hive, process_state(pid) in GONE and bool(kills),
                        f"memory balloon in {worker_id}'s cgroup: pid {pid} now {process_state(pid)}, "
                        f"OOM kills of it in the kernel's log: {len(kills)}")
            self.history.add("heal", name=name, detail="balloon gone; nothing else to heal: the hive reaps")
            return None
        if name == "partition-worker":
            cut = self.stack.partition_from_worker(hive, worker_id, self.cleanup)
            self._fault(name, hive, cut.in_force(), f"{hive}↔{worker_id} partitioned (queen still reaches it)")
            return cut.heal
        self.stack.pause_worker(hive, worker_id, self.cleanup)
        self._fault(name, hive, process_state(pid) == "T", f"SIGSTOP to {worker_id} (pid {pid}), "
                    f"state {process_state(pid)}")
        return lambda: resume(pid)

    def _restart(self, node: str, planned: Planned) -> None:
        """SIGKILL a daemon and have it back: queen started again after the hold (its jobs are lost), a
        hive by its supervisor at once (it adopts its workers)."""
        daemon = self.stack.node(node)
        pid = daemon.daemon_pid()
        if node == "queen":
            daemon.kill(signal.SIGKILL)
            self._fault(planned.name, node, process_state(pid) in GONE,
                        f"SIGKILL to queen-rbee (pid {pid}), now {process_state(pid)}; its jobs are lost")
            self.stopping.wait(planned.hold_s)
            daemon.start()
        else:
            daemon.crash_and_recover()
            self._fault(planned.name, node, process_state(pid) in GONE,
                        f"SIGKILL to rbee-hive (pid {pid}), now {process_state(pid)}; it came back")
        self.history.add("heal", name=planned.name, detail=f"{node} serves again")

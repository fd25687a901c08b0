"""Faults on a stack's real processes and network: signals, pauses, OOM, partitions, a broken worker program."""

from __future__ import annotations

import signal

import httpx

from rbee_bdd.core.cleanup import CleanupStack
from rbee_bdd.core.waiting import eventually
from rbee_bdd.host.balloon import GIVE_UP_S, start_balloon
from rbee_bdd.host.network import Mode, Partition, block_local_port, partition
from rbee_bdd.host.signals import pause_process, signal_process
from rbee_bdd.stack.facets.base import Facet


class StackFaults(Facet):
    """Faults injected from outside the daemons, each undone by the scenario's cleanup where it lasts."""

    def kill_worker(self, hive: str, worker_id: str, sig: signal.Signals = signal.SIGKILL) -> int:
        """Send *sig* to the worker's real process (host pid, for either target); returns the pid."""
        pid = self.stack.processes.worker(hive, worker_id).pid
        signal_process(pid, sig, f"{worker_id} of {hive}")
        return pid

    def terminate(self, name: str) -> None:
        """SIGTERM to a daemon, returning once it shows it took it in (``/health`` says draining, or it ended)."""
        node = self.stack.node(name)
        node.kill(signal.SIGTERM)
        client = self.stack.queen() if name == "queen" else self.stack.hive(name)

        def draining() -> bool:
            if node.exit_code() is not None:
                return True
            try:
                return client.health().get("state") == "draining"
            except httpx.HTTPError as exc:  # it may be ending: the next look at its exit code tells
                raise AssertionError(f"{name}'s /health: {exc!r}") from None

        eventually(draining, 5, f"{name} to take the SIGTERM in (/health state draining)")

    def pause_worker(self, hive: str, worker_id: str, cleanup: CleanupStack) -> int:
        """SIGSTOP the worker's process (resumed by *cleanup*); returns its host pid."""
        pid = self.stack.processes.worker(hive, worker_id).pid
        pause_process(pid, worker_id, cleanup)
        return pid

    def squeeze_worker(self, hive: str, worker_id: str, cleanup: CleanupStack) -> int:
        """Fill the worker's memory cgroup from outside until the kernel OOM-kills it; returns its pid.

        AssertionError if the worker is still there after the balloon gave up.
        """
        pid = self.stack.processes.worker(hive, worker_id).pid
        balloon = start_balloon(pid, cleanup)
        code = balloon.wait(timeout=GIVE_UP_S + 10)
        # exit 0: the worker went; killed (-9): the hive cleared the dead worker's cgroup first
        assert code != 1, f"the memory balloon in {worker_id}'s cgroup gave up; {worker_id} lives on"
        return pid

    def pause_daemon(self, name: str, cleanup: CleanupStack) -> int:
        """SIGSTOP a daemon's own process (its workers run on; resumed by *cleanup*); returns its host pid."""
        pid = self.stack.node(name).daemon_pid()
        pause_process(pid, f"the daemon process of {name}", cleanup)
        return pid

    def resume_worker(self, hive: str, worker_id: str) -> None:
        """SIGCONT a paused worker."""
        signal_process(self.stack.processes.worker(hive, worker_id).pid, signal.SIGCONT, worker_id)

    def _netns_pid(self, hive: str) -> int:
        netns_pid = getattr(self.stack.hive_nodes[hive], "netns_pid", None)
        assert netns_pid is not None, f"{hive} has no network namespace of its own on this target"
        return int(netns_pid)

    def partition_from_queen(self, hive: str, mode: Mode, cleanup: CleanupStack) -> Partition:
        """Cut the hive's network namespace (its workers' too) off from queen until healed."""
        return partition(self._netns_pid(hive), self.stack.node("queen").address, mode, cleanup)

    def partition_from_worker(self, hive: str, worker_id: str, cleanup: CleanupStack) -> Partition:
        """Cut the hive off from one of its workers (queen still reaches the worker) until healed."""
        port = self.stack.hive(hive).worker(worker_id)["port"]
        assert port is not None, f"{worker_id} of {hive} has no port yet (still starting)"
        return block_local_port(self._netns_pid(hive), port, cleanup)

    def break_worker_program(self, hive: str, how: str) -> str:
        """Make *hive*'s own worker program unrunnable: ``not executable`` or ``removed``; returns its path."""
        node, path = self.stack.hive_nodes[hive], self.target.worker_program(hive)
        if how == "removed":
            node.remove_file(path)
        else:
            assert how == "not executable", f"a worker program can be 'removed' or 'not executable', not {how!r}"
            node.write_file(path, node.read_file(path), mode=0o644)
        return path
